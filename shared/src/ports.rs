//! Ports: one small trait per capability the handlers need.
//!
//! Handlers take these traits, never an SDK client, so the Lambda binaries
//! (AWS adapters), the `onboard` runner (local adapters) and the tests all run
//! the same handler code.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::domain::{Revision, User, UserId};
use crate::error::PortError;
use crate::parameter_tier::Tier;
use crate::reason::Reason;

/// What a conditional write of a new user found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutNew {
    Created,
    /// The user was already there (a retried trigger): nothing was written.
    AlreadyExists,
}

/// The users table, as the post-confirmation trigger sees it.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Writes the user unless an item with its id exists.
    async fn put_new(&self, user: &User) -> Result<PutNew, PortError>;

    /// The same, with the trace of the sign-up kept on the row (see
    /// `crate::wire`); a store that keeps no traces ignores it.
    async fn put_new_traced(&self, user: &User, trace: Option<&str>) -> Result<PutNew, PortError> {
        let _ = trace;
        self.put_new(user).await
    }
}

/// What a replacing write of a row expects to find there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// No row: the user's row is gone (an erasure that finds none).
    Absent,
    /// The row at this version: nothing else wrote since it was read.
    Version(crate::domain::Version),
}

/// The users table, read: a user's row as it is now.
#[async_trait]
pub trait UserReader: Send + Sync {
    /// The user's row as it is now (a strongly consistent read).
    async fn get(&self, user: &UserId) -> Result<Option<User>, PortError>;
}

/// The users table, as the account function sees it: a row read strongly
/// consistent, and replaced only over the version read.
#[async_trait]
pub trait AccountStore: UserReader {
    /// Writes the row if the table still holds what `expected` says;
    /// [`Conditional::Conflict`] when another write came first.
    async fn replace(&self, user: &User, expected: Expected) -> Result<Conditional, PortError>;
}

/// The user pool, as the account function keeps it in step with the table:
/// by the user's Cognito username (the token's `cognito:username`).
#[async_trait]
pub trait Directory: Send + Sync {
    /// Sets the user's `name` attribute (`AdminUpdateUserAttributes`).
    /// [`Gone::Yes`] when the pool has no such user.
    async fn set_name(&self, username: &str, name: &str) -> Result<Gone, PortError>;

    /// The user's `name` attribute as the pool holds it now.
    async fn name(&self, username: &str) -> Result<Option<String>, PortError>;

    /// Ends every session of the user: their refresh tokens stop working
    /// (`AdminUserGlobalSignOut`).
    async fn sign_out_everywhere(&self, username: &str) -> Result<Gone, PortError>;

    /// Deletes the user from the pool (`AdminDeleteUser`).
    async fn delete(&self, username: &str) -> Result<Gone, PortError>;
}

/// Whether a [`Directory`] call found the user already gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    No,
    Yes,
}

/// A string attribute attached to a queue message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// One entry of a `SendMessageBatch` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Unique within one call; echoed back in [`SendFailure::id`].
    /// [`crate::batch::send_all`] sets it: its callers know each message by
    /// a key of their own.
    pub id: String,
    pub body: String,
    pub attributes: Vec<Attribute>,
    /// The trace the message continues, sent as its `AWSTraceHeader`
    /// system attribute (not counted in its size).
    pub trace_header: Option<String>,
}

impl OutgoingMessage {
    /// Messages that are their bodies alone, ids by position.
    pub fn plain(bodies: &[String]) -> Vec<OutgoingMessage> {
        bodies
            .iter()
            .enumerate()
            .map(|(index, body)| OutgoingMessage {
                id: index.to_string(),
                body: body.clone(),
                attributes: Vec::new(),
                trace_header: None,
            })
            .collect()
    }

    /// The bytes SQS counts against its payload limit: the body plus each
    /// attribute's name, type and value.
    pub fn payload_size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|a| a.name.len() + "String".len() + a.value.len())
                .sum::<usize>()
    }
}

/// An entry of a batch that the queue did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub id: String,
    /// False when the queue blamed the entry itself (SQS's `SenderFault`).
    pub retryable: bool,
    /// The call was throttled (after the SDK's own retries).
    pub throttled: bool,
    pub reason: Reason,
}

/// A queue that messages can be sent to.
#[async_trait]
pub trait MessageQueue: Send + Sync {
    /// A name for logs and reports (`archive`, `publish`, ...).
    fn name(&self) -> &str;

    /// One `SendMessageBatch` call: at most [`crate::batch::MAX_BATCH_ENTRIES`]
    /// entries and [`crate::batch::MAX_BATCH_BYTES`] bytes. Returns the
    /// entries that were not sent.
    async fn send_batch(&self, entries: &[OutgoingMessage]) -> Result<Vec<SendFailure>, PortError>;

