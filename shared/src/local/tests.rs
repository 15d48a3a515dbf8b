//! The local adapters keep the ports' promises.

use super::*;
use chrono::Utc;

use crate::domain::{Revision, User, UserId, Version};
use crate::ports::{
    ArchiveStore, MessageQueue, OutgoingMessage, ParameterStore, PutNew, UserStore, WriteCondition,
};

fn user(id: &str) -> User {
    User {
        user_id: UserId::parse(id).unwrap(),
        email: None,
        name: Some("Zoë".into()),
        attributes: BTreeMap::new(),
        created_at: Utc::now(),
        version: Version::FIRST,
        updated_at: None,
        renames: None,
        erased_at: None,
    }
}

#[tokio::test]
async fn the_table_emits_stream_records_the_router_decodes() {
    let table = LocalTable::in_memory();
    assert_eq!(table.put_new(&user("u1")).await.unwrap(), PutNew::Created);
    assert_eq!(
        table.put_new(&user("u1")).await.unwrap(),
        PutNew::AlreadyExists
    );
    let mut renamed = user("u1");
    renamed.name = Some("Zed".into());
    table.update(renamed).unwrap();
    table.delete(&UserId::parse("u1").unwrap()).unwrap();

    let messages: Vec<_> = table
        .take_stream()
        .iter()
        .map(|raw| crate::stream::decode_raw(raw).unwrap())
        .collect();
    let seen: Vec<_> = messages
        .iter()
        .map(|m| (m.kind.as_str(), m.version.get()))
        .collect();
    assert_eq!(seen, [("created", 1), ("updated", 2), ("removed", 2)]);
    assert!(messages.windows(2).all(|w| {
        crate::stream::compare_sequence_numbers(&w[0].sequence_number, &w[1].sequence_number)
            .is_lt()
    }));
}

#[tokio::test]
async fn state_survives_a_flush_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let table = LocalTable::open(dir.path().join("table.json")).unwrap();
    table.put_new(&user("u1")).await.unwrap();
    table.flush().unwrap();
    let params = FileParameters::open(dir.path().join("parameters.json")).unwrap();
    params.put("/p/users/u1/name", "Zoë").await.unwrap();
    params.flush().unwrap();
    let archive = FolderArchive::open(dir.path().join("archive")).unwrap();
    let revision = Revision {
        version: Version::FIRST,
        removed: false,
    };
    let id = UserId::parse("u1").unwrap();
    archive
        .put(&id, revision, b"{}", WriteCondition::Absent)
        .await
        .unwrap();
    archive.flush().unwrap();

    let table = LocalTable::open(dir.path().join("table.json")).unwrap();
    assert_eq!(
        table.put_new(&user("u1")).await.unwrap(),
        PutNew::AlreadyExists
    );
    let params = FileParameters::open(dir.path().join("parameters.json")).unwrap();
    assert_eq!(
        params.get("/p/users/u1/name").await.unwrap().as_deref(),
        Some("Zoë")
    );
    let archive = FolderArchive::open(dir.path().join("archive")).unwrap();
    assert_eq!(
        archive.head(&id).await.unwrap().unwrap().revision,
        Some(revision)
    );
    assert_eq!(archive.body(&id).unwrap().unwrap(), b"{}");
}

// The ports' contracts (SQS's limits, conditional archive writes, ...) are
// run against these adapters and the AWS ones alike in
// tests/tests/port_contracts.rs; here, what only the local ones do.

#[tokio::test]
async fn a_received_message_counts_its_receive() {
    let queue = MemoryQueue::new("q");
    let entries: Vec<_> = (0..10)
        .map(|i| OutgoingMessage {
            trace_header: None,
            id: i.to_string(),
            body: "x".into(),
            attributes: vec![],
        })
        .collect();
    assert!(queue.send_batch(&entries).await.unwrap().is_empty());
    assert_eq!(queue.len(), 10);
    assert_eq!(
        queue
            .receive(3)
            .iter()
            .map(|m| m.receive_count)
            .collect::<Vec<_>>(),
        [1, 1, 1]
    );
}

