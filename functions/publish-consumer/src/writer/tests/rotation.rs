//! A removed name taken out of every version of every parameter, under
//! Parameter Store's quotas: a deleted name is not created again for 30
//! seconds, and 100 versions are kept.

use onboard_shared::names::{NamesReader, ROTATION_GAP_SECS, Side};

use super::*;

/// A user's removal as the router sends it (the old image, its version).
fn removal(user: &str, version: u64) -> String {
    serde_json::json!({
        "kind": "removed",
        "user": {
            "user_id": user, "email": "someone@example.net",
            "created_at": "2026-01-01T09:00:00.000Z", "version": version,
        },
        "version": version,
        "event_id": format!("r-{user}-{version}"),
        "sequence_number": "9",
    })
    .to_string()
}

struct Quota {
    clock: SimClock,
    store: Arc<QuotaParameters>,
    s: Setup,
}

/// Thirty users signed up one a run, a second apart: the root leaf has
/// thirty versions, each holding the names before it.
async fn thirty_users() -> (Quota, Vec<(String, String)>) {
    let clock = SimClock::default();
    let store = Arc::new(QuotaParameters::new(Quotas::default(), clock.clone()));
    let s = setup(store.clone());
    let all = users(0, 30, 1);
    for (_, body) in &all {
        send(&s.queue, std::slice::from_ref(body)).await;
        run_at(&clock, &s, clock.now().as_secs() + 1).await;
    }
    (Quota { clock, store, s }, all)
}

async fn run_at(clock: &SimClock, s: &Setup, now: u64) -> RunReport {
    clock.advance_to(Duration::from_secs(now));
    let report = s.writer.run(ENOUGH, now).await.unwrap();
    assert_eq!((report.returned, report.throttled), (0, 0), "{report:?}");
    report
}

/// Every value of every parameter there is, every version kept.
fn every_version(store: &QuotaParameters) -> Vec<String> {
    store
        .snapshot()
        .keys()
        .flat_map(|name| store.history(name))
        .collect()
}

#[tokio::test]
async fn a_removed_name_leaves_every_version_of_every_parameter_and_no_other_user_is_blanked() {
    let (q, all) = thirty_users().await;
    let root = paths().leaf(LeafId::ROOT, Side::A);
    assert_eq!(q.store.history(&root).len(), 30);
    assert!(q.store.history(&root)[0].contains("User 0 v1"));

    // Two users removed in one run: one rotation takes both out.
    send(&q.s.queue, &[removal(&all[0].0, 1), removal(&all[7].0, 1)]).await;
    let now = q.clock.now().as_secs() + 1;
    let report = run_at(&q.clock, &q.s, now).await;
    assert_eq!((report.rotations, report.puts, report.deletes), (1, 1, 1));
    let held = q.store.values();
    assert!(!held.contains_key(&root), "the name it had is deleted");
    let rotated = paths().leaf(LeafId::ROOT, Side::B);
    assert_eq!(q.store.history(&rotated).len(), 1, "a new parameter");
    for version in every_version(&q.store) {
        assert!(!version.contains("User 0 v1") && !version.contains("User 7 v1"));
    }
    let layout = read_back(&held);
    for (n, (user, _)) in all.iter().enumerate() {
        let want = (n != 0 && n != 7).then(|| format!("User {n} v1"));
        assert_eq!(name_of(&layout, user), want, "{user}");
    }
    assert!(q.s.queue.is_empty() && q.s.queue.in_flight() == 0);
}

