//! The publish consumer: keeps each user's display name in Parameter Store,
//! under `/<prefix>/users/<user id>/name`, for the greeting to read.
//!
//! Parameter Store takes only a few writes a second and has no conditional
//! write, so the consumer spends its writes carefully: all the changes of one
//! user in a batch become one write (the newest), the current value is read
//! first, and nothing is written when the store already holds this revision
//! or a newer one (a redelivery, a replay, a late DLQ redrive). The value
//! carries its revision (see [`onboard_shared::published`]) so that order can
//! be checked. Writes are paced by the adapter; throttling is retryable.
//!
//! A removal writes a tombstone (the version, no name), so the greeting stops
//! using the name and a late older change cannot bring it back.

mod lambda;
pub mod writer;
pub use lambda::invoke;

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use onboard_shared::batch::{
    self, BatchReport, ChangeConsumer, Fate, Outcome, Skip, Ticket, Worked,
};
use onboard_shared::catalogue::Function;
use onboard_shared::domain::{ChangeMessage, UserId};
use onboard_shared::error::PortError;
use onboard_shared::ports::{MessageQueue, ParameterStore};
use onboard_shared::published::{ParameterPrefix, PublishedName};

#[derive(Clone)]
pub struct Publisher {
    pub parameters: Arc<dyn ParameterStore>,
    pub prefix: ParameterPrefix,
    pub dead_letters: Arc<dyn MessageQueue>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("prefix", &self.prefix)
            .field("dead_letters", &self.dead_letters.name())
            .finish_non_exhaustive()
    }
}

/// Publishes one SQS batch and reports the fate of every message.
pub async fn handle(publisher: &Publisher, event: &SqsEvent) -> BatchReport {
    batch::consume(publisher, event).await
}

impl ChangeConsumer for Publisher {
    /// All the changes of one user in a batch become one write.
    type Key = UserId;
    const NAME: &'static str = "publish";
    const FUNCTION: Function = Function::PublishConsumer;
    /// Users one after the other: the writes are paced anyway, and a slow
    /// store slows this batch rather than throttling every other consumer.
    const GROUPS_AT_ONCE: bool = false;

    fn key(&self, message: &ChangeMessage) -> UserId {
        message.user_id().clone()
    }

    async fn apply(&self, changes: &[(Ticket, ChangeMessage)]) -> Vec<Worked> {
        let Some((newest, message)) = changes.iter().max_by_key(|(_, m)| m.revision()) else {
            return Vec::new();
        };
        let outcome = Outcome::from(publish_one(self, message).await);
        // The older changes of the user share the newest one's write.
        changes
            .iter()
            .map(|(ticket, _)| {
                let shared = if ticket == newest {
                    outcome.clone()
                } else {
                    outcome.sharing(Fate::Skipped {
                        why: Skip::Superseded,
                    })
                };
                Worked::new(*ticket, shared)
            })
            .collect()
    }

    fn dead_letters(&self) -> &dyn MessageQueue {
        self.dead_letters.as_ref()
    }
}

