//! How Lambda delivers a DynamoDB stream to a function
//! ([`StreamSettings`]), for one batch of one shard:
//!
//! 1. Records older than `MaximumRecordAgeInSeconds` are not sent; they go
//!    to the on-failure destination.
//! 2. The function is invoked with the batch. A response with no
//!    `batchItemFailures` is a success: the checkpoint moves past the batch.
//! 3. A partial batch response checkpoints up to the lowest failed sequence
//!    number, and the batch is retried from there.
//! 4. A `batchItemFailures` entry whose `itemIdentifier` is null, empty or
//!    not in the batch fails the whole batch, as a function error does.
//! 5. On a function error, `BisectBatchOnFunctionError` splits the batch in
//!    two and delivers each half; splitting spends no retry. A single record
//!    (or any batch when bisection is off) is retried as a whole.
//! 6. After `MaximumRetryAttempts` retries, what still fails goes to the
//!    on-failure destination and the shard moves on.
//!
//! The [`OnFailureDestination`] decides what the destination receives. On
//! AWS (and in `onboard dev`, which reads a real stream) it is Lambda's
//! invocation record: metadata that names the shard and the range of
//! sequence numbers, from which `onboard dlq redrive` reads the records back
//! while the stream keeps them (24 hours). `onboard replay` has no stream to
//! read back from, so its destination receives the records themselves, each
//! with its reason.

use onboard_shared::reason::Reason;

use super::position::{Position, position};
use std::cmp::Ordering;
use std::time::Duration;

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use chrono::Utc;
use onboard_shared::batch::{BatchReport, Fate, ItemReport};
use onboard_shared::stream::compare_sequence_numbers;
use serde_json::value::RawValue;

use super::on_failure::{Condition, GiveUp, OnFailureDestination};
use super::{Invoked, StreamSettings};

/// A function that reads a DynamoDB stream.
pub trait StreamFunction {
    /// One invocation with a batch of stream records (as Lambda's JSON).
    fn invoke(
        &self,
        records: &[Box<RawValue>],
    ) -> impl Future<Output = Invoked<DynamoDbEventResponse>>;
}

/// The clock record ages are measured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The wall clock, as Lambda measures it (`onboard dev`).
    Wall,
    /// Each record is read the moment it was written, so none is ever too
    /// old (`onboard replay`: its fixtures were written long before they are
    /// replayed, and the wall clock would discard them all).
    RecordTime,
}

/// Lambda's stream poller for one event-source mapping.
#[derive(Debug, Clone, Copy)]
pub struct StreamPoller {
    pub settings: StreamSettings,
    pub clock: Clock,
    /// The pause before each retry (Lambda backs off; replay does not wait).
    pub retry_delay: Duration,
}

/// How Lambda reads one response.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    /// Checkpoint before the record at this offset; retry from it.
    FailedFrom(usize),
    /// The batch failed as a whole.
    FunctionError(Reason),
}

fn outcome(response: &Result<DynamoDbEventResponse, Reason>, positions: &[Position]) -> Outcome {
    let failures = match response {
        Err(error) => return Outcome::FunctionError(error.clone()),
        Ok(response) => &response.batch_item_failures,
    };
    let mut lowest: Option<usize> = None;
    for failure in failures {
        let Some(id) = failure
            .item_identifier
            .as_deref()
            .filter(|id| !id.is_empty())
        else {
            return Outcome::FunctionError(Reason::fixed(
                "a batch item failure has a null or empty itemIdentifier",
            ));
        };
        let Some(at) = positions
            .iter()
            .position(|p| p.sequence_number.as_deref() == Some(id))
        else {
            return Outcome::FunctionError(Reason::scrubbed(format_args!(
                "itemIdentifier {id} is no sequence number of the batch"
            )));
        };
        lowest = Some(lowest.map_or(at, |low| {
            let (a, b) = (&positions[at], &positions[low]);
            match compare_sequence_numbers(
                a.sequence_number.as_deref().unwrap_or_default(),
                b.sequence_number.as_deref().unwrap_or_default(),
            ) {
                Ordering::Less => at,
                _ => low,
            }
        }));
    }
    lowest.map_or(Outcome::Success, Outcome::FailedFrom)
}

