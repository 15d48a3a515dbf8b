//! Names on the wire: the attributes of a row or a message that another
//! part (or a person's tool) reads, each spelled here once.
//!
//! One sign-up, one trace: the trigger writes its invocation's trace header
//! (from Lambda's context) on the user's row ([`TRACE_ROW_ATTRIBUTE`],
//! beside the user, not in it); the router reads it from the stream
//! record's image and sends it as each queue message's
//! [`TRACE_MESSAGE_ATTRIBUTE`], which Lambda's SQS poller reads to join each
//! consumer's invocation to that trace. A change whose row has no header
//! (written before, or by hand) carries the router's own. A DynamoDB stream
//! carries no trace context of its own: the row is the only way the
//! trigger's trace reaches the router.

/// The users table attribute that holds the trace header of the sign-up
/// that wrote the row (beside the user, not in it).
pub const TRACE_ROW_ATTRIBUTE: &str = "trace_header";

/// SQS's system attribute for the trace header a message continues.
pub const TRACE_MESSAGE_ATTRIBUTE: &str = "AWSTraceHeader";

/// The message attribute that carries why a message was dead-lettered.
pub const REASON_ATTRIBUTE: &str = "onboard.reason";

/// The message attribute that names the part that dead-lettered a message.
pub const SOURCE_ATTRIBUTE: &str = "onboard.source";

/// The message attribute that carries the id the record had where it was
/// received (the SQS message id, or the stream record's sequence number):
/// the id the function's log names, while the dead letter has an id of its
/// own.
pub const RECEIVED_AS_ATTRIBUTE: &str = "onboard.received-as";
