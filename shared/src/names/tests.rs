//! The layout grown, split, taken past its share and mended.

use super::*;
use crate::domain::{Revision, UserId, Version};

fn user(n: usize) -> UserId {
    UserId::parse(format!("user-{n}")).unwrap()
}

fn named(name: &str) -> Entry {
    Entry {
        revision: Revision {
            version: Version::new(1).unwrap(),
            removed: false,
        },
        name: Some(name.to_owned()),
    }
}

/// Every user once, a round of `round` at a time; the layout's plans.
fn grow(layout: &mut Layout, users: std::ops::Range<usize>, round: usize) -> Vec<Plan> {
    let mut plans = Vec::new();
    let all: Vec<usize> = users.collect();
    for chunk in all.chunks(round) {
        for &n in chunk {
            layout.merge(&user(n), named("Ada Lovelace"));
        }
        plans.push(layout.plan().unwrap());
    }
    plans
}

#[test]
fn the_first_users_share_one_parameter() {
    let mut layout = Layout::new(5_000);
    let plans = grow(&mut layout, 0..30, 1);
    assert_eq!(layout.summary().standard, 1);
    assert!(plans.iter().all(|plan| plan.deletes.is_empty()));
    assert!(
        plans
            .iter()
            .all(|p| p.puts.iter().all(|put| put.id == LeafId::ROOT))
    );
    // The summary is written when it changes: once, with the root.
    assert_eq!(plans.iter().filter(|p| p.summary.is_some()).count(), 1);
}

#[test]
fn a_full_leaf_splits_puts_its_halves_then_deletes_itself() {
    let mut layout = Layout::new(5_000);
    let plans = grow(&mut layout, 0..400, 10);
    let split = plans.iter().find(|p| !p.deletes.is_empty()).unwrap();
    assert_eq!(split.deletes, [LeafId::ROOT]);
    assert!(split.puts.len() >= 2);
    assert!(split.summary.is_some(), "readers learn the new depths");
    for (id, placed) in layout.leaves() {
        assert!(placed.value().len() <= placed.tier.max_value_bytes());
        assert!(id.depth() >= 1);
    }
    for n in 0..400 {
        assert_eq!(layout.entry(&user(n)), Some(&named("Ada Lovelace")), "{n}");
    }
}

#[test]
fn past_its_share_of_the_standard_tier_the_layout_grows_into_advanced() {
    let mut layout = Layout::new(3);
    grow(&mut layout, 0..2_000, 50);
    let summary = layout.summary();
    assert_eq!(summary.standard, 3, "{summary:?}");
    assert!(summary.advanced > 0);
    for (_, placed) in layout.leaves() {
        assert!(placed.value().len() <= placed.tier.max_value_bytes());
    }
}

#[test]
fn a_leaf_found_beside_its_half_is_merged_into_its_halves_and_deleted() {
    let mut layout = Layout::new(5_000);
    grow(&mut layout, 0..400, 400);
    // The root of before the split, still there: an older name for user 0.
    let mut stale = Leaf::default();
    let mut older = named("Old");
    older.revision.version = Version::new(1).unwrap();
    stale.merge(UserKey::of(&user(0)), older);
    stale.merge(UserKey::of(&user(9_999)), named("Only here"));
    layout.adopt(LeafId::ROOT, stale);
    let plan = layout.plan().unwrap();
    assert_eq!(plan.deletes, [LeafId::ROOT]);
    assert_eq!(layout.entry(&user(0)), Some(&named("Ada Lovelace")));
    assert_eq!(layout.entry(&user(9_999)), Some(&named("Only here")));
}
