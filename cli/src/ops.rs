//! Operating a stack: the depth and age of every queue, and the dead-letter
//! queues' messages: peek without consuming, redrive back to their source,
//! purge.
//!
//! - **Depths** come from `GetQueueAttributes`. The age of a queue's oldest
//!   message comes from CloudWatch's `ApproximateAgeOfOldestMessage` where
//!   it has data; otherwise, for a DLQ, from its messages' `SentTimestamp`.
//!   A source queue is never received from here: each receive counts toward
//!   its `maxReceiveCount` and could push a message into its DLQ.
//! - **Peek** receives a DLQ's messages with a short visibility timeout to
//!   see each once, then makes them visible again at once.
//! - **Redrive** moves a DLQ's messages back. From the archive and publish
//!   DLQs to their queue: `StartMessageMoveTask` where the endpoint has it
//!   (AWS), followed to its end; otherwise a move of our own that sends each
//!   copy before it deletes the original, so an interruption at any point
//!   loses nothing (it may leave a duplicate, which the idempotent consumers
//!   skip), and a second run finishes the job. From the router's DLQ:
//!   through the router again, as Lambda would have routed them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use aws_sdk_cloudwatch as cloudwatch;
use chrono::{DateTime, Utc};
use onboard_shared::aws::sqs;
use onboard_shared::batch::{REASON_ATTRIBUTE, SOURCE_ATTRIBUTE};
use onboard_shared::domain::{ChangeKind, ChangeMessage};
use onboard_shared::error::error_chain;
use serde::Serialize;
use serde_json::value::RawValue;
use sqs::types::{MessageSystemAttributeName as System, QueueAttributeName as Attr};

use crate::event_source::StreamSettings;
use crate::event_source::on_failure::RecordsWithReasons;
use crate::event_source::stream::{Clock, StreamPoller};
use crate::stack::{QueueRef, Stack, StackError, queue_arn};
use crate::table_stream::{StreamReadError, fetch_stream_batch};

/// A failed operation, said once.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("{action} failed: {reason}")]
    Call { action: String, reason: String },
    #[error(
        "`{0}` is not a dead-letter queue of this stack: use archive, publish, router, or a DLQ's URL"
    )]
    UnknownQueue(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Stream(#[from] StreamReadError),
}

fn call(action: impl Into<String>, err: &(dyn std::error::Error + 'static)) -> OpsError {
    OpsError::Call {
        action: action.into(),
        reason: error_chain(err),
    }
}

/// What a dead-letter queue goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A queue: its messages are moved there.
    Queue(QueueRef),
    /// The table's stream: its records go through the router again.
    Router,
}

/// A dead-letter queue and where its messages came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dlq {
    pub queue: QueueRef,
    pub source: Source,
}

/// Finds a DLQ of the stack by logical name (`archive`, `publish`, `router`,
/// with or without `-dlq`) or by URL.
pub fn find_dlq(stack: &Stack, name: &str) -> Result<Dlq, OpsError> {
    let q = &stack.queues;
    let dlqs = [
        (&q.archive_dlq, Source::Queue(q.archive.clone())),
        (&q.publish_dlq, Source::Queue(q.publish.clone())),
        (&q.router_dlq, Source::Router),
    ];
    let wanted = name.trim().trim_end_matches("-dlq");
    dlqs.into_iter()
        .find(|(queue, _)| {
            queue.role.trim_end_matches("-dlq") == wanted
                || queue.url == name.trim()
                || queue.name == name.trim()
        })
        .map(|(queue, source)| Dlq {
            queue: queue.clone(),
            source,
        })
        .ok_or_else(|| OpsError::UnknownQueue(name.to_owned()))
}

/// The state of one queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueStatus {
    /// `archive`, `archive-dlq`, ...
    pub queue: &'static str,
    pub name: String,
    pub url: String,
    pub is_dlq: bool,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    /// Seconds; absent when nothing says.
    pub oldest_age_seconds: Option<u64>,
    /// `cloudwatch` or `messages`.
    pub age_from: Option<&'static str>,
    /// A source queue's DLQ depth.
    pub dlq_depth: Option<u64>,
    pub status: String,
}

/// A source queue whose oldest message is older than this is backed up.
pub const OLD_MESSAGE: Duration = Duration::from_secs(15 * 60);

