//! SQS queues in memory.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CallCounter, lock};
use crate::error::PortError;
use crate::ports::{Attribute, Inbox, MessageQueue, OutgoingMessage, Received, SendFailure};

/// A message held by a [`MemoryQueue`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalMessage {
    pub message_id: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// How often it was received, as SQS's `ApproximateReceiveCount`.
    pub receive_count: u32,
    /// Its `AWSTraceHeader` system attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<String>,
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
    /// Bodies too big for a message, kept apart (when no folder is given).
    oversized: BTreeMap<String, String>,
    /// Messages an [`Inbox`] receive took, by receipt, until deleted.
    in_flight: BTreeMap<String, LocalMessage>,
}

/// The key under which `onboard` dead-letters a pointer to a record kept
/// apart because it is too big for a queue.
pub const OVERSIZED_KEY: &str = "onboard.oversized";

/// An SQS queue in memory. Receiving takes messages out (in flight); the
/// runner either drops them (deleted) or returns them (`release`).
#[derive(Debug)]
pub struct MemoryQueue {
    name: String,
    state: Mutex<QueueState>,
    /// Where bodies too big for a message are kept, as files.
    oversized_dir: Option<std::path::PathBuf>,
    pub calls: CallCounter,
}

impl MemoryQueue {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: Mutex::default(),
            oversized_dir: None,
            calls: CallCounter::default(),
        }
    }

    /// The same queue, keeping bodies too big for a message as files in
    /// `dir` (a dead-letter queue's: the record is kept, and its dead
    /// letter points to it).
    pub fn keeping_oversized_in(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.oversized_dir = Some(dir.into());
        self
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

    /// How many messages an [`Inbox`] receive took and did not delete.
    pub fn in_flight(&self) -> usize {
        lock(&self.state).in_flight.len()
    }

    /// Returns every message an [`Inbox`] receive took and did not delete,
    /// as when their visibility timeout ends.
    pub fn return_in_flight(&self) {
        let mut state = lock(&self.state);
        let returned = std::mem::take(&mut state.in_flight);
        state.ready.extend(returned.into_values());
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

    async fn keep_oversized(&self, body: &str) -> Option<String> {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        let key = format!("{}-{:016x}.json", self.name, hasher.finish());
        let location = match &self.oversized_dir {
            Some(dir) => {
                let path = dir.join(&key);
                super::write_atomically(&path, body.as_bytes()).ok()?;
                path.display().to_string()
            }
            None => {
                lock(&self.state)
                    .oversized
                    .insert(key.clone(), body.to_owned());
                format!("memory:{key}")
            }
        };
        Some(
            serde_json::json!({ OVERSIZED_KEY: { "location": location, "bytes": body.len() } })
                .to_string(),
        )
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
                trace_header: entry.trace_header.clone(),
                sent_at: now,
            });
        }
        Ok(Vec::new())
    }
}

#[async_trait]
impl Inbox for MemoryQueue {
    async fn receive(&self, max: usize) -> Result<Vec<Received>, PortError> {
        self.calls.count("ReceiveMessage");
        let messages = MemoryQueue::receive(self, max.clamp(1, 10));
        let mut state = lock(&self.state);
        Ok(messages
            .into_iter()
            .map(|message| {
                let received = Received {
                    receipt: format!("{}#{}", message.message_id, message.receive_count),
                    message_id: message.message_id.clone(),
                    body: message.body.clone(),
                    receive_count: message.receive_count,
                };
                state.in_flight.insert(received.receipt.clone(), message);
                received
            })
            .collect())
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), PortError> {
        self.calls.count("DeleteMessageBatch");
        let mut state = lock(&self.state);
        for receipt in receipts {
            state.in_flight.remove(receipt);
        }
        Ok(())
    }

    async fn send(&self, bodies: &[String]) -> Result<(), PortError> {
        let messages = OutgoingMessage::plain(bodies);
        self.send_batch(&messages).await.map(|_| ())
    }
}
