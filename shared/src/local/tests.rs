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
