//! The user, as the table, the archive and every change message hold it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DomainError, Email, RenameWindow, UserId, Version, rfc3339};

/// Cognito attributes that are part of the user itself or Cognito's own
/// bookkeeping, and so are not copied into [`User::attributes`].
const RESERVED_ATTRIBUTES: [&str; 3] = ["sub", "email", "name"];

/// A user as the table holds it: the item of the users table, the body of the
/// archive and the payload of every change message.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The other attributes the sign-up gave (given_name, locale, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    pub version: Version,
    /// When the user last changed their own account (a rename, an erasure).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339::option"
    )]
    pub updated_at: Option<DateTime<Utc>>,
    /// The renames of the current window, which limit the next ones
    /// ([`super::account`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renames: Option<RenameWindow>,
    /// Set on the tombstone an erasure leaves: the row then holds no
    /// personal data and refuses every later write.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339::option"
    )]
    pub erased_at: Option<DateTime<Utc>>,
}

impl User {
    /// A new user (version 1) from the attributes of a Cognito trigger event.
    pub fn from_cognito(
        attributes: &HashMap<String, String>,
        created_at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let user_id = attributes
            .get("sub")
            .ok_or(DomainError::MissingAttribute("sub"))
            .and_then(|sub| UserId::parse(sub.as_str()))?;
        let email = attributes
            .get("email")
            .map(|email| Email::parse(email.as_str()))
            .transpose()?;
        let name = attributes
            .get("name")
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty());
        let attributes = attributes
            .iter()
            .filter(|(key, _)| {
                !RESERVED_ATTRIBUTES.contains(&key.as_str()) && !key.starts_with("cognito:")
            })
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(Self {
            user_id,
            email,
            name,
            attributes,
            created_at,
            version: Version::FIRST,
            updated_at: None,
            renames: None,
            erased_at: None,
        })
    }

    /// The name to greet the user by, never their email: `name`, else given
    /// and family name, else the preferred username or nickname.
    pub fn display_name(&self) -> Option<String> {
        if let Some(name) = &self.name {
            return Some(name.clone());
        }
        let attribute = |key: &str| {
            self.attributes
                .get(key)
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
        };
        match (attribute("given_name"), attribute("family_name")) {
            (Some(given), Some(family)) => return Some(format!("{given} {family}")),
            (Some(given), None) => return Some(given.to_owned()),
            _ => {}
        }
        attribute("preferred_username")
            .or_else(|| attribute("nickname"))
            .map(str::to_owned)
    }
}

impl fmt::Debug for User {
    // Only the shape: attribute values may be personal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("user_id", &self.user_id)
            .field("version", &self.version)
            .field("has_email", &self.email.is_some())
            .field("attributes", &self.attributes.keys().collect::<Vec<_>>())
            .field("erased", &self.erased_at.is_some())
            .finish_non_exhaustive()
    }
}
