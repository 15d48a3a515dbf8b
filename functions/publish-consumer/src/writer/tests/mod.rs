use std::sync::Arc;
use std::time::Duration;

use onboard_shared::domain::UserId;
use onboard_shared::local::{FileParameters, MemoryQueue, QuotaParameters, Quotas, SimClock};
use onboard_shared::names::{Layout, LeafId, NamesPaths, layout_of};
use onboard_shared::ports::{Inbox, NamesStore};
use onboard_shared::published::ParameterPrefix;

use super::*;

mod rotation;

const OUT_OF_ORDER: &str = include_str!("../../../../../fixtures/sqs/changes-out-of-order.json");
const POISON: &str = include_str!("../../../../../fixtures/sqs/batch-with-poison-messages.json");
const ADA: &str = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";
const GRACE: &str = "9c8b7a6f-5e4d-4c3b-8a29-18f7e6d5c4b3";

const ENOUGH: RunLimits = RunLimits {
    max_messages: 10_000,
    max_bytes: usize::MAX,
    max_writes: 10_000,
};

fn paths() -> NamesPaths {
    NamesPaths::new(&ParameterPrefix::parse("/onboard").unwrap())
}

struct Setup {
    writer: Arc<Writer>,
    queue: Arc<MemoryQueue>,
    dead_letters: Arc<MemoryQueue>,
}

fn setup(store: Arc<dyn NamesStore>) -> Setup {
    let queue = Arc::new(MemoryQueue::new("publish"));
    let dead_letters = Arc::new(MemoryQueue::new("publish-dlq"));
    let writer = Arc::new(Writer::new(
        store,
        queue.clone(),
        dead_letters.clone(),
        paths(),
        5_000,
    ));
    Setup {
        writer,
        queue,
        dead_letters,
    }
}

/// The bodies of an SQS event fixture.
fn bodies(event: &str) -> Vec<String> {
    let event: serde_json::Value = serde_json::from_str(event).unwrap();
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect()
}

/// A change of a user as the router sends it.
fn change(user: &str, version: u64, name: &str) -> String {
    serde_json::json!({
        "kind": if version == 1 { "created" } else { "updated" },
        "user": {
            "user_id": user, "email": "someone@example.net",
            "created_at": "2026-01-01T09:00:00.000Z", "version": version, "name": name,
        },
        "version": version,
        "event_id": format!("e-{user}-{version}"),
        "sequence_number": "1",
    })
    .to_string()
}

async fn send(queue: &MemoryQueue, bodies: &[String]) {
    for chunk in bodies.chunks(10) {
        Inbox::send(queue, chunk).await.unwrap();
    }
}

/// What the store holds, read as a reader would: every leaf.
fn read_back(values: &std::collections::BTreeMap<String, String>) -> Layout {
    layout_of(&paths(), values)
}

fn name_of(layout: &Layout, user: &str) -> Option<String> {
    layout
        .entry(&UserId::parse(user).unwrap())
        .and_then(|entry| entry.name.clone())
}

#[tokio::test]
async fn a_run_merges_every_change_and_writes_their_leaf_once() {
    let store = Arc::new(FileParameters::in_memory());
    let s = setup(store.clone());
    send(&s.queue, &bodies(OUT_OF_ORDER)).await;
    let report = s.writer.run(ENOUGH, 0).await.unwrap();
    assert_eq!(report.received, 5);
    // One parameter for both users, and the summary readers use.
    assert_eq!(store.calls.get("PutParameter"), 2, "{report:?}");
    let values = store.values();
    assert_eq!(
        values["/onboard/names/0.0"],
        "Gyw9Tl9gRxiCk6S1xtfo-Q 3 Ada King\nnIt6b15NTDuKKRj35tXEsw 1-",
        "a line a user: its key, its version, its name (or `-`, removed)"
    );
    let layout = read_back(&values);
    assert_eq!(name_of(&layout, ADA).as_deref(), Some("Ada King"));
    assert_eq!(name_of(&layout, GRACE), None, "removed");
    assert!(s.queue.is_empty() && s.queue.in_flight() == 0);
}

