//! The local Lambda engine: what Lambda does between an event source and a
//! function, run in-process.
//!
//! - [`event_source`]: Lambda's rules for the stream and the queues
//!   (batching, checkpoints, bisection, retries, record age, receive counts,
//!   DLQs), stated once, with the stack's settings, each citing AWS.
//! - [`input`]: replay input files, read as a stream: stream and SQS
//!   events, API Gateway requests and Cognito triggers.
//! - [`queue_roles`]: the queues' consumers, and which queue a message came
//!   from, by the stack's names.
//! - [`handlers`]: the one place the real handlers are plugged into those
//!   rules (the rules import no function crate).
//! - [`pipeline`]: the whole pipeline over the local adapters, driven with
//!   those rules.

pub mod event_source;
pub mod handlers;
pub mod input;
pub mod pipeline;
pub mod queue_roles;
