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
        plans.push(layout.plan(0).unwrap());
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
    assert_eq!(split.deletes, [(LeafId::ROOT, Side::A)]);
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
    layout.adopt(LeafId::ROOT, Side::B, stale);
    let plan = layout.plan(0).unwrap();
    assert_eq!(plan.deletes, [(LeafId::ROOT, Side::B)]);
    assert_eq!(layout.entry(&user(0)), Some(&named("Ada Lovelace")));
    assert_eq!(layout.entry(&user(9_999)), Some(&named("Only here")));
}

fn removed(version: u64) -> Entry {
    Entry {
        revision: Revision {
            version: Version::new(version).unwrap(),
            removed: true,
        },
        name: None,
    }
}

fn renamed(name: &str) -> Entry {
    let mut entry = named(name);
    entry.revision.version = Version::new(2).unwrap();
    entry
}

/// A layout as a writer holds it after reading its leaves back.
fn stored(layout: &Layout) -> Layout {
    let mut loaded = Layout::new(5_000);
    for (id, placed) in layout.leaves() {
        loaded.insert_loaded(id, placed.clone());
    }
    loaded
}

#[test]
fn a_leaf_that_loses_a_name_moves_to_its_other_name_and_deletes_the_one_it_had() {
    let mut layout = Layout::new(5_000);
    grow(&mut layout, 0..10, 10);
    let mut layout = stored(&layout);
    layout.merge(&user(3), removed(2));
    layout.merge(&user(4), renamed("Renamed"));
    let plan = layout.plan(1_000).unwrap();
    assert_eq!(plan.rotated, 1);
    assert_eq!(plan.deletes, [(LeafId::ROOT, Side::A)]);
    let [put] = plan.puts.as_slice() else {
        panic!("{plan:?}")
    };
    assert_eq!((put.id, put.side), (LeafId::ROOT, Side::B));
    assert!(put.value.starts_with("#g1 t1000\n"), "{}", put.value);
    assert_eq!(
        put.value.matches("Ada Lovelace").count(),
        8,
        "9 of 10, one renamed"
    );
    assert_eq!(layout.entry(&user(3)), Some(&removed(2)));
    assert_eq!(layout.entry(&user(4)), Some(&renamed("Renamed")));

    // A rename, or a removal of a name the store never held, keeps the name.
    layout.merge(&user(5), renamed("Other"));
    layout.merge(&user(50), removed(1));
    let plan = layout.plan(1_001).unwrap();
    assert_eq!((plan.rotated, plan.deletes.len()), (0, 0));
    assert_eq!(plan.puts[0].side, Side::B);
}

#[test]
fn a_second_removal_within_the_gap_waits_for_it_and_then_rotates_back() {
    let mut layout = Layout::new(5_000);
    grow(&mut layout, 0..10, 10);
    let mut layout = stored(&layout);
    layout.merge(&user(1), removed(2));
    assert_eq!(layout.plan(100).unwrap().rotated, 1);
    layout.merge(&user(2), removed(2));
    let early = layout.plan(100 + ROTATION_GAP_SECS - 1).unwrap();
    assert!(early.is_empty(), "{early:?}");
    assert_eq!(early.rotates_at, Some(100 + ROTATION_GAP_SECS));
    assert_eq!(layout.dirty_leaves(), [LeafId::ROOT], "still waiting");
    let plan = layout.plan(100 + ROTATION_GAP_SECS).unwrap();
    assert_eq!(plan.deletes, [(LeafId::ROOT, Side::B)]);
    assert_eq!(plan.puts[0].side, Side::A);
}

#[test]
fn a_full_leaf_that_must_rotate_and_would_outgrow_its_tier_with_the_header_splits_instead() {
    // A root a few bytes under 4,096 with no header, one of its users
    // named "A": removing that user saves one byte, and a rotation's
    // header (`#g1 t1000`) would add ten.
    let mut leaf = Leaf::default();
    leaf.merge(UserKey::of(&user(0)), named("A"));
    let mut n = 1;
    while Placed::new(Tier::Standard, leaf.clone()).value().len() < 4_096 - 60 {
        leaf.merge(UserKey::of(&user(n)), named("Ada Lovelace"));
        n += 1;
    }
    let room = 4_095 - Placed::new(Tier::Standard, leaf.clone()).value().len();
    leaf.merge(UserKey::of(&user(n)), named(&"x".repeat(room - 12)));
    let full = Placed::new(Tier::Standard, leaf);
    let size = full.value().len();
    assert!(
        (4_088..=4_096).contains(&size),
        "{size}: the header would not fit"
    );
    let mut layout = Layout::new(5_000);
    layout.insert_loaded(LeafId::ROOT, full);
    layout.merge(&user(0), removed(2));
    let plan = layout.plan(1_000).unwrap();
    assert_eq!(plan.rotated, 0);
    assert_eq!(plan.deletes, [(LeafId::ROOT, Side::A)], "split: new names");
    assert!(plan.puts.len() >= 2);
    for put in &plan.puts {
        assert!(
            put.value.len() <= put.tier.max_value_bytes(),
            "{}",
            put.value.len()
        );
    }
    assert_eq!(layout.entry(&user(0)), Some(&removed(2)));
}
