//! What a user does to their own account: a rename and an erasure, each a
//! new version of the row, decided here and written by the account
//! function with one conditional write.
//!
//! The rule a new name keeps lives in one file, the request schema that API
//! Gateway's Model is (`functions/account/schema/rename-request.json`); the
//! account function checks a body against it before it builds a
//! [`DisplayName`].

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{User, UserId, Version, rfc3339};

/// At most this many renames a user in one [`RENAME_WINDOW`]: each one
/// spends a share of Parameter Store's few writes a second, so one script
/// must not starve everyone else's sign-ups.
pub const RENAMES_PER_WINDOW: u32 = 10;
/// The window [`RENAMES_PER_WINDOW`] counts over, from its first rename.
pub const RENAME_WINDOW: Duration = Duration::from_secs(3600);

/// A name the rename schema accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// A name the request schema has accepted: only the account function's
    /// request parser builds one, after the schema said yes.
    pub fn accepted_by_schema(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DisplayName {
    // A name is personal: only its length shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DisplayName({} chars)", self.0.chars().count())
    }
}

/// The renames a user made in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameWindow {
    #[serde(with = "rfc3339")]
    pub started_at: DateTime<Utc>,
    pub count: u32,
}

/// Why a change to the account is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the account was erased")]
    Erased,
    #[error("too many renames: try again in {} s", retry_after.as_secs())]
    TooManyRenames { retry_after: Duration },
}

/// What a rename makes of the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renamed {
    /// The name is already this one: nothing to write, no new version.
    Unchanged,
    /// The row to write, one version up.
    To(User),
}

impl User {
    /// The row after a rename at `now`, or why there is none.
    pub fn renamed(&self, name: &DisplayName, now: DateTime<Utc>) -> Result<Renamed, Refused> {
        if self.erased_at.is_some() {
            return Err(Refused::Erased);
        }
        if self.name.as_deref() == Some(name.as_str()) {
            return Ok(Renamed::Unchanged);
        }
        let window = match self.renames {
            Some(window) if elapsed(window.started_at, now) < RENAME_WINDOW => {
                if window.count >= RENAMES_PER_WINDOW {
                    let retry_after = RENAME_WINDOW - elapsed(window.started_at, now);
                    return Err(Refused::TooManyRenames {
                        retry_after: retry_after.max(Duration::from_secs(1)),
                    });
                }
                RenameWindow {
                    count: window.count + 1,
                    ..window
                }
            }
            _ => RenameWindow {
                started_at: now,
                count: 1,
            },
        };
        Ok(Renamed::To(User {
            name: Some(name.as_str().to_owned()),
            version: self.version.next(),
            updated_at: Some(now),
            renames: Some(window),
            ..self.clone()
        }))
    }

    /// The tombstone an erasure leaves in place of this row: the id, the
    /// next version and when, and nothing personal. `None` when the row is
    /// a tombstone already.
    pub fn erased(&self, now: DateTime<Utc>) -> Option<User> {
        if self.erased_at.is_some() {
            return None;
        }
        Some(User::tombstone(
            self.user_id.clone(),
            self.version.next(),
            self.created_at,
            now,
        ))
    }

    /// The tombstone of a user, at a version.
    pub fn tombstone(
        user_id: UserId,
        version: Version,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> User {
        User {
            user_id,
            email: None,
            name: None,
            attributes: Default::default(),
            created_at,
            version,
            updated_at: Some(now),
            renames: None,
            erased_at: Some(now),
        }
    }

    /// True for the tombstone an erasure leaves.
    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or(Duration::ZERO)
}
