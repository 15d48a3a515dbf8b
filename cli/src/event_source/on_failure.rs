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

use chrono::{SecondsFormat, Utc};
use onboard_shared::batch::{BatchReport, Fate, ItemReport, Outcome, Settlement};
use onboard_shared::ports::{MessageQueue, OutgoingMessage};
use serde_json::json;

use super::stream::{Discarded, OnFailureDestination};

/// The source the replay's dead letters name.
pub const STREAM_POLLER: &str = "stream-poller";

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

    async fn send(&self, discarded: &Discarded<'_>) -> Result<(), String> {
        let report = BatchReport {
            items: discarded
                .records
                .iter()
                .map(|_| ItemReport::new("", Fate::Applied))
                .collect(),
        };
        let mut settlement =
            Settlement::new(discarded.records.iter().map(|r| r.get()).collect(), report);
        for (index, reason) in discarded.reasons.iter().enumerate() {
            settlement.settle(index, Outcome::Reject(reason.clone()));
        }
        let report = settlement.finish(self.0.as_ref(), STREAM_POLLER).await;
        match report.failed().next() {
            None => Ok(()),
            Some(item) => Err(match &item.fate {
                Fate::Failed { reason } => reason.clone(),
                _ => String::new(),
            }),
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
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl OnFailureDestination for InvocationRecords {
    fn name(&self) -> &str {
        self.queue.name()
    }

    async fn send(&self, discarded: &Discarded<'_>) -> Result<(), String> {
        let message = OutgoingMessage {
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
                .collect::<Vec<_>>()
                .join("; ")),
            Err(err) => Err(err.chain()),
        }
    }
}
