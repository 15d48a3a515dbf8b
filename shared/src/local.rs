//! Local adapters: the same ports, with no server and no account.
//!
//! Queues live in memory, the users table keeps its items in a JSON file and
//! emits stream records as DynamoDB Streams would, the archive is a folder
//! and the parameters a JSON file. State is held in memory while handlers run
//! and written out by `flush`, atomically (write to a temporary file, then
//! rename), so a replay of many records does not rewrite files per record.
//! Every adapter counts its calls, so tests can assert the number of API
//! calls a handler makes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::{EventRecord, StreamRecord, StreamViewType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::{Revision, User, UserId};
use crate::error::PortError;
use crate::ports::{
    ArchiveHead, ArchiveStore, Attribute, Conditional, MessageQueue, OutgoingMessage,
    ParameterStore, PutNew, SendFailure, UserStore, WriteCondition, archive_key,
};

/// Counts calls by operation name.
#[derive(Debug, Default)]
pub struct CallCounter(Mutex<BTreeMap<&'static str, u64>>);

impl CallCounter {
    fn count(&self, operation: &'static str) {
        *lock(&self.0).entry(operation).or_default() += 1;
    }

    pub fn get(&self, operation: &str) -> u64 {
        lock(&self.0).get(operation).copied().unwrap_or(0)
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.0).clone()
    }
}

/// Locks a mutex, going on with the data even if a panicking thread held it:
/// every critical section here leaves the data consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes a file atomically: a crash leaves the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> io::Result<T> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not valid state: {err}", path.display()),
            )
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        Err(err) => Err(err),
    }
}

fn to_json_pretty<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(io::Error::other)
}

/// A message held by a [`MemoryQueue`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalMessage {
    pub message_id: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// How often it was received, as SQS's `ApproximateReceiveCount`.
    pub receive_count: u32,
    pub sent_at: DateTime<Utc>,
}

impl LocalMessage {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

#[derive(Debug, Default)]
struct QueueState {
    ready: VecDeque<LocalMessage>,
    sent: u64,
}

/// An SQS queue in memory. Receiving takes messages out (in flight); the
/// runner either drops them (deleted) or returns them (`release`).
#[derive(Debug)]
pub struct MemoryQueue {
    name: String,
    state: Mutex<QueueState>,
    pub calls: CallCounter,
}

impl MemoryQueue {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: Mutex::default(),
            calls: CallCounter::default(),
        }
    }

    /// Takes up to `max` messages, counting the receive.
    pub fn receive(&self, max: usize) -> Vec<LocalMessage> {
        let mut state = lock(&self.state);
        let take = max.min(state.ready.len());
        state
            .ready
            .drain(..take)
            .map(|mut message| {
                message.receive_count += 1;
                message
            })
            .collect()
    }

    /// Puts a received message back, as when its visibility timeout ends.
    pub fn release(&self, message: LocalMessage) {
        lock(&self.state).ready.push_back(message);
    }

    /// Adds a message that keeps its id and receive count (a DLQ move).
    pub fn push(&self, message: LocalMessage) {
        lock(&self.state).ready.push_back(message);
    }

    pub fn len(&self) -> usize {
        lock(&self.state).ready.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every message, leaving the queue empty.
    pub fn drain(&self) -> Vec<LocalMessage> {
        lock(&self.state).ready.drain(..).collect()
    }
}