#[tokio::test]
async fn a_second_removal_within_the_gap_returns_with_its_message_and_rotates_after_it() {
    let (q, all) = thirty_users().await;
    send(&q.s.queue, &[removal(&all[1].0, 1)]).await;
    let first = q.clock.now().as_secs() + 1;
    assert_eq!(run_at(&q.clock, &q.s, first).await.rotations, 1);

    // Ten seconds later: rotating back now would create again a name
    // deleted ten seconds ago, which Parameter Store refuses.
    send(
        &q.s.queue,
        &[removal(&all[2].0, 1), change(&all[3].0, 2, "Three")],
    )
    .await;
    let report = run_at(&q.clock, &q.s, first + 10).await;
    assert_eq!((report.rotations, report.puts, report.waiting), (0, 0, 2));
    assert!(!report.more(ENOUGH), "no run follows at once");
    assert_eq!(q.s.queue.in_flight(), 2, "the messages return");
    assert!(
        every_version(&q.store)
            .iter()
            .any(|v| v.contains("User 2 v1"))
    );

    // The queue's visibility timeout (180 s, over the gap) later, they
    // come back.
    const VISIBILITY_TIMEOUT: u64 = 180;
    const { assert!(VISIBILITY_TIMEOUT > ROTATION_GAP_SECS) };
    q.s.queue.return_in_flight();
    let report = run_at(&q.clock, &q.s, first + VISIBILITY_TIMEOUT).await;
    assert_eq!((report.rotations, report.waiting), (1, 0));
    let held = q.store.values();
    assert_eq!(
        held.keys()
            .filter(|name| name.contains("/names/0.0"))
            .count(),
        1
    );
    assert!(held.contains_key(&paths().leaf(LeafId::ROOT, Side::A)));
    for version in every_version(&q.store) {
        assert!(!version.contains("User 1 v1") && !version.contains("User 2 v1"));
    }
    let layout = read_back(&held);
    assert_eq!(name_of(&layout, &all[3].0).as_deref(), Some("Three"));
}

#[tokio::test]
async fn a_name_a_rotation_left_is_read_past_deleted_by_the_next_writer_and_not_reused_too_soon() {
    let (q, all) = thirty_users().await;
    let before = q.store.values();
    let root = paths().leaf(LeafId::ROOT, Side::A);
    send(&q.s.queue, &[removal(&all[4].0, 1)]).await;
    let now = q.clock.now().as_secs() + 1;
    run_at(&q.clock, &q.s, now).await;
    // As if the delete had failed: the old name back, with its old value
    // (once Parameter Store lets the name be created again).
    q.clock.advance(Duration::from_secs(31));
    q.store
        .put_tiered(&root, &before[&root], onboard_shared::names::Tier::Standard)
        .await
        .unwrap();

    let legacy = Arc::new(FileParameters::in_memory());
    let prefix = ParameterPrefix::parse("/onboard").unwrap();
    let reader = NamesReader::new(q.store.clone(), legacy, prefix, Duration::ZERO);
    let gone = UserId::parse(&all[4].0).unwrap();
    let kept = UserId::parse(&all[5].0).unwrap();
    assert_eq!(
        reader.name(&gone).await.unwrap(),
        None,
        "the higher generation"
    );
    assert_eq!(
        reader.name(&kept).await.unwrap().as_deref(),
        Some("User 5 v1")
    );

    // A writer that starts cold, long after, finds both names, deletes the
    // older, and does not rotate back to it within the gap (Parameter
    // Store would refuse the name for 30 seconds): a removal waits.
    let cold = setup(q.store.clone());
    send(
        &cold.queue,
        &[change(&all[5].0, 2, "Five"), removal(&all[6].0, 1)],
    )
    .await;
    let later = q.clock.now().as_secs() + 600;
    let report = run_at(&q.clock, &cold, later).await;
    assert_eq!((report.rotations, report.waiting), (0, 2), "{report:?}");
    assert!(!q.store.values().contains_key(&root));
    for version in every_version(&q.store) {
        assert!(!version.contains("User 4 v1"));
    }

    // When the messages return, the leaf rotates back to the name deleted.
    cold.queue.return_in_flight();
    let report = run_at(&q.clock, &cold, later + ROTATION_GAP_SECS).await;
    assert_eq!(report.rotations, 1, "{report:?}");
    let held = q.store.values();
    assert!(held.contains_key(&root));
    let layout = read_back(&held);
    assert_eq!(name_of(&layout, &all[5].0).as_deref(), Some("Five"));
    assert_eq!(name_of(&layout, &all[6].0), None);
    for version in every_version(&q.store) {
        assert!(!version.contains("User 4 v1") && !version.contains("User 6 v1"));
    }
}
