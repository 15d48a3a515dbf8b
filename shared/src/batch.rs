//! One batch processor for SQS and DynamoDB stream events.
//!
//! A handler records the fate of every record in a [`BatchReport`]; the report
//! becomes the partial batch response with AWS's rules (SQS: the failed
//! message ids; a stream: the lowest failed sequence number, from which Lambda
//! retries), and fails the whole invocation when every record failed.
//! Records that can never succeed are sent to a dead-letter queue with their
//! reason; only when that send fails do they count as failed, so nothing is
//! dropped silently.

use std::collections::{BTreeMap, HashMap};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Serialize;

use crate::domain::{ChangeKind, ChangeMessage, UserId, Version};
use crate::ports::{Attribute, MessageQueue, OutgoingMessage, SendFailure};
use crate::stream::compare_sequence_numbers;

/// SQS's limit of entries in one `SendMessageBatch` call.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// SQS's limit of payload bytes in one `SendMessageBatch` call (and in one message).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// The message attribute that carries why a message was dead-lettered.
pub const REASON_ATTRIBUTE: &str = "onboard.reason";
/// The message attribute that names the part that dead-lettered a message.
pub const SOURCE_ATTRIBUTE: &str = "onboard.source";
/// Longest reason kept on a dead-letter message.
const MAX_REASON_LEN: usize = 1000;

/// Why a record needed no write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// The target already holds this revision.
    Duplicate,
    /// The target holds a newer revision: writing would go backwards.
    Stale,
    /// A newer change of the same user in the same batch was written instead.
    Superseded,
    /// The event is not one this function acts on.
    NotApplicable,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Duplicate => "duplicate",
            Skip::Stale => "stale",
            Skip::Superseded => "superseded",
            Skip::NotApplicable => "not applicable",
        }
    }
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Fate {
    /// The record did its work (written, routed).
    Applied,
    /// Nothing needed doing; the record is done.
    Skipped { why: Skip },
    /// The record can never succeed; it was sent to a dead-letter queue.
    DeadLettered { queue: String, reason: String },
    /// The record failed for now and will be delivered again.
    Failed { reason: String },
}

impl Fate {
    pub fn is_failed(&self) -> bool {
        matches!(self, Fate::Failed { .. })
    }

    /// A short word for tables: `applied`, `skipped (stale)`, ...
    pub fn label(&self) -> String {
        match self {
            Fate::Applied => "applied".to_owned(),
            Fate::Skipped { why } => format!("skipped ({})", why.as_str()),
            Fate::DeadLettered { queue, .. } => format!("dead-lettered to {queue}"),
            Fate::Failed { .. } => "failed, will retry".to_owned(),
        }
    }
}

/// One record of a batch and its fate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemReport {
    /// The id Lambda wants back on failure: the SQS message id, or the stream
    /// record's sequence number (empty when the record did not even decode).
    pub id: String,
    /// The stream record the change came from, where it is known.
    pub event_id: Option<String>,
    pub user_id: Option<UserId>,
    pub version: Option<Version>,
    pub kind: Option<ChangeKind>,
    pub fate: Fate,
}

impl ItemReport {
    pub fn new(id: impl Into<String>, fate: Fate) -> Self {
        Self {
            id: id.into(),
            event_id: None,
            user_id: None,
            version: None,
            kind: None,
            fate,
        }
    }

    /// A report entry that names the change a message carries.
    pub fn for_message(id: impl Into<String>, message: &ChangeMessage, fate: Fate) -> Self {
        Self {
            id: id.into(),
            event_id: Some(message.event_id.clone()),
            user_id: Some(message.user_id().clone()),
            version: Some(message.version),
            kind: Some(message.kind),
            fate,
        }
    }
}

/// The fates of every record of one invocation, in the order received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub items: Vec<ItemReport>,
}

/// Returned instead of a partial response when every record failed, so that
/// Lambda counts an error and backs off before the retry.
#[derive(Debug, thiserror::Error)]
#[error("all {count} records of the batch failed; the first because {first_reason}")]
pub struct BatchFailed {
    pub count: usize,
    pub first_reason: String,
}

impl BatchReport {
    pub fn failed(&self) -> impl Iterator<Item = &ItemReport> {
        self.items.iter().filter(|item| item.fate.is_failed())
    }

    fn all_failed(&self) -> Result<(), BatchFailed> {
        if !self.items.is_empty() && self.items.iter().all(|item| item.fate.is_failed()) {
            let first_reason = match &self.items[0].fate {
                Fate::Failed { reason } => reason.clone(),
                _ => String::new(),
            };
            return Err(BatchFailed {
                count: self.items.len(),
                first_reason,
            });
        }
        Ok(())
    }