#[async_trait]
impl MessageQueue for MemoryQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, entries: &[OutgoingMessage]) -> Result<Vec<SendFailure>, PortError> {
        self.calls.count("SendMessageBatch");
        if entries.len() > crate::batch::MAX_BATCH_ENTRIES {
            return Err(PortError::rejected(
                "SendMessageBatch",
                "more than 10 entries in one call",
            ));
        }
        let bytes: usize = entries.iter().map(OutgoingMessage::payload_size).sum();
        if bytes > crate::batch::MAX_BATCH_BYTES {
            return Err(PortError::rejected(
                "SendMessageBatch",
                "more than 1 MiB in one call",
            ));
        }
        let now = Utc::now();
        let mut state = lock(&self.state);
        for entry in entries {
            state.sent += 1;
            let message_id = format!("{}-{:08}", self.name, state.sent);
            state.ready.push_back(LocalMessage {
                message_id,
                body: entry.body.clone(),
                attributes: entry
                    .attributes
                    .iter()
                    .map(|Attribute { name, value }| (name.clone(), value.clone()))
                    .collect(),
                receive_count: 0,
                sent_at: now,
            });
        }
        Ok(Vec::new())
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TableFile {
    /// The last sequence number handed out, so a later run continues the stream.
    last_sequence_number: u128,
    items: BTreeMap<UserId, User>,
}

#[derive(Debug, Default)]
struct TableState {
    file: TableFile,
    stream: Vec<Box<RawValue>>,
    dirty: bool,
}

/// The users table: items in a JSON file, changes emitted as DynamoDB stream
/// records (`NEW_AND_OLD_IMAGES`) for the runner to hand to the router.
#[derive(Debug)]
pub struct LocalTable {
    path: Option<PathBuf>,
    state: Mutex<TableState>,
    pub calls: CallCounter,
}

/// Sequence numbers of the local stream start here, so they have the 21
/// digits of real ones.
const FIRST_SEQUENCE_NUMBER: u128 = 100_000_000_000_000_000_000;

impl LocalTable {
    pub fn in_memory() -> Self {
        Self {
            path: None,
            state: Mutex::default(),
            calls: CallCounter::default(),
        }
    }

    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let file: TableFile = read_json(&path)?;
        Ok(Self {
            path: Some(path),
            state: Mutex::new(TableState {
                file,
                ..TableState::default()
            }),
            calls: CallCounter::default(),
        })
    }

    pub fn get(&self, user: &UserId) -> Option<User> {
        lock(&self.state).file.items.get(user).cloned()
    }

    pub fn len(&self) -> usize {
        lock(&self.state).file.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stream records emitted since the last call.
    pub fn take_stream(&self) -> Vec<Box<RawValue>> {
        std::mem::take(&mut lock(&self.state).stream)
    }

    pub fn flush(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        if let (Some(path), true) = (&self.path, state.dirty) {
            write_atomically(path, &to_json_pretty(&state.file)?)?;
            state.dirty = false;
        }
        Ok(())
    }

    fn emit(
        state: &mut TableState,
        event_name: &str,
        old: Option<&User>,
        new: Option<&User>,
    ) -> Result<(), PortError> {
        state.file.last_sequence_number = state
            .file
            .last_sequence_number
            .max(FIRST_SEQUENCE_NUMBER - 1)
            + 1;
        let sequence_number = state.file.last_sequence_number.to_string();
        let image = |user: Option<&User>| -> Result<serde_dynamo::Item, PortError> {
            user.map_or_else(
                || {
                    Ok(serde_dynamo::Item::from(HashMap::<
                        String,
                        serde_dynamo::AttributeValue,
                    >::new()))
                },
                |user| {
                    serde_dynamo::to_item(user).map_err(|err| {
                        PortError::rejected("PutItem", format!("the user does not encode: {err}"))
                    })
                },
            )
        };
        let key = new.or(old).map(|user| user.user_id.clone());
        let mut change = StreamRecord::default();
        change.approximate_creation_date_time = Utc::now();
        let mut keys = HashMap::new();
        if let Some(key) = key {
            keys.insert(
                "user_id".to_owned(),
                serde_dynamo::AttributeValue::S(key.as_str().to_owned()),
            );
        }
        change.keys = serde_dynamo::Item::from(keys);
        change.new_image = image(new)?;
        change.old_image = image(old)?;
        change.sequence_number = Some(sequence_number.clone());
        change.size_bytes = 0;
        change.stream_view_type = Some(StreamViewType::NewAndOldImages);
        let mut record = EventRecord::default();
        record.aws_region = "local".to_owned();
        record.change = change;
        record.event_id = format!("local-{sequence_number}");
        record.event_name = event_name.to_owned();
        record.event_source = Some("aws:dynamodb".to_owned());
        record.event_version = Some("1.1".to_owned());
        record.event_source_arn =
            Some("arn:aws:dynamodb:local:000000000000:table/users/stream/local".to_owned());
        let raw = serde_json::value::to_raw_value(&record).map_err(|err| {
            PortError::rejected(
                "PutItem",
                format!("the stream record does not encode: {err}"),
            )
        })?;
        state.stream.push(raw);
        Ok(())
    }

    /// Replaces an item, raising its version, as an application update would.
    pub fn update(&self, mut user: User) -> Result<User, PortError> {
        self.calls.count("UpdateItem");
        let mut state = lock(&self.state);
        let old = state.file.items.get(&user.user_id).cloned();
        user.version = old.as_ref().map_or(user.version, |old| old.version.next());
        Self::emit(
            &mut state,
            if old.is_some() { "MODIFY" } else { "INSERT" },
            old.as_ref(),
            Some(&user),
        )?;
        state.file.items.insert(user.user_id.clone(), user.clone());
        state.dirty = true;
        Ok(user)
    }

    /// Deletes an item, as an application or DynamoDB's time to live would.
    pub fn delete(&self, user: &UserId) -> Result<Option<User>, PortError> {
        self.calls.count("DeleteItem");
        let mut state = lock(&self.state);
        let Some(old) = state.file.items.remove(user) else {
            return Ok(None);
        };
        Self::emit(&mut state, "REMOVE", Some(&old), None)?;
        state.dirty = true;
        Ok(Some(old))
    }
}

#[async_trait]
impl UserStore for LocalTable {
    async fn put_new(&self, user: &User) -> Result<PutNew, PortError> {
        self.calls.count("PutItem");
        let mut state = lock(&self.state);
        if state.file.items.contains_key(&user.user_id) {
            return Ok(PutNew::AlreadyExists);
        }
        Self::emit(&mut state, "INSERT", None, Some(user))?;
        state.file.items.insert(user.user_id.clone(), user.clone());
        state.dirty = true;
        Ok(PutNew::Created)
    }
}

/// What the folder archive knows of an object, as S3 keeps it in metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalObject {
    pub key: String,
    pub revision: Revision,
    pub etag: String,
}

