//! Lambda's event-source rules, stated once: how Lambda feeds the table's
//! stream to the router and each queue to its consumer. `onboard replay`
//! (the embedded pipeline) and `onboard dev` (the local Lambda service on an
//! emulator) both deliver through these modules, so neither can drift from
//! the other or from the stack.
//!
//! - [`stream`]: DynamoDB stream batches: the batch size, the checkpoint at
//!   the lowest failed sequence number, a null or empty `itemIdentifier`
//!   failing the whole batch, bisection on a function error,
//!   `MaximumRetryAttempts`, `MaximumRecordAgeInSeconds`, and what the
//!   on-failure destination receives.
//! - [`queue`]: SQS batches: the batch size, partial batch responses, a
//!   failed invocation returning every message, `ApproximateReceiveCount`,
//!   the redrive policy's `maxReceiveCount` and the visibility timeout.
//!
//! [`Settings::default`] is the stack's own configuration, as
//! `infra/template.yaml` sets it; `tests/tests/infra.rs` fails when the two
//! differ. Each rule has a conformance test in
//! `cli/tests/event_source_rules.rs`, named after the AWS behaviour it proves
//! and citing the AWS page it comes from.

use onboard_shared::reason::Reason;
use std::time::Duration;

pub mod on_failure;
mod position;
pub mod queue;
pub mod stream;

/// The event-source settings of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The router's mapping on the table's stream.
    pub stream: StreamSettings,
    /// Each consumer's mapping on its queue, and the queue's own settings.
    pub queue: QueueSettings,
    /// Attempts Cognito makes at the post-confirmation trigger (Cognito's
    /// rule, not the template's: the first call and two retries).
    pub trigger_attempts: u32,
}

/// The stream's event-source mapping (`AWS::Lambda::EventSourceMapping` on
/// the table's stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSettings {
    /// `BatchSize`: records per invocation.
    pub batch_size: usize,
    /// `MaximumRetryAttempts`: retries of a failing batch before its records
    /// go to the on-failure destination.
    pub maximum_retry_attempts: u32,
    /// `BisectBatchOnFunctionError`: split a batch in two when the function
    /// fails as a whole.
    pub bisect_batch_on_function_error: bool,
    /// `MaximumRecordAgeInSeconds`: older records are not sent to the
    /// function but to the on-failure destination.
    pub maximum_record_age: Duration,
}

/// A queue's event-source mapping and the queue's own attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// `BatchSize`: messages per invocation (at most ten without a batching
    /// window).
    pub batch_size: usize,
    /// The redrive policy's `maxReceiveCount`: receives before a message
    /// moves to the queue's DLQ.
    pub max_receive_count: u32,
    /// The queue's `VisibilityTimeout`: how long a received message stays
    /// hidden before it can be received again.
    pub visibility_timeout: Duration,
}

impl Default for Settings {
    /// The values of `infra/template.yaml`.
    fn default() -> Self {
        Self {
            stream: StreamSettings::default(),
            queue: QueueSettings::default(),
            trigger_attempts: 3,
        }
    }
}

impl Default for StreamSettings {
    /// The values of `infra/template.yaml`.
    fn default() -> Self {
        Self {
            batch_size: 100,
            maximum_retry_attempts: 5,
            bisect_batch_on_function_error: true,
            maximum_record_age: Duration::from_secs(3600),
        }
    }
}

impl Default for QueueSettings {
    /// The values of `infra/template.yaml`.
    fn default() -> Self {
        Self {
            batch_size: 10,
            max_receive_count: 5,
            visibility_timeout: Duration::from_secs(180),
        }
    }
}

/// What one invocation returned: the response Lambda acts on, and the
/// function's own account of each record (for the local reports only; the
/// rules never read it).
#[derive(Debug, Clone)]
pub struct Invoked<R> {
    /// The partial batch response, or why the function failed as a whole.
    pub response: Result<R, Reason>,
    pub report: onboard_shared::batch::BatchReport,
}
