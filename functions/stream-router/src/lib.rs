//! The stream router: turns each DynamoDB stream record of the users table
//! into one change message and sends it to both the archive and the publish
//! queue.
//!
//! Messages go out with `SendMessageBatch` in the fewest calls (ten entries
//! and 1 MiB a call), to both queues at once. A record that fails to reach a
//! queue is reported by its sequence number, and Lambda retries the batch
//! from the lowest one; a record that can never be routed (it does not
//! decode, or it breaks a rule of the table) goes to the router's dead-letter
//! queue with its reason and does not hold up the others.

mod lambda;
pub use lambda::invoke;

use std::sync::Arc;

use onboard_shared::batch::{
    self, BatchReport, Fate, Outcome, ReasonClass, Settlement, Skip, Ticket,
};
use onboard_shared::catalogue::Function;
use onboard_shared::ports::{MessageQueue, OutgoingMessage, SendFailure};
use onboard_shared::reason::Reason;
use onboard_shared::stream::decode_raw;
use serde_json::value::RawValue;

/// The router's queues.
#[derive(Clone)]
pub struct Router {
    pub archive: Arc<dyn MessageQueue>,
    pub publish: Arc<dyn MessageQueue>,
    pub dead_letters: Arc<dyn MessageQueue>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("archive", &self.archive.name())
            .field("publish", &self.publish.name())
            .field("dead_letters", &self.dead_letters.name())
            .finish()
    }
}

