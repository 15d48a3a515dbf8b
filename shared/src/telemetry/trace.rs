//! One sign-up, one trace: the X-Ray trace header travels with the user.
//!
//! The trigger writes its invocation's trace header on the user's row
//! ([`ROW_ATTRIBUTE`], beside the user, not in it); the router reads it
//! from the stream record's image and sends it as each queue message's
//! `AWSTraceHeader` system attribute, which Lambda's SQS poller reads to
//! join each consumer's invocation to that trace. A change whose row has no
//! header (written before, or by hand) carries the router's own.
//!
//! A DynamoDB stream carries no trace context of its own: the row is the
//! only way the trigger's trace reaches the router.

/// The users table attribute that holds the trace header of the sign-up
/// that wrote the row.
pub const ROW_ATTRIBUTE: &str = "trace_header";

/// SQS's system attribute for the trace header.
pub const SQS_ATTRIBUTE: &str = "AWSTraceHeader";

/// The current invocation's trace header, as Lambda's runtime sets it for
/// each invocation (`_X_AMZN_TRACE_ID`); none outside Lambda.
pub fn current() -> Option<String> {
    std::env::var("_X_AMZN_TRACE_ID")
        .ok()
        .filter(|header| !header.is_empty())
}