#[tokio::test]
async fn the_same_changes_again_write_nothing_and_are_deleted() {
    let store = Arc::new(FileParameters::in_memory());
    let s = setup(store.clone());
    send(&s.queue, &bodies(OUT_OF_ORDER)).await;
    s.writer.run(ENOUGH, 0).await.unwrap();
    let before = store.values();
    send(&s.queue, &bodies(OUT_OF_ORDER)).await;
    let again = s.writer.run(ENOUGH, 1).await.unwrap();
    assert_eq!(again.puts, 0, "{again:?}");
    assert_eq!(again.applied, 0);
    assert_eq!(store.values(), before);
    assert!(s.queue.is_empty() && s.queue.in_flight() == 0);
    // And a writer that starts cold (a new Lambda environment) reads the
    // leaf back and finds nothing to write either.
    let cold = setup(store.clone());
    send(&cold.queue, &bodies(OUT_OF_ORDER)).await;
    let report = cold.writer.run(ENOUGH, 2).await.unwrap();
    assert_eq!(report.puts, 0, "{report:?}");
    assert_eq!(store.values(), before);
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_and_the_rest_written() {
    let store = Arc::new(FileParameters::in_memory());
    let s = setup(store.clone());
    send(&s.queue, &bodies(POISON)).await;
    let report = s.writer.run(ENOUGH, 0).await.unwrap();
    assert_eq!(report.dead_lettered, 3, "{report:?}");
    assert_eq!(s.dead_letters.len(), 3);
    assert_eq!(report.applied, 1);
    assert!(s.queue.is_empty() && s.queue.in_flight() == 0);
}

#[tokio::test]
async fn a_name_too_long_for_any_parameter_is_dead_lettered_with_why() {
    let store = Arc::new(FileParameters::in_memory());
    let s = setup(store.clone());
    send(
        &s.queue,
        &[change(ADA, 1, &"é".repeat(600)), change(GRACE, 1, "Grace")],
    )
    .await;
    let report = s.writer.run(ENOUGH, 0).await.unwrap();
    assert_eq!(report.dead_lettered, 1, "{report:?}");
    let letter = &s.dead_letters.drain()[0];
    assert!(
        letter
            .attribute("onboard.reason")
            .unwrap()
            .contains("1,024 bytes"),
        "{letter:?}"
    );
    assert_eq!(
        name_of(&read_back(&store.values()), GRACE).as_deref(),
        Some("Grace")
    );
}

#[tokio::test]
async fn a_run_out_of_writes_carries_its_leaves_and_the_next_writes_them() {
    let store = Arc::new(FileParameters::in_memory());
    let s = setup(store.clone());
    send(&s.queue, &bodies(OUT_OF_ORDER)).await;
    let none = RunLimits {
        max_writes: 0,
        ..ENOUGH
    };
    let report = s.writer.run(none, 0).await.unwrap();
    assert_eq!((report.puts, report.carried), (0, 1), "{report:?}");
    assert!(store.values().is_empty());
    // The five messages are gone; one carries the leaf's names.
    assert_eq!((s.queue.len(), s.queue.in_flight()), (1, 0));
    let next = s.writer.run(ENOUGH, 60).await.unwrap();
    assert_eq!(next.received, 1);
    let layout = read_back(&store.values());
    assert_eq!(name_of(&layout, ADA).as_deref(), Some("Ada King"));
}

/// Users `from..to` named after their number.
fn users(from: usize, to: usize, version: u64) -> Vec<(String, String)> {
    (from..to)
        .map(|n| {
            let user = format!("{n:08x}-0000-4000-8000-{n:012x}");
            let body = change(&user, version, &format!("User {n} v{version}"));
            (user, body)
        })
        .collect()
}

#[tokio::test]
async fn under_the_write_rate_the_leaves_split_and_no_name_is_lost_or_goes_back() {
    let clock = SimClock::default();
    let store = Arc::new(QuotaParameters::new(Quotas::default(), clock.clone()));
    let s = setup(store.clone());
    let first = users(0, 600, 1);
    let second = users(0, 600, 2);
    // Version 2 of every user, then the older version 1 redelivered late.
    let mut all: Vec<String> = second.iter().map(|(_, b)| b.clone()).collect();
    all.extend(first.iter().map(|(_, b)| b.clone()));
    send(&s.queue, &all).await;
    // Each run has the clock's second: about three writes and forty reads,
    // then throttled.
    for run in 0..400 {
        let report = s.writer.run(ENOUGH, run).await.unwrap();
        // What a run left (a read throttled) comes back, as SQS returns a
        // message at the end of its visibility timeout.
        s.queue.return_in_flight();
        clock.advance(Duration::from_secs(1));
        if s.queue.is_empty() && report.carried == 0 {
            break;
        }
    }
    assert!(s.queue.is_empty() && s.queue.in_flight() == 0);
    let values = store.values();
    let layout = read_back(&values);
    assert!(layout.leaves().count() > 2, "600 users split the root");
    for (user, _) in &second {
        let n = u64::from_str_radix(&user[..8], 16).unwrap();
        assert_eq!(
            name_of(&layout, user),
            Some(format!("User {n} v2")),
            "{user}"
        );
    }
    assert!(store.stats().throttled.values().sum::<u64>() > 0);
}

#[tokio::test]
async fn runs_started_together_write_one_after_the_other_and_lose_nothing() {
    let store = Arc::new(FileParameters::in_memory());
    let s = setup(store.clone());
    let all = users(0, 500, 1);
    let bodies: Vec<String> = all.iter().map(|(_, b)| b.clone()).collect();
    send(&s.queue, &bodies).await;
    let small = RunLimits {
        max_messages: 50,
        max_bytes: usize::MAX,
        max_writes: 3,
    };
    // Four runs at once, again and again, until the queue is empty.
    for round in 0..100 {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let writer = s.writer.clone();
                tokio::spawn(async move { writer.run(small, round).await.unwrap() })
            })
            .collect();
        for run in runs {
            run.await.unwrap();
        }
        if s.queue.is_empty() && s.queue.in_flight() == 0 {
            break;
        }
    }
    assert!(s.queue.is_empty());
    let layout = read_back(&store.values());
    for (user, _) in &all {
        assert!(name_of(&layout, user).is_some(), "{user}");
    }
}

