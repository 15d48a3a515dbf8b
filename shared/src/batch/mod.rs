//! One batch processor for SQS and DynamoDB stream events.
//!
//! A handler says what each record's work came to; [`settle`] folds that the
//! one way every handler folds it (done; failed for now, so retried; or
//! refused for good, so dead-lettered with the body as it arrived and the
//! reason) into a [`BatchReport`]. The report becomes the partial batch
//! response with AWS's rules (SQS: the failed message ids; a stream: the
//! lowest failed sequence number, from which Lambda retries), and fails the
//! whole invocation when every record failed. A dead letter counts as failed
//! only when its own send fails, so nothing is dropped silently.
//!
//! - [`settle`]: the fold, through the [`Ticket`] each record is issued as
//!   it arrives, and the dead letters it sends.
//! - [`sqs`]: an SQS batch of change messages, decoded one by one.
//! - [`consume`]: the sequence both consumers share (decode, group by the
//!   consumer's key, apply, settle, finish).
//! - [`send`]: `SendMessageBatch` calls within SQS's limits.

mod consume;
mod send;
mod settle;
mod sqs;

pub use consume::{ChangeConsumer, Worked, consume};
pub use send::{MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, chunk, send_all};
pub use settle::{Outcome, Settlement, Ticket, dead_letter_all};
pub use sqs::{DecodedBatch, decode_sqs};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Serialize;

use crate::catalogue::Function;
use crate::domain::{ChangeKind, ChangeMessage, UserId, Version};
use crate::reason::Reason;
use crate::stream::compare_sequence_numbers;
use crate::telemetry::metrics::{Counts, Metric};

/// The one line a consumer logs for a change it is done with: the user by
/// id (never by email), the version, what came of it, and the sign-up's
/// trace, so that one user's way through the pipeline can be followed.
pub fn log_done(consumer: &str, message: &ChangeMessage, fate: &Fate) {
    tracing::info!(
        user_id = %message.user_id(),
        version = %message.version,
        outcome = %fate.label(),
        trace = message.trace_header.as_deref().unwrap_or_default(),
        "{consumer}"
    );
}

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
    /// The change touched nothing of the user (an attribute outside it).
    NoChange,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Duplicate => "duplicate",
            Skip::Stale => "stale",
            Skip::Superseded => "superseded",
            Skip::NotApplicable => "not applicable",
            Skip::NoChange => "no change to the user",
        }
    }
}

/// Why a record was dead-lettered, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonClass {
    /// It could not be read: not JSON, not the event or message expected,
    /// an image that is not a user.
    Unreadable,
    /// A service refused its write for good (a value too long, a bad
    /// request).
    Refused,
    /// The event source gave up on it: the queue's receive count or the
    /// stream's retries or record age ran out.
    Exhausted,
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
    DeadLettered {
        queue: String,
        reason: Reason,
        class: ReasonClass,
    },
    /// The record failed for now and will be delivered again.
    Failed { reason: Reason },
}

impl Fate {
    pub fn is_failed(&self) -> bool {
        matches!(self, Fate::Failed { .. })
    }

    /// The metric `function` counts a record with this fate in: the
    /// mapping from fates to metrics, stated once, beside the fates.
    pub fn metric(&self, function: Function) -> Metric {
        match self {
            Fate::Applied => function.applied(),
            Fate::Skipped {
                why: Skip::Superseded,
            } => Metric::Superseded,
            Fate::Skipped { .. } => Metric::Skipped,
            Fate::DeadLettered { class, .. } => match class {
                ReasonClass::Unreadable => Metric::DeadLetteredUnreadable,
                ReasonClass::Refused => Metric::DeadLetteredRefused,
                ReasonClass::Exhausted => Metric::DeadLetteredExhausted,
            },
            Fate::Failed { .. } => Metric::Retried,
        }
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
    /// Conditional writes of this record that lost to another writer (each
    /// was read and tried again).
    #[serde(skip_serializing_if = "is_zero")]
    pub write_conflicts: u32,
    /// Calls for this record that stayed throttled after the SDK's retries.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttles: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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
            write_conflicts: 0,
            throttles: 0,
        }
    }

    /// What the record counts beyond its fate: the conditional writes it
    /// lost and the calls that stayed throttled.
    pub fn beyond_fate(&self) -> Counts {
        let mut counts = Counts::default();
        counts.add(Metric::WriteConflicts, u64::from(self.write_conflicts));
        counts.add(Metric::Throttles, u64::from(self.throttles));
        counts
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
            write_conflicts: 0,
            throttles: 0,
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
    pub first_reason: Reason,
}

impl crate::error::Failure for BatchFailed {
    fn kind(&self) -> &'static str {
        "BatchFailed"
    }
}

impl BatchReport {
    /// What `function` counts for this batch: each record by its fate, and
    /// its lost conditional writes and throttled calls.
    pub fn counts(&self, function: Function) -> Counts {
        let mut counts = Counts::default();
        for item in &self.items {
            counts.add(item.fate.metric(function), 1);
            counts.merge(&item.beyond_fate());
        }
        counts
    }

    pub fn failed(&self) -> impl Iterator<Item = &ItemReport> {
        self.items.iter().filter(|item| item.fate.is_failed())
    }

    fn all_failed(&self) -> Result<(), BatchFailed> {
        if !self.items.is_empty() && self.items.iter().all(|item| item.fate.is_failed()) {
            let first_reason = match &self.items[0].fate {
                Fate::Failed { reason } => reason.clone(),
                _ => Reason::fixed(""),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, fate: Fate) -> ItemReport {
        ItemReport::new(id, fate)
    }

    fn failed() -> Fate {
        Fate::Failed {
            reason: Reason::fixed("throttled"),
        }
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
}
