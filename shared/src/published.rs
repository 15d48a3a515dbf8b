//! What the publish consumer writes to the parameter store and the greeting
//! reads: one parameter per user, `/<prefix>/users/<user id>/name`, whose
//! value is a small JSON document with the display name and the revision it
//! came from. Carrying the revision in the value is what lets the publisher
//! refuse to go backwards; Parameter Store has no conditional write.

use serde::{Deserialize, Serialize};

use crate::domain::{ChangeKind, ChangeMessage, Revision, UserId, Version};

/// Why a parameter path prefix is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("the prefix is empty")]
    Empty,
    #[error("a parameter path may not start with aws or ssm")]
    Reserved,
    #[error("`{0}` may hold only letters, digits, '_', '.', '-' and single '/'")]
    Characters(String),
}

/// A validated parameter path prefix, kept without leading or trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterPrefix(String);

impl ParameterPrefix {
    pub fn parse(raw: &str) -> Result<Self, PrefixError> {
        let trimmed = raw.trim().trim_matches('/');
        if trimmed.is_empty() {
            return Err(PrefixError::Empty);
        }
        if trimmed.to_ascii_lowercase().starts_with("aws")
            || trimmed.to_ascii_lowercase().starts_with("ssm")
        {
            return Err(PrefixError::Reserved);
        }
        let valid = trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'))
            && !trimmed.contains("//");
        if !valid {
            return Err(PrefixError::Characters(raw.to_owned()));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// `/<prefix>/names`: the path under which the names are packed, many
    /// users to a parameter (`crate::names`).
    pub fn names_path(&self) -> String {
        format!("/{}/names", self.0)
    }

    /// `/<prefix>/users`: the path of the one-parameter-a-user layout of
    /// before ([`ParameterPrefix::name_parameter`]).
    pub fn users_path(&self) -> String {
        format!("/{}/users", self.0)
    }

    /// `/<prefix>/users/<user id>/name`: no email or other personal detail.
    pub fn name_parameter(&self, user: &UserId) -> String {
        format!("/{}/users/{}/name", self.0, user)
    }
}

/// The value of a user's name parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedName {
    /// The display name; absent once the user is removed or has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub version: Version,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

impl PublishedName {
    pub fn from_change(message: &ChangeMessage) -> Self {
        let removed = message.kind == ChangeKind::Removed;
        Self {
            // A removed user's name is not kept: the tombstone only guards the order.
            name: if removed {
                None
            } else {
                message.user.display_name()
            },
            version: message.version,
            removed,
        }
    }

    pub fn revision(&self) -> Revision {
        Revision {
            version: self.version,
            removed: self.removed,
        }
    }

    pub fn parse(value: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(value)
    }

    pub fn to_value(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("PublishedName serializes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names_hold_the_user_id_only() {
        let prefix = ParameterPrefix::parse("/onboard/prod/").unwrap();
        let user = UserId::parse("8f1e").unwrap();
        assert_eq!(
            prefix.name_parameter(&user),
            "/onboard/prod/users/8f1e/name"
        );
    }

    #[test]
    fn prefixes_ssm_refuses_are_refused_here() {
        for bad in ["", "/", "aws/x", "ssm", "a b", "a//b", "é"] {
            assert!(ParameterPrefix::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_value_round_trips() {
        let value = PublishedName {
            name: Some("Zoë <b>".into()),
            version: Version::new(3).unwrap(),
            removed: false,
        };
        assert_eq!(PublishedName::parse(&value.to_value()).unwrap(), value);
        assert_eq!(value.to_value(), r#"{"name":"Zoë <b>","version":3}"#);
    }
}
