//! Errors of the ports, each saying once whether a retry can help.

use std::error::Error as StdError;

pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A call through a port that did not succeed.
///
/// `Throttled` and `Transient` are worth retrying (the SDK already did, the
/// queue's redelivery will again). `Rejected` will fail the same way every
/// time for this input: the record goes to its dead-letter destination with
/// the reason, to be redriven once the cause is fixed.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("{operation} was throttled")]
    Throttled {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("{operation} failed with a transient error")]
    Transient {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("{operation} was rejected: {reason}")]
    Rejected {
        operation: &'static str,
        reason: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl PortError {
    /// Its kind, as a failed invocation names it.
    pub fn kind(&self) -> &'static str {
        match self {
            PortError::Throttled { .. } => "Throttled",
            PortError::Transient { .. } => "Transient",
            PortError::Rejected { .. } => "Rejected",
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PortError::Throttled { .. } | PortError::Transient { .. }
        )
    }

    pub fn rejected(operation: &'static str, reason: impl Into<String>) -> Self {
        PortError::Rejected {
            operation,
            reason: reason.into(),
            source: None,
        }
    }

    pub fn transient(operation: &'static str, source: impl Into<BoxError>) -> Self {
        PortError::Transient {
            operation,
            source: source.into(),
        }
    }

    /// The error and its causes on one line, for a log field or a
    /// dead-letter reason.
    pub fn chain(&self) -> String {
        error_chain(self)
    }
}

/// An error a function fails its invocation with, which says its kind:
/// Lambda's `errorType`, the function's log line and its metric document
/// name it (the runtime would name the Rust type of a boxed error).
pub trait Failure: StdError + 'static {
    fn kind(&self) -> &'static str;
}

impl Failure for PortError {
    fn kind(&self) -> &'static str {
        PortError::kind(self)
    }
}

/// What Lambda is told of a failed invocation, said once in the log too.
pub fn diagnostic(failure: &dyn Failure) -> lambda_runtime::Diagnostic {
    let message = error_chain(failure);
    tracing::error!(error_type = failure.kind(), error = %message, "the invocation failed");
    lambda_runtime::Diagnostic {
        error_type: failure.kind().to_owned(),
        error_message: message,
    }
}

/// Joins an error and all its sources with `: `.
pub fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_and_transient_errors_are_retryable() {
        let io = || std::io::Error::other("connection reset");
        assert!(
            PortError::Throttled {
                operation: "PutParameter",
                source: io().into()
            }
            .is_retryable()
        );
        assert!(PortError::transient("PutObject", io()).is_retryable());
        assert!(!PortError::rejected("PutParameter", "value too long").is_retryable());
    }

    #[test]
    fn the_chain_keeps_the_cause() {
        let err = PortError::transient("PutObject", std::io::Error::other("connection reset"));
        assert_eq!(
            err.chain(),
            "PutObject failed with a transient error: connection reset"
        );
    }
}
