//! One parameter of names: which users it holds ([`LeafId`], a prefix of
//! their hash) and its value ([`Leaf`], one line per user).
//!
//! A value is lines sorted by key, each `<key> <version>` followed by
//! nothing (the user has no display name), `-` (removed: a tombstone that
//! keeps the version, and no name) or ` <name>` (the name, with `\`,
//! newline and carriage return escaped as `\\`, `\n` and `\r`). A Cognito
//! user with a name of 12 characters takes about 40 bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::domain::{Revision, Version};
use crate::names::key::{UserKey, user_hash};

/// The users whose hash starts with the `depth` bits `bits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeafId {
    depth: u8,
    bits: u64,
}

impl LeafId {
    /// The deepest a leaf can be: every bit of the hash.
    pub const MAX_DEPTH: u8 = 64;
    /// The leaf of every user, where a layout starts.
    pub const ROOT: LeafId = LeafId { depth: 0, bits: 0 };

    /// The leaf at `depth` that holds the hash.
    pub fn of(hash: u64, depth: u8) -> Self {
        let depth = depth.min(Self::MAX_DEPTH);
        let bits = if depth == 0 {
            0
        } else {
            hash >> (64 - u32::from(depth))
        };
        Self { depth, bits }
    }

    pub fn depth(self) -> u8 {
        self.depth
    }

    pub fn contains(self, hash: u64) -> bool {
        Self::of(hash, self.depth) == self
    }

    /// The two halves of this leaf, or `None` at the deepest.
    pub fn children(self) -> Option<[LeafId; 2]> {
        (self.depth < Self::MAX_DEPTH).then(|| {
            let depth = self.depth + 1;
            [
                LeafId {
                    depth,
                    bits: self.bits << 1,
                },
                LeafId {
                    depth,
                    bits: (self.bits << 1) | 1,
                },
            ]
        })
    }

    /// How this leaf is named under the layout's path: `<depth>.<bits in
    /// hex>` (`0.0` for the root).
    pub fn segment(self) -> String {
        let width = usize::from(self.depth).div_ceil(4).max(1);
        format!("{}.{:0width$x}", self.depth, self.bits)
    }

    /// The leaf a segment names, `None` for anything else.
    pub fn parse_segment(segment: &str) -> Option<Self> {
        let (depth, bits) = segment.split_once('.')?;
        let depth: u8 = depth.parse().ok()?;
        let bits = u64::from_str_radix(bits, 16).ok()?;
        let id = LeafId { depth, bits };
        (depth <= Self::MAX_DEPTH
            && (depth == 64 || bits >> u32::from(depth) == 0)
            && id.segment() == segment)
            .then_some(id)
    }
}

/// What a parameter of names holds for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub revision: Revision,
    /// The display name; `None` when removed or when the user has none.
    pub name: Option<String>,
}

/// The longest name a leaf takes, in bytes: 128 characters of four bytes
/// each, twice over. Any leaf holds at least three entries of it, so a
/// split always ends.
pub const MAX_NAME_BYTES: usize = 1024;

/// What became of a change merged into a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merged {
    /// The leaf now holds this revision.
    Applied,
    /// The leaf already held this revision.
    Duplicate,
    /// The leaf holds a newer revision: never backwards.
    Stale,
    /// The name is longer than [`MAX_NAME_BYTES`]: nothing was merged.
    TooLong,
}

/// Why a value is not one this layout writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the value is not `<key> <version>[-| <name>]`")]
pub struct LeafError {
    pub line: usize,
}

/// The users of one parameter, by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leaf {
    entries: BTreeMap<UserKey, Entry>,
}

