//! The embedded pipeline keeps AWS's event-source rules: a stream batch is
//! retried from its lowest failed record, a queue message that keeps failing
//! moves to its DLQ after `maxReceiveCount` receives, and every order of a
//! user's versions ends at the newest everywhere.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use onboard_cli::engine::event_source::{QueueSettings, Settings, StreamSettings};
use onboard_cli::engine::pipeline::{LOCAL_STANDARD_SHARE, LocalPipeline};
use onboard_cli::engine::queue_roles::Consumer;
use onboard_shared::batch::Fate;
use onboard_shared::catalogue::QueueRole;
use onboard_shared::error::PortError;
use onboard_shared::names::{NamesPaths, Tier, layout_of};
use onboard_shared::ports::{MessageQueue, NamesStore, OutgoingMessage, SendFailure};
use onboard_shared::published::ParameterPrefix;
use onboard_shared::stream::RawStreamEvent;
use publish_consumer::writer::Writer;
use serde_json::value::RawValue;

const BATCH: &str = include_str!("../../fixtures/dynamodb/insert-modify-remove.json");

fn pipeline(settings: Settings) -> LocalPipeline {
    LocalPipeline::in_memory(ParameterPrefix::parse("/onboard").unwrap(), settings)
}

fn records() -> Vec<Box<RawValue>> {
    serde_json::from_str::<RawStreamEvent>(BATCH)
        .unwrap()
        .records
}

