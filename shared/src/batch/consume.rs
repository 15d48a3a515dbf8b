//! The sequence every consumer of change messages shares, stated once:
//! decode each message of an SQS batch, group the changes by the key the
//! consumer names, apply each group, settle every message through its
//! ticket, log the ones that are done, and dead-letter the refused.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use aws_lambda_events::event::sqs::SqsEvent;

use super::{BatchReport, Outcome, Ticket, decode_sqs, log_done};
use crate::catalogue::Function;
use crate::domain::ChangeMessage;
use crate::ports::MessageQueue;

/// A function that consumes change messages from a queue.
pub trait ChangeConsumer: Sync {
    /// What its changes are grouped by: one group is applied as a whole,
    /// its changes in arrival order.
    type Key: Ord + Send;

    /// Its name on its log lines (`archive`, `publish`).
    const NAME: &'static str;
    /// The function it is: its name is the source its dead letters name.
    const FUNCTION: Function;
    /// Whether groups are applied side by side (or one after the other).
    const GROUPS_AT_ONCE: bool;

    fn key(&self, message: &ChangeMessage) -> Self::Key;

    /// Applies one group and says what each of its changes came to, by its
    /// ticket. A change it says nothing of is retried.
    fn apply(
        &self,
        changes: &[(Ticket, ChangeMessage)],
    ) -> impl Future<Output = Vec<Worked>> + Send;

    /// Where what can never succeed goes.
    fn dead_letters(&self) -> &dyn MessageQueue;
}

/// What a consumer's work on one change came to, and the conditional
/// writes it lost to another writer on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worked {
    pub ticket: Ticket,
    pub outcome: Outcome,
    pub write_conflicts: u32,
}

impl Worked {
    pub fn new(ticket: Ticket, outcome: Outcome) -> Self {
        Self {
            ticket,
            outcome,
            write_conflicts: 0,
        }
    }
}

/// Consumes one SQS batch and reports the fate of every message.
pub async fn consume<C: ChangeConsumer>(consumer: &C, event: &SqsEvent) -> BatchReport {
    let decoded = decode_sqs(event);
    let mut settlement = decoded.settlement;
    let mut groups: BTreeMap<C::Key, Vec<(Ticket, ChangeMessage)>> = BTreeMap::new();
    for (ticket, message) in decoded.messages {
        groups
            .entry(consumer.key(&message))
            .or_default()
            .push((ticket, message));
    }
    let outcomes: Vec<Worked> = if C::GROUPS_AT_ONCE {
        futures::future::join_all(groups.values().map(|group| consumer.apply(group)))
            .await
            .into_iter()
            .flatten()
            .collect()
    } else {
        let mut outcomes = Vec::new();
        for group in groups.values() {
            outcomes.extend(consumer.apply(group).await);
        }
        outcomes
    };
    let messages: HashMap<Ticket, &ChangeMessage> = groups
        .values()
        .flatten()
        .map(|(ticket, message)| (*ticket, message))
        .collect();
    for Worked {
        ticket,
        outcome,
        write_conflicts,
    } in outcomes
    {
        if let Some(message) = messages.get(&ticket) {
            match &outcome {
                Outcome::Done(fate) => log_done(C::NAME, message, fate),
                Outcome::Retry(reason) | Outcome::Throttled(reason) => tracing::warn!(
                    user_id = %message.user_id(),
                    version = %message.version,
                    error = %reason,
                    "{}: failed; it will be retried",
                    C::NAME
                ),
                Outcome::Reject(..) => {}
            }
        }
        settlement.lost_writes(ticket, write_conflicts);
        settlement.settle(ticket, outcome);
    }
    settlement
        .finish(consumer.dead_letters(), C::FUNCTION.name())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PortError;
    use crate::ports::{OutgoingMessage, SendFailure};

    const BATCH: &str = include_str!("../../../fixtures/sqs/changes-out-of-order.json");

    /// A dead-letter queue that counts what it is sent.
    #[derive(Default)]
    struct Counting(std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl MessageQueue for Counting {
        fn name(&self) -> &str {
            "dlq"
        }
        async fn send_batch(
            &self,
            entries: &[OutgoingMessage],
        ) -> Result<Vec<SendFailure>, PortError> {
            self.0
                .fetch_add(entries.len(), std::sync::atomic::Ordering::Relaxed);
            Ok(Vec::new())
        }
    }

    /// A consumer that applies nothing and says nothing.
    struct Forgetful(Counting);

    impl ChangeConsumer for Forgetful {
        type Key = ();
        const NAME: &'static str = "forgetful";
        const FUNCTION: Function = Function::ArchiveConsumer;
        const GROUPS_AT_ONCE: bool = false;
        fn key(&self, _: &ChangeMessage) {}
        async fn apply(&self, _: &[(Ticket, ChangeMessage)]) -> Vec<Worked> {
            Vec::new()
        }
        fn dead_letters(&self) -> &dyn MessageQueue {
            &self.0
        }
    }

    #[tokio::test]
    async fn a_consumer_that_settles_nothing_gets_every_message_retried() {
        let event: SqsEvent = serde_json::from_str(BATCH).unwrap_or_else(|err| panic!("{err}"));
        let consumer = Forgetful(Counting::default());
        let report = consume(&consumer, &event).await;
        assert_eq!(report.items.len(), event.records.len());
        assert!(
            report.items.iter().all(|item| item.fate.is_failed()),
            "{report:?}"
        );
        // Every message failed: Lambda sees the invocation fail, and retries all.
        assert!(report.sqs_response().is_err());
        assert_eq!(consumer.0.0.into_inner(), 0, "nothing dead-lettered");
    }
}
