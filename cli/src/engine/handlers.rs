//! The one place the real handlers are plugged into the event-source rules:
//! each function, invoked as Lambda invokes it, says what Lambda would get
//! back; and the names' writer, which drains its queue itself, under that
//! queue's redrive policy ([`write_all`]). The rules themselves
//! (`event_source`) know no function.

use archive_consumer::Archiver;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use onboard_shared::reason::Reason;
use serde_json::value::RawValue;
use stream_router::Router;

use std::collections::HashMap;

use chrono::Utc;
use onboard_shared::batch::{Fate, ItemReport};
use onboard_shared::local::MemoryQueue;
use publish_consumer::writer::{RunLimits, Writer};

use super::event_source::Invoked;
use super::event_source::queue::QueueFunction;
use super::event_source::queue::move_to_dlq;
use super::event_source::stream::StreamFunction;

impl StreamFunction for Router {
    async fn invoke(&self, records: &[Box<RawValue>]) -> Invoked<DynamoDbEventResponse> {
        // Outside Lambda there is no invocation trace of the router's own.
        let report = stream_router::handle(self, records, None).await;
        Invoked {
            response: report
                .stream_response()
                .map_err(|err| Reason::of_error(&err)),
            report,
        }
    }
}

impl QueueFunction for Archiver {
    async fn invoke(&self, event: &SqsEvent) -> Invoked<SqsBatchResponse> {
        let report = archive_consumer::handle(self, event).await;
        Invoked {
            response: report.sqs_response().map_err(|err| Reason::of_error(&err)),
            report,
        }
    }
}

/// Runs the writer until the publish queue is empty, with no write limit
/// (the local store has no rate), and returns each message's final fate. A
/// message a run leaves (a call of the store failed) comes back, as at the
/// end of its visibility timeout, until the queue's `maxReceiveCount`;
/// then it moves to the DLQ, as SQS's redrive policy moves it.
pub async fn write_all(
    writer: &Writer,
    queue: &MemoryQueue,
    dlq: &MemoryQueue,
    max_receives: u32,
) -> Vec<ItemReport> {
    let limits = RunLimits {
        max_messages: 10_000,
        max_bytes: usize::MAX,
        max_writes: usize::MAX,
    };
    // Each message's latest fate, in the order they were first seen.
    let mut items: Vec<ItemReport> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    while !queue.is_empty() {
        let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        match writer.run(limits, now).await {
            Ok(report) => {
                for item in report.items {
                    match index.get(&item.id) {
                        Some(&at) => items[at] = item,
                        None => {
                            index.insert(item.id.clone(), items.len());
                            items.push(item);
                        }
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err.chain(), "the publish queue could not be read");
                break;
            }
        }
        queue.return_in_flight();
        for message in queue.drain() {
            if message.receive_count < max_receives {
                queue.release(message);
                continue;
            }
            let at = index.get(&message.message_id).copied();
            let last = match at.map(|at| &items[at].fate) {
                Some(Fate::Failed { reason }) => reason.clone(),
                _ => Reason::fixed("its leaf was not written"),
            };
            let fate = move_to_dlq(dlq, message, &last);
            if let Some(at) = at {
                items[at].fate = fate;
            }
        }
    }
    items
}
