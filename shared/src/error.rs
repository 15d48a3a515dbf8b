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

/// A parser's message with every input value taken out, so that a reason
/// (a dead letter's, a report's, a log's) never carries what the input held
/// (an email, a name): serde quotes the value it could not take (`invalid
/// type: string "ada@example.net", expected u64`, ``unknown variant `x` ``),
/// and the schema's own words (``missing field `version` ``, ``expected one
/// of `created`, ...``) stay.
pub fn without_input_values(message: &str) -> String {
    // serde's descriptions of an unexpected value, each followed by it.
    const VALUE_AFTER: [&str; 8] = [
        "string ",
        "integer ",
        "floating point ",
        "character ",
        "boolean ",
        "unknown variant ",
        "unknown field ",
        "invalid value: ",
    ];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some((start, close, end)) = next_quoted(rest) {
        let (before, quoted) = (&rest[..start], &rest[start..end]);
        out.push_str(before);
        // A double- or single-quoted text is always input; a backticked one
        // is when serde says it is the value it met.
        if close != '`' || VALUE_AFTER.iter().any(|word| before.ends_with(word)) {
            if out.ends_with(' ') {
                out.pop();
            }
        } else {
            out.push_str(quoted);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The next quoted text: where it starts, its quote, and where it ends
/// (past the closing quote). A single quote counts only as a quotation
/// mark (`parse 'x' as`), never as an apostrophe (`the user's`).
fn next_quoted(text: &str) -> Option<(usize, char, usize)> {
    let mut search = 0;
    while let Some(offset) = text[search..].find(['"', '`', '\'']) {
        let start = search + offset;
        let quote = text[start..].chars().next()?;
        let after = start + quote.len_utf8();
        if quote == '\'' && !(start == 0 || text[..start].ends_with([' ', '('])) {
            search = after;
            continue;
        }
        let closing = text[after..].char_indices().find(|&(at, c)| {
            c == quote
                && (quote != '\''
                    || text[after + at + 1..]
                        .chars()
                        .next()
                        .is_none_or(|next| next.is_whitespace() || ",.;:)".contains(next)))
        });
        match closing {
            Some((at, _)) => return Some((start, quote, after + at + quote.len_utf8())),
            None => search = after,
        }
    }
    None
}

/// A name for a reason, between backticks, or a placeholder when the input
/// is not a name (see [`shown_name`]).
pub fn quoted_name(value: &str) -> String {
    shown_name(value).map_or_else(|| "(not a name)".to_owned(), |name| format!("`{name}`"))
}

/// An input value safe to name in a reason: a service or resource name
/// (letters, digits and `:_./-`, at most 256 of them), never free text
/// such as an email.
pub fn shown_name(value: &str) -> Option<&str> {
    (!value.is_empty()
        && value.len() <= 256
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_./-".contains(c)))
    .then_some(value)
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

    #[test]
    fn input_values_are_taken_out_of_parser_messages_and_the_schema_s_words_stay() {
        for (message, expected) in [
            (
                r#"invalid type: string "ada@example.net", expected u64 at line 1 column 30"#,
                "invalid type: string, expected u64 at line 1 column 30",
            ),
            (
                "unknown variant `exploded`, expected one of `created`, `updated`, `removed`",
                "unknown variant, expected one of `created`, `updated`, `removed`",
            ),
            ("missing field `version`", "missing field `version`"),
            (
                "invalid value: integer `-3`, expected u64",
                "invalid value: integer, expected u64",
            ),
            (
                "unknown field `ssn`, expected `name`",
                "unknown field, expected `name`",
            ),
            (r#"a "dangling quote"#, r#"a "dangling quote"#),
        ] {
            assert_eq!(without_input_values(message), expected, "{message}");
        }
    }
}
