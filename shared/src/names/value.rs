//! A parameter of names as it is written: a header line when it needs one,
//! then the leaf's lines.
//!
//! The header is `#` and marks separated by spaces: `a` for an advanced
//! leaf (`GetParameters` does not say a parameter's tier, and Parameter
//! Store refuses to make an advanced parameter standard), `g<n> t<secs>`
//! for a leaf whose name was rotated `n` times, the last at `secs`.
//!
//! **Rotation** takes a removed name out of a parameter's history:
//! Parameter Store keeps a parameter's last 100 values, and only deleting
//! the parameter forgets them. Deleting a leaf would blank its other users
//! for about 30 seconds (a deleted name is not created again sooner), so a
//! leaf has two names, `<segment>` and `<segment>.b`, and a rotation puts
//! its value under the other name with the next generation, then deletes
//! the name it had. A reader asks for both names in the one call; when it
//! finds both (between the put and the delete) the higher generation holds
//! the leaf. A leaf rotates at most once every [`ROTATION_GAP_SECS`], so
//! the name it goes back to was deleted long enough ago.

use crate::names::leaf::{Leaf, LeafError};
use crate::parameter_tier::Tier;

/// The least time between two rotations of a leaf, on the clock the
/// writer plans by (a run's start): Parameter Store creates a deleted name
/// again after 30 seconds, and a rotation's delete may come up to a run
/// (60 seconds) after the time it was planned at; the rest is margin.
pub const ROTATION_GAP_SECS: u64 = 120;

/// Which of its two names a leaf's value is under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// `<segment>`: generations 0, 2, 4, …
    A,
    /// `<segment>.b`: generations 1, 3, 5, …
    B,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::A, Side::B];

    /// What the side adds to the leaf's segment.
    pub fn suffix(self) -> &'static str {
        match self {
            Side::A => "",
            Side::B => ".b",
        }
    }
}

/// How many times a leaf's name was rotated, and when last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Generation {
    pub number: u32,
    /// Seconds on the writer's clock.
    pub rotated_at: u64,
}

impl Generation {
    pub fn side(self) -> Side {
        if self.number.is_multiple_of(2) {
            Side::A
        } else {
            Side::B
        }
    }

    /// Whether the leaf may rotate at `now`: never rotated (nor its other
    /// name deleted), or not within the last [`ROTATION_GAP_SECS`].
    pub fn may_rotate(self, now: u64) -> bool {
        now >= self.next_rotation()
    }

    /// When the leaf may rotate next.
    pub fn next_rotation(self) -> u64 {
        if self.number == 0 && self.rotated_at == 0 {
            0
        } else {
            self.rotated_at.saturating_add(ROTATION_GAP_SECS)
        }
    }

    /// The generation a rotation at `now` makes.
    #[must_use]
    pub fn rotated(self, now: u64) -> Self {
        Self {
            number: self.number.wrapping_add(1),
            rotated_at: now,
        }
    }
}

/// A leaf with its tier and generation: one parameter's whole value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub tier: Tier,
    pub generation: Generation,
    pub leaf: Leaf,
}

impl Placed {
    /// A leaf never rotated.
    pub fn new(tier: Tier, leaf: Leaf) -> Self {
        Self {
            tier,
            generation: Generation::default(),
            leaf,
        }
    }

    /// The name the value is under.
    pub fn side(&self) -> Side {
        self.generation.side()
    }

    /// The parameter's value.
    pub fn value(&self) -> String {
        self.value_at(self.generation)
    }

    /// The value the leaf would have at `generation` (its header says it).
    pub fn value_at(&self, generation: Generation) -> String {
        let mut marks = Vec::new();
        if self.tier == Tier::Advanced {
            marks.push("a".to_owned());
        }
        if generation.number > 0 {
            marks.push(format!("g{}", generation.number));
            marks.push(format!("t{}", generation.rotated_at));
        }
        let entries = self.leaf.encode();
        match (marks.is_empty(), entries.is_empty()) {
            (true, _) => entries,
            (false, true) => format!("#{}", marks.join(" ")),
            (false, false) => format!("#{}\n{entries}", marks.join(" ")),
        }
    }