/// The state of every queue of the stack: the two source queues, then the
/// three DLQs.
pub async fn statuses(
    stack: &Stack,
    cloudwatch: &cloudwatch::Client,
) -> Result<Vec<QueueStatus>, OpsError> {
    let q = &stack.queues;
    let mut out = Vec::new();
    for (queue, is_dlq) in [
        (&q.archive, false),
        (&q.publish, false),
        (&q.archive_dlq, true),
        (&q.publish_dlq, true),
        (&q.router_dlq, true),
    ] {
        out.push(status(stack, cloudwatch, queue, is_dlq).await?);
    }
    for (source, dlq) in [("archive", "archive-dlq"), ("publish", "publish-dlq")] {
        let depth = out.iter().find(|s| s.queue == dlq).map(|s| s.visible);
        if let Some(status) = out.iter_mut().find(|s| s.queue == source) {
            status.dlq_depth = depth;
            status.status = source_status(status);
        }
    }
    Ok(out)
}

fn source_status(status: &QueueStatus) -> String {
    let mut notes = Vec::new();
    if status.dlq_depth.unwrap_or(0) > 0 {
        notes.push(format!("{} in its DLQ", status.dlq_depth.unwrap_or(0)));
    }
    if status
        .oldest_age_seconds
        .is_some_and(|age| age >= OLD_MESSAGE.as_secs())
    {
        notes.push("backed up".to_owned());
    }
    if notes.is_empty() {
        "ok".to_owned()
    } else {
        notes.join(", ")
    }
}

async fn status(
    stack: &Stack,
    cloudwatch: &cloudwatch::Client,
    queue: &QueueRef,
    is_dlq: bool,
) -> Result<QueueStatus, OpsError> {
    let counts = depth(&stack.sqs, &queue.url).await?;
    let visible = counts.visible;
    let mut age = oldest_age_from_cloudwatch(cloudwatch, &queue.name)
        .await
        .map(|age| (age, "cloudwatch"));
    if age.is_none() && is_dlq && visible > 0 {
        age = peek(&stack.sqs, &queue.url, 100)
            .await?
            .iter()
            .filter_map(|m| m.sent)
            .min()
            .map(|oldest| {
                let age = (Utc::now() - oldest).num_seconds().max(0).unsigned_abs();
                (age, "messages")
            });
    }
    let status = if is_dlq {
        if visible == 0 {
            "ok".to_owned()
        } else {
            format!("{visible} dead letters")
        }
    } else {
        String::new()
    };
    Ok(QueueStatus {
        queue: queue.role,
        name: queue.name.clone(),
        url: queue.url.clone(),
        is_dlq,
        visible,
        in_flight: counts.in_flight,
        delayed: counts.delayed,
        oldest_age_seconds: age.map(|(age, _)| age),
        age_from: age.map(|(_, from)| from),
        dlq_depth: None,
        status,
    })
}

/// The newest `ApproximateAgeOfOldestMessage` of the last ten minutes.
/// `None` when CloudWatch has no data (an idle queue, or an emulator that
/// keeps no SQS metrics) or cannot be asked.
async fn oldest_age_from_cloudwatch(client: &cloudwatch::Client, queue: &str) -> Option<u64> {
    use aws_smithy_types::DateTime as SmithyTime;
    use cloudwatch::types::{Dimension, Statistic};
    let now = Utc::now();
    let output = client
        .get_metric_statistics()
        .namespace("AWS/SQS")
        .metric_name("ApproximateAgeOfOldestMessage")
        .dimensions(Dimension::builder().name("QueueName").value(queue).build())
        .start_time(SmithyTime::from_secs(
            (now - chrono::Duration::minutes(10)).timestamp(),
        ))
        .end_time(SmithyTime::from_secs(now.timestamp()))
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .ok()?;
    output
        .datapoints()
        .iter()
        .filter_map(|point| Some((point.timestamp()?.secs(), point.maximum()?)))
        .max_by_key(|(at, _)| *at)
        .map(|(_, age)| age.max(0.0) as u64)
}

/// What a dead letter holds, as far as it decodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decoded", rename_all = "snake_case")]
pub enum Decoded {
    /// A change message the router sent.
    Change {
        user_id: String,
        version: u64,
        kind: ChangeKind,
    },
    /// A DynamoDB stream record the router could not route.
    StreamRecord {
        event_name: Option<String>,
        sequence_number: Option<String>,
        user_id: Option<String>,
    },
    /// Lambda's on-failure metadata of a stream batch: where the records
    /// are in the stream, not the records themselves.
    StreamBatchInfo {
        shard_id: String,
        start_sequence_number: String,
        end_sequence_number: String,
        stream_arn: String,
    },
    /// Anything else, shown as it is.
    Raw,
}