/// Writes the user's name parameter unless it already holds this revision or
/// a newer one.
async fn publish_one(publisher: &Publisher, message: &ChangeMessage) -> Result<Fate, PortError> {
    let name = publisher.prefix.name_parameter(message.user_id());
    let next = PublishedName::from_change(message);
    if let Some(value) = publisher.parameters.get(&name).await? {
        match PublishedName::parse(&value) {
            Ok(current) if current.revision() == next.revision() => {
                return Ok(Fate::Skipped {
                    why: Skip::Duplicate,
                });
            }
            Ok(current) if current.revision() > next.revision() => {
                return Ok(Fate::Skipped { why: Skip::Stale });
            }
            Ok(_) => {}
            // A value this consumer did not write carries no revision: any change replaces it.
            Err(_) => {
                tracing::warn!(user_id = %message.user_id(), "the parameter holds a foreign value; replacing it")
            }
        }
    }
    publisher.parameters.put(&name, &next.to_value()).await?;
    Ok(Fate::Applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use onboard_shared::local::{FileParameters, MemoryQueue};

    const OUT_OF_ORDER: &str = include_str!("../../../fixtures/sqs/changes-out-of-order.json");
    const POISON: &str = include_str!("../../../fixtures/sqs/batch-with-poison-messages.json");
    const ADA: &str = "/onboard/users/1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9/name";
    const GRACE: &str = "/onboard/users/9c8b7a6f-5e4d-4c3b-8a29-18f7e6d5c4b3/name";

    fn publisher(parameters: Arc<dyn ParameterStore>) -> (Publisher, Arc<MemoryQueue>) {
        let dead_letters = Arc::new(MemoryQueue::new("publish-dlq"));
        let publisher = Publisher {
            parameters,
            prefix: ParameterPrefix::parse("/onboard").unwrap(),
            dead_letters: dead_letters.clone(),
        };
        (publisher, dead_letters)
    }

    fn event(json: &str) -> SqsEvent {
        serde_json::from_str(json).unwrap()
    }

    #[tokio::test]
    async fn several_changes_of_one_user_in_a_batch_become_one_write() {
        // GIVEN three changes of Ada and two of Grace, out of order, in one batch
        let store = Arc::new(FileParameters::in_memory());
        let (publisher, _) = publisher(store.clone());
        // WHEN the batch is published
        let report = handle(&publisher, &event(OUT_OF_ORDER)).await;
        // THEN one write per user, holding the newest revision
        assert_eq!(store.calls.get("PutParameter"), 2);
        let values = store.values();
        assert_eq!(values[ADA], r#"{"name":"Ada King","version":3}"#);
        assert_eq!(values[GRACE], r#"{"version":1,"removed":true}"#);
        let fates: Vec<_> = report.items.iter().map(|i| i.fate.label()).collect();
        assert_eq!(
            fates,
            [
                "applied",
                "skipped (superseded)",
                "skipped (superseded)",
                "skipped (superseded)",
                "applied"
            ]
        );
    }

    #[tokio::test]
    async fn the_same_batch_twice_writes_nothing_the_second_time() {
        let store = Arc::new(FileParameters::in_memory());
        let (publisher, _) = publisher(store.clone());
        handle(&publisher, &event(OUT_OF_ORDER)).await;
        let before = store.values();
        let again = handle(&publisher, &event(OUT_OF_ORDER)).await;
        assert_eq!(store.calls.get("PutParameter"), 2);
        assert_eq!(store.values(), before);
        assert!(
            again
                .items
                .iter()
                .all(|i| matches!(i.fate, Fate::Skipped { .. }))
        );
    }

    #[tokio::test]
    async fn poison_messages_are_dead_lettered_and_the_rest_published() {
        let store = Arc::new(FileParameters::in_memory());
        let (publisher, dead_letters) = publisher(store.clone());
        let report = handle(&publisher, &event(POISON)).await;
        assert_eq!(report.items[0].fate, Fate::Applied);
        assert_eq!(dead_letters.len(), 3);
        assert_eq!(store.values().len(), 1);
    }

    /// A parameter store that throttles every write.
    struct Throttled(FileParameters);

    #[async_trait]
    impl ParameterStore for Throttled {
        async fn get(&self, name: &str) -> Result<Option<String>, PortError> {
            self.0.get(name).await
        }
        async fn put(&self, _: &str, _: &str) -> Result<(), PortError> {
            Err(PortError::Throttled {
                operation: "PutParameter",
                source: "ThrottlingException: Rate exceeded".into(),
            })
        }
    }

    #[tokio::test]
    async fn throttling_is_retried_not_dead_lettered() {
        let (publisher, dead_letters) = publisher(Arc::new(Throttled(FileParameters::in_memory())));
        let report = handle(&publisher, &event(OUT_OF_ORDER)).await;
        // Every record failed: the invocation fails, and SQS redelivers the whole batch.
        assert!(report.items.iter().all(|i| i.fate.is_failed()));
        assert!(report.sqs_response().is_err());
        assert!(dead_letters.is_empty());
        // One throttled write per user (Ada's and Grace's), counted on the
        // report of the change that made it, not on those that shared it.
        use onboard_shared::catalogue::Function;
        use onboard_shared::telemetry::metrics::Metric;
        let throttles: Vec<u32> = report.items.iter().map(|i| i.throttles).collect();
        assert_eq!(throttles.iter().sum::<u32>(), 2, "{throttles:?}");
        assert_eq!(
            report
                .counts(Function::PublishConsumer)
                .get(Metric::Throttles),
            2
        );
    }

    #[tokio::test]
    async fn a_value_parameter_store_refuses_is_dead_lettered_with_the_reason() {
        let store = Arc::new(FileParameters::in_memory());
        let (publisher, dead_letters) = publisher(store.clone());
        let mut json: serde_json::Value = serde_json::from_str(OUT_OF_ORDER).unwrap();
        let body = json["Records"][0]["body"]
            .as_str()
            .unwrap()
            .replace("Ada King", &"A".repeat(5000));
        json["Records"][0]["body"] = body.into();
        json["Records"].as_array_mut().unwrap().truncate(1);
        let report = handle(&publisher, &serde_json::from_value(json).unwrap()).await;
        assert!(
            matches!(&report.items[0].fate, Fate::DeadLettered { reason, .. } if reason.as_str().contains("4096"))
        );
        assert_eq!(dead_letters.len(), 1);
    }
}
