//! `SendMessageBatch` calls within SQS's limits: at most ten entries and
//! 1 MiB each.

use std::collections::HashMap;

use crate::ports::{MessageQueue, OutgoingMessage, SendFailure};
use crate::reason::Reason;

/// SQS's limit of entries in one `SendMessageBatch` call.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// SQS's limit of payload bytes in one `SendMessageBatch` call (and in one message).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// The messages of one `SendMessageBatch` call, each with its sender's key.
pub type Call<K> = Vec<(K, OutgoingMessage)>;

/// Splits messages into `SendMessageBatch` calls of at most ten entries and
/// 1 MiB each, in order, filling each call as far as the limits allow.
/// A message over the limit on its own is returned apart: it can never be
/// sent. Each message keeps the key its sender knows it by.
pub fn chunk<K>(messages: Vec<(K, OutgoingMessage)>) -> (Vec<Call<K>>, Vec<(K, SendFailure)>) {
    let mut calls: Vec<Call<K>> = Vec::new();
    let mut too_large = Vec::new();
    let mut bytes = 0;
    for (key, message) in messages {
        let size = message.payload_size();
        if size > MAX_BATCH_BYTES {
            too_large.push((
                key,
                SendFailure {
                    id: message.id,
                    retryable: false,
                    throttled: false,
                    reason: Reason::scrubbed(format_args!(
                        "the message has {size} bytes, over SQS's limit of {MAX_BATCH_BYTES}"
                    )),
                },
            ));
            continue;
        }
        match calls.last_mut() {
            Some(call) if call.len() < MAX_BATCH_ENTRIES && bytes + size <= MAX_BATCH_BYTES => {
                bytes += size;
                call.push((key, message));
            }
            _ => {
                bytes = size;
                calls.push(vec![(key, message)]);
            }
        }
    }
    (calls, too_large)
}

/// Sends every message in the fewest `SendMessageBatch` calls, each entry's
/// id its place in its call. Returns the messages that were not sent, by
/// the key the sender gave each; a call that failed as a whole fails each
/// of its entries with the call's error.
pub async fn send_all<K>(
    queue: &dyn MessageQueue,
    messages: Vec<(K, OutgoingMessage)>,
) -> Vec<(K, SendFailure)> {
    let (calls, mut failures) = chunk(messages);
    for call in calls {
        let (mut keys, entries): (Vec<Option<K>>, Vec<OutgoingMessage>) = call
            .into_iter()
            .enumerate()
            .map(|(place, (key, mut message))| {
                message.id = place.to_string();
                (Some(key), message)
            })
            .unzip();
        let place_of: HashMap<&str, usize> = entries
            .iter()
            .enumerate()
            .map(|(place, message)| (message.id.as_str(), place))
            .collect();
        match queue.send_batch(&entries).await {
            Ok(failed) => {
                for failure in failed {
                    let key = place_of
                        .get(failure.id.as_str())
                        .and_then(|&place| keys[place].take());
                    match key {
                        Some(key) => failures.push((key, failure)),
                        None => tracing::warn!(
                            queue = queue.name(),
                            id = %failure.id,
                            "SendMessageBatch named an entry it was not sent"
                        ),
                    }
                }
            }
            Err(err) => {
                let retryable = err.is_retryable();
                let throttled = matches!(err, crate::error::PortError::Throttled { .. });
                let reason = Reason::of_error(&err);
                tracing::warn!(queue = queue.name(), error = %reason, entries = entries.len(), "SendMessageBatch failed");
                failures.extend(keys.into_iter().zip(entries).filter_map(|(key, message)| {
                    Some((
                        key?,
                        SendFailure {
                            id: message.id,
                            retryable,
                            throttled,
                            reason: reason.clone(),
                        },
                    ))
                }));
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(key: usize, bytes: usize) -> (usize, OutgoingMessage) {
        let message = OutgoingMessage {
            trace_header: None,
            id: String::new(),
            body: "x".repeat(bytes),
            attributes: Vec::new(),
        };
        (key, message)
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
                    .map(|(_, message)| message.payload_size())
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
        assert_eq!(too_large[0].0, 1, "known by its key");
        assert!(!too_large[0].1.retryable);
    }
}
