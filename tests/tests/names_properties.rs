//! The packed layout of published names over generated users and changes:
//! a value reads back as itself, any order and repetition of the same
//! changes ends the same (never backwards, idempotent), and a split keeps
//! every user, in the half that holds its hash. Seeded; each prints how
//! many cases it ran.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;

use onboard_shared::domain::{Revision, UserId, Version};
use onboard_shared::names::{Entry, Leaf, LeafId, UserKey, user_hash};
use onboard_tests::property;
use proptest::prelude::*;

fn key(raw: &str) -> UserKey {
    UserKey::of(&UserId::parse(raw).unwrap())
}

/// A user (a short id or a Cognito sub) and one of its entries: any name,
/// the characters the value escapes among them.
fn any_entry() -> impl Strategy<Value = (String, Entry)> {
    (
        prop_oneof![
            "[a-z0-9-]{1,12}",
            "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
        ],
        1u64..6,
        any::<bool>(),
        proptest::option::of("\\PC{0,20}|[\\\\\n\r ]{1,3}"),
    )
        .prop_map(|(id, version, removed, name)| {
            let entry = Entry {
                revision: Revision {
                    version: Version::new(version).unwrap(),
                    removed,
                },
                name: if removed { None } else { name },
            };
            (id, entry)
        })
}

fn leaf_of(entries: &[(String, Entry)]) -> Leaf {
    let mut leaf = Leaf::default();
    for (id, entry) in entries {
        leaf.merge(key(id), entry.clone());
    }
    leaf
}

#[test]
fn any_leaf_reads_back_as_itself() {
    property::check(
        "a leaf's value reads back as the leaf",
        2_000,
        proptest::collection::vec(any_entry(), 0..30),
        |entries| {
            let leaf = leaf_of(&entries);
            prop_assert_eq!(Leaf::decode(&leaf.encode()).unwrap(), leaf);
            Ok(())
        },
    );
}

#[test]
fn any_order_and_repetition_of_the_same_changes_ends_the_same() {
    property::check(
        "the same changes in any order, some twice, end the same",
        2_000,
        (proptest::collection::vec(any_entry(), 1..30), any::<u64>()),
        |(entries, seed)| {
            // One change per user and revision: what a stream delivers.
            let mut first = BTreeMap::new();
            for (id, entry) in &entries {
                first
                    .entry((id.clone(), entry.revision))
                    .or_insert_with(|| entry.clone());
            }
            let changes: Vec<_> = entries
                .iter()
                .map(|(id, entry)| (id.clone(), first[&(id.clone(), entry.revision)].clone()))
                .collect();
            let mut shuffled = changes.clone();
            shuffled.extend(changes.iter().step_by(3).cloned());
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let (once, again) = (leaf_of(&changes), leaf_of(&shuffled));
            prop_assert_eq!(&once, &again);
            // And each user holds its newest revision.
            for (id, _) in &changes {
                let newest = changes
                    .iter()
                    .filter(|(other, _)| other == id)
                    .map(|(_, entry)| entry.revision)
                    .max();
                prop_assert_eq!(once.get(&key(id)).map(|e| e.revision), newest);
            }
            Ok(())
        },
    );
}

#[test]
fn a_split_keeps_every_user_in_the_half_that_holds_its_hash() {
    property::check(
        "splits keep every user, in the half that holds its hash",
        1_000,
        (proptest::collection::vec(any_entry(), 0..40), 0u8..8),
        |(entries, depth)| {
            let leaf = leaf_of(&entries);
            let mut parts = vec![(LeafId::ROOT, leaf.clone())];
            for _ in 0..depth {
                parts = parts
                    .into_iter()
                    .flat_map(|(id, part)| part.split(id).unwrap())
                    .collect();
            }
            let total: usize = parts.iter().map(|(_, part)| part.len()).sum();
            prop_assert_eq!(total, leaf.len());
            for (id, part) in &parts {
                for (key, entry) in part.entries() {
                    prop_assert!(id.contains(user_hash(&key.user_id().unwrap())));
                    prop_assert_eq!(Some(entry), leaf.get(key));
                }
            }
            Ok(())
        },
    );
}