    /// Whether the value is within its tier's limit.
    pub fn fits(&self) -> bool {
        self.value().len() <= self.tier.max_value_bytes()
    }
}

/// The tier, generation and leaf a value holds.
///
/// # Errors
///
/// When the header or a line is not one a leaf writes.
pub fn read_value(value: &str) -> Result<Placed, LeafError> {
    let Some(rest) = value.strip_prefix('#') else {
        return Leaf::decode(value).map(|leaf| Placed::new(Tier::Standard, leaf));
    };
    let (header, entries) = rest.split_once('\n').unwrap_or((rest, ""));
    if rest.contains('\n') && entries.is_empty() {
        return Err(LeafError { line: 2 });
    }
    let mut placed = Placed::new(Tier::Standard, Leaf::default());
    for mark in header.split(' ') {
        let number = |prefix: char| mark.strip_prefix(prefix).and_then(|n| n.parse().ok());
        if mark == "a" {
            placed.tier = Tier::Advanced;
        } else if let Some(n) = number('g') {
            placed.generation.number = u32::try_from(n).map_err(|_| LeafError { line: 1 })?;
        } else if let Some(t) = number('t') {
            placed.generation.rotated_at = t;
        } else {
            return Err(LeafError { line: 1 });
        }
    }
    placed.leaf = Leaf::decode(entries).map_err(|err| LeafError { line: err.line + 1 })?;
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Revision, UserId, Version};
    use crate::names::key::UserKey;
    use crate::names::leaf::Entry;

    fn ada() -> Leaf {
        let mut leaf = Leaf::default();
        let entry = Entry {
            revision: Revision {
                version: Version::new(1).unwrap(),
                removed: false,
            },
            name: Some("Ada".to_owned()),
        };
        leaf.merge(UserKey::of(&UserId::parse("ada").unwrap()), entry);
        leaf
    }

    #[test]
    fn a_value_says_its_tier_and_generation_on_a_first_line_only_when_it_has_them() {
        let rotated = Generation {
            number: 3,
            rotated_at: 1_765_000_000,
        };
        for (tier, generation, leaf, value) in [
            (Tier::Standard, Generation::default(), ada(), "~ada 1 Ada"),
            (
                Tier::Advanced,
                Generation::default(),
                ada(),
                "#a\n~ada 1 Ada",
            ),
            (
                Tier::Standard,
                rotated,
                ada(),
                "#g3 t1765000000\n~ada 1 Ada",
            ),
            (
                Tier::Advanced,
                rotated,
                Leaf::default(),
                "#a g3 t1765000000",
            ),
            (Tier::Advanced, Generation::default(), Leaf::default(), "#a"),
            (Tier::Standard, Generation::default(), Leaf::default(), ""),
        ] {
            let placed = Placed {
                tier,
                generation,
                leaf,
            };
            assert_eq!(placed.value(), value);
            assert_eq!(read_value(value), Ok(placed));
        }
        assert_eq!(rotated.side(), Side::B);
        for (bad, line) in [("#a\n~ada", 2), ("#x\n~ada 1", 1), ("#a\n", 2), ("#g", 1)] {
            assert_eq!(read_value(bad), Err(LeafError { line }), "{bad:?}");
        }
    }

    #[test]
    fn a_leaf_rotates_at_most_once_a_gap_and_alternates_its_two_names() {
        let first = Generation::default();
        assert!(first.may_rotate(0));
        let once = first.rotated(10);
        assert_eq!((first.side(), once.side()), (Side::A, Side::B));
        assert!(!once.may_rotate(10 + ROTATION_GAP_SECS - 1));
        assert!(once.may_rotate(10 + ROTATION_GAP_SECS));
        assert_eq!(once.next_rotation(), 10 + ROTATION_GAP_SECS);
        assert_eq!(once.rotated(70).side(), Side::A);
    }
}