/// One dead letter, seen without consuming it.
#[derive(Debug, Clone, Serialize)]
pub struct Peeked {
    pub message_id: String,
    #[serde(skip)]
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: u64,
    pub sent: Option<DateTime<Utc>>,
    pub first_receive: Option<DateTime<Utc>>,
    /// Why it was dead-lettered, and by which part.
    pub reason: Option<String>,
    pub dead_lettered_by: Option<String>,
    #[serde(flatten)]
    pub decoded: Decoded,
}

/// Decodes a dead letter's body: a change message, a stream record, or
/// Lambda's on-failure metadata.
pub fn decode(body: &str) -> Decoded {
    if let Ok(message) = ChangeMessage::from_json(body) {
        return Decoded::Change {
            user_id: message.user_id().to_string(),
            version: message.version.get(),
            kind: message.kind,
        };
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return Decoded::Raw;
    };
    if let Some(info) = value.get("DDBStreamBatchInfo") {
        let text = |key: &str| info.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        if let (Some(shard_id), Some(start), Some(end), Some(arn)) = (
            text("shardId"),
            text("startSequenceNumber"),
            text("endSequenceNumber"),
            text("streamArn"),
        ) {
            return Decoded::StreamBatchInfo {
                shard_id,
                start_sequence_number: start,
                end_sequence_number: end,
                stream_arn: arn,
            };
        }
    }
    if let Some(change) = value.get("dynamodb") {
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
        return Decoded::StreamRecord {
            event_name: text(value.get("eventName")),
            sequence_number: text(change.get("SequenceNumber")),
            user_id: text(change.pointer("/Keys/user_id/S")),
        };
    }
    Decoded::Raw
}

fn millis(value: Option<&String>) -> Option<DateTime<Utc>> {
    value
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis)
}

/// How long messages stay hidden while they are being looked at or moved.
const HIDE: i32 = 20;

/// Receives up to `max` distinct messages, hiding each while collecting.
async fn receive(
    client: &sqs::Client,
    url: &str,
    max: usize,
    hide_seconds: i32,
) -> Result<Vec<Peeked>, OpsError> {
    let mut out: Vec<Peeked> = Vec::new();
    let mut seen = HashSet::new();
    while out.len() < max {
        let want = i32::try_from((max - out.len()).min(10)).unwrap_or(10);
        let messages = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(want)
            .visibility_timeout(hide_seconds)
            .message_system_attribute_names(System::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|err| call("ReceiveMessage", &err))?
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let id = message.message_id.clone().unwrap_or_default();
            if !seen.insert(id.clone()) {
                continue;
            }
            let system = message.attributes.unwrap_or_default();
            let attribute = |name: &str| {
                message
                    .message_attributes
                    .as_ref()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value.clone())
            };
            let body = message.body.clone().unwrap_or_default();
            out.push(Peeked {
                message_id: id,
                receipt_handle: message.receipt_handle.clone().unwrap_or_default(),
                decoded: decode(&body),
                receive_count: system
                    .get(&System::ApproximateReceiveCount)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                sent: millis(system.get(&System::SentTimestamp)),
                first_receive: millis(system.get(&System::ApproximateFirstReceiveTimestamp)),
                reason: attribute(REASON_ATTRIBUTE),
                dead_lettered_by: attribute(SOURCE_ATTRIBUTE),
                body,
            });
        }
    }
    Ok(out)
}

/// Makes received messages visible again at once.
async fn release(client: &sqs::Client, url: &str, messages: &[&Peeked]) -> Result<(), OpsError> {
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(index, m)| {
                sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(&m.receipt_handle)
                    .visibility_timeout(0)
                    .build()
                    .map_err(|err| call("ChangeMessageVisibilityBatch", &err))
            })
            .collect::<Result<Vec<_>, _>>()?;
        client
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| call("ChangeMessageVisibilityBatch", &err))?;
    }
    Ok(())
}

