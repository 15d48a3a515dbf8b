//! The `onboard` command, as a library so the end-to-end tests drive the
//! same code as the binary.
//!
//! - [`input`]: replay input files, read as a stream.
//! - [`pipeline`]: the embedded pipeline: the real handlers over the local
//!   adapters, with AWS's event-source rules.
//! - [`replay`]: `onboard replay`, its per-record table and JSON report.

pub mod input;
pub mod pipeline;
pub mod replay;
