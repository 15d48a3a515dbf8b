//! A dead-letter queue's messages seen without consuming them, decoded as
//! far as they go; and purged.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use onboard_shared::aws::sqs;
use onboard_shared::domain::{ChangeKind, ChangeMessage};
use onboard_shared::wire::{REASON_ATTRIBUTE, RECEIVED_AS_ATTRIBUTE, SOURCE_ATTRIBUTE};
use serde::Serialize;
use sqs::types::MessageSystemAttributeName as System;

use super::{OpsError, call};
use crate::stack::QueueRef;
use crate::stack::sqs_calls::delete_received;

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
    /// The id it had where the function received it (the one its log
    /// names); absent when SQS's redrive policy moved it, keeping its id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_as: Option<String>,
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
pub(super) const HIDE: i32 = 20;

/// Receives up to `max` distinct messages, hiding each while collecting.
pub(super) async fn receive(
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
            .map_err(|err| call("ReceiveMessage", err))?
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
                received_as: attribute(RECEIVED_AS_ATTRIBUTE),
                body,
            });
        }
    }
    Ok(out)
}

/// Makes received messages visible again at once.
pub(super) async fn release(
    client: &sqs::Client,
    url: &str,
    messages: &[&Peeked],
) -> Result<(), OpsError> {
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
                    .map_err(|err| call("ChangeMessageVisibilityBatch", err))
            })
            .collect::<Result<Vec<_>, _>>()?;
        client
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| call("ChangeMessageVisibilityBatch", err))?;
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
        .map_err(|err| call(format!("PurgeQueue {}", queue.name), err))
}

pub(super) async fn delete(
    client: &sqs::Client,
    url: &str,
    messages: &[&Peeked],
) -> Result<(), OpsError> {
    let handles: Vec<&str> = messages.iter().map(|m| m.receipt_handle.as_str()).collect();
    let not_deleted = delete_received(client, url, &handles).await?;
    if not_deleted > 0 {
        // They come back after the visibility timeout; the next run sees them.
        tracing::warn!(not_deleted, "some messages could not be deleted");
    }
    Ok(())
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
