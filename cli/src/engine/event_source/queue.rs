//! How Lambda delivers an SQS queue to a function ([`QueueSettings`]):
//!
//! 1. Lambda receives up to `BatchSize` messages and invokes the function
//!    with them as one SQS event ([`event`]); each receive raises a
//!    message's `ApproximateReceiveCount`.
//! 2. With `ReportBatchItemFailures`, the messages the response lists come
//!    back and the others are deleted. A listed `itemIdentifier` that is
//!    empty, or no message id of the batch, fails the whole batch; so does a
//!    function error: every message comes back ([`settle`]).
//! 3. A message that comes back stays invisible until its visibility timeout
//!    ends, then it can be received again.
//! 4. The queue's redrive policy moves a message received `maxReceiveCount`
//!    times to the DLQ instead of delivering it again.
//!
//! On an emulator (`onboard dev`) SQS itself keeps 3 and 4, and the count of
//! 1; [`LocalQueuePoller`] keeps them for `onboard replay`, on a clock of its
//! own so that a visibility timeout costs no waiting. It moves a message to
//! the DLQ right after its last failed delivery, where SQS moves it on the
//! next receive: the outcome is the same, and the dead letter can carry the
//! last failure's reason.

use onboard_shared::reason::Reason;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use onboard_shared::batch::{self, Fate, ItemReport};
use onboard_shared::local::{LocalMessage, MemoryQueue};
use onboard_shared::ports::MessageQueue;

use super::{Invoked, QueueSettings};

/// A function that reads an SQS queue.
pub trait QueueFunction {
    fn invoke(&self, event: &SqsEvent) -> impl Future<Output = Invoked<SqsBatchResponse>>;
}

/// A received message, from SQS or from a local queue.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: Option<String>,
    /// System attributes (`ApproximateReceiveCount`, `SentTimestamp`, ...).
    pub attributes: HashMap<String, String>,
    pub message_attributes: HashMap<String, SqsMessageAttribute>,
}

/// The queue an event comes from, as its records name it.
#[derive(Debug, Clone, Default)]
pub struct QueueSource {
    pub arn: String,
    pub region: String,
}

/// The SQS event Lambda invokes the function with.
pub fn event(source: &QueueSource, messages: Vec<Received>) -> SqsEvent {
    let mut event = SqsEvent::default();
    for message in messages {
        let mut record = SqsMessage::default();
        record.message_id = Some(message.message_id);
        record.receipt_handle = Some(message.receipt_handle);
        record.body = Some(message.body);
        record.md5_of_body = message.md5_of_body;
        record.attributes = message.attributes;
        record.message_attributes = message.message_attributes;
        record.event_source = Some("aws:sqs".to_owned());
        record.event_source_arn = Some(source.arn.clone());
        record.aws_region = Some(source.region.clone());
        event.records.push(record);
    }
    event
}

/// What Lambda does with each message after an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Per message of the event: true when it comes back, false when
    /// Lambda deletes it.
    pub returned: Vec<bool>,
    /// Why the whole batch failed, when it did.
    pub batch_failure: Option<Reason>,
}

/// Reads the response as Lambda does.
pub fn settle(event: &SqsEvent, response: &Result<SqsBatchResponse, Reason>) -> Settled {
    let every = |reason: Reason| Settled {
        returned: vec![true; event.records.len()],
        batch_failure: Some(reason),
    };
    let failures = match response {
        Err(error) => return every(error.clone()),
        Ok(response) => &response.batch_item_failures,
    };
    let ids: Vec<&str> = event
        .records
        .iter()
        .map(|r| r.message_id.as_deref().unwrap_or_default())
        .collect();
    let mut listed = HashSet::new();
    for failure in failures {
        let id = failure.item_identifier.as_str();
        if id.is_empty() {
            return every(Reason::fixed(
                "a batch item failure has an empty itemIdentifier",
            ));
        }
        if !ids.contains(&id) {
            return every(Reason::scrubbed(format_args!(
                "itemIdentifier {id} is no message id of the batch"
            )));
        }
        listed.insert(id);
    }
    Settled {
        returned: ids.iter().map(|id| listed.contains(id)).collect(),
        batch_failure: None,
    }
}

/// Lambda's poller of a local queue, with SQS's visibility timeout and
/// redrive policy, on a clock of its own.
#[derive(Debug)]
pub struct LocalQueuePoller {
    pub queue: Arc<MemoryQueue>,
    pub dlq: Arc<MemoryQueue>,
    pub settings: QueueSettings,
    source: QueueSource,
    /// The poller's clock: time since it started.
    now: Duration,
    /// Returned messages, hidden until their visibility timeout ends.
    hidden: Vec<(Duration, LocalMessage)>,
}