/// Parameter Store's quotas, as the quota-keeping store keeps them.
mod quotas {
    use std::time::Duration;

    use super::*;
    use crate::error::PortError;
    use crate::names::Tier;

    fn store(quotas: Quotas) -> QuotaParameters {
        QuotaParameters::new(quotas, SimClock::default())
    }

    fn unlimited_rates() -> Quotas {
        Quotas {
            writes_per_second: 1e9,
            reads_per_second: 1e9,
            ..Quotas::default()
        }
    }

    #[test]
    fn the_10_001st_standard_parameter_is_refused_as_the_old_layout_was() {
        // One parameter per user stopped here: the 10,001st user.
        let store = store(unlimited_rates());
        for n in 0..10_000 {
            store
                .put(&format!("/onboard/users/{n}/name"), "{}", Tier::Standard)
                .unwrap();
        }
        let err = store
            .put("/onboard/users/10000/name", "{}", Tier::Standard)
            .unwrap_err();
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("ParameterLimitExceeded"), "{err}");
        // An existing one may still change, and an advanced one be added.
        store
            .put("/onboard/users/0/name", "{1}", Tier::Standard)
            .unwrap();
        store.put("/onboard/big", "x", Tier::Advanced).unwrap();
        assert_eq!(store.counts(), (10_000, 1));
    }

    #[test]
    fn values_are_held_to_their_tier_in_bytes() {
        let store = store(unlimited_rates());
        let emoji = "😀".repeat(1024); // 1,024 characters, 4,096 bytes
        store.put("/a", &emoji, Tier::Standard).unwrap();
        let over = format!("{emoji}x");
        assert!(store.put("/a", &over, Tier::Standard).is_err());
        store.put("/a", &over, Tier::Advanced).unwrap();
        let err = store.put("/a", "x", Tier::Standard).unwrap_err();
        assert!(err.to_string().contains("cannot be made standard"), "{err}");
    }

    #[test]
    fn past_three_writes_a_second_a_write_is_throttled_until_the_clock_moves() {
        let store = store(Quotas::default());
        for n in 0..3 {
            store.put(&format!("/p{n}"), "v", Tier::Standard).unwrap();
        }
        let err = store.put("/p3", "v", Tier::Standard).unwrap_err();
        assert!(matches!(err, PortError::Throttled { .. }), "{err}");
        store.clock().advance(Duration::from_millis(334));
        store.put("/p3", "v", Tier::Standard).unwrap();
        assert_eq!(store.stats().throttled["PutParameter"], 1);
    }

    #[test]
    fn reads_take_ten_names_a_call_and_forty_calls_a_second() {
        let store = store(Quotas::default());
        let names: Vec<String> = (0..11).map(|n| format!("/p{n}")).collect();
        assert!(store.get_many(&names).is_err());
        for _ in 0..40 {
            store.get_many(&names[..10]).unwrap();
        }
        assert!(matches!(
            store.get_many(&names[..1]),
            Err(PortError::Throttled { .. })
        ));
    }

    #[test]
    fn a_parameter_keeps_a_hundred_versions_and_a_deleted_name_waits_thirty_seconds() {
        let store = store(unlimited_rates());
        for n in 0..150 {
            store.put("/p", &n.to_string(), Tier::Standard).unwrap();
        }
        let history = store.history("/p");
        assert_eq!(history.len(), 100);
        assert_eq!(history[0], "50");
        store.delete_many(&["/p".to_owned()]).unwrap();
        assert!(store.history("/p").is_empty(), "deleting drops the history");
        assert!(store.put("/p", "again", Tier::Standard).is_err());
        store.clock().advance(Duration::from_secs(30));
        store.put("/p", "again", Tier::Standard).unwrap();
    }
}
