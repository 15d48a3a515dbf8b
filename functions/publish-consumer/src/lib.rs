//! The publish writer: keeps every user's display name in Parameter Store,
//! packed many users to a parameter (`onboard_shared::names`), for the
//! greeting to read.
//!
//! Parameter Store has no conditional write and takes about three writes a
//! second for a whole account and Region: one writer ([`writer`]) drains
//! the publish queue itself, merges each change into the parameter that
//! holds its user (never backwards: every entry carries its revision), and
//! writes each changed parameter once with all that waited for it. A
//! removal leaves a tombstone (the version, no name), so the greeting stops
//! using the name and a late older change cannot bring it back.

mod lambda;
pub mod writer;

pub use lambda::{BYTES_PER_RUN, FINISH_RESERVE, MESSAGES_PER_RUN, invoke, limits_for};
