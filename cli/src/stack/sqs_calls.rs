//! The SQS calls `onboard dev` and the operations share: a queue's depth,
//! and deleting received messages.

use onboard_shared::aws::sqs;
use sqs::types::QueueAttributeName as Attr;

use onboard_shared::error::BoxError;

/// An AWS call of the commands (SQS, Parameter Store) that failed, with the
/// SDK's error as its source.
#[derive(Debug, thiserror::Error)]
#[error("{action} failed")]
pub struct CallError {
    pub action: String,
    #[source]
    pub source: BoxError,
}

/// A call `action` that failed with `err`.
pub fn call(action: impl Into<String>, err: impl Into<BoxError>) -> CallError {
    CallError {
        action: action.into(),
        source: err.into(),
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
pub async fn depth(client: &sqs::Client, url: &str) -> Result<Depth, CallError> {
    let attributes = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Attr::ApproximateNumberOfMessages)
        .attribute_names(Attr::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(Attr::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|err| call(format!("GetQueueAttributes {url}"), err))?
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

/// Deletes received messages by receipt handle, ten a call. Returns how
/// many SQS did not delete (they come back after their visibility timeout).
pub async fn delete_received(
    client: &sqs::Client,
    url: &str,
    receipt_handles: &[&str],
) -> Result<usize, CallError> {
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
                    .map_err(|err| call("DeleteMessageBatch", err))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| call("DeleteMessageBatch", err))?;
        not_deleted += output.failed.len();
    }
    Ok(not_deleted)
}
