//! What the publish queue carries to the writer: a change from the router,
//! or a leaf's names carried over from an earlier run.

use onboard_shared::domain::{ChangeKind, ChangeMessage, Revision, UserId, Version};
use onboard_shared::names::{Entry, LeafId};
use onboard_shared::reason::Reason;
use serde::{Deserialize, Serialize};

/// One message's entries, as the writer merges them.
pub type Entries = Vec<(UserId, Entry)>;

/// A message's entries, when they began to wait, and the leaf they were
/// last merged into, if they were carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub entries: Entries,
    pub since: u64,
    pub leaf: Option<LeafId>,
    /// The change, when the message is one (for its report).
    pub change: Option<Box<ChangeMessage>>,
}

/// Names carried from one run to the next: a leaf's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    /// When the oldest of them began to wait (the caller's clock, seconds).
    pub since: u64,
    /// The leaf they were merged into (`<depth>.<bits>`): where their
    /// path's leaf is opened if the store has none (a split whose halves
    /// were not all written, of a leaf that was never written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf: Option<String>,
    pub names: Vec<CarriedName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedName {
    pub user: UserId,
    pub version: Version,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A message's entries and when they began to wait: a change from the
/// router (waiting from now) or names carried by an earlier run.
pub fn decode(body: &str, now: u64) -> Result<Decoded, Reason> {
    if let Ok(carried) = serde_json::from_str::<Carried>(body) {
        let entries = carried
            .names
            .into_iter()
            .map(|n| {
                let entry = Entry {
                    revision: Revision {
                        version: n.version,
                        removed: n.removed,
                    },
                    name: if n.removed { None } else { n.name },
                };
                (n.user, entry)
            })
            .collect();
        return Ok(Decoded {
            entries,
            since: carried.since,
            leaf: carried.leaf.as_deref().and_then(LeafId::parse_segment),
            change: None,
        });
    }
    let message = ChangeMessage::from_json(body)
        .map_err(|err| Reason::of_error(&err).after("the message is not a change"))?;
    let removed = message.kind == ChangeKind::Removed;
    let entry = Entry {
        revision: message.revision(),
        name: if removed {
            None
        } else {
            message.user.display_name()
        },
    };
    Ok(Decoded {
        entries: vec![(message.user_id().clone(), entry)],
        since: now,
        leaf: None,
        change: Some(Box::new(message)),
    })
}

impl Carried {
    /// A leaf's entries, waiting since `since`.
    pub fn of(leaf: LeafId, entries: Entries, since: u64) -> Self {
        Self {
            leaf: Some(leaf.segment()),
            ..Self::unplaced(entries, since)
        }
    }

    /// Entries from elsewhere (a migration), in no leaf yet.
    pub fn unplaced(entries: Entries, since: u64) -> Self {
        Self {
            since,
            leaf: None,
            names: entries
                .into_iter()
                .map(|(user, entry)| CarriedName {
                    user,
                    version: entry.revision.version,
                    removed: entry.revision.removed,
                    name: entry.name,
                })
                .collect(),
        }
    }
}