#[derive(Debug, Default)]
struct ArchiveState {
    index: BTreeMap<UserId, LocalObject>,
    index_dirty: bool,
    pending: HashMap<UserId, Vec<u8>>,
}

/// The archive in a local folder: `users/<id>.json` under it, beside an
/// `index.json` that plays the part of S3's object metadata.
#[derive(Debug)]
pub struct FolderArchive {
    dir: Option<PathBuf>,
    state: Mutex<ArchiveState>,
    pub calls: CallCounter,
}

impl FolderArchive {
    pub fn in_memory() -> Self {
        Self {
            dir: None,
            state: Mutex::default(),
            calls: CallCounter::default(),
        }
    }

    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        let index = read_json(&dir.join("index.json"))?;
        Ok(Self {
            dir: Some(dir),
            state: Mutex::new(ArchiveState {
                index,
                ..ArchiveState::default()
            }),
            calls: CallCounter::default(),
        })
    }

    /// Every object, by user id.
    pub fn objects(&self) -> Vec<LocalObject> {
        lock(&self.state).index.values().cloned().collect()
    }

    /// The body of a user's object, written or still pending.
    pub fn body(&self, user: &UserId) -> io::Result<Option<Vec<u8>>> {
        let state = lock(&self.state);
        if let Some(body) = state.pending.get(user) {
            return Ok(Some(body.clone()));
        }
        match (&self.dir, state.index.get(user)) {
            (Some(dir), Some(object)) => fs::read(dir.join(&object.key)).map(Some),
            _ => Ok(None),
        }
    }

    /// Writes the objects put since the last call, without the index and
    /// without holding the lock while writing. An object that could not be
    /// written stays pending (unless a newer one replaced it) for the next
    /// call, and the index is not written.
    fn write_pending(&self) -> io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let pending = std::mem::take(&mut lock(&self.state).pending);
        if pending.is_empty() {
            return Ok(());
        }
        fs::create_dir_all(dir.join("users"))?;
        let mut pending = pending.into_iter();
        while let Some((user, body)) = pending.next() {
            if let Err(err) = fs::write(dir.join(archive_key(&user)), &body) {
                let mut state = lock(&self.state);
                for (user, body) in std::iter::once((user, body)).chain(pending) {
                    state.pending.entry(user).or_insert(body);
                }
                return Err(err);
            }
        }
        Ok(())
    }

    /// Writes the pending objects, then the index. The index is what `head`
    /// trusts (as S3 trusts its metadata) and is replaced atomically, last:
    /// after a crash an object may be newer than its index entry, never
    /// older, and the next replay of the same input rewrites it. Objects are
    /// written in place because a rename per object costs ext4 a journal
    /// flush, many times the write itself.
    pub fn flush(&self) -> io::Result<()> {
        self.write_pending()?;
        let mut state = lock(&self.state);
        if let (Some(dir), true) = (&self.dir, state.index_dirty) {
            write_atomically(&dir.join("index.json"), &to_json_pretty(&state.index)?)?;
            state.index_dirty = false;
        }
        Ok(())
    }
}