/// Shows up to `max` messages of a queue without consuming them: they are
/// visible again when this returns.
pub async fn peek(client: &sqs::Client, url: &str, max: usize) -> Result<Vec<Peeked>, OpsError> {
    let messages = receive(client, url, max, HIDE).await?;
    release(client, url, &messages.iter().collect::<Vec<_>>()).await?;
    Ok(messages)
}

/// Deletes every message of a queue.
pub async fn purge(client: &sqs::Client, queue: &QueueRef) -> Result<(), OpsError> {
    client
        .purge_queue()
        .queue_url(&queue.url)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| call(format!("PurgeQueue {}", queue.name), &err))
}

/// What a redrive did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Redriven {
    /// Messages back in their source (or routed again).
    pub moved: u64,
    /// Router dead letters that failed again: a new dead letter with the
    /// new reason replaced each.
    pub dead_lettered_again: u64,
    /// Messages left in the DLQ to try again later.
    pub left: u64,
    /// Lambda's on-failure metadata whose records are gone from the stream.
    pub unrecoverable: u64,
    /// The fixtures saved with the records fetched for on-failure metadata.
    pub recovered: Vec<std::path::PathBuf>,
    /// `StartMessageMoveTask`, or the move of our own.
    pub method: &'static str,
}

/// How a redrive runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RedriveOptions {
    /// Messages moved a second, at most.
    pub max_per_second: Option<f64>,
    /// Move at most this many (all when absent).
    pub max_messages: Option<u64>,
    /// Where stream records fetched for Lambda's on-failure metadata are
    /// saved, as fixtures `onboard replay` takes.
    pub recovered: Option<std::path::PathBuf>,
}