    /// The SQS partial batch response: every failed message id.
    pub fn sqs_response(&self) -> Result<SqsBatchResponse, BatchFailed> {
        self.all_failed()?;
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self
            .failed()
            .map(|item| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = item.id.clone();
                failure
            })
            .collect();
        Ok(response)
    }

    /// The lowest sequence number that failed: Lambda retries the batch from it.
    pub fn lowest_failed_sequence_number(&self) -> Option<&str> {
        self.failed()
            .map(|item| item.id.as_str())
            .min_by(|a, b| compare_sequence_numbers(a, b))
    }

    /// The stream partial batch response: the lowest failed sequence number.
    pub fn stream_response(&self) -> Result<DynamoDbEventResponse, BatchFailed> {
        self.all_failed()?;
        let mut response = DynamoDbEventResponse::default();
        if let Some(lowest) = self.lowest_failed_sequence_number() {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(lowest.to_owned());
            response.batch_item_failures = vec![failure];
        }
        Ok(response)
    }
}

/// Splits messages into `SendMessageBatch` calls of at most ten entries and
/// 1 MiB each, in order, filling each call as far as the limits allow.
/// A message over the limit on its own is returned apart: it can never be sent.
pub fn chunk(messages: Vec<OutgoingMessage>) -> (Vec<Vec<OutgoingMessage>>, Vec<SendFailure>) {
    let mut calls: Vec<Vec<OutgoingMessage>> = Vec::new();
    let mut too_large = Vec::new();
    let mut bytes = 0;
    for message in messages {
        let size = message.payload_size();
        if size > MAX_BATCH_BYTES {
            too_large.push(SendFailure {
                id: message.id,
                retryable: false,
                reason: format!(
                    "the message has {size} bytes, over SQS's limit of {MAX_BATCH_BYTES}"
                ),
            });
            continue;
        }
        match calls.last_mut() {
            Some(call) if call.len() < MAX_BATCH_ENTRIES && bytes + size <= MAX_BATCH_BYTES => {
                bytes += size;
                call.push(message);
            }
            _ => {
                bytes = size;
                calls.push(vec![message]);
            }
        }
    }
    (calls, too_large)
}

/// Sends every message in the fewest `SendMessageBatch` calls. Returns the
/// messages that were not sent, by entry id; a call that failed as a whole
/// fails each of its entries with the call's error.
pub async fn send_all(
    queue: &dyn MessageQueue,
    messages: Vec<OutgoingMessage>,
) -> HashMap<String, SendFailure> {
    let (calls, too_large) = chunk(messages);
    let mut failures: HashMap<String, SendFailure> =
        too_large.into_iter().map(|f| (f.id.clone(), f)).collect();
    for call in calls {
        match queue.send_batch(&call).await {
            Ok(failed) => failures.extend(failed.into_iter().map(|f| (f.id.clone(), f))),
            Err(err) => {
                let retryable = err.is_retryable();
                let reason = err.chain();
                tracing::warn!(queue = queue.name(), error = %reason, entries = call.len(), "SendMessageBatch failed");
                failures.extend(call.into_iter().map(|m| {
                    (
                        m.id.clone(),
                        SendFailure {
                            id: m.id,
                            retryable,
                            reason: reason.clone(),
                        },
                    )
                }));
            }
        }
    }
    failures
}

/// A record that can never succeed, to be sent to a dead-letter queue as it
/// was received, with the reason attached.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The index of the record in the [`BatchReport`].
    pub index: usize,
    pub body: String,
    pub reason: String,
}

/// Sends the dead letters in as few calls as possible and records each one's
/// fate: dead-lettered, or failed (to be retried) when the send failed.
pub async fn dead_letter(
    queue: &dyn MessageQueue,
    source: &str,
    letters: Vec<DeadLetter>,
    report: &mut BatchReport,
) {
    if letters.is_empty() {
        return;
    }
    let reasons: HashMap<String, (usize, String)> = letters
        .iter()
        .map(|l| (l.index.to_string(), (l.index, truncate(&l.reason))))
        .collect();
    let messages = letters
        .into_iter()
        .map(|letter| OutgoingMessage {
            id: letter.index.to_string(),
            body: letter.body,
            attributes: vec![
                Attribute {
                    name: REASON_ATTRIBUTE.to_owned(),
                    value: truncate(&letter.reason),
                },
                Attribute {
                    name: SOURCE_ATTRIBUTE.to_owned(),
                    value: source.to_owned(),
                },
            ],
        })
        .collect();
    let failures = send_all(queue, messages).await;
    for (id, (index, reason)) in reasons {
        let fate = match failures.get(&id) {
            None => {
                tracing::warn!(queue = queue.name(), item = %report.items[index].id, %reason, "dead-lettered a record");
                Fate::DeadLettered {
                    queue: queue.name().to_owned(),
                    reason,
                }
            }
            Some(failure) => Fate::Failed {
                reason: format!(
                    "{reason}; and it could not be dead-lettered: {}",
                    failure.reason
                ),
            },
        };
        report.items[index].fate = fate;
    }
}

