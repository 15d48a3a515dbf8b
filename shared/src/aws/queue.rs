//! An SQS queue: `SendMessageBatch`, with each entry SQS did not take.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
    SendMessageBatchRequestEntry,
};

use super::classify;
use crate::error::PortError;
use crate::ports::{MessageQueue, OutgoingMessage, SendFailure};
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