/// Routes one stream batch (the `Records` of a [`RawStreamEvent`]) and
/// reports the fate of every record. `own_trace` is the invocation's trace
/// header (Lambda's context gives it), for changes whose row carries none.
pub async fn handle(
    router: &Router,
    records: &[Box<RawValue>],
    own_trace: Option<&str>,
) -> BatchReport {
    let mut settlement = Settlement::new();
    let mut outgoing = Vec::with_capacity(records.len());

    for raw in records {
        match decode_raw(raw) {
            Ok(message) => {
                let ticket = settlement.arrive(message.sequence_number.clone(), raw.get());
                settlement.carries(ticket, &message);
                let body = OutgoingMessage {
                    id: String::new(),
                    body: message.to_json(),
                    attributes: Vec::new(),
                    // The sign-up's trace, else this invocation's.
                    trace_header: message
                        .trace_header
                        .clone()
                        .or_else(|| own_trace.map(str::to_owned)),
                };
                outgoing.push((ticket, body));
            }
            Err((id, err)) => {
                let ticket = settlement.arrive(id.sequence_number.unwrap_or_default(), raw.get());
                settlement.from_event(ticket, id.event_id);
                let outcome = if err.is_no_change() {
                    // Nothing of the user changed: nothing to route, nothing wrong.
                    Outcome::Done(Fate::Skipped {
                        why: Skip::NoChange,
                    })
                } else {
                    Outcome::Reject(ReasonClass::Unreadable, Reason::of_error(&err))
                };
                settlement.settle(ticket, outcome);
            }
        }
    }

    let routed: Vec<Ticket> = outgoing.iter().map(|(ticket, _)| *ticket).collect();
    let to_publish = outgoing.clone();
    let (archive_failures, publish_failures) = tokio::join!(
        batch::send_all(router.archive.as_ref(), outgoing),
        batch::send_all(router.publish.as_ref(), to_publish),
    );
    for ticket in routed {
        settlement.settle(ticket, Outcome::Done(Fate::Applied));
    }
    // A record a queue did not take is retried, or dead-lettered when the
    // queue refused it for good.
    for (queue, failures) in [
        (router.archive.name(), archive_failures),
        (router.publish.name(), publish_failures),
    ] {
        for (ticket, failure) in failures {
            let reason = Reason::scrubbed(format_args!(
                "the {queue} queue did not take the message: {}",
                failure.reason
            ));
            settlement.settle(ticket, Outcome::from(SendFailure { reason, ..failure }));
        }
    }

    let report = settlement
        .finish(router.dead_letters.as_ref(), Function::StreamRouter.name())
        .await;
    let failed = report.failed().count();
    tracing::info!(
        records = report.items.len(),
        failed,
        lowest_failed = report.lowest_failed_sequence_number().unwrap_or(""),
        "routed a stream batch"
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use onboard_shared::domain::ChangeMessage;
    use onboard_shared::local::MemoryQueue;

    const BATCH: &str = include_str!("../../../fixtures/dynamodb/insert-modify-remove.json");
    const POISON: &str = include_str!("../../../fixtures/dynamodb/batch-with-poison-records.json");

    struct Fixture {
        archive: Arc<MemoryQueue>,
        publish: Arc<MemoryQueue>,
        dead_letters: Arc<MemoryQueue>,
        router: Router,
    }

    fn fixture() -> Fixture {
        let archive = Arc::new(MemoryQueue::new("archive"));
        let publish = Arc::new(MemoryQueue::new("publish"));
        let dead_letters = Arc::new(MemoryQueue::new("router-dlq"));
        let router = Router {
            archive: archive.clone(),
            publish: publish.clone(),
            dead_letters: dead_letters.clone(),
        };
        Fixture {
            archive,
            publish,
            dead_letters,
            router,
        }
    }

    fn event(json: &str) -> Vec<Box<RawValue>> {
        serde_json::from_str::<onboard_shared::stream::RawStreamEvent>(json)
            .unwrap()
            .records
    }

    #[tokio::test]
    async fn every_record_becomes_the_same_message_on_both_queues() {
        let f = fixture();
        let report = handle(&f.router, &event(BATCH), None).await;
        assert!(report.items.iter().all(|i| i.fate == Fate::Applied));
        let archive: Vec<_> = f.archive.drain().into_iter().map(|m| m.body).collect();
        let publish: Vec<_> = f.publish.drain().into_iter().map(|m| m.body).collect();
        assert_eq!(archive.len(), 5);
        assert_eq!(archive, publish);
        let kinds: Vec<_> = archive
            .iter()
            .map(|body| ChangeMessage::from_json(body).unwrap().kind.as_str())
            .collect();
        assert_eq!(
            kinds,
            ["created", "created", "updated", "updated", "removed"]
        );
        assert_eq!(
            report.stream_response().unwrap().batch_item_failures.len(),
            0
        );
    }

    #[tokio::test]
    async fn the_sign_up_s_trace_on_the_row_goes_on_to_both_queues_and_not_into_the_body() {
        // GIVEN an INSERT whose row carries the trigger's trace header
        let header = "Root=1-6745a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1";
        let traced = BATCH.replacen(
            r#""NewImage": {"#,
            &format!(r#""NewImage": {{"trace_header": {{"S": "{header}"}}, "#),
            1,
        );
        assert_ne!(traced, BATCH, "the fixture's first NewImage was found");
        let f = fixture();
        // WHEN the invocation's own context carries another trace
        let own = "Root=1-6745a1b2-fedcba9876543210fedcba98;Parent=0123456789abcdef;Sampled=1";
        handle(&f.router, &event(&traced), Some(own)).await;
        // THEN each queue's first message continues the sign-up's trace, and
        // its body is the change alone; a change whose row has no trace
        // continues the invocation's
        for queue in [&f.archive, &f.publish] {
            let messages = queue.drain();
            assert_eq!(messages[0].trace_header.as_deref(), Some(header));
            assert!(!messages[0].body.contains("trace"), "{}", messages[0].body);
            assert_eq!(messages[1].trace_header.as_deref(), Some(own));
        }
    }

    #[tokio::test]
    async fn a_modify_that_changes_nothing_of_the_user_is_skipped_not_dead_lettered() {
        // GIVEN Ada's MODIFY, whose new image only gained a time-to-live stamp
        let f = fixture();
        let mut record: serde_json::Value =
            serde_json::from_str::<serde_json::Value>(BATCH).unwrap()["Records"][2].clone();
        let change = &mut record["dynamodb"];
        change["NewImage"] = change["OldImage"].clone();
        change["NewImage"]["expires_at"] = serde_json::json!({ "N": "1767225600" });
        let raw = serde_json::value::to_raw_value(&record).unwrap();
        // WHEN it is routed
        let report = handle(&f.router, &[raw], None).await;
        // THEN it is skipped and says why; nothing is queued or dead-lettered
        assert_eq!(
            report.items[0].fate,
            Fate::Skipped {
                why: Skip::NoChange
            }
        );
        assert!(
            report
                .stream_response()
                .unwrap()
                .batch_item_failures
                .is_empty()
        );
        assert_eq!((f.archive.len(), f.publish.len()), (0, 0));
        assert!(f.dead_letters.is_empty());
    }

    #[tokio::test]
    async fn poison_records_are_dead_lettered_with_their_reason_and_the_rest_routed() {
        let f = fixture();
        let report = handle(&f.router, &event(POISON), None).await;
        let fates: Vec<_> = report.items.iter().map(|i| i.fate.label()).collect();
        assert_eq!(fates[0], "applied");
        assert!(
            fates[1..]
                .iter()
                .all(|f| f == "dead-lettered to router-dlq"),
            "{fates:?}"
        );
        assert_eq!(f.archive.len(), 1);
        assert_eq!(f.publish.len(), 1);
        let reasons: Vec<_> = f
            .dead_letters
            .drain()
            .into_iter()
            .map(|m| {
                m.attribute(onboard_shared::wire::REASON_ATTRIBUTE)
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(reasons.len(), 4);
        assert!(
            reasons[0].contains("missing field `version`"),
            "{reasons:?}"
        );
        assert!(
            reasons[1].contains("version went from 1 to 1"),
            "{reasons:?}"
        );
        assert!(reasons[2].contains("not a Cognito sub"), "{reasons:?}");
        assert!(
            reasons[3].contains("not a DynamoDB stream record"),
            "{reasons:?}"
        );
        // Poison is handled, not failed: Lambda has nothing to retry.
        assert!(
            report
                .stream_response()
                .unwrap()
                .batch_item_failures
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_batch_of_b_records_takes_two_calls_per_ten_records() {
        for records in [1_u64, 10, 11, 100] {
            let f = fixture();
            let json: serde_json::Value = serde_json::from_str(BATCH).unwrap();
            let template = &json["Records"][0];
            let many: Vec<_> = (0..records)
                .map(|i| {
                    let mut r = template.clone();
                    r["dynamodb"]["SequenceNumber"] = format!("{}", 1000 + i).into();
                    r
                })
                .collect();
            let event = event(&serde_json::json!({ "Records": many }).to_string());
            handle(&f.router, &event, None).await;
            let expected = records.div_ceil(10);
            assert_eq!(
                f.archive.calls.get("SendMessageBatch"),
                expected,
                "{records} records"
            );
            assert_eq!(
                f.publish.calls.get("SendMessageBatch"),
                expected,
                "{records} records"
            );
            assert_eq!(f.dead_letters.calls.get("SendMessageBatch"), 0);
        }
    }
}

#[cfg(test)]
mod failure_tests {
    use super::*;
    use async_trait::async_trait;
    use onboard_shared::error::PortError;
    use onboard_shared::local::MemoryQueue;

    /// A queue that refuses the entries whose body mentions a given user.
    struct Refusing {
        inner: MemoryQueue,
        user: &'static str,
        retryable: bool,
    }

    #[async_trait]
    impl MessageQueue for Refusing {
        fn name(&self) -> &str {
            self.inner.name()
        }
        async fn send_batch(
            &self,
            entries: &[OutgoingMessage],
        ) -> Result<Vec<SendFailure>, PortError> {
            let (refused, taken): (Vec<_>, Vec<_>) = entries
                .iter()
                .cloned()
                .partition(|e| e.body.contains(self.user));
            self.inner.send_batch(&taken).await?;
            Ok(refused
                .into_iter()
                .map(|e| SendFailure {
                    id: e.id,
                    retryable: self.retryable,
                    throttled: false,
                    reason: Reason::fixed("InternalError"),
                })
                .collect())
        }
    }

    const BATCH: &str = include_str!("../../../fixtures/dynamodb/insert-modify-remove.json");
    const USER_C: &str = "9c8b7a6f-5e4d-4c3b-8a29-18f7e6d5c4b3";

    fn router(publish: Arc<dyn MessageQueue>, dead_letters: Arc<MemoryQueue>) -> Router {
        Router {
            archive: Arc::new(MemoryQueue::new("archive")),
            publish,
            dead_letters,
        }
    }

    #[tokio::test]
    async fn a_record_a_queue_did_not_take_is_retried_from_the_lowest_failed_sequence_number() {
        // GIVEN a publish queue that fails, for now, every message of user C
        let publish = Arc::new(Refusing {
            inner: MemoryQueue::new("publish"),
            user: USER_C,
            retryable: true,
        });
        let dead_letters = Arc::new(MemoryQueue::new("router-dlq"));
        // WHEN a batch with two records of user C (2nd and 5th) is routed
        let report = handle(
            &router(publish, dead_letters.clone()),
            &serde_json::from_str::<onboard_shared::stream::RawStreamEvent>(BATCH)
                .unwrap()
                .records,
            None,
        )
        .await;
        // THEN both are failed, the response names the lower one, nothing is dead-lettered
        let failed: Vec<_> = report.failed().map(|i| i.id.as_str()).collect();
        assert_eq!(failed, ["111100000000000000002", "111100000000000000005"]);
        let response = report.stream_response().unwrap();
        assert_eq!(response.batch_item_failures.len(), 1);
        assert_eq!(
            response.batch_item_failures[0].item_identifier.as_deref(),
            Some("111100000000000000002")
        );
        assert!(dead_letters.is_empty());
    }

    #[tokio::test]
    async fn a_record_a_queue_refuses_for_good_is_dead_lettered_not_retried() {
        let publish = Arc::new(Refusing {
            inner: MemoryQueue::new("publish"),
            user: USER_C,
            retryable: false,
        });
        let dead_letters = Arc::new(MemoryQueue::new("router-dlq"));
        let report = handle(
            &router(publish, dead_letters.clone()),
            &serde_json::from_str::<onboard_shared::stream::RawStreamEvent>(BATCH)
                .unwrap()
                .records,
            None,
        )
        .await;
        assert_eq!(report.failed().count(), 0);
        assert_eq!(dead_letters.len(), 2);
        let reason = dead_letters.drain()[0]
            .attribute(onboard_shared::wire::REASON_ATTRIBUTE)
            .unwrap()
            .to_owned();
        assert!(
            reason.starts_with("the publish queue did not take the message"),
            "{reason}"
        );
    }
}