/// An SQS batch of change messages, decoded: the messages that decode, by
/// their index in the report, and the ones that do not, as dead letters.
#[derive(Debug, Default)]
pub struct DecodedBatch {
    pub report: BatchReport,
    pub messages: Vec<(usize, ChangeMessage)>,
    pub poison: Vec<DeadLetter>,
}

impl DecodedBatch {
    /// The decoded messages grouped by user, each group in arrival order:
    /// both consumers settle one user's changes together.
    pub fn take_by_user(&mut self) -> BTreeMap<UserId, Vec<(usize, ChangeMessage)>> {
        let mut by_user: BTreeMap<UserId, Vec<(usize, ChangeMessage)>> = BTreeMap::new();
        for (index, message) in std::mem::take(&mut self.messages) {
            by_user
                .entry(message.user_id().clone())
                .or_default()
                .push((index, message));
        }
        by_user
    }
}

/// Decodes every message of an SQS batch on its own. Each starts out as
/// failed, so a record nobody settles is retried rather than lost.
pub fn decode_sqs(event: &SqsEvent) -> DecodedBatch {
    let mut batch = DecodedBatch::default();
    for (index, record) in event.records.iter().enumerate() {
        let id = record.message_id.clone().unwrap_or_default();
        let pending = Fate::Failed {
            reason: "not settled".to_owned(),
        };
        let body = record.body.as_deref().unwrap_or_default();
        match ChangeMessage::from_json(body) {
            Ok(message) => {
                batch
                    .report
                    .items
                    .push(ItemReport::for_message(id, &message, pending));
                batch.messages.push((index, message));
            }
            Err(err) => {
                batch.report.items.push(ItemReport::new(id, pending));
                batch.poison.push(DeadLetter {
                    index,
                    body: body.to_owned(),
                    reason: format!("the body is not a change message: {err}"),
                });
            }
        }
    }
    batch
}

fn truncate(reason: &str) -> String {
    if reason.len() <= MAX_REASON_LEN {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: usize, bytes: usize) -> OutgoingMessage {
        OutgoingMessage {
            id: id.to_string(),
            body: "x".repeat(bytes),
            attributes: Vec::new(),
        }
    }

    fn item(id: &str, fate: Fate) -> ItemReport {
        ItemReport::new(id, fate)
    }

    fn failed() -> Fate {
        Fate::Failed {
            reason: "throttled".into(),
        }
    }

    #[test]
    fn chunks_hold_at_most_ten_entries() {
        let (calls, too_large) = chunk((0..25).map(|i| message(i, 10)).collect());
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
        assert!(too_large.is_empty());
    }

    #[test]
    fn chunks_hold_at_most_one_mebibyte() {
        let (calls, _) = chunk((0..5).map(|i| message(i, 400 * 1024)).collect());
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        for call in &calls {
            assert!(
                call.iter()
                    .map(OutgoingMessage::payload_size)
                    .sum::<usize>()
                    <= MAX_BATCH_BYTES
            );
        }
    }

    #[test]
    fn a_message_over_the_limit_alone_is_a_permanent_failure() {
        let (calls, too_large) = chunk(vec![message(0, 10), message(1, MAX_BATCH_BYTES + 1)]);
        assert_eq!(calls.len(), 1);
        assert_eq!(too_large.len(), 1);
        assert!(!too_large[0].retryable);
    }

    #[test]
    fn the_sqs_response_lists_every_failed_message_id() {
        let report = BatchReport {
            items: vec![
                item("a", Fate::Applied),
                item("b", failed()),
                item("c", failed()),
            ],
        };
        let ids: Vec<_> = report
            .sqs_response()
            .unwrap()
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(ids, ["b", "c"]);
    }

    #[test]
    fn the_stream_response_names_only_the_lowest_failed_sequence_number() {
        let report = BatchReport {
            items: vec![
                item("900", failed()),
                item("1000", Fate::Applied),
                item("1200", failed()),
            ],
        };
        let failures = report.stream_response().unwrap().batch_item_failures;
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].item_identifier.as_deref(), Some("900"));
    }

    #[test]
    fn a_batch_where_every_record_failed_fails_the_invocation() {
        let report = BatchReport {
            items: vec![item("1", failed()), item("2", failed())],
        };
        assert!(report.sqs_response().is_err());
        assert!(report.stream_response().is_err());
        assert!(
            BatchReport::default()
                .sqs_response()
                .unwrap()
                .batch_item_failures
                .is_empty()
        );
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let reason = "é".repeat(MAX_REASON_LEN);
        let cut = truncate(&reason);
        assert!(cut.len() <= MAX_REASON_LEN + '…'.len_utf8());
    }
}
