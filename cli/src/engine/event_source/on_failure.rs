//! What a stream's on-failure destination receives.
//!
//! - [`InvocationRecords`]: what Lambda sends on AWS, and `onboard dev` on
//!   an emulator: one JSON document per discarded range, naming the shard,
//!   the first and last sequence numbers and why, with no record in it.
//!   `onboard dlq redrive` reads those records back from the stream.
//! - [`RecordsWithReasons`]: what `onboard replay` sends instead: each
//!   record as it arrived, with its reason attached. A replay's stream lives
//!   only as long as the replay, so metadata that points into it could never
//!   be redriven.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use onboard_shared::batch::{Fate, ItemReport, ReasonClass, dead_letter_all};
use onboard_shared::ports::{MessageQueue, OutgoingMessage};
use onboard_shared::reason::Reason;
use serde_json::json;

use super::position::Position;
use serde_json::value::RawValue;

/// The source the replay's dead letters name.
pub const STREAM_POLLER: &str = "stream-poller";

/// Why records were sent to the on-failure destination, in AWS's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Condition::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// Consecutive records of one shard that Lambda gave up on.
#[derive(Debug)]
pub struct Discarded<'a> {
    pub condition: Condition,
    pub records: &'a [Box<RawValue>],
    /// Why each record failed, for a destination that keeps the records.
    pub reasons: Vec<Reason>,
    /// Invocations that carried these records.
    pub invocations: u32,
    /// The last function error, when the invocation failed as a whole.
    pub function_error: Option<Reason>,
    pub first_sequence_number: Option<String>,
    pub last_sequence_number: Option<String>,
    pub first_arrival: Option<DateTime<Utc>>,
    pub last_arrival: Option<DateTime<Utc>>,
}

/// Where Lambda sends what it gave up on (`DestinationConfig.OnFailure`).
pub trait OnFailureDestination {
    /// The name reports show (the queue's).
    fn name(&self) -> &str;
    /// Sends one discarded range. An error leaves its records failed.
    fn send(&self, discarded: &Discarded<'_>) -> impl Future<Output = Result<(), Reason>>;
}

/// Sends discarded ranges to the destination and says what became of them.
pub(super) struct GiveUp<'a, D> {
    pub(super) batch: &'a [Box<RawValue>],
    pub(super) positions: &'a [Position],
    pub(super) destination: &'a D,
}

impl<D: OnFailureDestination> GiveUp<'_, D> {
    pub(super) async fn send(
        &mut self,
        range: std::ops::Range<usize>,
        condition: Condition,
        reasons: Vec<Reason>,
        invocations: u32,
        function_error: Option<Reason>,
    ) -> Vec<ItemReport> {
        let positions = &self.positions[range.clone()];
        let discarded = Discarded {
            condition,
            records: &self.batch[range],
            reasons,
            invocations,
            function_error,
            first_sequence_number: positions.first().and_then(|p| p.sequence_number.clone()),
            last_sequence_number: positions.last().and_then(|p| p.sequence_number.clone()),
            first_arrival: positions.first().and_then(|p| p.created),
            last_arrival: positions.last().and_then(|p| p.created),
        };
        let sent = self.destination.send(&discarded).await;
        positions
            .iter()
            .zip(&discarded.reasons)
            .map(|(position, reason)| {
                let fate = match &sent {
                    Ok(()) => Fate::DeadLettered {
                        queue: self.destination.name().to_owned(),
                        reason: reason.clone(),
                        class: ReasonClass::Exhausted,
                    },
                    Err(error) => Fate::Failed {
                        reason: reason.and(
                            "; and it could not be sent to the on-failure destination: ",
                            error,
                        ),
                    },
                };
                ItemReport::new(position.sequence_number.clone().unwrap_or_default(), fate)
            })
            .collect()
    }
}

/// Each discarded record, with its reason, as a dead letter.
#[derive(Clone)]
pub struct RecordsWithReasons(pub Arc<dyn MessageQueue>);

impl std::fmt::Debug for RecordsWithReasons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RecordsWithReasons")
            .field(&self.0.name())
            .finish()
    }
}

impl OnFailureDestination for RecordsWithReasons {
    fn name(&self) -> &str {
        self.0.name()
    }

    async fn send(&self, discarded: &Discarded<'_>) -> Result<(), Reason> {
        let letters = discarded
            .records
            .iter()
            .map(|record| record.get())
            .zip(discarded.reasons.iter().cloned());
        let fates = dead_letter_all(
            self.0.as_ref(),
            STREAM_POLLER,
            ReasonClass::Exhausted,
            letters,
        )
        .await;
        match fates.into_iter().find(Fate::is_failed) {
            Some(Fate::Failed { reason }) => Err(reason),
            _ => Ok(()),
        }
    }
}

/// Lambda's invocation record for a discarded range of a shard.
#[derive(Clone)]
pub struct InvocationRecords {
    pub queue: Arc<dyn MessageQueue>,
    pub function_arn: String,
    pub stream_arn: String,
    pub shard_id: String,
}

impl std::fmt::Debug for InvocationRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvocationRecords")
            .field("queue", &self.queue.name())
            .field("shard_id", &self.shard_id)
            .finish_non_exhaustive()
    }
}

impl InvocationRecords {
    /// The document Lambda sends: `requestContext`, `responseContext`,
    /// `version`, `timestamp` and `DDBStreamBatchInfo`.
    pub fn document(&self, discarded: &Discarded<'_>) -> serde_json::Value {
        let time = |at: Option<chrono::DateTime<Utc>>| {
            at.map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true))
        };
        json!({
            "requestContext": {
                "requestId": request_id(discarded),
                "functionArn": self.function_arn,
                "condition": discarded.condition.as_str(),
                "approximateInvokeCount": discarded.invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": discarded.function_error.as_ref().map(|_| "Unhandled"),
            },
            "version": "1.0",
            "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": discarded.first_sequence_number,
                "endSequenceNumber": discarded.last_sequence_number,
                "approximateArrivalOfFirstRecord": time(discarded.first_arrival),
                "approximateArrivalOfLastRecord": time(discarded.last_arrival),
                "batchSize": discarded.records.len(),
                "streamArn": self.stream_arn,
            }
        })
    }
}

/// A request id that is the same for the same range (a digest of it).
fn request_id(discarded: &Discarded<'_>) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!(
            "{:?}{:?}{}",
            discarded.first_sequence_number, discarded.last_sequence_number, discarded.invocations
        )
        .as_bytes(),
    );
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest.as_ref()[..16]);
    onboard_shared::domain::uuid_text(&first)
}

impl OnFailureDestination for InvocationRecords {
    fn name(&self) -> &str {
        self.queue.name()
    }

    async fn send(&self, discarded: &Discarded<'_>) -> Result<(), Reason> {
        let message = OutgoingMessage {
            trace_header: None,
            id: "0".to_owned(),
            body: self.document(discarded).to_string(),
            // Lambda attaches no message attribute.
            attributes: Vec::new(),
        };
        match self.queue.send_batch(&[message]).await {
            Ok(failed) if failed.is_empty() => Ok(()),
            Ok(failed) => Err(failed
                .into_iter()
                .map(|f| f.reason)
                .reduce(|all, next| all.and("; ", &next))
                .unwrap_or(Reason::fixed("the queue did not take it"))),
            Err(err) => Err(Reason::of_error(&err)),
        }
    }
}
