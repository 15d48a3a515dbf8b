//! A change to a user, as the router sends it to both queues.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{User, UserId, Version};

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
    /// The trace of the sign-up behind the change (`crate::wire`):
    /// read from the row's image or the queue message's `AWSTraceHeader`,
    /// never part of the message's body.
    #[serde(skip)]
    pub trace_header: Option<String>,
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
