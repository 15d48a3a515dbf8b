//! `SendMessageBatch` calls within SQS's limits: at most ten entries and
//! 1 MiB each.

use std::collections::HashMap;

use crate::ports::{MessageQueue, OutgoingMessage, SendFailure};

/// SQS's limit of entries in one `SendMessageBatch` call.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// SQS's limit of payload bytes in one `SendMessageBatch` call (and in one message).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// Splits messages into `SendMessageBatch` calls of at most ten entries and
/// 1 MiB each, in order, filling each call as far as the limits allow.
/// A message over the limit on its own is returned apart: it can never be sent.
pub fn chunk(messages: Vec<OutgoingMessage>) -> (Vec<Vec<OutgoingMessage>>, Vec<SendFailure>) {
    let mut calls: Vec<Vec<OutgoingMessage>> = Vec::new();
    let mut too_large = Vec::new();
    let mut bytes = 0;
    for message in messages {
        let size = message.payload_size();
        if size > MAX_BATCH_BYTES {
            too_large.push(SendFailure {
                id: message.id,
                retryable: false,
                reason: format!(
                    "the message has {size} bytes, over SQS's limit of {MAX_BATCH_BYTES}"
                ),
            });
            continue;
        }
        match calls.last_mut() {
            Some(call) if call.len() < MAX_BATCH_ENTRIES && bytes + size <= MAX_BATCH_BYTES => {
                bytes += size;
                call.push(message);
            }
            _ => {
                bytes = size;
                calls.push(vec![message]);
            }
        }
    }
    (calls, too_large)
}

/// Sends every message in the fewest `SendMessageBatch` calls. Returns the
/// messages that were not sent, by entry id; a call that failed as a whole
/// fails each of its entries with the call's error.
pub async fn send_all(
    queue: &dyn MessageQueue,
    messages: Vec<OutgoingMessage>,
) -> HashMap<String, SendFailure> {
    let (calls, too_large) = chunk(messages);
    let mut failures: HashMap<String, SendFailure> =
        too_large.into_iter().map(|f| (f.id.clone(), f)).collect();
    for call in calls {
        match queue.send_batch(&call).await {
            Ok(failed) => failures.extend(failed.into_iter().map(|f| (f.id.clone(), f))),
            Err(err) => {
                let retryable = err.is_retryable();
                let reason = err.chain();
                tracing::warn!(queue = queue.name(), error = %reason, entries = call.len(), "SendMessageBatch failed");
                failures.extend(call.into_iter().map(|m| {
                    (
                        m.id.clone(),
                        SendFailure {
                            id: m.id,
                            retryable,
                            reason: reason.clone(),
                        },
                    )
                }));
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: usize, bytes: usize) -> OutgoingMessage {
        OutgoingMessage {
            trace_header: None,
            id: id.to_string(),
            body: "x".repeat(bytes),
            attributes: Vec::new(),
        }
    }

    #[test]
    fn chunks_hold_at_most_ten_entries() {
        let (calls, too_large) = chunk((0..25).map(|i| message(i, 10)).collect());
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
        assert!(too_large.is_empty());
    }

    #[test]
    fn chunks_hold_at_most_one_mebibyte() {
        let (calls, _) = chunk((0..5).map(|i| message(i, 400 * 1024)).collect());
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        for call in &calls {
            assert!(
                call.iter()
                    .map(OutgoingMessage::payload_size)
                    .sum::<usize>()
                    <= MAX_BATCH_BYTES
            );
        }
    }

    #[test]
    fn a_message_over_the_limit_alone_is_a_permanent_failure() {
        let (calls, too_large) = chunk(vec![message(0, 10), message(1, MAX_BATCH_BYTES + 1)]);
        assert_eq!(calls.len(), 1);
        assert_eq!(too_large.len(), 1);
        assert!(!too_large[0].retryable);
    }
}
