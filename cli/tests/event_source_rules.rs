//! Conformance: each of Lambda's event-source rules, as
//! `onboard_cli::engine::event_source` keeps them for `onboard replay` and
//! `onboard dev`. Each test is named after the AWS behaviour it proves and
//! cites the AWS page that states it.
//!
//! The function under Lambda is scripted here (it answers what each test
//! needs); Lambda's side, the rules, is the real code.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use onboard_shared::reason::Reason;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use onboard_cli::engine::event_source::on_failure::{
    Condition, Discarded, InvocationRecords, OnFailureDestination, RecordsWithReasons,
};
use onboard_cli::engine::event_source::queue::{self, LocalQueuePoller, QueueFunction};
use onboard_cli::engine::event_source::stream::{Clock, StreamFunction, StreamPoller};
use onboard_cli::engine::event_source::{Invoked, QueueSettings, StreamSettings};
use onboard_shared::batch::{BatchReport, Fate};
use onboard_shared::local::MemoryQueue;
use onboard_shared::ports::{MessageQueue, OutgoingMessage};
use onboard_shared::wire::{REASON_ATTRIBUTE, SOURCE_ATTRIBUTE};
use onboard_tests::stream_records::{failing, record, records, sequence_numbers};
use serde_json::value::RawValue;

// ------------------------------------------------------------ the stream

type Script = Box<dyn Fn(&[u64], usize) -> Result<DynamoDbEventResponse, Reason> + Send + Sync>;

/// A stream function that answers as its script says (given the batch's
/// sequence numbers and the call's number) and remembers each batch.
struct Router {
    script: Script,
    calls: Mutex<Vec<Vec<u64>>>,
}

impl Router {
    fn new(
        script: impl Fn(&[u64], usize) -> Result<DynamoDbEventResponse, Reason> + Send + Sync + 'static,
    ) -> Self {
        Self {
            script: Box::new(script),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn calls(&self) -> Vec<Vec<u64>> {
        self.calls.lock().unwrap().clone()
    }
}

impl StreamFunction for Router {
    async fn invoke(&self, records: &[Box<RawValue>]) -> Invoked<DynamoDbEventResponse> {
        let batch = sequence_numbers(records);
        let call = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(batch.clone());
            calls.len()
        };
        Invoked {
            response: (self.script)(&batch, call),
            report: BatchReport::default(),
        }
    }
}

fn failures(ids: &[Option<&str>]) -> Result<DynamoDbEventResponse, Reason> {
    Ok(failing(ids))
}

fn success() -> Result<DynamoDbEventResponse, Reason> {
    failures(&[])
}

/// An on-failure destination that keeps what it was given.
#[derive(Default)]
struct Destination {
    sent: Mutex<Vec<(Condition, Vec<u64>, u32)>>,
}

impl Destination {
    fn sent(&self) -> Vec<(Condition, Vec<u64>, u32)> {
        self.sent.lock().unwrap().clone()
    }
}

impl OnFailureDestination for Destination {
    fn name(&self) -> &str {
        "router-dlq"
    }