impl LocalQueuePoller {
    pub fn new(queue: Arc<MemoryQueue>, dlq: Arc<MemoryQueue>, settings: QueueSettings) -> Self {
        let source = QueueSource {
            arn: format!("arn:aws:sqs:local:000000000000:{}", queue.name()),
            region: "local".to_owned(),
        };
        Self {
            queue,
            dlq,
            settings,
            source,
            now: Duration::ZERO,
            hidden: Vec::new(),
        }
    }

    /// The poller's clock.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Moves the poller's clock on.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Polls until the queue holds nothing, visible or not, and returns the
    /// final fate of every message the function saw (a message that comes
    /// back is reported once, when it is done).
    pub async fn drain(&mut self, function: &impl QueueFunction) -> Vec<ItemReport> {
        let mut fates = Vec::new();
        loop {
            if let Some(done) = self.poll(function).await {
                fates.extend(done);
                continue;
            }
            // Nothing visible: wait (on this clock) for the next message to
            // come back, if any.
            match self.hidden.iter().map(|(at, _)| *at).min() {
                Some(next) => self.now = self.now.max(next),
                None => return fates,
            }
        }
    }

    /// One receive and one invocation. `None` when no message was visible;
    /// otherwise the final fates of this invocation (deleted or moved to
    /// the DLQ).
    pub async fn poll(&mut self, function: &impl QueueFunction) -> Option<Vec<ItemReport>> {
        let now = self.now;
        let (visible, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.hidden)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.hidden = still;
        for (_, message) in visible {
            self.queue.release(message);
        }
        let messages = self.queue.receive(self.settings.batch_size.clamp(1, 10));
        if messages.is_empty() {
            return None;
        }
        let (received, kept): (Vec<_>, Vec<_>) = messages.into_iter().map(received).unzip();
        let event = event(&self.source, received);
        let invoked = function.invoke(&event).await;
        let settled = settle(&event, &invoked.response);
        let mut fates = Vec::new();
        // The function's own account of each message, in the event's order.
        let mut reported = invoked.report.items.into_iter();
        let messages = event.records.into_iter().zip(kept).zip(settled.returned);
        for ((record, mut message), returned) in messages {
            let mut item = reported
                .next()
                .unwrap_or_else(|| ItemReport::new(message.message_id.clone(), Fate::Applied));
            if !returned {
                fates.push(item);
                continue;
            }
            message.body = record.body.unwrap_or_default();
            if message.receive_count < self.settings.max_receive_count {
                self.hidden
                    .push((now + self.settings.visibility_timeout, message));
                continue;
            }
            let last = match (&item.fate, &settled.batch_failure) {
                (Fate::Failed { reason }, _) => reason.clone(),
                (_, Some(failure)) => failure.clone(),
                _ => Reason::fixed("the batch failed as a whole"),
            };
            item.fate = move_to_dlq(&self.dlq, message, &last);
            fates.push(item);
        }
        Some(fates)
    }
}

/// What SQS's redrive policy does to a message received `maxReceiveCount`
/// times: it moves to the DLQ, here with the reason of its last failure
/// (scrubbed: the reason may quote the input).
pub fn move_to_dlq(dlq: &MemoryQueue, mut message: LocalMessage, last: &Reason) -> Fate {
    let reason = Reason::scrubbed(format_args!(
        "received {} times; last failure: {last}",
        message.receive_count
    ));
    message.attributes.insert(
        onboard_shared::wire::REASON_ATTRIBUTE.to_owned(),
        reason.to_string(),
    );
    message.attributes.insert(
        onboard_shared::wire::SOURCE_ATTRIBUTE.to_owned(),
        "redrive-policy".to_owned(),
    );
    dlq.push(message);
    Fate::DeadLettered {
        queue: dlq.name().to_owned(),
        reason,
        class: batch::ReasonClass::Exhausted,
    }
}

/// A local message as Lambda's event shows it; the body moves into the
/// event, the rest is kept beside it.
fn received(mut message: LocalMessage) -> (Received, LocalMessage) {
    let mut received = Received {
        message_id: message.message_id.clone(),
        receipt_handle: format!("{}#{}", message.message_id, message.receive_count),
        body: std::mem::take(&mut message.body),
        md5_of_body: None,
        attributes: HashMap::from([
            (
                "ApproximateReceiveCount".to_owned(),
                message.receive_count.to_string(),
            ),
            (
                "SentTimestamp".to_owned(),
                message.sent_at.timestamp_millis().to_string(),
            ),
        ]),
        message_attributes: HashMap::new(),
    };
    if let Some(trace) = &message.trace_header {
        received.attributes.insert(
            onboard_shared::wire::TRACE_MESSAGE_ATTRIBUTE.to_owned(),
            trace.clone(),
        );
    }
    (received, message)
}