    /// Keeps a body too big for a message somewhere durable, and returns a
    /// small body that points to it; `None` when this queue has nowhere to
    /// keep one (in AWS the stream keeps the record, and Lambda's
    /// on-failure metadata points to it).
    async fn keep_oversized(&self, _body: &str) -> Option<String> {
        None
    }
}

/// What the archive holds for a user, enough to decide and guard a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveHead {
    /// The revision the object holds; `None` for an object onboard did not
    /// write (no version metadata), which ranks below every revision
    /// (`None < Some(_)`), so the first change of its user replaces it.
    pub revision: Option<Revision>,
    /// The object's entity tag: a write is made conditional on it.
    pub etag: String,
}

/// The precondition of an archive write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Only if there is no object yet (`If-None-Match: *`).
    Absent,
    /// Only if the object is still the one with this entity tag (`If-Match`).
    Matches(String),
}

/// What a conditional write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conditional {
    Written,
    /// Another writer changed the object since it was read.
    Conflict,
}

/// The archive of users (S3).
#[async_trait]
pub trait ArchiveStore: Send + Sync {
    async fn head(&self, user: &UserId) -> Result<Option<ArchiveHead>, PortError>;

    async fn put(
        &self,
        user: &UserId,
        revision: Revision,
        body: &[u8],
        condition: WriteCondition,
    ) -> Result<Conditional, PortError>;

    /// Deletes every version of the user's object but the current one: run
    /// after a removal's tombstone is the current version, since every
    /// older version holds the user as they were. Safe to repeat; returns
    /// how many versions it deleted.
    async fn delete_history(&self, user: &UserId) -> Result<usize, PortError>;

    /// Adds the user's id to the log of erasures (`erased/<id>`: ids only),
    /// kept outside the table so that an erasure can be applied again after
    /// the table is restored from a backup. Safe to repeat.
    async fn log_erasure(&self, user: &UserId) -> Result<(), PortError>;
}

/// The key of a user's entry in the log of erasures.
pub fn erasure_key(user: &UserId) -> String {
    format!("{ERASURE_PREFIX}{user}")
}

/// Where the log of erasures lives in the archive bucket.
pub const ERASURE_PREFIX: &str = "erased/";

/// A user's archived object, as read back for the user's own export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedObject {
    pub body: Vec<u8>,
    /// When it was last written, where the store says.
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// The archive, read: a user's current object.
#[async_trait]
pub trait ArchiveReader: Send + Sync {
    async fn read(&self, user: &UserId) -> Result<Option<ArchivedObject>, PortError>;
}

/// A parameter store (SSM Parameter Store).
#[async_trait]
pub trait ParameterStore: Send + Sync {
    async fn get(&self, name: &str) -> Result<Option<String>, PortError>;

    /// Writes the value, replacing any value the parameter had.
    async fn put(&self, name: &str, value: &str) -> Result<(), PortError>;
}

/// Parameter Store as the packed names use it (`crate::names`): many
/// names a call, a tier a write, and deletes.
#[async_trait]
pub trait NamesStore: Send + Sync {
    /// `GetParameters` of at most [`NAMES_PER_CALL`] names: the values of
    /// those that exist.
    async fn get_many(&self, names: &[String]) -> Result<BTreeMap<String, String>, PortError>;

    /// `PutParameter` with `Overwrite`, in a tier.
    async fn put_tiered(&self, name: &str, value: &str, tier: Tier) -> Result<(), PortError>;

    /// `DeleteParameters` of at most [`NAMES_PER_CALL`] names; a name that
    /// does not exist is no error.
    async fn delete_many(&self, names: &[String]) -> Result<(), PortError>;

    /// When each of at most [`NAMES_PER_CALL`] parameters was last written,
    /// where the store says (a user's own export shows it).
    async fn modified_at(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, chrono::DateTime<chrono::Utc>>, PortError> {
        let _ = names;
        Ok(BTreeMap::new())
    }
}

/// The most names `GetParameters` and `DeleteParameters` take a call.
pub const NAMES_PER_CALL: usize = 10;

/// A message taken from an [`Inbox`], to delete once its work is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// What deletes it (SQS's receipt handle).
    pub receipt: String,
    pub message_id: String,
    pub body: String,
    /// How often it was received, this time included.
    pub receive_count: u32,
}

/// A queue its one consumer drains itself, rather than being invoked with
/// its messages: the writer of the names.
#[async_trait]
pub trait Inbox: Send + Sync {
    /// Up to 10 messages, hidden from other receives until deleted or
    /// their visibility timeout ends; none when the queue is empty.
    async fn receive(&self, max: usize) -> Result<Vec<Received>, PortError>;

    /// Deletes received messages (at most 10 a call).
    async fn delete(&self, receipts: &[String]) -> Result<(), PortError>;

    /// Sends bodies back into this queue (at most 10 a call).
    async fn send(&self, bodies: &[String]) -> Result<(), PortError>;
}

/// The key of a user's object in the archive, the same in S3 and locally.
pub fn archive_key(user: &UserId) -> String {
    format!("users/{user}.json")
}
