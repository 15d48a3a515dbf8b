//! An SQS queue: `SendMessageBatch`, with each entry SQS did not take.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
    SendMessageBatchRequestEntry,
};

use super::classify;
use crate::error::PortError;
use crate::ports::{Inbox, MessageQueue, OutgoingMessage, Received, SendFailure};
use crate::reason::Reason;

/// An SQS queue, by URL (resolved once, at start).
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    name: String,
}

impl SqsQueue {
    pub fn new(
        client: aws_sdk_sqs::Client,
        name: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            url: url.into(),
            name: name.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl MessageQueue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, entries: &[OutgoingMessage]) -> Result<Vec<SendFailure>, PortError> {
        let entries = entries
            .iter()
            .map(batch_entry)
            .collect::<Result<Vec<_>, PortError>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| classify("SendMessageBatch", err))?;
        Ok(send_failures(output.failed))
    }
}

/// One entry of `SendMessageBatch`: the body, its attributes, and the
/// trace it continues as the `AWSTraceHeader` system attribute.
pub(super) fn batch_entry(
    entry: &OutgoingMessage,
) -> Result<SendMessageBatchRequestEntry, PortError> {
    let rejected = |err: aws_sdk_sqs::error::BuildError| {
        PortError::rejected("SendMessageBatch", err.to_string())
    };
    let attributes = entry
        .attributes
        .iter()
        .map(|a| {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(&a.value)
                .build()
                .map_err(rejected)?;
            Ok((a.name.clone(), value))
        })
        .collect::<Result<HashMap<_, _>, PortError>>()?;
    let trace = entry
        .trace_header
        .as_ref()
        .map(|header| {
            MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value(header)
                .build()
                .map_err(rejected)
        })
        .transpose()?;
    SendMessageBatchRequestEntry::builder()
        .id(&entry.id)
        .message_body(&entry.body)
        .set_message_attributes((!attributes.is_empty()).then_some(attributes))
        .set_message_system_attributes(trace.map(|value| {
            HashMap::from([(MessageSystemAttributeNameForSends::AwsTraceHeader, value)])
        }))
        .build()
        .map_err(rejected)
}

/// The entries SQS did not take: the ones it blamed on the sender will fail
/// the same way again; the others (its own fault) are worth retrying.
pub(super) fn send_failures(
    failed: Vec<aws_sdk_sqs::types::BatchResultErrorEntry>,
) -> Vec<SendFailure> {
    failed
        .into_iter()
        .map(|failed| SendFailure {
            retryable: !failed.sender_fault,
            throttled: false,
            // SQS's message may echo what it refused: scrubbed.
            reason: Reason::scrubbed(format_args!(
                "{}: {}",
                failed.code,
                failed.message.unwrap_or_default()
            )),
            id: failed.id,
        })
        .collect()
}

#[async_trait]
impl Inbox for SqsQueue {
    async fn receive(&self, max: usize) -> Result<Vec<Received>, PortError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            // No wait: an empty answer may only mean that the servers this
            // receive sampled had nothing, and what is left is the next
            // run's (the writer runs again on its schedule).
            .wait_time_seconds(0)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await
            .map_err(|err| classify("ReceiveMessage", err))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|message| {
                let receive_count = message
                    .attributes
                    .as_ref()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(1);
                Some(Received {
                    receipt: message.receipt_handle?,
                    message_id: message.message_id.unwrap_or_default(),
                    body: message.body.unwrap_or_default(),
                    receive_count,
                })
            })
            .collect())
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), PortError> {
        let entries = receipts
            .iter()
            .enumerate()
            .map(|(index, receipt)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .map_err(|err| PortError::rejected("DeleteMessageBatch", err.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| classify("DeleteMessageBatch", err))?;
        match output.failed.first() {
            // The message comes back when its visibility timeout ends, and
            // its work is idempotent.
            Some(failed) => Err(PortError::transient(
                "DeleteMessageBatch",
                format!(
                    "{} of the entries were not deleted: {}",
                    output.failed.len(),
                    failed.code
                ),
            )),
            None => Ok(()),
        }
    }

    async fn send(&self, bodies: &[String]) -> Result<(), PortError> {
        let messages = OutgoingMessage::plain(bodies);
        match self.send_batch(&messages).await?.first() {
            Some(failure) => Err(PortError::transient(
                "SendMessageBatch",
                failure.reason.as_str().to_owned(),
            )),
            None => Ok(()),
        }
    }
}