/// Records `start..end` of the batch, and the retries they have had.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: usize,
    end: usize,
    retries: u32,
    invocations: u32,
}

impl StreamPoller {
    /// Delivers records in batches of the mapping's `BatchSize`, one after
    /// the other as one shard's, and returns every record's final fate.
    pub async fn deliver_all(
        &self,
        records: &[Box<RawValue>],
        function: &impl StreamFunction,
        destination: &impl OnFailureDestination,
    ) -> Vec<ItemReport> {
        let mut fates = Vec::with_capacity(records.len());
        for batch in records.chunks(self.settings.batch_size.max(1)) {
            fates.extend(self.deliver(batch, function, destination).await);
        }
        fates
    }

    /// Delivers one batch with Lambda's rules (see the module's header) and
    /// returns every record's final fate, in order.
    pub async fn deliver(
        &self,
        batch: &[Box<RawValue>],
        function: &impl StreamFunction,
        destination: &impl OnFailureDestination,
    ) -> Vec<ItemReport> {
        let positions: Vec<Position> = batch.iter().map(|r| position(r)).collect();
        let mut fates: Vec<Option<ItemReport>> = vec![None; batch.len()];
        // Segments still to deliver, the next one last.
        let mut pending = vec![Segment {
            start: 0,
            end: batch.len(),
            retries: 0,
            invocations: 0,
        }];
        let mut give_up = GiveUp {
            batch,
            positions: &positions,
            destination,
        };
        while let Some(mut segment) = pending.pop() {
            let expired = self.expired(&positions[segment.start..segment.end]);
            if expired > 0 {
                let range = segment.start..segment.start + expired;
                let reasons = vec![self.age_reason(); expired];
                let settled = give_up
                    .send(
                        range.clone(),
                        Condition::RecordAgeExceeded,
                        reasons,
                        segment.invocations,
                        None,
                    )
                    .await;
                fill(&mut fates, range.start, settled);
                segment.start += expired;
                if segment.start == segment.end {
                    continue;
                }
            }
            let records = &batch[segment.start..segment.end];
            let invoked = function.invoke(records).await;
            segment.invocations += 1;
            let done = |upto: usize, fates: &mut Vec<Option<ItemReport>>| {
                for offset in 0..upto {
                    fates[segment.start + offset] = Some(finished(
                        &invoked.report,
                        offset,
                        &positions[segment.start + offset],
                    ));
                }
            };
            let (retry_from, error) =
                match outcome(&invoked.response, &positions[segment.start..segment.end]) {
                    Outcome::Success => {
                        done(records.len(), &mut fates);
                        continue;
                    }
                    Outcome::FailedFrom(at) => {
                        done(at, &mut fates);
                        (segment.start + at, None)
                    }
                    Outcome::FunctionError(error) => {
                        let len = segment.end - segment.start;
                        if self.settings.bisect_batch_on_function_error && len > 1 {
                            let middle = segment.start + len / 2;
                            pending.push(Segment {
                                start: middle,
                                ..segment
                            });
                            pending.push(Segment {
                                end: middle,
                                ..segment
                            });
                            continue;
                        }
                        (segment.start, Some(error))
                    }
                };
            if segment.retries < self.settings.maximum_retry_attempts {
                pending.push(Segment {
                    start: retry_from,
                    retries: segment.retries + 1,
                    ..segment
                });
                if !self.retry_delay.is_zero() {
                    tokio::time::sleep(self.retry_delay).await;
                }
                continue;
            }
            let reasons = (retry_from..segment.end)
                .map(|index| {
                    exhausted_reason(&invoked.report, index - segment.start, error.as_ref())
                })
                .collect();
            let settled = give_up
                .send(
                    retry_from..segment.end,
                    Condition::RetryAttemptsExhausted,
                    reasons,
                    segment.invocations,
                    error,
                )
                .await;
            fill(&mut fates, retry_from, settled);
        }
        fates
            .into_iter()
            .zip(&positions)
            .map(|(fate, position)| {
                fate.unwrap_or_else(|| {
                    ItemReport::new(
                        position.sequence_number.clone().unwrap_or_default(),
                        Fate::Failed {
                            reason: Reason::fixed("not delivered"),
                        },
                    )
                })
            })
            .collect()
    }

