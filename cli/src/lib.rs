//! The `onboard` command, as a library so the end-to-end tests drive the
//! same code as the binary. Three layers, each a folder:
//!
//! - [`engine`]: the local Lambda engine. Lambda's event-source rules for
//!   the stream and the queues, stated once; the readers of replay input;
//!   and the one place that plugs the real handlers into those rules over
//!   the local adapters. It imports no other layer.
//! - [`stack`]: the AWS stack. Its resources' names (derived, given, or
//!   read from a deployed stack's Outputs), the credentials check,
//!   bootstrap, and the SQS, stream and Cognito calls the commands share.
//! - [`commands`]: one module per command, each holding the whole command:
//!   its arguments, its work and its printing. `main.rs` only parses,
//!   dispatches and turns errors into exit codes.
//!
//! Beside them, [`output`]: printing for a person or a pipe.

pub mod commands;
pub mod engine;
pub mod output;
pub mod stack;

/// `1 noun`, `0 nouns`, `2 nouns`: a count in a sentence.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
