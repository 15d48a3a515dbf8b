//! The `onboard` command, as a library so the end-to-end tests drive the
//! same code as the binary.
//!
//! - [`input`]: replay input files, read as a stream: stream, SQS and API
//!   Gateway events and Cognito triggers.
//! - [`event_source`]: Lambda's event-source rules, stated once, for the
//!   stream and the queues.
//! - [`queue_roles`]: the stack's queues by role: each queue, its DLQ, and
//!   where a DLQ's messages go back to.
//! - [`pipeline`]: the embedded pipeline: the real handlers over the local
//!   adapters, with the event-source rules.
//! - [`replay`]: `onboard replay`, its per-record table and JSON report.
//! - [`table_stream`]: a table's stream read as Lambda reads it.
//! - [`stack`]: a stack's resources by name, found or created on an
//!   endpoint, and the handlers wired to them over the AWS adapters.
//! - [`dev`]: `onboard dev`, the local Lambda service: stream and queue
//!   pollers that invoke the real handlers.
//! - [`signup`]: `onboard signup`, a confirmed sign-up and its trigger.
//! - [`serve`]: `onboard serve`, the greeting page and API behind a Cognito
//!   authorizer.
//! - [`hosted_ui`]: `onboard serve`'s local stand-in for the hosted UI, on
//!   an emulator: sign-up, code, sign-in, and the PKCE token endpoint.
//! - [`ops`]: `onboard queues` and `onboard dlq`: depths, peek, redrive,
//!   purge.
//! - [`sqs_calls`]: the SQS calls `dev` and the operations share.
//! - [`output`]: printing for a person or a pipe (`outln!`), quiet when
//!   the reader goes away.

pub mod dev;
pub mod doctor;
pub mod event_source;
pub mod hosted_ui;
pub mod input;
pub mod ops;
pub mod output;
pub mod pipeline;
pub mod queue_roles;
pub mod reconcile;
pub mod replay;
pub mod serve;
pub mod signup;
pub mod sqs_calls;
pub mod stack;
pub mod table_stream;
pub mod token;

/// `1 noun`, `0 nouns`, `2 nouns`: a count in a sentence.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