/// Moves a DLQ's messages back to their source, calling `progress` with the
/// number moved so far and the number there were at the start.
pub async fn redrive(
    stack: &Stack,
    dlq: &Dlq,
    options: &RedriveOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Redriven, OpsError> {
    // Messages in flight count too: an interrupted run leaves its last batch
    // hidden until the visibility timeout ends, and this run waits for it.
    let counts = depth(&stack.sqs, &dlq.queue.url).await?;
    let total = counts.visible + counts.in_flight;
    let total = options.max_messages.map_or(total, |max| total.min(max));
    match &dlq.source {
        Source::Queue(source) => {
            if options.max_messages.is_none()
                && let Some(moved) = move_task(stack, dlq, source, options, progress).await?
            {
                return Ok(moved);
            }
            move_messages(&stack.sqs, &dlq.queue, source, total, options, progress).await
        }
        Source::Router => route_again(stack, dlq, total, options, progress).await,
    }
}

/// How many messages a queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Depth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// A queue's depth, from one `GetQueueAttributes`.
pub async fn depth(client: &sqs::Client, url: &str) -> Result<Depth, OpsError> {
    let attributes = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Attr::ApproximateNumberOfMessages)
        .attribute_names(Attr::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(Attr::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|err| call(format!("GetQueueAttributes {url}"), &err))?
        .attributes
        .unwrap_or_default();
    let number = |name: Attr| {
        attributes
            .get(&name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Depth {
        visible: number(Attr::ApproximateNumberOfMessages),
        in_flight: number(Attr::ApproximateNumberOfMessagesNotVisible),
        delayed: number(Attr::ApproximateNumberOfMessagesDelayed),
    })
}

/// How long a batch of `want` messages stays hidden while it is moved: long
/// enough to send it at the paced rate, and short, because after an
/// interruption the next run waits that long for it.
fn hide_for(options: &RedriveOptions, want: usize) -> i32 {
    const BASE: f64 = 10.0;
    let sending = options
        .max_per_second
        .filter(|rate| *rate > 0.0)
        .map_or(0.0, |rate| want as f64 / rate);
    (BASE + sending).ceil().min(12.0 * 60.0 * 60.0) as i32
}

/// Receives the next batch to move; when none is visible but some are in
/// flight (an interrupted run's), waits for them to come back.
async fn next_batch(
    client: &sqs::Client,
    url: &str,
    want: usize,
    hide: i32,
) -> Result<Vec<Peeked>, OpsError> {
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(u64::from(hide.unsigned_abs()) + 5);
    loop {
        let messages = receive(client, url, want, hide).await?;
        if !messages.is_empty() {
            return Ok(messages);
        }
        let in_flight = depth(client, url).await?.in_flight;
        if in_flight == 0 || tokio::time::Instant::now() >= deadline {
            return Ok(messages);
        }
        tracing::info!(in_flight, "waiting for messages in flight to come back");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `StartMessageMoveTask`, followed to its end. `None` when the endpoint
/// does not have the operation (emulators), so the caller moves them itself.
async fn move_task(
    stack: &Stack,
    dlq: &Dlq,
    source: &QueueRef,
    options: &RedriveOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Option<Redriven>, OpsError> {
    let source_arn = queue_arn(&stack.sqs, &dlq.queue.url).await?;
    let destination_arn = queue_arn(&stack.sqs, &source.url).await?;
    let started = stack
        .sqs
        .start_message_move_task()
        .source_arn(&source_arn)
        .destination_arn(&destination_arn)
        .set_max_number_of_messages_per_second(
            options
                .max_per_second
                .map(|rate| rate.clamp(1.0, 500.0).round() as i32),
        )
        .send()
        .await;
    match started {
        Ok(_) => {}
        // An emulator may not have it: moto answers with a server error.
        Err(err) if stack.sdk.endpoint_url().is_some() && unsupported(&err) => return Ok(None),
        Err(err) => return Err(call("StartMessageMoveTask", &err)),
    }
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let tasks = stack
            .sqs
            .list_message_move_tasks()
            .source_arn(&source_arn)
            .max_results(1)
            .send()
            .await
            .map_err(|err| call("ListMessageMoveTasks", &err))?;
        let Some(task) = tasks.results().first() else {
            continue;
        };
        let moved = task
            .approximate_number_of_messages_moved()
            .max(0)
            .unsigned_abs();
        let total = task
            .approximate_number_of_messages_to_move()
            .unwrap_or_default()
            .max(0)
            .unsigned_abs();
        progress(moved, total);
        match task.status() {
            Some("RUNNING" | "CANCELLING") => continue,
            Some("COMPLETED") => {
                return Ok(Some(Redriven {
                    moved,
                    method: "StartMessageMoveTask",
                    ..Redriven::default()
                }));
            }
            other => {
                return Err(OpsError::Call {
                    action: "the message move task".to_owned(),
                    reason: format!(
                        "ended {}: {}",
                        other.unwrap_or("unknown"),
                        task.failure_reason().unwrap_or("no reason given")
                    ),
                });
            }
        }
    }
}

/// Whether an emulator said it does not have an operation at all (asked of
/// custom endpoints only: on AWS a server error is an error).
fn unsupported<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> bool {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().unwrap_or_default();
    matches!(
        code,
        "InvalidAction" | "UnknownOperationException" | "NotImplemented" | "UnsupportedOperation"
    ) || matches!(status, Some(404 | 500 | 501))
        || err
            .message()
            .is_some_and(|m| m.contains("not yet implemented") || m.contains("not implemented"))
}

/// Moves messages from a DLQ to its source ourselves: receive, send the
/// copy, and only then delete the original.
async fn move_messages(
    client: &sqs::Client,
    dlq: &QueueRef,
    source: &QueueRef,
    total: u64,
    options: &RedriveOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Redriven, OpsError> {
    let pacer = options
        .max_per_second
        .map(onboard_shared::aws::Pacer::per_second);
    let mut moved = 0;
    while moved < total {
        let want = usize::try_from((total - moved).min(10)).unwrap_or(10);
        let messages = next_batch(client, &dlq.url, want, hide_for(options, want)).await?;
        if messages.is_empty() {
            break;
        }
        let mut sent = Vec::new();
        for chunk in messages.chunks(10) {
            if let Some(pacer) = &pacer {
                for _ in chunk {
                    pacer.wait().await;
                }
            }
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(index, m)| {
                    sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(index.to_string())
                        .message_body(&m.body)
                        .set_message_attributes(copy_attributes(m))
                        .build()
                        .map_err(|err| call("SendMessageBatch", &err))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = client
                .send_message_batch()
                .queue_url(&source.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| call(format!("SendMessageBatch {}", source.name), &err))?;
            let failed: HashSet<String> = output.failed.into_iter().map(|f| f.id).collect();
            sent.extend(
                chunk
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| !failed.contains(&index.to_string()))
                    .map(|(_, m)| m),
            );
        }
        // Only what reached the source leaves the DLQ.
        delete(client, &dlq.url, &sent).await?;
        moved += sent.len() as u64;
        progress(moved, total);
        if sent.len() < messages.len() {
            let unsent: Vec<&Peeked> = messages
                .iter()
                .filter(|m| !sent.iter().any(|s| s.message_id == m.message_id))
                .collect();
            release(client, &dlq.url, &unsent).await?;
            return Err(OpsError::Call {
                action: format!("SendMessageBatch {}", source.name),
                reason: format!(
                    "{} messages were not taken; they stay in the DLQ",
                    unsent.len()
                ),
            });
        }
    }
    Ok(Redriven {
        moved,
        left: depth(client, &dlq.url).await?.visible,
        method: "moved message by message",
        ..Redriven::default()
    })
}

/// The message attributes to carry over, as SQS's own redrive keeps them.
fn copy_attributes(message: &Peeked) -> Option<HashMap<String, sqs::types::MessageAttributeValue>> {
    let mut attributes = BTreeMap::new();
    for (name, value) in [
        (REASON_ATTRIBUTE, &message.reason),
        (SOURCE_ATTRIBUTE, &message.dead_lettered_by),
    ] {
        if let Some(value) = value {
            attributes.insert(name, value.clone());
        }
    }
    let converted: HashMap<_, _> = attributes
        .into_iter()
        .filter_map(|(name, value)| {
            sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .ok()
                .map(|v| (name.to_owned(), v))
        })
        .collect();
    (!converted.is_empty()).then_some(converted)
}

async fn delete(client: &sqs::Client, url: &str, messages: &[&Peeked]) -> Result<(), OpsError> {
    let handles: Vec<&str> = messages.iter().map(|m| m.receipt_handle.as_str()).collect();
    let not_deleted = delete_received(client, url, &handles).await?;
    if not_deleted > 0 {
        // They come back after the visibility timeout; the next run sees them.
        tracing::warn!(not_deleted, "some messages could not be deleted");
    }
    Ok(())
}

/// Deletes received messages by receipt handle, ten a call. Returns how
/// many SQS did not delete (they come back after their visibility timeout).
pub async fn delete_received(
    client: &sqs::Client,
    url: &str,
    receipt_handles: &[&str],
) -> Result<usize, OpsError> {
    let mut not_deleted = 0;
    for chunk in receipt_handles.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(index, handle)| {
                sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(*handle)
                    .build()
                    .map_err(|err| call("DeleteMessageBatch", &err))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| call("DeleteMessageBatch", &err))?;
        not_deleted += output.failed.len();
    }
    Ok(not_deleted)
}

/// Sends the router's dead letters through the router again. A record that
/// is routed leaves the DLQ; one that fails for good again is replaced by a
/// new dead letter with the new reason; one that fails for now stays.
async fn route_again(
    stack: &Stack,
    dlq: &Dlq,
    total: u64,
    options: &RedriveOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Redriven, OpsError> {
    let router = stack.router();
    // Once through the router: what fails for now stays in the DLQ.
    let poller = StreamPoller {
        settings: StreamSettings {
            maximum_retry_attempts: 0,
            ..StreamSettings::default()
        },
        clock: Clock::RecordTime,
        retry_delay: Duration::ZERO,
    };
    let destination = RecordsWithReasons(router.dead_letters.clone());
    let pacer = options
        .max_per_second
        .map(onboard_shared::aws::Pacer::per_second);
    let mut done = Redriven {
        method: "routed again",
        ..Redriven::default()
    };
    let mut handled = 0;
    while handled < total {
        let want = usize::try_from((total - handled).min(10)).unwrap_or(10);
        let messages =
            next_batch(&stack.sqs, &dlq.queue.url, want, hide_for(options, want)).await?;
        if messages.is_empty() {
            break;
        }
        if let Some(pacer) = &pacer {
            for _ in &messages {
                pacer.wait().await;
            }
        }
        let unroutable: Vec<&Peeked> = messages
            .iter()
            .filter(|m| {
                !matches!(
                    m.decoded,
                    Decoded::StreamRecord { .. } | Decoded::StreamBatchInfo { .. }
                )
            })
            .collect();
        if !unroutable.is_empty() {
            release(
                &stack.sqs,
                &dlq.queue.url,
                &messages.iter().collect::<Vec<_>>(),
            )
            .await?;
            return Err(OpsError::Refused(format!(
                "{} messages of the router's DLQ are neither stream records nor Lambda's \
                 on-failure metadata: nothing was routed, they stay",
                unroutable.len()
            )));
        }
        let mut finished = Vec::new();
        let mut waiting = Vec::new();
        for message in &messages {
            // A record as it was, or the records of a batch Lambda gave up on.
            let raw = match &message.decoded {
                Decoded::StreamBatchInfo { .. } => {
                    match recover(stack, &message.decoded, options.recovered.as_deref()).await {
                        Ok((records, saved)) => {
                            done.recovered.push(saved);
                            records
                        }
                        Err(err) => {
                            tracing::warn!(message_id = %message.message_id, error = %err, "could not fetch the batch from the stream");
                            done.unrecoverable += 1;
                            waiting.push(message);
                            continue;
                        }
                    }
                }
                _ => match RawValue::from_string(message.body.clone()) {
                    Ok(raw) => vec![raw],
                    Err(err) => {
                        return Err(OpsError::Refused(format!(
                            "a stream record is not JSON: {err}"
                        )));
                    }
                },
            };
            let fates = poller.deliver(&raw, &router, &destination).await;
            if fates.iter().any(|item| item.fate.is_failed()) {
                waiting.push(message);
                continue;
            }
            for item in &fates {
                if matches!(item.fate, onboard_shared::batch::Fate::DeadLettered { .. }) {
                    done.dead_lettered_again += 1;
                } else {
                    done.moved += 1;
                }
            }
            finished.push(message);
        }
        delete(&stack.sqs, &dlq.queue.url, &finished).await?;
        release(&stack.sqs, &dlq.queue.url, &waiting).await?;
        handled += messages.len() as u64;
        progress(handled, total);
        if !waiting.is_empty() {
            break;
        }
    }
    done.left = depth(&stack.sqs, &dlq.queue.url)
        .await?
        .visible
        .saturating_sub(done.dead_lettered_again);
    Ok(done)
}

/// Fetches the records of a batch Lambda gave up on from the stream (while
/// it still retains them, 24 hours) and saves them as a fixture.
async fn recover(
    stack: &Stack,
    info: &Decoded,
    folder: Option<&std::path::Path>,
) -> Result<(Vec<Box<RawValue>>, std::path::PathBuf), OpsError> {
    let Decoded::StreamBatchInfo {
        shard_id,
        start_sequence_number,
        end_sequence_number,
        stream_arn,
    } = info
    else {
        return Err(OpsError::Refused("not on-failure metadata".to_owned()));
    };
    let records = fetch_stream_batch(
        &aws_sdk_dynamodbstreams::Client::new(&stack.sdk),
        stream_arn,
        shard_id,
        start_sequence_number,
        end_sequence_number,
    )
    .await?;
    let folder = folder.unwrap_or(std::path::Path::new(".onboard/recovered"));
    let path = folder.join(format!(
        "{shard_id}-{start_sequence_number}-{end_sequence_number}.json"
    ));
    let document = serde_json::json!({ "Records": records });
    std::fs::create_dir_all(folder)
        .and_then(|()| std::fs::write(&path, format!("{document:#}\n")))
        .map_err(|err| OpsError::Refused(format!("saving {}: {err}", path.display())))?;
    Ok((records, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letters_decode_as_what_they_are() {
        let change = r#"{"kind":"updated","user":{"user_id":"u1","created_at":"2026-01-01T00:00:00.000Z","version":3},"version":3,"event_id":"e","sequence_number":"1"}"#;
        assert_eq!(
            decode(change),
            Decoded::Change {
                user_id: "u1".into(),
                version: 3,
                kind: ChangeKind::Updated
            }
        );
        let record = r#"{"eventName":"INSERT","dynamodb":{"Keys":{"user_id":{"S":"u2"}},"SequenceNumber":"100"}}"#;
        assert_eq!(
            decode(record),
            Decoded::StreamRecord {
                event_name: Some("INSERT".into()),
                sequence_number: Some("100".into()),
                user_id: Some("u2".into())
            }
        );
        let info = r#"{"requestContext":{"condition":"RetryAttemptsExhausted"},"DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":"10","endSequenceNumber":"20","streamArn":"arn:aws:dynamodb:eu-west-1:1:table/t/stream/x","batchSize":2}}"#;
        assert!(matches!(decode(info), Decoded::StreamBatchInfo { .. }));
        assert_eq!(decode("this is not json"), Decoded::Raw);
        assert_eq!(decode(r#"{"kind":"created"}"#), Decoded::Raw);
    }
}
