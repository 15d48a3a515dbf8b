//! Lambda's stream rules over generated batches: whatever fails, and however
//! often, the response names the lowest failed sequence number, and the
//! poller ends every record exactly once, done or sent to the on-failure
//! destination, never lost. Seeded; each prints how many cases it ran.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use onboard_shared::reason::Reason;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use onboard_cli::engine::event_source::Invoked;
use onboard_cli::engine::event_source::StreamSettings;
use onboard_cli::engine::event_source::on_failure::{Discarded, OnFailureDestination};
use onboard_cli::engine::event_source::stream::{Clock, StreamFunction, StreamPoller};
use onboard_shared::batch::{BatchReport, Fate, ItemReport};
use onboard_tests::property;
use onboard_tests::stream_records::{failing, sequence_numbers};
use proptest::prelude::*;
use serde_json::value::RawValue;

#[test]
fn the_stream_response_names_the_lowest_failed_sequence_number() {
    // Sequence numbers of up to 40 digits, in any order, each failed or not.
    let items = prop::collection::vec((1u128..u128::MAX / 2, any::<bool>()), 1..60);
    property::check(
        "stream response: lowest failed sequence number",
        10_000,
        items,
        |items| {
            let report = BatchReport {
                items: items
                    .iter()
                    .map(|(sequence, failed)| {
                        let fate = if *failed {
                            Fate::Failed {
                                reason: Reason::fixed("throttled"),
                            }
                        } else {
                            Fate::Applied
                        };
                        ItemReport::new(sequence.to_string(), fate)
                    })
                    .collect(),
            };
            let failed: Vec<u128> = items.iter().filter(|(_, f)| *f).map(|(s, _)| *s).collect();
            match report.stream_response() {
                Err(_) => prop_assert_eq!(
                    failed.len(),
                    items.len(),
                    "only a batch that all failed fails"
                ),
                Ok(response) => {
                    let named: Vec<_> = response
                        .batch_item_failures
                        .iter()
                        .map(|f| f.item_identifier.clone().unwrap())
                        .collect();
                    let expected: Vec<String> = failed
                        .iter()
                        .min()
                        .map(u128::to_string)
                        .into_iter()
                        .collect();
                    prop_assert_eq!(named, expected);
                }
            }
            Ok(())
        },
    );
}

/// How one record behaves each time it is in an invocation.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Always done.
    Fine,
    /// Reported failed (a partial batch response) this many times, then done.
    FailsTimes(u8),
    /// Fails the whole invocation this many times, then done.
    CrashesTimes(u8),
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        6 => Just(Behaviour::Fine),
        2 => (1u8..=9).prop_map(Behaviour::FailsTimes),
        1 => (1u8..=9).prop_map(Behaviour::CrashesTimes),
    ]
}

/// A function whose records behave as told, counting down their failures.
struct Scripted {
    left: Mutex<BTreeMap<u64, Behaviour>>,
    invocations: Mutex<Vec<Vec<u64>>>,
}

impl StreamFunction for Scripted {
    async fn invoke(&self, records: &[Box<RawValue>]) -> Invoked<DynamoDbEventResponse> {
        let batch = sequence_numbers(records);
        self.invocations.lock().unwrap().push(batch.clone());
        let mut left = self.left.lock().unwrap();
        let mut crashed = false;
        let mut failed = Vec::new();
        for sequence in &batch {
            match left.get_mut(sequence) {
                Some(Behaviour::CrashesTimes(n)) if *n > 0 => {
                    *n -= 1;
                    crashed = true;
                }
                Some(Behaviour::FailsTimes(n)) if *n > 0 => {
                    *n -= 1;
                    failed.push(*sequence);
                }
                _ => {}
            }
        }
        let response = if crashed {
            Err(Reason::fixed("Unhandled"))
        } else {
            let ids: Vec<String> = failed.iter().map(u64::to_string).collect();
            let ids: Vec<Option<&str>> = ids.iter().map(|id| Some(id.as_str())).collect();
            Ok(failing(&ids))
        };
        Invoked {
            response,
            report: BatchReport::default(),
        }
    }
}

#[derive(Default)]
struct Kept(Mutex<Vec<u64>>);

impl OnFailureDestination for Kept {
    fn name(&self) -> &str {
        "router-dlq"
    }

    async fn send(&self, discarded: &Discarded<'_>) -> Result<(), Reason> {
        self.0
            .lock()
            .unwrap()
            .extend(sequence_numbers(discarded.records));
        Ok(())
    }
}

#[test]
fn the_stream_poller_ends_every_record_once_and_loses_none() {
    let case = (
        prop::collection::vec((1u64..1000, behaviour()), 1..60),
        0u32..=6,
        any::<bool>(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    property::check(
        "stream poller: every record ends once, none lost",
        10_000,
        case,
        |(records, retries, bisect)| {
            // Ascending sequence numbers with random gaps.
            let mut sequence = 100u64;
            let mut behaviours = BTreeMap::new();
            let mut raw = Vec::new();
            for (gap, behaviour) in &records {
                sequence += gap;
                behaviours.insert(sequence, *behaviour);
                let json = format!(
                    r#"{{"eventName":"INSERT","dynamodb":{{"SequenceNumber":"{sequence}"}}}}"#
                );
                raw.push(RawValue::from_string(json).unwrap());
            }
            let function = Scripted {
                left: Mutex::new(behaviours.clone()),
                invocations: Mutex::new(Vec::new()),
            };
            let kept = Kept::default();
            let poller = StreamPoller {
                settings: StreamSettings {
                    maximum_retry_attempts: retries,
                    bisect_batch_on_function_error: bisect,
                    ..StreamSettings::default()
                },
                clock: Clock::Wall,
                retry_delay: Duration::ZERO,
            };
            let fates = runtime.block_on(poller.deliver(&raw, &function, &kept));

            // Every record has one final fate: done, or kept with a reason.
            prop_assert_eq!(fates.len(), raw.len());
            let kept: Vec<u64> = kept.0.into_inner().unwrap();
            let kept_once: BTreeSet<u64> = kept.iter().copied().collect();
            prop_assert_eq!(kept_once.len(), kept.len(), "a record kept twice");
            for (fate, sequence) in fates.iter().zip(behaviours.keys()) {
                match &fate.fate {
                    Fate::Applied => prop_assert!(!kept_once.contains(sequence)),
                    Fate::DeadLettered { .. } => prop_assert!(kept_once.contains(sequence)),
                    other => prop_assert!(false, "record {} ended {:?}", sequence, other),
                }
            }
            // Each invocation is a run of consecutive records, in order.
            let order: Vec<u64> = behaviours.keys().copied().collect();
            for batch in function.invocations.into_inner().unwrap() {
                let start = order.iter().position(|s| *s == batch[0]).unwrap();
                prop_assert_eq!(&order[start..start + batch.len()], &batch[..]);
            }
            // With retries enough for every failure, nothing is given up on.
            let most = behaviours
                .values()
                .map(|b| match b {
                    Behaviour::Fine => 0,
                    Behaviour::FailsTimes(n) | Behaviour::CrashesTimes(n) => u32::from(*n),
                })
                .sum::<u32>();
            if retries >= most {
                prop_assert!(kept.is_empty(), "retries {} ≥ failures {}", retries, most);
            }
            Ok(())
        },
    );
}