    async fn send(&self, discarded: &Discarded<'_>) -> Result<(), Reason> {
        self.sent.lock().unwrap().push((
            discarded.condition,
            sequence_numbers(discarded.records),
            discarded.invocations,
        ));
        Ok(())
    }
}

fn poller(settings: StreamSettings) -> StreamPoller {
    StreamPoller {
        settings,
        clock: Clock::Wall,
        retry_delay: Duration::ZERO,
    }
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html>:
/// `BatchSize` is the most records one invocation receives.
#[tokio::test]
async fn stream_batch_size_is_the_most_records_one_invocation_receives() {
    let router = Router::new(|_, _| success());
    let settings = StreamSettings {
        batch_size: 100,
        ..StreamSettings::default()
    };
    let fates = poller(settings)
        .deliver_all(&records(1..=250), &router, &Destination::default())
        .await;
    let sizes: Vec<usize> = router.calls().iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert!(fates.iter().all(|f| f.fate == Fate::Applied));
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html>:
/// with several `batchItemFailures`, Lambda checkpoints at the lowest
/// sequence number and retries every record from it.
#[tokio::test]
async fn a_partial_batch_response_checkpoints_at_the_lowest_failed_sequence_number() {
    let router = Router::new(|_, call| {
        if call == 1 {
            failures(&[Some("4"), Some("2")])
        } else {
            success()
        }
    });
    let destination = Destination::default();
    let fates = poller(StreamSettings::default())
        .deliver(&records(1..=5), &router, &destination)
        .await;
    assert_eq!(router.calls(), [vec![1, 2, 3, 4, 5], vec![2, 3, 4, 5]]);
    assert!(fates.iter().all(|f| f.fate == Fate::Applied));
    assert!(destination.sent().is_empty());
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html>:
/// a null or empty `itemIdentifier` (or one with a bad key name, which
/// reads as null) makes the batch a complete failure. An identifier that is
/// no sequence number of the batch is read the same way here.
#[tokio::test]
async fn a_null_or_empty_item_identifier_fails_the_whole_batch() {
    for bad in [None, Some(""), Some("999")] {
        let router = Router::new(move |_, _| failures(&[Some("2"), bad]));
        let destination = Destination::default();
        let settings = StreamSettings {
            bisect_batch_on_function_error: false,
            maximum_retry_attempts: 1,
            ..StreamSettings::default()
        };
        poller(settings)
            .deliver(&records(1..=3), &router, &destination)
            .await;
        // Not retried from record 2: the whole batch, again.
        assert_eq!(router.calls(), [vec![1, 2, 3], vec![1, 2, 3]], "{bad:?}");
        assert_eq!(
            destination.sent(),
            [(Condition::RetryAttemptsExhausted, vec![1, 2, 3], 2)],
            "{bad:?}"
        );
    }
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html>
/// ("Bisecting a batch") and
/// <https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html>:
/// a failed invocation is split in two and each half retried; splitting a
/// batch does not consume the retry quota.
#[tokio::test]
async fn a_function_error_bisects_the_batch_and_splitting_spends_no_retry() {
    // Record 3 makes any batch that holds it fail as a whole.
    let router = Router::new(|batch, _| {
        if batch.contains(&3) {
            Err(Reason::fixed("Unhandled: record 3"))
        } else {
            success()
        }
    });
    let destination = Destination::default();
    let settings = StreamSettings {
        maximum_retry_attempts: 0,
        ..StreamSettings::default()
    };
    let fates = poller(settings)
        .deliver(&records(1..=4), &router, &destination)
        .await;
    // With no retry at all, the halves are still tried, down to record 3.
    assert_eq!(
        router.calls(),
        [vec![1, 2, 3, 4], vec![1, 2], vec![3, 4], vec![3], vec![4]]
    );
    assert_eq!(
        destination.sent(),
        [(Condition::RetryAttemptsExhausted, vec![3], 3)]
    );
    let applied: Vec<bool> = fates.iter().map(|f| f.fate == Fate::Applied).collect();
    assert_eq!(applied, [true, true, false, true]);
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html>:
/// `MaximumRetryAttempts` retries, then the failed records go to the
/// on-failure destination and the shard moves on.
#[tokio::test]
async fn maximum_retry_attempts_bounds_the_retries_then_the_destination_takes_the_rest() {
    let router = Router::new(|_, _| failures(&[Some("2")]));
    let destination = Destination::default();
    let settings = StreamSettings {
        maximum_retry_attempts: 2,
        ..StreamSettings::default()
    };
    let fates = poller(settings)
        .deliver(&records(1..=3), &router, &destination)
        .await;
    assert_eq!(
        router.calls(),
        [vec![1, 2, 3], vec![2, 3], vec![2, 3]],
        "the first call and two retries"
    );
    assert_eq!(
        destination.sent(),
        [(Condition::RetryAttemptsExhausted, vec![2, 3], 3)]
    );
    assert_eq!(fates[0].fate, Fate::Applied);
    for fate in &fates[1..] {
        assert!(
            matches!(&fate.fate, Fate::DeadLettered { queue, reason, .. }
                if queue == "router-dlq" && reason.as_str().starts_with("retries exhausted")),
            "{fate:?}"
        );
    }
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html>
/// and <https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html>:
/// a record older than `MaximumRecordAgeInSeconds` is not sent to the
/// function; it goes to the on-failure destination.
#[tokio::test]
async fn records_older_than_maximum_record_age_go_to_the_destination_unsent() {
    let two_hours = Duration::from_secs(7200);
    let batch = vec![
        record(1, two_hours),
        record(2, two_hours),
        record(3, Duration::ZERO),
    ];
    let router = Router::new(|_, _| success());
    let destination = Destination::default();
    let settings = StreamSettings {
        maximum_record_age: Duration::from_secs(3600),
        ..StreamSettings::default()
    };
    poller(settings)
        .deliver(&batch, &router, &destination)
        .await;
    assert_eq!(router.calls(), [vec![3]]);
    assert_eq!(
        destination.sent(),
        [(Condition::RecordAgeExceeded, vec![1, 2], 0)]
    );

    // Replay reads each record as it was written: none is too old.
    let router = Router::new(|_, _| success());
    let replay = StreamPoller {
        clock: Clock::RecordTime,
        ..poller(settings)
    };
    replay
        .deliver(&batch, &router, &Destination::default())
        .await;
    assert_eq!(router.calls(), [vec![1, 2, 3]]);
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html>:
/// the on-failure destination receives a JSON document of metadata about
/// the failed invocation (the shard, the range of sequence numbers, the
/// condition), not the records. `onboard dlq` reads it back.
#[tokio::test]
async fn the_on_failure_destination_receives_lambda_s_invocation_record() {
    let queue = Arc::new(MemoryQueue::new("router-dlq"));
    let stream_arn =
        "arn:aws:dynamodb:eu-west-1:111122223333:table/users/stream/2026-01-01T00:00:00.000";
    let destination = InvocationRecords {
        queue: queue.clone(),
        function_arn: "arn:aws:lambda:eu-west-1:111122223333:function:stream-router".to_owned(),
        stream_arn: stream_arn.to_owned(),
        shard_id: "shardId-0001".to_owned(),
    };
    let router = Router::new(|_, _| Err(Reason::fixed("Unhandled")));
    let settings = StreamSettings {
        maximum_retry_attempts: 1,
        bisect_batch_on_function_error: false,
        ..StreamSettings::default()
    };
    let fates = poller(settings)
        .deliver(&records(7..=9), &router, &destination)
        .await;
    assert!(
        fates
            .iter()
            .all(|f| matches!(f.fate, Fate::DeadLettered { .. }))
    );

    let sent = queue.drain();
    assert_eq!(sent.len(), 1, "one document for the range");
    assert!(
        sent[0].attributes.is_empty(),
        "Lambda attaches no attribute"
    );
    let document: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(
        document["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(document["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(document["responseContext"]["functionError"], "Unhandled");
    assert_eq!(document["version"], "1.0");
    let info = &document["DDBStreamBatchInfo"];
    assert_eq!(info["shardId"], "shardId-0001");
    assert_eq!(info["startSequenceNumber"], "7");
    assert_eq!(info["endSequenceNumber"], "9");
    assert_eq!(info["batchSize"], 3);
    assert_eq!(info["streamArn"], stream_arn);
    assert!(!sent[0].body.contains("INSERT"), "no record in it");
    // What `onboard dlq` makes of it: a range to read back from the stream.
    match onboard_cli::commands::dlq::decode(&sent[0].body) {
        onboard_cli::commands::dlq::Decoded::StreamBatchInfo {
            shard_id,
            start_sequence_number,
            end_sequence_number,
            ..
        } => assert_eq!(
            (
                shard_id.as_str(),
                start_sequence_number.as_str(),
                end_sequence_number.as_str()
            ),
            ("shardId-0001", "7", "9")
        ),
        other => panic!("{other:?}"),
    }

    // A replay's destination keeps each record itself, with its reason.
    let replay_dlq = Arc::new(MemoryQueue::new("router-dlq"));
    poller(settings)
        .deliver(
            &records(7..=8),
            &router,
            &RecordsWithReasons(replay_dlq.clone()),
        )
        .await;
    let kept = replay_dlq.drain();
    assert_eq!(kept.len(), 2);
    assert!(kept[0].body.contains(r#""SequenceNumber":"7""#));
    assert_eq!(
        kept[0].attribute(REASON_ATTRIBUTE),
        Some("retries exhausted: Unhandled")
    );
    assert_eq!(kept[0].attribute(SOURCE_ATTRIBUTE), Some("stream-poller"));
}

// ------------------------------------------------------------- the queues

type QueueScript = Box<dyn Fn(&SqsEvent, usize) -> Result<SqsBatchResponse, Reason> + Send + Sync>;

/// A consumer that answers as its script says and remembers, for each
/// call, every message's body and `ApproximateReceiveCount`.
struct Consumer {
    script: QueueScript,
    calls: Mutex<Vec<Vec<(String, u32)>>>,
}

impl Consumer {
    fn new(
        script: impl Fn(&SqsEvent, usize) -> Result<SqsBatchResponse, Reason> + Send + Sync + 'static,
    ) -> Self {
        Self {
            script: Box::new(script),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn calls(&self) -> Vec<Vec<(String, u32)>> {
        self.calls.lock().unwrap().clone()
    }

    fn bodies(&self) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .map(|call| call.into_iter().map(|(body, _)| body).collect())
            .collect()
    }
}

impl QueueFunction for Consumer {
    async fn invoke(&self, event: &SqsEvent) -> Invoked<SqsBatchResponse> {
        let seen = event
            .records
            .iter()
            .map(|m| {
                (
                    m.body.clone().unwrap_or_default(),
                    m.attributes["ApproximateReceiveCount"].parse().unwrap(),
                )
            })
            .collect();
        let call = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(seen);
            calls.len()
        };
        Invoked {
            response: (self.script)(event, call),
            report: BatchReport::default(),
        }
    }
}

/// The response that lists the messages whose body is in `bodies`.
fn failing_bodies(event: &SqsEvent, bodies: &[&str]) -> Result<SqsBatchResponse, Reason> {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = event
        .records
        .iter()
        .filter(|m| bodies.contains(&m.body.as_deref().unwrap_or_default()))
        .map(|m| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = m.message_id.clone().unwrap_or_default();
            failure
        })
        .collect();
    Ok(response)
}

async fn queue_with(bodies: &[&str]) -> (Arc<MemoryQueue>, Arc<MemoryQueue>) {
    let queue = Arc::new(MemoryQueue::new("archive"));
    for chunk in bodies.chunks(10) {
        let entries: Vec<OutgoingMessage> = chunk
            .iter()
            .enumerate()
            .map(|(i, body)| OutgoingMessage {
                trace_header: None,
                id: i.to_string(),
                body: (*body).to_owned(),
                attributes: Vec::new(),
            })
            .collect();
        queue.send_batch(&entries).await.unwrap();
    }
    (queue, Arc::new(MemoryQueue::new("archive-dlq")))
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html>:
/// `BatchSize` is the most messages one invocation receives.
#[tokio::test]
async fn queue_batch_size_is_the_most_messages_one_invocation_receives() {
    let bodies: Vec<String> = (0..25).map(|i| format!("m{i}")).collect();
    let (queue, dlq) = queue_with(&bodies.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let consumer = Consumer::new(|_, _| Ok(SqsBatchResponse::default()));
    LocalQueuePoller::new(queue, dlq, QueueSettings::default())
        .drain(&consumer)
        .await;
    let sizes: Vec<usize> = consumer.calls().iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5]);
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>:
/// with `ReportBatchItemFailures`, only the listed messages come back; the
/// others are deleted.
#[tokio::test]
async fn a_partial_batch_response_returns_only_the_listed_messages() {
    let (queue, dlq) = queue_with(&["a", "b", "c"]).await;
    let consumer = Consumer::new(|event, call| {
        if call == 1 {
            failing_bodies(event, &["b"])
        } else {
            Ok(SqsBatchResponse::default())
        }
    });
    let fates = LocalQueuePoller::new(queue.clone(), dlq, QueueSettings::default())
        .drain(&consumer)
        .await;
    assert_eq!(consumer.bodies(), [vec!["a", "b", "c"], vec!["b"]]);
    assert_eq!(fates.len(), 3, "each message reported once, when done");
    assert!(queue.is_empty());
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>:
/// when the invocation fails, every message of the batch comes back.
#[tokio::test]
async fn a_failed_invocation_returns_every_message() {
    let (queue, dlq) = queue_with(&["a", "b", "c"]).await;
    let consumer = Consumer::new(|event, call| {
        if call == 1 {
            Err(Reason::fixed("Unhandled"))
        } else {
            failing_bodies(event, &[])
        }
    });
    LocalQueuePoller::new(queue, dlq, QueueSettings::default())
        .drain(&consumer)
        .await;
    assert_eq!(
        consumer.calls(),
        [
            vec![("a".into(), 1), ("b".into(), 1), ("c".into(), 1)],
            vec![("a".into(), 2), ("b".into(), 2), ("c".into(), 2)],
        ]
    );
}

/// <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>:
/// an empty `itemIdentifier`, or a message id that is not in the batch,
/// makes the batch a complete failure.
#[tokio::test]
async fn an_empty_or_unknown_item_identifier_fails_the_whole_sqs_batch() {
    let (queue, _) = queue_with(&["a", "b"]).await;
    let messages = queue.receive(10);
    let event = queue::event(
        &queue::QueueSource::default(),
        messages
            .into_iter()
            .map(|m| queue::Received {
                message_id: m.message_id,
                body: m.body,
                ..queue::Received::default()
            })
            .collect(),
    );
    for bad in ["", "not-in-the-batch"] {
        let mut response = SqsBatchResponse::default();
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = bad.to_owned();
        response.batch_item_failures = vec![failure];
        let settled = queue::settle(&event, &Ok(response));
        assert_eq!(settled.returned, [true, true], "{bad:?}");
        assert!(settled.batch_failure.is_some());
    }
    let listed = failing_bodies(&event, &["b"]);
    assert_eq!(queue::settle(&event, &listed).returned, [false, true]);
}

/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>:
/// `ApproximateReceiveCount` is the number of times a message has been
/// received; and
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html>:
/// after `maxReceiveCount` receives, the redrive policy moves it to the DLQ.
#[tokio::test]
async fn a_message_received_max_receive_count_times_moves_to_its_dlq() {
    let (queue, dlq) = queue_with(&["a"]).await;
    let consumer = Consumer::new(|event, _| failing_bodies(event, &["a"]));
    let settings = QueueSettings {
        max_receive_count: 3,
        ..QueueSettings::default()
    };
    let fates = LocalQueuePoller::new(queue.clone(), dlq.clone(), settings)
        .drain(&consumer)
        .await;
    let counts: Vec<u32> = consumer.calls().iter().map(|call| call[0].1).collect();
    assert_eq!(counts, [1, 2, 3], "ApproximateReceiveCount of each receive");
    assert!(queue.is_empty());
    let dead = dlq.drain();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "a");
    assert_eq!(dead[0].receive_count, 3);
    assert_eq!(dead[0].attribute(SOURCE_ATTRIBUTE), Some("redrive-policy"));
    assert!(matches!(&fates[0].fate, Fate::DeadLettered { queue, .. } if queue == "archive-dlq"));
}

/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html>:
/// a received message that is not deleted stays invisible for the
/// visibility timeout, then can be received again.
#[tokio::test]
async fn a_returned_message_stays_invisible_for_the_visibility_timeout() {
    let (queue, dlq) = queue_with(&["a"]).await;
    let consumer = Consumer::new(|event, _| failing_bodies(event, &["a"]));
    let mut poller = LocalQueuePoller::new(queue.clone(), dlq, QueueSettings::default());
    assert_eq!(
        QueueSettings::default().visibility_timeout,
        Duration::from_secs(180)
    );
    assert!(poller.poll(&consumer).await.is_some());
    // A message sent meanwhile is received; "a" is not, for 180 s.
    queue
        .send_batch(&[OutgoingMessage {
            trace_header: None,
            id: "0".into(),
            body: "b".into(),
            attributes: Vec::new(),
        }])
        .await
        .unwrap();
    poller.advance(Duration::from_secs(179));
    assert!(poller.poll(&consumer).await.is_some());
    assert!(
        poller.poll(&consumer).await.is_none(),
        "nothing visible at 179 s"
    );
    poller.advance(Duration::from_secs(1));
    assert!(poller.poll(&consumer).await.is_some());
    let calls = consumer.calls();
    assert_eq!(
        calls,
        [
            vec![("a".to_owned(), 1)],
            vec![("b".to_owned(), 1)],
            vec![("a".to_owned(), 2)]
        ]
    );
}
