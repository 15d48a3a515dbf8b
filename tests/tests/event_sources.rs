//! The embedded pipeline keeps AWS's event-source rules: a stream batch is
//! retried from its lowest failed record, a queue message that keeps failing
//! moves to its DLQ after `maxReceiveCount` receives, and every order of a
//! user's versions ends at the newest everywhere.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use onboard_cli::event_source::{QueueSettings, Settings, StreamSettings};
use onboard_cli::pipeline::LocalPipeline;
use onboard_cli::queue_roles::{Consumer, QueueRole};
use onboard_shared::batch::Fate;
use onboard_shared::error::PortError;
use onboard_shared::ports::{MessageQueue, OutgoingMessage, ParameterStore, SendFailure};
use onboard_shared::published::ParameterPrefix;
use onboard_shared::stream::RawStreamEvent;
use serde_json::value::RawValue;

const BATCH: &str = include_str!("../../fixtures/dynamodb/insert-modify-remove.json");
const ADA: &str = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";

fn pipeline(settings: Settings) -> LocalPipeline {
    LocalPipeline::in_memory(ParameterPrefix::parse("/onboard").unwrap(), settings)
}

fn records() -> Vec<Box<RawValue>> {
    serde_json::from_str::<RawStreamEvent>(BATCH)
        .unwrap()
        .records
}

/// A parameter store whose writes are always throttled.
struct Throttled;

#[async_trait]
impl ParameterStore for Throttled {
    async fn get(&self, _: &str) -> Result<Option<String>, PortError> {
        Ok(None)
    }
    async fn put(&self, _: &str, _: &str) -> Result<(), PortError> {
        Err(PortError::Throttled {
            operation: "PutParameter",
            source: "Rate exceeded".into(),
        })
    }
}

#[tokio::test]
async fn a_message_that_keeps_failing_moves_to_its_dlq_after_max_receive_count() {
    // GIVEN a publish consumer whose every write is throttled, and maxReceiveCount 3
    let settings = Settings {
        queue: QueueSettings {
            max_receive_count: 3,
            ..QueueSettings::default()
        },
        ..Settings::default()
    };
    let mut pipeline = pipeline(settings);
    pipeline.publisher.parameters = Arc::new(Throttled);
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
            Fate::DeadLettered { queue, reason } => {
                assert_eq!(queue, "publish-dlq");
                assert!(
                    reason
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
            Fate::DeadLettered { queue, reason } => {
                assert_eq!(queue, "router-dlq");
                assert!(reason.starts_with("retries exhausted"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn every_order_of_a_users_versions_ends_at_the_newest_in_the_archive_and_the_parameters() {
    let all = records();
    // Ada's records: INSERT v1, MODIFY v2, MODIFY v3 (indexes 0, 2, 3).
    let ada = [0, 2, 3];
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let pipeline = pipeline(Settings::default());
        for i in order {
            // Each alone, as separate deliveries (a DLQ redrive delivers late).
            pipeline.route(std::slice::from_ref(&all[ada[i]])).await;
            pipeline.drain().await;
        }
        let name = pipeline.parameters.values()[&format!("/onboard/users/{ADA}/name")].clone();
        assert_eq!(
            name, r#"{"name":"Ada King","version":3}"#,
            "order {order:?}"
        );
        let object = pipeline
            .archive
            .objects()
            .into_iter()
            .find(|o| o.key.contains(ADA))
            .unwrap();
        assert_eq!(object.revision.version.get(), 3, "order {order:?}");
    }
}

#[tokio::test]
async fn the_same_batch_twice_leaves_the_same_state() {
    let pipeline = pipeline(Settings::default());
    pipeline.route(&records()).await;
    pipeline.drain().await;
    let (parameters, objects) = (pipeline.parameters.values(), pipeline.archive.objects());
    let puts = (
        pipeline.archive.calls.get("PutObject"),
        pipeline.parameters.calls.get("PutParameter"),
    );
    pipeline.route(&records()).await;
    pipeline.drain().await;
    assert_eq!(pipeline.parameters.values(), parameters);
    assert_eq!(pipeline.archive.objects(), objects);
    assert_eq!(
        (
            pipeline.archive.calls.get("PutObject"),
            pipeline.parameters.calls.get("PutParameter")
        ),
        puts
    );
}
