//! The fold every handler shares: what one record's work came to, into its
//! fate. Done is its fate; failed for now is retried (Lambda delivers it
//! again); refused for good goes to the dead-letter queue with the body as
//! it arrived and the reason.

use std::collections::HashMap;

use super::{BatchReport, Fate, ReasonClass, send_all};
use crate::error::{PortError, without_input_values};
use crate::ports::{Attribute, MessageQueue, OutgoingMessage, SendFailure};

/// The message attribute that carries why a message was dead-lettered.
pub const REASON_ATTRIBUTE: &str = "onboard.reason";
/// The message attribute that names the part that dead-lettered a message.
pub const SOURCE_ATTRIBUTE: &str = "onboard.source";
/// Longest reason kept on a dead-letter message.
const MAX_REASON_LEN: usize = 1000;

/// What one record's work came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It is done, with this fate (applied, or skipped).
    Done(Fate),
    /// It failed for now; a delivery later may succeed.
    Retry(String),
    /// It can never succeed as it is, for this class of reason.
    Reject(ReasonClass, String),
}

impl Outcome {
    /// The same outcome for a record that shares another's work: `fate`
    /// when the work was done, its failure otherwise.
    pub fn sharing(&self, fate: Fate) -> Outcome {
        match self {
            Outcome::Done(_) => Outcome::Done(fate),
            other => other.clone(),
        }
    }
}

impl From<Result<Fate, PortError>> for Outcome {
    fn from(result: Result<Fate, PortError>) -> Self {
        match result {
            Ok(fate) => Outcome::Done(fate),
            Err(err) if err.is_retryable() => Outcome::Retry(err.chain()),
            Err(err) => Outcome::Reject(ReasonClass::Refused, err.chain()),
        }
    }
}

impl From<SendFailure> for Outcome {
    fn from(failure: SendFailure) -> Self {
        if failure.retryable {
            Outcome::Retry(failure.reason)
        } else {
            Outcome::Reject(ReasonClass::Refused, failure.reason)
        }
    }
}

/// A batch being settled: each record's body as it arrived, and its fate so
/// far (failed until settled, so a record nobody settles is retried rather
/// than lost).
#[derive(Debug)]
pub struct Settlement<'a> {
    arrived: Vec<&'a str>,
    pub report: BatchReport,
    poison: Vec<DeadLetter>,
}

impl<'a> Settlement<'a> {
    /// `arrived[i]` is the body of `report.items[i]` as it arrived.
    pub fn new(arrived: Vec<&'a str>, report: BatchReport) -> Self {
        Self {
            arrived,
            report,
            poison: Vec::new(),
        }
    }

    /// Folds one record's outcome into its fate. A record refused twice
    /// keeps its first reason; a refusal wins over a retry. A refusal's
    /// reason loses any input value a parser quoted in it.
    pub fn settle(&mut self, index: usize, outcome: impl Into<Outcome>) {
        match outcome.into() {
            Outcome::Done(fate) => self.report.items[index].fate = fate,
            Outcome::Retry(reason) => self.report.items[index].fate = Fate::Failed { reason },
            Outcome::Reject(class, reason) => {
                if !self.poison.iter().any(|p| p.index == index) {
                    self.poison.push(DeadLetter {
                        index,
                        class,
                        body: self.arrived[index].to_owned(),
                        // The body keeps the input; the reason never does.
                        reason: without_input_values(&reason),
                    });
                }
            }
        }
    }

    /// Sends the refused records to the dead-letter queue and returns the
    /// report.
    pub async fn finish(mut self, dead_letters: &dyn MessageQueue, source: &str) -> BatchReport {
        dead_letter(dead_letters, source, self.poison, &mut self.report).await;
        self.report
    }
}

/// Dead-letters each body with its reason, as a batch's refused records
/// are (kept apart when too big, reasons without input values), and returns
/// each one's fate: dead-lettered, or failed when even that send failed.
pub async fn dead_letter_all<'a>(
    queue: &dyn MessageQueue,
    source: &str,
    class: ReasonClass,
    letters: impl IntoIterator<Item = (&'a str, String)>,
) -> Vec<Fate> {
    let (bodies, reasons): (Vec<&str>, Vec<String>) = letters.into_iter().unzip();
    let report = BatchReport {
        items: bodies
            .iter()
            .map(|_| super::ItemReport::new("", Fate::Applied))
            .collect(),
    };
    let mut settlement = Settlement::new(bodies, report);
    for (index, reason) in reasons.into_iter().enumerate() {
        settlement.settle(index, Outcome::Reject(class, reason));
    }
    let report = settlement.finish(queue, source).await;
    report.items.into_iter().map(|item| item.fate).collect()
}

/// A record that can never succeed, to be sent to a dead-letter queue as it
/// was received, with the reason attached.
#[derive(Debug, Clone)]
struct DeadLetter {
    /// The index of the record in the [`BatchReport`].
    pub index: usize,
    pub class: ReasonClass,
    pub body: String,
    pub reason: String,
}

/// Sends the dead letters in as few calls as possible and records each one's
/// fate: dead-lettered, or failed (to be retried) when the send failed.
async fn dead_letter(
    queue: &dyn MessageQueue,
    source: &str,
    letters: Vec<DeadLetter>,
    report: &mut BatchReport,
) {
    if letters.is_empty() {
        return;
    }
    let mut reasons: HashMap<String, (usize, ReasonClass, String)> = HashMap::new();
    let mut messages = Vec::with_capacity(letters.len());
    for letter in letters {
        let mut reason = truncate(&letter.reason);
        let bytes = letter.body.len();
        let mut body = letter.body;
        // Too big for a queue: kept elsewhere, where the queue can, and
        // dead-lettered as a pointer to it.
        if body.len() + reason.len() + 64 > super::MAX_BATCH_BYTES
            && let Some(pointer) = queue.keep_oversized(&body).await
        {
            body = pointer;
            reason = truncate(&format!(
                "{reason}; the record, {bytes} bytes, is kept apart (see the body)"
            ));
        }
        reasons.insert(
            letter.index.to_string(),
            (letter.index, letter.class, reason.clone()),
        );
        messages.push(OutgoingMessage {
            // A dead letter ends its trace.
            trace_header: None,
            id: letter.index.to_string(),
            body,
            attributes: vec![
                Attribute {
                    name: REASON_ATTRIBUTE.to_owned(),
                    value: reason,
                },
                Attribute {
                    name: SOURCE_ATTRIBUTE.to_owned(),
                    value: source.to_owned(),
                },
            ],
        });
    }
    let failures = send_all(queue, messages).await;
    for (id, (index, class, reason)) in reasons {
        let fate = match failures.get(&id) {
            None => {
                tracing::warn!(queue = queue.name(), item = %report.items[index].id, %reason, "dead-lettered a record");
                Fate::DeadLettered {
                    queue: queue.name().to_owned(),
                    reason,
                    class,
                }
            }
            Some(failure) => Fate::Failed {
                reason: format!(
                    "{reason}; and it could not be dead-lettered: {}",
                    failure.reason
                ),
            },
        };
        report.items[index].fate = fate;
    }
}

fn truncate(reason: &str) -> String {
    if reason.len() <= MAX_REASON_LEN {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let reason = "é".repeat(MAX_REASON_LEN);
        let cut = truncate(&reason);
        assert!(cut.len() <= MAX_REASON_LEN + '…'.len_utf8());
    }
}