fn etag(body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

#[async_trait]
impl ArchiveStore for FolderArchive {
    async fn head(&self, user: &UserId) -> Result<Option<ArchiveHead>, PortError> {
        self.calls.count("HeadObject");
        Ok(lock(&self.state).index.get(user).map(|object| ArchiveHead {
            revision: object.revision,
            etag: object.etag.clone(),
        }))
    }

    async fn put(
        &self,
        user: &UserId,
        revision: Revision,
        body: &[u8],
        condition: WriteCondition,
    ) -> Result<Conditional, PortError> {
        self.calls.count("PutObject");
        let mut state = lock(&self.state);
        let current = state.index.get(user).map(|object| object.etag.as_str());
        let holds = match (&condition, current) {
            (WriteCondition::Absent, None) => true,
            (WriteCondition::Matches(expected), Some(current)) => expected == current,
            _ => false,
        };
        if !holds {
            return Ok(Conditional::Conflict);
        }
        let object = LocalObject {
            key: archive_key(user),
            revision,
            etag: etag(body),
        };
        state.index.insert(user.clone(), object);
        state.index_dirty = true;
        state.pending.insert(user.clone(), body.to_vec());
        Ok(Conditional::Written)
    }
}

#[derive(Debug, Default)]
struct ParameterState {
    values: BTreeMap<String, String>,
    dirty: bool,
}

/// Parameters in one JSON file, name to value.
#[derive(Debug)]
pub struct FileParameters {
    path: Option<PathBuf>,
    state: Mutex<ParameterState>,
    pub calls: CallCounter,
}

impl FileParameters {
    pub fn in_memory() -> Self {
        Self {
            path: None,
            state: Mutex::default(),
            calls: CallCounter::default(),
        }
    }

    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let values = read_json(&path)?;
        Ok(Self {
            path: Some(path),
            state: Mutex::new(ParameterState {
                values,
                dirty: false,
            }),
            calls: CallCounter::default(),
        })
    }

    pub fn values(&self) -> BTreeMap<String, String> {
        lock(&self.state).values.clone()
    }

    pub fn flush(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        if let (Some(path), true) = (&self.path, state.dirty) {
            write_atomically(path, &to_json_pretty(&state.values)?)?;
            state.dirty = false;
        }
        Ok(())
    }
}

/// SSM's limit on a standard parameter's value.
const MAX_PARAMETER_BYTES: usize = 4096;

#[async_trait]
impl ParameterStore for FileParameters {
    async fn get(&self, name: &str) -> Result<Option<String>, PortError> {
        self.calls.count("GetParameter");
        Ok(lock(&self.state).values.get(name).cloned())
    }

    async fn put(&self, name: &str, value: &str) -> Result<(), PortError> {
        self.calls.count("PutParameter");
        if value.len() > MAX_PARAMETER_BYTES {
            return Err(PortError::rejected(
                "PutParameter",
                format!(
                    "the value has {} bytes, over the 4096 of a standard parameter",
                    value.len()
                ),
            ));
        }
        let mut state = lock(&self.state);
        state.values.insert(name.to_owned(), value.to_owned());
        state.dirty = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Version;

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
        assert_eq!(archive.head(&id).await.unwrap().unwrap().revision, revision);
        assert_eq!(archive.body(&id).unwrap().unwrap(), b"{}");
    }

    #[tokio::test]
    async fn archive_writes_hold_only_under_their_condition() {
        let archive = FolderArchive::in_memory();
        let id = UserId::parse("u1").unwrap();
        let revision = Revision {
            version: Version::FIRST,
            removed: false,
        };
        assert_eq!(
            archive
                .put(&id, revision, b"a", WriteCondition::Absent)
                .await
                .unwrap(),
            Conditional::Written
        );
        assert_eq!(
            archive
                .put(&id, revision, b"b", WriteCondition::Absent)
                .await
                .unwrap(),
            Conditional::Conflict
        );
        let head = archive.head(&id).await.unwrap().unwrap();
        let stale = WriteCondition::Matches("\"other\"".into());
        assert_eq!(
            archive.put(&id, revision, b"c", stale).await.unwrap(),
            Conditional::Conflict
        );
        assert_eq!(
            archive
                .put(&id, revision, b"d", WriteCondition::Matches(head.etag))
                .await
                .unwrap(),
            Conditional::Written
        );
    }

    #[tokio::test]
    async fn a_queue_refuses_a_call_over_sqs_limits() {
        let queue = MemoryQueue::new("q");
        let entries: Vec<_> = (0..11)
            .map(|i| OutgoingMessage {
                id: i.to_string(),
                body: "x".into(),
                attributes: vec![],
            })
            .collect();
        assert!(queue.send_batch(&entries).await.is_err());
        assert!(queue.send_batch(&entries[..10]).await.unwrap().is_empty());
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
}
