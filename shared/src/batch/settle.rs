//! The fold every handler shares: what one record's work came to, into its
//! fate. Done is its fate; failed for now is retried (Lambda delivers it
//! again); refused for good goes to the dead-letter queue with the body as
//! it arrived and the reason.

use std::collections::HashMap;

use super::{BatchReport, Fate, ItemReport, ReasonClass, send_all};
use crate::domain::ChangeMessage;
use crate::error::PortError;
use crate::ports::{Attribute, MessageQueue, OutgoingMessage, SendFailure};
use crate::reason::Reason;
use crate::wire::{REASON_ATTRIBUTE, RECEIVED_AS_ATTRIBUTE, SOURCE_ATTRIBUTE};

/// Longest reason kept on a dead-letter message.
const MAX_REASON_LEN: usize = 1000;

/// What one record's work came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It is done, with this fate (applied, or skipped).
    Done(Fate),
    /// It failed for now; a delivery later may succeed.
    Retry(Reason),
    /// It failed for now because a service throttled its call (after the
    /// SDK's own retries): retried, and counted on its report.
    Throttled(Reason),
    /// It can never succeed as it is, for this class of reason.
    Reject(ReasonClass, Reason),
}

impl Outcome {
    /// The same outcome for a record that shares another's work: `fate`
    /// when the work was done, its failure otherwise.
    pub fn sharing(&self, fate: Fate) -> Outcome {
        match self {
            Outcome::Done(_) => Outcome::Done(fate),
            // The throttled call was the other record's.
            Outcome::Throttled(reason) => Outcome::Retry(reason.clone()),
            other => other.clone(),
        }
    }
}

impl From<Result<Fate, PortError>> for Outcome {
    fn from(result: Result<Fate, PortError>) -> Self {
        match result {
            Ok(fate) => Outcome::Done(fate),
            Err(err @ PortError::Throttled { .. }) => Outcome::Throttled(Reason::of_error(&err)),
            Err(err) if err.is_retryable() => Outcome::Retry(Reason::of_error(&err)),
            Err(err) => Outcome::Reject(ReasonClass::Refused, Reason::of_error(&err)),
        }
    }
}

impl From<SendFailure> for Outcome {
    fn from(failure: SendFailure) -> Self {
        if failure.throttled {
            Outcome::Throttled(failure.reason)
        } else if failure.retryable {
            Outcome::Retry(failure.reason)
        } else {
            Outcome::Reject(ReasonClass::Refused, failure.reason)
        }
    }
}

/// A record's place in its [`Settlement`]: issued by the settlement when
/// the record arrives, and the only way to settle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(usize);

/// A batch being settled. It builds the report's items itself, one for
/// each record as it arrives ([`Settlement::arrive`]), each pending (failed,
/// so retried) until a handler settles it through its [`Ticket`]: a record
/// nobody settles is retried, never reported done.
#[derive(Debug, Default)]
pub struct Settlement<'a> {
    arrived: Vec<&'a str>,
    report: BatchReport,
    poison: Vec<DeadLetter>,
}

/// What a record is until it is settled.
const PENDING: Reason = Reason::fixed("not settled");

