//! The core of onboard, shared by every Lambda function and the `onboard`
//! command.
//!
//! Reading order:
//!
//! - [`catalogue`]: the stack's functions and queues, each named once.
//! - [`domain`]: the user (parsed from Cognito attributes), its version and
//!   revision, and the [`domain::ChangeMessage`] the router sends.
//! - [`stream`]: DynamoDB stream records into change messages, with
//!   `serde_dynamo`, one record at a time.
//! - [`ports`]: one trait per capability the handlers need: put a new user,
//!   send a batch to a queue, archive a user, read and write a parameter.
//! - [`aws`] and `local`: the adapters of those ports, on the AWS SDK and on
//!   memory and local files (`local` only with the `local` feature, for the
//!   `onboard` command and the tests).
//! - [`batch`]: the fate of each record of a batch, partial batch responses
//!   and dead-lettering.
//! - [`published`]: the parameter the publisher writes and the greeting reads.
//! - [`config`] and [`telemetry`]: read once, set up once, at start.
//! - [`api`]: who an API request's token names, and answers no cache keeps.
//! - [`wire`]: the names of the attributes on rows and messages that other
//!   parts read.
//! - [`error`]: port errors that say whether a retry can help.
//! - [`reason`]: why a record failed or was refused, as a [`reason::Reason`]
//!   that can hold no input value and no email.

pub mod api;
pub mod aws;
pub mod batch;
pub mod catalogue;
pub mod config;
pub mod domain;
pub mod error;
#[cfg(feature = "local")]
pub mod local;
pub mod names;
pub mod parameter_tier;
pub mod ports;
pub mod published;
pub mod reason;
pub mod stream;
pub mod telemetry;
pub mod wire;
