//! The user and the change message: values that exist are valid.
//!
//! A [`User`] is parsed once, from Cognito's attributes or from a stored image;
//! after that every part of the pipeline can rely on its id being a safe path
//! segment, its email being an email and its version being at least 1.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

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

/// The Cognito `sub` of a user: the only identity downstream parts use.
///
/// It becomes an S3 key segment and an SSM parameter path segment, so only
/// ASCII letters, digits, `-` and `_` are accepted.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(DomainError::InvalidUserId("it is empty"));
        }
        if raw.len() > 128 {
            return Err(DomainError::InvalidUserId(
                "it is longer than 128 characters",
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(DomainError::InvalidUserId(
                "only letters, digits, '-' and '_' are allowed",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> Self {
        value.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

/// An email address. Its `Debug` never shows the address, so a user that ends
/// up in a log line or an error does not leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        let valid = raw.len() <= 254
            && !raw.chars().any(char::is_whitespace)
            && match raw.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Self(raw))
        } else {
            Err(DomainError::InvalidEmail)
        }
    }

    /// The address itself, for the places that are allowed to hold it (the
    /// table and the archive).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

/// The version of a user: 1 when created, one more on every change.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Version(u64);

impl Version {
    pub const FIRST: Version = Version(1);

    pub fn new(value: u64) -> Result<Self, DomainError> {
        if value == 0 {
            Err(DomainError::InvalidVersion)
        } else {
            Ok(Self(value))
        }
    }

    pub fn get(self) -> u64 {
        self.0
    }

    #[must_use]
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

impl TryFrom<u64> for Version {
    type Error = DomainError;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Version> for u64 {
    fn from(value: Version) -> Self {
        value.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

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
            .finish_non_exhaustive()
    }
}

/// What happened to a user in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Updated,
    Removed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Removed => "removed",
        }
    }
}

/// The order of a user's states. A removal of version N comes after version N
/// itself, so a late update of N cannot bring a removed user back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Revision {
    pub version: Version,
    pub removed: bool,
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.removed {
            write!(f, "{} (removed)", self.version)
        } else {
            write!(f, "{}", self.version)
        }
    }
}

/// The message the router sends to both queues for one stream record.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeMessage {
    pub kind: ChangeKind,
    /// The user as it now is, or as it was for a removal.
    pub user: User,
    pub version: Version,
    /// Set when DynamoDB's time-to-live removed the item.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
    /// The stream record this message came from.
    pub event_id: String,
    pub sequence_number: String,
}

impl ChangeMessage {
    pub fn user_id(&self) -> &UserId {
        &self.user.user_id
    }

    pub fn revision(&self) -> Revision {
        Revision {
            version: self.version,
            removed: self.kind == ChangeKind::Removed,
        }
    }

    /// Parses a queue message body. The version must agree with the user's.
    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        let message: ChangeMessage = serde_json::from_str(body)?;
        if message.version != message.user.version {
            return Err(serde::de::Error::custom(format!(
                "the message version {} differs from the user's version {}",
                message.version, message.user.version
            )));
        }
        Ok(message)
    }

    pub fn to_json(&self) -> String {
        // A ChangeMessage is plain data with string keys: serializing it cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("ChangeMessage serializes"))
    }
}

impl fmt::Debug for ChangeMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeMessage")
            .field("kind", &self.kind)
            .field("user_id", self.user_id())
            .field("version", &self.version)
            .field("sequence_number", &self.sequence_number)
            .finish_non_exhaustive()
    }
}

/// Timestamps as RFC 3339 strings with millisecond precision, in the table, the
/// archive and the messages alike.
pub mod rfc3339 {
    use super::*;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_user_from_cognito_keeps_every_attribute_but_cognito_bookkeeping() {
        let user = User::from_cognito(
            &attributes(&[
                ("sub", "8f1e-42"),
                ("email", "zoe@example.com"),
                ("name", " Zoë "),
                ("locale", "fr"),
                ("cognito:user_status", "CONFIRMED"),
            ]),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(user.user_id.as_str(), "8f1e-42");
        assert_eq!(user.name.as_deref(), Some("Zoë"));
        assert_eq!(user.version, Version::FIRST);
        assert_eq!(user.attributes.keys().collect::<Vec<_>>(), ["locale"]);
    }

    #[test]
    fn a_user_without_sub_is_a_missing_attribute_error() {
        let err = User::from_cognito(&attributes(&[("email", "a@b.co")]), Utc::now()).unwrap_err();
        assert_eq!(err, DomainError::MissingAttribute("sub"));
    }

    #[test]
    fn user_ids_that_are_not_safe_path_segments_are_rejected() {
        for bad in ["", "a/b", "../x", "a b", "ü"] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(UserId::parse("eu-west-1_abc-DEF-123").is_ok());
    }

    #[test]
    fn emails_are_parsed_and_never_shown_by_debug() {
        for bad in ["", "plain", "a@b", "a b@c.de", "@c.de", "a@@c.de", "a@.de"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let email = Email::parse("zoe@example.com").unwrap();
        assert!(!format!("{email:?}").contains("zoe"));
        let err = Email::parse("not an email").unwrap_err().to_string();
        assert!(!err.contains("not an email"));
    }

    #[test]
    fn the_display_name_never_falls_back_to_the_email() {
        let mut user = User::from_cognito(
            &attributes(&[("sub", "u1"), ("email", "zoe@example.com")]),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(user.display_name(), None);
        user.attributes.insert("given_name".into(), "Zoë".into());
        assert_eq!(user.display_name().as_deref(), Some("Zoë"));
        user.attributes.insert("family_name".into(), "Ng".into());
        assert_eq!(user.display_name().as_deref(), Some("Zoë Ng"));
        user.name = Some("Z".into());
        assert_eq!(user.display_name().as_deref(), Some("Z"));
    }

    #[test]
    fn a_removal_of_a_version_comes_after_that_version() {
        let v2 = Version::new(2).unwrap();
        let live = Revision {
            version: v2,
            removed: false,
        };
        let removed = Revision {
            version: v2,
            removed: true,
        };
        let v3 = Revision {
            version: v2.next(),
            removed: false,
        };
        assert!(live < removed && removed < v3);
    }

    #[test]
    fn a_message_whose_version_disagrees_with_its_user_does_not_parse() {
        let body = r#"{"kind":"created","user":{"user_id":"u1","created_at":"2026-01-01T00:00:00.000Z","version":2},"version":1,"event_id":"e","sequence_number":"1"}"#;
        let err = ChangeMessage::from_json(body).unwrap_err().to_string();
        assert!(err.contains("differs"), "{err}");
    }
}