    /// How many records at the start of a segment are too old to send.
    fn expired(&self, positions: &[Position]) -> usize {
        let Clock::Wall = self.clock else { return 0 };
        let now = Utc::now();
        let max_age = chrono::Duration::from_std(self.settings.maximum_record_age)
            .unwrap_or(chrono::Duration::MAX);
        positions
            .iter()
            .take_while(|p| p.created.is_some_and(|created| now - created > max_age))
            .count()
    }

    fn age_reason(&self) -> Reason {
        Reason::scrubbed(format_args!(
            "record age exceeded: older than MaximumRecordAgeInSeconds ({} s) when read",
            self.settings.maximum_record_age.as_secs()
        ))
    }
}

/// The fate of a record the checkpoint moved past: what the function said
/// of it, or applied when it said nothing.
fn finished(report: &BatchReport, offset: usize, position: &Position) -> ItemReport {
    match report.items.get(offset) {
        Some(item) if !item.fate.is_failed() => item.clone(),
        _ => ItemReport::new(
            position.sequence_number.clone().unwrap_or_default(),
            Fate::Applied,
        ),
    }
}

fn exhausted_reason(report: &BatchReport, offset: usize, error: Option<&Reason>) -> Reason {
    match (report.items.get(offset).map(|item| &item.fate), error) {
        (Some(Fate::Failed { reason }), _) => reason.clone().after("retries exhausted: "),
        (_, Some(error)) => error.clone().after("retries exhausted: "),
        _ => Reason::fixed("retries exhausted after an earlier record failed"),
    }
}

fn fill(fates: &mut [Option<ItemReport>], start: usize, settled: Vec<ItemReport>) {
    for (offset, item) in settled.into_iter().enumerate() {
        fates[start + offset] = Some(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(ids: &[&str]) -> Vec<Position> {
        ids.iter()
            .map(|id| Position {
                sequence_number: Some((*id).to_owned()),
                created: None,
            })
            .collect()
    }

    fn failing(ids: &[Option<&str>]) -> Result<DynamoDbEventResponse, Reason> {
        Ok(onboard_tests::stream_records::failing(ids))
    }

    #[test]
    fn the_lowest_of_several_failures_is_the_checkpoint_by_number_not_by_text() {
        let batch = positions(&["900", "1000", "1100"]);
        assert_eq!(
            outcome(&failing(&[Some("1100"), Some("900")]), &batch),
            Outcome::FailedFrom(0)
        );
        assert_eq!(outcome(&failing(&[]), &batch), Outcome::Success);
    }

    #[test]
    fn a_record_reads_its_position_from_its_own_json() {
        let record = RawValue::from_string(
            r#"{"dynamodb":{"SequenceNumber":"42","ApproximateCreationDateTime":1700000000.5}}"#
                .to_owned(),
        )
        .unwrap();
        let position = position(&record);
        assert_eq!(position.sequence_number.as_deref(), Some("42"));
        assert_eq!(
            position.created.unwrap().timestamp_millis(),
            1_700_000_000_500
        );
        let garbage = RawValue::from_string("[1]".to_owned()).unwrap();
        assert!(super::position(&garbage).sequence_number.is_none());
    }
}