#[tokio::test]
async fn a_split_cut_short_is_finished_by_the_next_run_never_backwards() {
    // A store where the root split into its halves but was not deleted,
    // and only the higher half was written: the root still holds users
    // of both halves, some older than in the half.
    let store = Arc::new(FileParameters::in_memory());
    let s = setup(store.clone());
    send(
        &s.queue,
        &users(0, 200, 1)
            .into_iter()
            .map(|(_, b)| b)
            .collect::<Vec<_>>(),
    )
    .await;
    s.writer.run(ENOUGH, 0).await.unwrap();
    let values = store.values();
    let layout = read_back(&values);
    assert!(layout.leaves().all(|(id, _)| id.depth() >= 1));
    // Put the root back as it was before the split, with version 1 of all;
    // and take one of the halves away (its put never happened).
    let mut root = onboard_shared::names::Leaf::default();
    for (_, placed) in layout.leaves() {
        for (key, entry) in placed.leaf.entries() {
            root.merge(key.clone(), entry.clone());
        }
    }
    let root_value =
        onboard_shared::names::Placed::new(onboard_shared::names::Tier::Standard, root).value();
    store
        .put_tiered(
            "/onboard/names/0.0",
            &root_value,
            onboard_shared::names::Tier::Standard,
        )
        .await
        .ok();
    let (low, _) = layout
        .leaves()
        .next()
        .map(|(id, p)| (id, p.clone()))
        .unwrap();
    if low.depth() == 1 {
        let name = paths().leaf(low, onboard_shared::names::Side::A);
        store.delete_many(&[name]).await.unwrap();
    }
    // A new version of every user, through a cold writer.
    let cold = setup(store.clone());
    let updates: Vec<String> = users(0, 200, 2).into_iter().map(|(_, b)| b).collect();
    send(&cold.queue, &updates).await;
    cold.writer.run(ENOUGH, 1).await.unwrap();
    let after = store.values();
    assert!(
        !after.contains_key("/onboard/names/0.0"),
        "the root is deleted"
    );
    let layout = read_back(&after);
    for (user, _) in users(0, 200, 2) {
        let n = u64::from_str_radix(&user[..8], 16).unwrap();
        assert_eq!(
            name_of(&layout, &user),
            Some(format!("User {n} v2")),
            "{user}"
        );
    }
    let _ = LeafId::ROOT;
}