/// A parameter store whose writes are always throttled, with this message.
struct Throttled(&'static str);

#[async_trait]
impl NamesStore for Throttled {
    async fn get_many(&self, _: &[String]) -> Result<BTreeMap<String, String>, PortError> {
        Ok(BTreeMap::new())
    }
    async fn put_tiered(&self, _: &str, _: &str, _: Tier) -> Result<(), PortError> {
        Err(PortError::Throttled {
            operation: "PutParameter",
            source: self.0.into(),
        })
    }
    async fn delete_many(&self, _: &[String]) -> Result<(), PortError> {
        Ok(())
    }
}

/// A pipeline whose publisher's every write is throttled with `message`,
/// its queue moving a message to its DLQ after `max_receive_count` receives.
fn throttled_publisher(max_receive_count: u32, message: &'static str) -> LocalPipeline {
    let settings = Settings {
        queue: QueueSettings {
            max_receive_count,
            ..QueueSettings::default()
        },
        ..Settings::default()
    };
    let mut pipeline = pipeline(settings);
    pipeline.writer = Arc::new(Writer::new(
        Arc::new(Throttled(message)),
        pipeline.queue(QueueRole::Publish).clone(),
        pipeline.queue(QueueRole::PublishDlq).clone(),
        NamesPaths::new(&ParameterPrefix::parse("/onboard").unwrap()),
        LOCAL_STANDARD_SHARE,
    ));
    pipeline
}

#[tokio::test]
async fn a_message_that_keeps_failing_moves_to_its_dlq_after_max_receive_count() {
    // GIVEN a publish consumer whose every write is throttled, and maxReceiveCount 3
    let mut pipeline = throttled_publisher(3, "Rate exceeded");
    // WHEN a batch is routed and the queues drained
    pipeline.route(&records()).await;
    let consumed = pipeline.drain().await;
    // THEN the archive completes, and every publish message is in the publish DLQ with its reason
    let publish: Vec<_> = consumed
        .iter()
        .filter(|c| c.consumer == Consumer::Publish)
        .collect();
    assert_eq!(publish.len(), 5);
    for c in &publish {
        match &c.item.fate {
            Fate::DeadLettered { queue, reason, .. } => {
                assert_eq!(queue, "publish-dlq");
                assert!(
                    reason
                        .as_str()
                        .starts_with("received 3 times; last failure: PutParameter was throttled"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        consumed
            .iter()
            .filter(|c| c.consumer == Consumer::Archive)
            .all(|c| c.item.fate == Fate::Applied)
    );
    assert_eq!(pipeline.queue(QueueRole::Publish).len(), 0);
    let dead = pipeline.flush().unwrap();
    assert_eq!(dead.iter().filter(|d| d.queue == "publish-dlq").count(), 5);
    assert!(dead.iter().all(|d| d.message.receive_count == 3));
}

#[tokio::test]
async fn the_redrive_policy_s_dead_letter_holds_no_input_value_of_the_last_failure() {
    // GIVEN a publish consumer whose writes fail for now with a message that
    // quotes what it was given (an email, a quoted value)
    let mut pipeline =
        throttled_publisher(2, r#"Rate exceeded for ada.king@example.net at "Ada King""#);
    // WHEN its messages keep failing until the queue's redrive policy moves them
    pipeline.route(&records()).await;
    let consumed = pipeline.drain().await;
    let dead = pipeline.flush().unwrap();
    // THEN neither the fates nor the local dead letters carry the input
    let letters: Vec<_> = dead.iter().filter(|d| d.queue == "publish-dlq").collect();
    assert_eq!(letters.len(), 5);
    for letter in letters {
        let reason = letter
            .message
            .attribute(onboard_shared::wire::REASON_ATTRIBUTE)
            .unwrap();
        assert!(
            reason.starts_with("received 2 times; last failure: PutParameter was throttled"),
            "{reason}"
        );
        assert!(
            !reason.contains("ada.king") && !reason.contains("Ada King"),
            "{reason}"
        );
    }
    for c in consumed.iter().filter(|c| c.consumer == Consumer::Publish) {
        let Fate::DeadLettered { reason, .. } = &c.item.fate else {
            panic!("{:?}", c.item.fate)
        };
        assert!(!reason.as_str().contains("ada.king"), "{reason}");
    }
}

/// A queue that fails the first `failures` calls as a whole, then works.
struct Flaky {
    inner: Arc<dyn MessageQueue>,
    failures: AtomicU32,
}

#[async_trait]
impl MessageQueue for Flaky {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn send_batch(&self, entries: &[OutgoingMessage]) -> Result<Vec<SendFailure>, PortError> {
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err(PortError::transient(
                "SendMessageBatch",
                "503 Service Unavailable",
            ));
        }
        self.inner.send_batch(entries).await
    }
}

#[tokio::test]
async fn a_stream_batch_is_retried_until_it_goes_through() {
    let mut pipeline = pipeline(Settings {
        stream: StreamSettings {
            maximum_retry_attempts: 2,
            ..StreamSettings::default()
        },
        ..Settings::default()
    });
    pipeline.router.publish = Arc::new(Flaky {
        inner: pipeline.router.publish.clone(),
        failures: AtomicU32::new(2),
    });
    let fates = pipeline.route(&records()).await;
    assert!(fates.iter().all(|f| f.fate == Fate::Applied), "{fates:?}");
    let consumed = pipeline.drain().await;
    assert!(consumed.iter().all(|c| !c.item.fate.is_failed()));
}

#[tokio::test]
async fn a_stream_batch_that_exhausts_its_retries_goes_to_the_on_failure_destination() {
    let mut pipeline = pipeline(Settings {
        stream: StreamSettings {
            maximum_retry_attempts: 1,
            ..StreamSettings::default()
        },
        ..Settings::default()
    });
    // Every send fails: bisection splits the batch down to single records,
    // and each spends its retry.
    pipeline.router.publish = Arc::new(Flaky {
        inner: pipeline.router.publish.clone(),
        failures: AtomicU32::new(u32::MAX),
    });
    let fates = pipeline.route(&records()).await;
    assert_eq!(fates.len(), 5);
    for fate in &fates {
        match &fate.fate {
            Fate::DeadLettered { queue, reason, .. } => {
                assert_eq!(queue, "router-dlq");
                assert!(reason.as_str().starts_with("retries exhausted"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A stream record of user `user` at `version` (created at 1, renamed after).
fn versioned_record(user: usize, version: u64, sequence: u64) -> Box<RawValue> {
    let image = |version: u64| {
        serde_json::json!({
            "user_id": { "S": format!("u-{user:04}") },
            "created_at": { "S": "2026-01-01T09:00:00.000Z" },
            "version": { "N": version.to_string() },
            "name": { "S": format!("User {user} v{version}") },
        })
    };
    let mut change = serde_json::json!({
        "Keys": { "user_id": { "S": format!("u-{user:04}") } },
        "NewImage": image(version),
        "SequenceNumber": sequence.to_string(),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if version > 1 {
        change["OldImage"] = image(version - 1);
    }
    let record = serde_json::json!({
        "eventID": format!("e-{user}-{version}-{sequence}"),
        "eventName": if version == 1 { "INSERT" } else { "MODIFY" },
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": change,
    });
    serde_json::value::to_raw_value(&record).unwrap()
}

/// What each copy holds of each user now: the archived and published versions.
fn versions_held(pipeline: &LocalPipeline) -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut held = std::collections::BTreeMap::new();
    for object in pipeline.archive.objects() {
        let user = object
            .key
            .trim_start_matches("users/")
            .trim_end_matches(".json");
        held.entry(user.to_owned()).or_insert((0, 0)).0 = object.revision.version.get();
    }
    let paths = NamesPaths::new(&ParameterPrefix::parse("/onboard").unwrap());
    let values = pipeline.parameters.values();
    let published = layout_of(&paths, &values);
    for (_, placed) in published.leaves() {
        for (key, entry) in placed.leaf.entries() {
            let user = key.user_id().unwrap().as_str().to_owned();
            held.entry(user).or_insert((0, 0)).1 = entry.revision.version.get();
        }
    }
    held
}

#[test]
fn every_order_of_up_to_six_versions_with_redeliveries_ends_at_the_newest_and_never_steps_back() {
    use proptest::prelude::*;
    // Per user, its newest version (1 to 6); copies delivered again; the
    // delivery order (a sort key per copy) and the batches' sizes.
    let case = (
        prop::collection::vec(1u64..=6, 1..=8),
        prop::collection::vec((0usize..8, 1u64..=6), 0..12),
        prop::collection::vec(any::<u32>(), 80),
        prop::collection::vec(1usize..=5, 40),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    onboard_tests::property::check(
        "ordering: every copy ends at the newest version, never backwards",
        2_000,
        case,
        |(newest, again, keys, sizes)| {
            let mut copies: Vec<(usize, u64)> = newest
                .iter()
                .enumerate()
                .flat_map(|(user, n)| (1..=*n).map(move |v| (user, v)))
                .collect();
            copies.extend(
                again
                    .iter()
                    .filter(|(user, v)| *user < newest.len() && *v <= newest[*user]),
            );
            let mut order: Vec<(u32, (usize, u64))> = copies
                .into_iter()
                .zip(keys.iter().copied().cycle())
                .map(|(c, k)| (k, c))
                .collect();
            order.sort();
            let records: Vec<Box<RawValue>> = order
                .iter()
                .enumerate()
                .map(|(i, (_, (user, v)))| versioned_record(*user, *v, 1000 + i as u64))
                .collect();
            let pipeline = pipeline(Settings::default());
            let mut seen = std::collections::BTreeMap::new();
            let mut rest = &records[..];
            for size in sizes.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (batch, tail) = rest.split_at((*size).min(rest.len()));
                rest = tail;
                runtime.block_on(async {
                    pipeline.route(batch).await;
                    pipeline.drain().await;
                });
                // Never backwards: no copy ever holds an older version than before.
                for (user, now) in versions_held(&pipeline) {
                    let before = seen.insert(user.clone(), now).unwrap_or((0, 0));
                    prop_assert!(
                        now.0 >= before.0 && now.1 >= before.1,
                        "{user}: {before:?} then {now:?}"
                    );
                }
            }
            // Every copy ends at each user's newest version.
            let held = versions_held(&pipeline);
            prop_assert_eq!(held.len(), newest.len());
            for (user, n) in newest.iter().enumerate() {
                prop_assert_eq!(held[&format!("u-{user:04}")], (*n, *n));
            }
            Ok(())
        },
    );
}

#[tokio::test]
async fn the_same_batch_twice_leaves_the_same_state() {
    let pipeline = pipeline(Settings::default());
    pipeline.route(&records()).await;
    pipeline.drain().await;
    let (parameters, objects) = (pipeline.parameters.values(), pipeline.archive.objects());
    let writes = (
        pipeline.archive.writes(),
        pipeline.parameters.calls.get("PutParameter"),
    );
    pipeline.route(&records()).await;
    pipeline.drain().await;
    assert_eq!(pipeline.parameters.values(), parameters);
    assert_eq!(pipeline.archive.objects(), objects);
    assert_eq!(
        (
            pipeline.archive.writes(),
            pipeline.parameters.calls.get("PutParameter")
        ),
        writes,
        "no write the second time"
    );
}
