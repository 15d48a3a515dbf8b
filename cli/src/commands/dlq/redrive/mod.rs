//! A dead-letter queue's messages moved back to their source queue:
//! `StartMessageMoveTask` where the endpoint has it, else a move of our own
//! that sends each copy before it deletes the original.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use onboard_shared::aws::sqs;
use onboard_shared::wire::{REASON_ATTRIBUTE, RECEIVED_AS_ATTRIBUTE, SOURCE_ATTRIBUTE};
use serde::Serialize;

mod route_again;

use super::peek::{Peeked, delete, receive, release};
use super::{Dlq, OpsError, Source, call};
use crate::plural;
use crate::stack::sqs_calls::depth;
use crate::stack::{QueueRef, Stack, queue_arn};
use route_again::route_again;

/// What a redrive did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Redriven {
    /// Messages back in their source (or routed again).
    pub moved: u64,
    /// Router dead letters that failed again: a new dead letter with the
    /// new reason replaced each.
    pub dead_lettered_again: u64,
    /// Messages in the DLQ when the redrive ended: those it left, those
    /// that failed again, and any that arrived meanwhile.
    pub left: u64,
    /// Lambda's on-failure metadata whose records are gone from the stream.
    pub unrecoverable: u64,
    /// The fixtures saved with the records fetched for on-failure metadata.
    pub recovered: Vec<std::path::PathBuf>,
    /// `StartMessageMoveTask`, or the move of our own.
    pub method: &'static str,
}

impl Redriven {
    /// Nothing moved and something failed again or could not be fetched:
    /// the command says so with its exit status.
    pub fn nothing_moved_and_some_failed(&self) -> bool {
        self.moved == 0 && self.dead_lettered_again + self.unrecoverable > 0
    }

    /// What the redrive did, in one sentence, from `dlq` to `target`.
    pub fn summary(&self, dlq: &str, target: &str) -> String {
        let mut text = format!(
            "moved {} from {dlq} to {target} ({})",
            plural(self.moved as usize, "message"),
            self.method
        );
        if self.dead_lettered_again > 0 {
            let (is, their) = if self.dead_lettered_again == 1 {
                ("is", "its")
            } else {
                ("are", "their")
            };
            text.push_str(&format!(
                "; {} failed again and {is} back in the DLQ with {their} new reason",
                self.dead_lettered_again
            ));
        }
        text.push_str(&format!("; {} left in the DLQ", self.left));
        text
    }
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
        Err(err) => return Err(call("StartMessageMoveTask", err)),
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
            .map_err(|err| call("ListMessageMoveTasks", err))?;
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
                    source: format!(
                        "ended {}: {}",
                        other.unwrap_or("unknown"),
                        task.failure_reason().unwrap_or("no reason given")
                    )
                    .into(),
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
                        .map_err(|err| call("SendMessageBatch", err))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = client
                .send_message_batch()
                .queue_url(&source.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| call(format!("SendMessageBatch {}", source.name), err))?;
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
                source: format!(
                    "{} messages were not taken; they stay in the DLQ",
                    unsent.len()
                )
                .into(),
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
        (RECEIVED_AS_ATTRIBUTE, &message.received_as),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redrive_where_everything_failed_again_says_they_are_all_still_there() {
        let done = Redriven {
            dead_lettered_again: 3,
            left: 3,
            method: "routed again",
            ..Redriven::default()
        };
        assert_eq!(
            done.summary("router-dlq", "the router"),
            "moved 0 messages from router-dlq to the router (routed again); \
             3 failed again and are back in the DLQ with their new reason; 3 left in the DLQ"
        );
        assert!(done.nothing_moved_and_some_failed());
        let one = Redriven {
            moved: 1,
            dead_lettered_again: 1,
            left: 1,
            method: "routed again",
            ..Redriven::default()
        };
        assert_eq!(
            one.summary("router-dlq", "the router"),
            "moved 1 message from router-dlq to the router (routed again); \
             1 failed again and is back in the DLQ with its new reason; 1 left in the DLQ"
        );
        assert!(!one.nothing_moved_and_some_failed());
    }
}
