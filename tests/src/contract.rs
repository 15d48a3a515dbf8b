//! Each port's contract, written once: what every adapter of it (the local
//! one and the AWS one alike) must do. `tests/tests/port_contracts.rs` runs
//! each against both; an adapter that breaks a promise fails there, with
//! the promise's words.

use onboard_shared::domain::{Revision, User, UserId, Version};
use onboard_shared::error::PortError;
use onboard_shared::ports::{
    ArchiveStore, Conditional, MessageQueue, OutgoingMessage, ParameterStore, PutNew, UserStore,
    WriteCondition,
};

fn must<T>(result: Result<T, PortError>, what: &str) -> T {
    result.unwrap_or_else(|err| panic!("{what}: {}", err.chain()))
}

/// A user of this id, named `name`.
pub fn user(id: &str, name: &str) -> User {
    User {
        user_id: UserId::parse(id).unwrap_or_else(|err| panic!("{err}")),
        email: None,
        name: Some(name.to_owned()),
        attributes: Default::default(),
        created_at: chrono::Utc::now(),
        version: Version::FIRST,
        updated_at: None,
        renames: None,
        erased_at: None,
    }
}

/// The users table: a new user is written once, however often the trigger
/// is retried, and the first write wins.
pub async fn user_store(store: &dyn UserStore) {
    let first = must(store.put_new(&user("u-contract", "Zoë")).await, "put_new");
    let again = must(
        store.put_new(&user("u-contract", "Someone else")).await,
        "put_new again",
    );
    assert_eq!(
        (first, again),
        (PutNew::Created, PutNew::AlreadyExists),
        "a user is written once"
    );
}

/// The archive: a write holds only under its condition (no object yet, or
/// still the object of the entity tag read), and the head says the
/// revision the object holds.
pub async fn archive_store(archive: &dyn ArchiveStore) {
    let id = UserId::parse("u-contract").unwrap_or_else(|err| panic!("{err}"));
    let v1 = Revision {
        version: Version::FIRST,
        removed: false,
    };
    let v2 = Revision {
        version: Version::new(2).unwrap_or_else(|err| panic!("{err}")),
        removed: false,
    };
    assert_eq!(must(archive.head(&id).await, "head"), None, "no object yet");
    let put =
        |revision, body: &'static [u8], condition| archive.put(&id, revision, body, condition);
    assert_eq!(
        must(put(v1, b"{\"v\":1}", WriteCondition::Absent).await, "put"),
        Conditional::Written,
        "a first write where there is no object holds"
    );
    assert_eq!(
        must(put(v1, b"{\"v\":1}", WriteCondition::Absent).await, "put"),
        Conditional::Conflict,
        "a second first write loses: the object exists"
    );
    let head = must(archive.head(&id).await, "head").unwrap_or_else(|| panic!("no head"));
    assert_eq!(head.revision, Some(v1), "the head says the revision held");
    assert_eq!(
        must(
            put(v2, b"{}", WriteCondition::Matches("\"stale\"".into())).await,
            "put"
        ),
        Conditional::Conflict,
        "a writer that read another object loses"
    );
    assert_eq!(
        must(
            put(v2, b"{\"v\":2}", WriteCondition::Matches(head.etag)).await,
            "put"
        ),
        Conditional::Written,
        "a writer that read the object it replaces wins"
    );
    let head = must(archive.head(&id).await, "head").unwrap_or_else(|| panic!("no head"));
    assert_eq!(head.revision, Some(v2));
}

/// The parameter store: a parameter absent reads as none, a write is read
/// back, and a write replaces what was there.
pub async fn parameter_store(store: &dyn ParameterStore, prefix: &str) {
    let name = format!("{prefix}/users/u-contract/name");
    assert_eq!(must(store.get(&name).await, "get"), None, "absent is none");
    must(
        store.put(&name, "{\"name\":\"Zoë\",\"version\":1}").await,
        "put",
    );
    assert_eq!(
        must(store.get(&name).await, "get").as_deref(),
        Some("{\"name\":\"Zoë\",\"version\":1}")
    );
    must(
        store.put(&name, "{\"name\":\"Zed\",\"version\":2}").await,
        "put",
    );
    assert_eq!(
        must(store.get(&name).await, "get").as_deref(),
        Some("{\"name\":\"Zed\",\"version\":2}"),
        "a write replaces the value"
    );
}

fn message(body: String) -> OutgoingMessage {
    OutgoingMessage {
        trace_header: None,
        id: String::new(),
        body,
        attributes: Vec::new(),
    }
}

/// A queue: a call of ten entries is taken whole, a call of eleven is
/// refused for good (SQS's limit), and the entries it takes are the ones
/// it was given (`received` reads what the queue holds).
pub async fn message_queue<F, Fut>(queue: &dyn MessageQueue, received: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let entries: Vec<OutgoingMessage> = (0..11)
        .map(|i| {
            let mut entry = message(format!("message {i}"));
            entry.id = i.to_string();
            entry
        })
        .collect();
    let refused = queue.send_batch(&entries).await;
    assert!(
        matches!(refused, Err(PortError::Rejected { .. })),
        "eleven entries in one call are refused for good: {refused:?}"
    );
    let failures = must(queue.send_batch(&entries[..10]).await, "send_batch");
    assert!(failures.is_empty(), "ten entries are taken: {failures:?}");
    let mut bodies = received().await;
    bodies.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("message {i}")).collect();
    expected.sort();
    assert_eq!(bodies, expected, "what was sent, once each");
}