impl<'a> Settlement<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in one record: the id Lambda wants back on failure (the SQS
    /// message id, or the stream record's sequence number; empty when the
    /// record did not even say) and its body as it arrived.
    pub fn arrive(&mut self, id: impl Into<String>, body: &'a str) -> Ticket {
        self.arrived.push(body);
        self.report
            .items
            .push(ItemReport::new(id, Fate::Failed { reason: PENDING }));
        Ticket(self.arrived.len() - 1)
    }

    /// Names on a record's report line the change it carries.
    pub fn carries(&mut self, ticket: Ticket, message: &ChangeMessage) {
        let item = &mut self.report.items[ticket.0];
        *item = ItemReport::for_message(std::mem::take(&mut item.id), message, item.fate.clone());
    }

    /// Names on a record's report line the stream record it came from, for
    /// a record that carries no change.
    pub fn from_event(&mut self, ticket: Ticket, event_id: Option<String>) {
        self.report.items[ticket.0].event_id = event_id;
    }

    /// Counts on a record's report the conditional writes it lost to
    /// another writer.
    pub fn lost_writes(&mut self, ticket: Ticket, write_conflicts: u32) {
        self.report.items[ticket.0].write_conflicts += write_conflicts;
    }

    /// The records taken in so far.
    pub fn len(&self) -> usize {
        self.arrived.len()
    }

    pub fn is_empty(&self) -> bool {
        self.arrived.is_empty()
    }

    /// Folds one record's outcome into its fate. A record refused twice
    /// keeps its first reason; a refusal wins over a retry.
    pub fn settle(&mut self, ticket: Ticket, outcome: impl Into<Outcome>) {
        let index = ticket.0;
        match outcome.into() {
            Outcome::Done(fate) => self.report.items[index].fate = fate,
            Outcome::Retry(reason) => self.report.items[index].fate = Fate::Failed { reason },
            Outcome::Throttled(reason) => {
                let item = &mut self.report.items[index];
                item.fate = Fate::Failed { reason };
                item.throttles += 1;
            }
            Outcome::Reject(class, reason) => {
                if !self.poison.iter().any(|p| p.index == index) {
                    self.poison.push(DeadLetter {
                        index,
                        class,
                        // The body keeps the input; the reason never can.
                        body: self.arrived[index].to_owned(),
                        reason,
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
/// are (kept apart when too big), and returns each one's fate:
/// dead-lettered, or failed when even that send failed.
pub async fn dead_letter_all<'a>(
    queue: &dyn MessageQueue,
    source: &str,
    class: ReasonClass,
    letters: impl IntoIterator<Item = (&'a str, Reason)>,
) -> Vec<Fate> {
    let mut settlement = Settlement::new();
    for (body, reason) in letters {
        let ticket = settlement.arrive("", body);
        settlement.settle(ticket, Outcome::Reject(class, reason));
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
    pub reason: Reason,
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
    let mut reasons: HashMap<usize, (ReasonClass, Reason)> = HashMap::new();
    let mut messages = Vec::with_capacity(letters.len());
    for letter in letters {
        let mut reason = letter.reason.truncated(MAX_REASON_LEN);
        let bytes = letter.body.len();
        let mut body = letter.body;
        // Too big for a queue: kept elsewhere, where the queue can, and
        // dead-lettered as a pointer to it.
        if body.len() + reason.as_str().len() + 64 > super::MAX_BATCH_BYTES
            && let Some(pointer) = queue.keep_oversized(&body).await
        {
            body = pointer;
            reason = Reason::scrubbed(format_args!(
                "{reason}; the record, {bytes} bytes, is kept apart (see the body)"
            ))
            .truncated(MAX_REASON_LEN);
        }
        reasons.insert(letter.index, (letter.class, reason.clone()));
        let mut attributes = vec![
            Attribute {
                name: REASON_ATTRIBUTE.to_owned(),
                value: reason.to_string(),
            },
            Attribute {
                name: SOURCE_ATTRIBUTE.to_owned(),
                value: source.to_owned(),
            },
        ];
        let received_as = &report.items[letter.index].id;
        if !received_as.is_empty() {
            attributes.push(Attribute {
                name: RECEIVED_AS_ATTRIBUTE.to_owned(),
                value: received_as.clone(),
            });
        }
        let message = OutgoingMessage {
            // A dead letter ends its trace.
            trace_header: None,
            id: String::new(),
            body,
            attributes,
        };
        messages.push((letter.index, message));
    }
    let failures: HashMap<usize, SendFailure> =
        send_all(queue, messages).await.into_iter().collect();
    for (index, (class, reason)) in reasons {
        let fate = match failures.get(&index) {
            None => {
                tracing::warn!(queue = queue.name(), item = %report.items[index].id, %reason, "dead-lettered a record");
                Fate::DeadLettered {
                    queue: queue.name().to_owned(),
                    reason,
                    class,
                }
            }
            Some(failure) => Fate::Failed {
                reason: reason.and("; and it could not be dead-lettered: ", &failure.reason),
            },
        };
        report.items[index].fate = fate;
    }
}