impl Leaf {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &UserKey) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&UserKey, &Entry)> {
        self.entries.iter()
    }

    /// Merges one user's entry: kept only when its revision is newer than
    /// the one held, so any order of the same changes ends the same.
    pub fn merge(&mut self, key: UserKey, entry: Entry) -> Merged {
        match self.entries.get(&key) {
            Some(held) if held.revision == entry.revision => Merged::Duplicate,
            Some(held) if held.revision > entry.revision => Merged::Stale,
            _ => {
                self.entries.insert(key, entry);
                Merged::Applied
            }
        }
    }

    /// Splits the users between the two halves of `id`.
    pub fn split(self, id: LeafId) -> Option<[(LeafId, Leaf); 2]> {
        let [low, high] = id.children()?;
        let (mut low_leaf, mut high_leaf) = (Leaf::default(), Leaf::default());
        for (key, entry) in self.entries {
            let hash = key.user_id().map_or(0, |user| user_hash(&user));
            let half = if high.contains(hash) {
                &mut high_leaf
            } else {
                &mut low_leaf
            };
            half.entries.insert(key, entry);
        }
        Some([(low, low_leaf), (high, high_leaf)])
    }

    /// The value as written to the parameter.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (key, entry) in &self.entries {
            if !out.is_empty() {
                out.push('\n');
            }
            let _ = write!(out, "{} {}", key.as_str(), entry.revision.version);
            if entry.revision.removed {
                out.push('-');
            } else if let Some(name) = &entry.name {
                out.push(' ');
                escape_into(name, &mut out);
            }
        }
        out
    }

    /// The bytes the value takes (what onboard holds within a tier's limit).
    pub fn encoded_len(&self) -> usize {
        self.encode().len()
    }

    pub fn decode(value: &str) -> Result<Self, LeafError> {
        let mut entries = BTreeMap::new();
        if value.is_empty() {
            return Ok(Self { entries });
        }
        for (index, line) in value.split('\n').enumerate() {
            let error = LeafError { line: index + 1 };
            let (key, rest) = line.split_once(' ').ok_or(error.clone())?;
            let key = UserKey::parse(key).ok_or(error.clone())?;
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let version = rest[..digits]
                .parse::<u64>()
                .ok()
                .and_then(|v| Version::new(v).ok())
                .ok_or(error.clone())?;
            let (removed, name) = match &rest[digits..] {
                "" => (false, None),
                "-" => (true, None),
                tail => {
                    let name = tail.strip_prefix(' ').ok_or(error.clone())?;
                    (false, Some(unescape(name).ok_or(error.clone())?))
                }
            };
            let entry = Entry {
                revision: Revision { version, removed },
                name,
            };
            entries.insert(key, entry);
        }
        Ok(Self { entries })
    }
}

fn escape_into(name: &str, out: &mut String) {
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn key(raw: &str) -> UserKey {
        UserKey::of(&UserId::parse(raw).unwrap())
    }

    fn entry(version: u64, removed: bool, name: Option<&str>) -> Entry {
        Entry {
            revision: Revision {
                version: Version::new(version).unwrap(),
                removed,
            },
            name: name.map(str::to_owned),
        }
    }

    #[test]
    fn a_value_is_a_line_per_user_sorted_by_key() {
        let mut leaf = Leaf::default();
        leaf.merge(key("zed"), entry(2, false, Some("Zoë \\ two\nlines")));
        leaf.merge(key("ada"), entry(1, true, None));
        leaf.merge(key("bob"), entry(3, false, None));
        assert_eq!(
            leaf.encode(),
            "~ada 1-\n~bob 3\n~zed 2 Zoë \\\\ two\\nlines"
        );
        assert_eq!(Leaf::decode(&leaf.encode()).unwrap(), leaf);
    }

    #[test]
    fn a_value_onboard_did_not_write_says_which_line() {
        for (bad, line) in [
            ("~ada", 1),
            ("~ada 1\nnot-a-key 1", 2),
            ("~ada x", 1),
            ("~ada 0", 1),
            ("~ada 1 a\\q", 1),
            ("~ada 1+", 1),
        ] {
            assert_eq!(Leaf::decode(bad), Err(LeafError { line }), "{bad:?}");
        }
    }

    #[test]
    fn leaf_names_are_depth_and_bits_and_parse_back() {
        assert_eq!(LeafId::ROOT.segment(), "0.0");
        let leaf = LeafId::of(0xca97_8112_ca1b_bdca, 13);
        assert_eq!(leaf.segment(), "13.1952");
        assert_eq!(LeafId::parse_segment("13.1952"), Some(leaf));
        for bad in ["", "13", "13.x", "2.4", "65.0", "1.00"] {
            assert_eq!(LeafId::parse_segment(bad), None, "{bad:?}");
        }
        let [low, high] = leaf.children().unwrap();
        assert!(low.contains(0xca97_8112_ca1b_bdca) != high.contains(0xca97_8112_ca1b_bdca));
    }
}
