//! Operating a stack: the depth and age of every queue, and the dead-letter
//! queues' messages: peek without consuming, redrive back to their source,
//! purge.
//!
//! - **Depths** come from `GetQueueAttributes`. The age of a queue's oldest
//!   message comes from CloudWatch's `ApproximateAgeOfOldestMessage` where
//!   it has data; otherwise, for a DLQ, from its messages' `SentTimestamp`.
//!   A source queue is never received from here: each receive counts toward
//!   its `maxReceiveCount` and could push a message into its DLQ.
//! - **Peek** receives a DLQ's messages with a short visibility timeout to
//!   see each once, then makes them visible again at once.
//! - **Redrive** moves a DLQ's messages back. From the archive and publish
//!   DLQs to their queue: `StartMessageMoveTask` where the endpoint has it
//!   (AWS), followed to its end; otherwise a move of our own that sends each
//!   copy before it deletes the original, so an interruption at any point
//!   loses nothing (it may leave a duplicate, which the idempotent consumers
//!   skip), and a second run finishes the job. From the router's DLQ:
//!   through the router again, as Lambda would have routed them.
//!
//! [`status`], [`peek`] and [`redrive`] (with the router's own way back in
//! `redrive::route_again`) each hold one of
//! these; the SQS calls they share with `onboard dev` are in
//! [`crate::stack::sqs_calls`].

pub mod command;

mod peek;
mod redrive;

use onboard_shared::error::BoxError;

pub use peek::{Decoded, Peeked, decode, peek, purge};
pub use redrive::{RedriveOptions, Redriven, redrive};

use crate::stack::sqs_calls::CallError;
use crate::stack::table_stream::StreamReadError;
use crate::stack::{QueueRef, Stack, StackError};
use onboard_shared::catalogue::{DlqSource, QueueRole};

/// A failed operation, said once.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("{action} failed")]
    Call {
        action: String,
        #[source]
        source: BoxError,
    },
    #[error(
        "`{0}` is not a dead-letter queue of this stack: use archive, publish, router, or a DLQ's URL"
    )]
    UnknownQueue(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Stream(#[from] StreamReadError),
    #[error(transparent)]
    Sqs(#[from] CallError),
}

pub(crate) fn call(action: impl Into<String>, source: impl Into<BoxError>) -> OpsError {
    OpsError::Call {
        action: action.into(),
        source: source.into(),
    }
}

/// What a dead-letter queue goes back to: [`DlqSource`] with the queue
/// found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A queue: its messages are moved there.
    Queue(QueueRef),
    /// The table's stream: its records go through the router again.
    Router,
}

/// A dead-letter queue and where its messages came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dlq {
    pub queue: QueueRef,
    pub source: Source,
}

/// Finds a DLQ of the stack by logical name (`archive`, `publish`, `router`,
/// with or without `-dlq`) or by URL.
pub fn find_dlq(stack: &Stack, name: &str) -> Result<Dlq, OpsError> {
    let wanted = name.trim();
    let short = wanted.trim_end_matches("-dlq");
    QueueRole::ALL
        .into_iter()
        .filter_map(|role| Some((stack.queues.get(role), role.source()?)))
        .find(|(queue, _)| {
            queue.role.name().trim_end_matches("-dlq") == short
                || queue.url == wanted
                || queue.name == wanted
        })
        .map(|(queue, source)| Dlq {
            queue: queue.clone(),
            source: match source {
                DlqSource::Queue(role) => Source::Queue(stack.queues.get(role).clone()),
                DlqSource::Router => Source::Router,
            },
        })
        .ok_or_else(|| OpsError::UnknownQueue(name.to_owned()))
}
