//! Why a record failed or was refused, as text that holds no input value
//! and no email: the one rule of what a reason may say.
//!
//! A [`Reason`] is made only through this module: from an error chain, from
//! any text (both scrubbed: the values a parser quoted taken out, emails
//! masked), from a fixed text of the code's own, or naming a value only
//! when it is a name that is safe to show ([`shown_name`]). Every fate,
//! outcome, dead letter and failure carries one, so a dead letter's
//! `onboard.reason`, a report's line and a log's field cannot carry what
//! the input held.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use serde::Serialize;

use crate::error::error_chain;

/// Why a record failed or was refused. Holds no input value and no email.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Reason(Cow<'static, str>);

impl Reason {
    /// A fixed text of the code's own: a literal holds no input.
    pub const fn fixed(text: &'static str) -> Self {
        Reason(Cow::Borrowed(text))
    }

    /// An error and its causes on one line, scrubbed.
    pub fn of_error(error: &(dyn StdError + 'static)) -> Self {
        Self::scrubbed(error_chain(error))
    }

    /// Any text, scrubbed: what a parser quoted of its input is taken out,
    /// and every email is masked.
    pub fn scrubbed(text: impl fmt::Display) -> Self {
        Reason(Cow::Owned(mask_emails(&without_input_values(
            &text.to_string(),
        ))))
    }

    /// `what` followed by `value` between backticks when it is a name safe
    /// to show, or a placeholder when it is not ([`quoted_name`]).
    pub fn naming(what: &'static str, value: &str) -> Self {
        Reason(Cow::Owned(format!("{what} {}", quoted_name(value))))
    }

    /// This reason, `link`, then `more`: two reasons stay a reason.
    pub fn and(&self, link: &'static str, more: &Reason) -> Self {
        Reason(Cow::Owned(format!("{}{link}{}", self.0, more.0)))
    }

    /// `prefix` (a fixed text of the code's own) before this reason.
    pub fn after(self, prefix: &'static str) -> Self {
        Reason(Cow::Owned(format!("{prefix}{}", self.0)))
    }

    /// At most `max` bytes, cut on a character boundary, with `…`.
    pub fn truncated(self, max: usize) -> Self {
        if self.0.len() <= max {
            return self;
        }
        let mut end = max;
        while !self.0.is_char_boundary(end) {
            end -= 1;
        }
        Reason(Cow::Owned(format!("{}…", &self.0[..end])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
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

/// What stands in for an email address in a reason, and in what `dlq
/// peek` shows.
pub const MASKED_EMAIL: &str = "«email»";

/// A text with every email address in it masked (dead letters are records
/// as they arrived, and a person's address stays in the queue unless asked).
pub fn mask_emails(text: &str) -> String {
    let local = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            let start = (0..i).rev().take_while(|&j| local(chars[j])).last();
            let end = (i + 1..chars.len())
                .take_while(|&j| domain(chars[j]))
                .last()
                .map(|j| j + 1);
            if let (Some(start), Some(end)) = (start, end) {
                let host: String = chars[i + 1..end].iter().collect();
                let host = host.trim_end_matches('.');
                if host.contains('.') && !host.starts_with('.') {
                    // Take back the local part already copied out.
                    for _ in start..i {
                        out.pop();
                    }
                    out.push_str(MASKED_EMAIL);
                    i += 1 + host.chars().count();
                    continue;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_reason_from_any_text_loses_quoted_values_and_emails() {
        let reason = Reason::scrubbed(
            r#"invalid type: string "ada@example.net", expected u64; sent by zoe.martin@example.com"#,
        );
        assert_eq!(
            reason.as_str(),
            "invalid type: string, expected u64; sent by «email»"
        );
        let err = std::io::Error::other("no user ada@example.net");
        assert_eq!(Reason::of_error(&err).as_str(), "no user «email»");
    }

    #[test]
    fn a_reason_names_a_value_only_when_it_is_a_name() {
        assert_eq!(
            Reason::naming("no queue", "onboard-archive").as_str(),
            "no queue `onboard-archive`"
        );
        assert_eq!(
            Reason::naming("no queue", "ada@example.net").as_str(),
            "no queue (not a name)"
        );
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let cut = Reason::scrubbed("é".repeat(1000)).truncated(1000);
        assert!(cut.as_str().len() <= 1000 + '…'.len_utf8());
    }

    #[test]
    fn emails_in_a_body_are_masked_and_the_rest_kept() {
        let body = r#"{"email":"ada.king+test@example.net","note":"mail me at zoë@exämple.org.","at":"@home","v":"a@b"}"#;
        assert_eq!(
            mask_emails(body),
            r#"{"email":"«email»","note":"mail me at «email».","at":"@home","v":"a@b"}"#
        );
    }
}
