//! The user and the change message: values that exist are valid.
//!
//! A [`User`] is parsed once, from Cognito's attributes or from a stored image;
//! after that every part of the pipeline can rely on its id being a safe path
//! segment, its email being an email and its version being at least 1.

//!
//! - [`values`]: the user's id, email and version, each valid once built.
//! - [`user`]: the user, parsed from Cognito's attributes.
//! - [`change`]: a change to a user, as the router sends it.
//! - [`account`]: what a user does to their own account: a rename, an
//!   erasure.

mod account;
mod change;
#[cfg(test)]
mod tests;
mod user;
mod values;

pub use account::{DisplayName, RENAME_WINDOW, RENAMES_PER_WINDOW, Refused, RenameWindow, Renamed};
pub use change::{ChangeKind, ChangeMessage, Revision};
pub use user::User;
pub use values::{Email, UserId, Version, uuid_text};

/// Why a value from outside is not a valid part of a user. Never carries the
/// rejected email itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("the attribute `{0}` is required but missing")]
    MissingAttribute(&'static str),
    #[error("the user id is not a Cognito sub: {0}")]
    InvalidUserId(&'static str),
    #[error("the email attribute is not a valid email address")]
    InvalidEmail,
    #[error("the version must be a whole number of at least 1")]
    InvalidVersion,
}

/// Timestamps as RFC 3339 strings with millisecond precision, in the table, the
/// archive and the messages alike.
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Deserialize;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let raw = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|value| value.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The same, for a timestamp that may be absent.
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            value: &Option<DateTime<Utc>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            #[derive(Deserialize)]
            struct Stamp(#[serde(with = "super")] DateTime<Utc>);
            Ok(Option::<Stamp>::deserialize(deserializer)?.map(|Stamp(value)| value))
        }
    }
}
