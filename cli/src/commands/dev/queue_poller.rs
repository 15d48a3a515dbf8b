//! `onboard dev`'s poller of one queue: Lambda's side of an SQS mapping
//! (receive, invoke, delete what succeeded), with SQS itself, on the
//! emulator, keeping the visibility timeout and the redrive policy.

use std::collections::HashMap;

use aws_lambda_events::event::sqs::{SqsMessage, SqsMessageAttribute};
use onboard_shared::aws::sqs;
use onboard_shared::catalogue::Function;
use onboard_shared::error::error_chain;
use tokio::sync::watch;

use super::{DevSettings, pause, tally};
use crate::engine::event_source::queue::{self, QueueFunction};
use crate::stack::sqs_calls::{CallError, call};
use crate::stack::{QueueRef, Stack, queue_arn};

/// Lambda's poller of one queue.
pub struct QueuePoller {
    client: sqs::Client,
    queue: QueueRef,
    source: queue::QueueSource,
}

impl std::fmt::Debug for QueuePoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuePoller")
            .field("queue", &self.queue.name)
            .finish_non_exhaustive()
    }
}

impl QueuePoller {
    pub async fn new(stack: &Stack, queue: &QueueRef) -> Self {
        // Only the events' eventSourceARN shows it: no ARN is no reason to stop.
        let arn = queue_arn(&stack.sqs, &queue.url).await.unwrap_or_default();
        Self {
            client: stack.sqs.clone(),
            queue: queue.clone(),
            source: queue::QueueSource {
                arn,
                region: stack.region(),
            },
        }
    }

    pub(super) async fn run(
        &self,
        consumer: &impl QueueFunction,
        function: Function,
        settings: &DevSettings,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow() {
                return;
            }
            match self.poll_once(consumer, function, settings).await {
                Ok(true) => {}
                Ok(false) => {
                    if pause(&mut stop, settings.idle).await {
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!(queue = %self.queue.name, error = %error_chain(&err), "polling failed; trying again");
                    if pause(&mut stop, settings.idle * 4).await {
                        return;
                    }
                }
            }
        }
    }

    /// One receive and one invocation. False when the queue had nothing.
    pub async fn poll_once(
        &self,
        consumer: &impl QueueFunction,
        function: Function,
        settings: &DevSettings,
    ) -> Result<bool, CallError> {
        let batch_size = i32::try_from(settings.rules.queue.batch_size).unwrap_or(10);
        let received = self
            .client
            .receive_message()
            .queue_url(&self.queue.url)
            .max_number_of_messages(batch_size.clamp(1, 10))
            .message_system_attribute_names(sqs::types::MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|err| call(format!("ReceiveMessage {}", self.queue.name), err))?
            .messages
            .unwrap_or_default();
        if received.is_empty() {
            return Ok(false);
        }
        let event = queue::event(
            &self.source,
            received.into_iter().map(received_message).collect(),
        );
        let invoked = consumer.invoke(&event).await;
        let settled = queue::settle(&event, &invoked.response);
        // What comes back is left alone: SQS shows it again after the
        // visibility timeout, and its redrive policy counts the receives.
        let done: Vec<&SqsMessage> = event
            .records
            .iter()
            .zip(&settled.returned)
            .filter(|(_, returned)| !**returned)
            .map(|(message, _)| message)
            .collect();
        self.delete(&done).await?;
        let (applied, dead, _) = tally(&invoked.report);
        tracing::info!(
            queue = %self.queue.name,
            messages = event.records.len(),
            done = applied,
            dead_lettered = dead,
            returned = event.records.len() - done.len(),
            users = %super::users(&invoked.report),
            "queue batch → {}",
            function.name(),
        );
        Ok(true)
    }

    async fn delete(&self, messages: &[&SqsMessage]) -> Result<(), CallError> {
        let handles: Vec<&str> = messages
            .iter()
            .filter_map(|m| m.receipt_handle.as_deref())
            .collect();
        let not_deleted =
            crate::stack::sqs_calls::delete_received(&self.client, &self.queue.url, &handles)
                .await?;
        if not_deleted > 0 {
            // Not deleted: the message comes back and is skipped as a duplicate.
            tracing::warn!(queue = %self.queue.name, not_deleted, "some processed messages could not be deleted");
        }
        Ok(())
    }
}

/// A message from `ReceiveMessage` as Lambda's event carries it.
fn received_message(message: sqs::types::Message) -> queue::Received {
    queue::Received {
        message_id: message.message_id.unwrap_or_default(),
        receipt_handle: message.receipt_handle.unwrap_or_default(),
        body: message.body.unwrap_or_default(),
        md5_of_body: message.md5_of_body,
        attributes: message
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| (name.as_str().to_owned(), value))
            .collect(),
        message_attributes: message
            .message_attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| {
                let mut attribute = SqsMessageAttribute::default();
                attribute.data_type = Some(value.data_type);
                attribute.string_value = value.string_value;
                (name, attribute)
            })
            .collect::<HashMap<_, _>>(),
    }
}
