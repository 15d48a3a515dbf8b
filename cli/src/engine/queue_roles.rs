//! The queues' consumers, and which queue an SQS message came from: told by
//! the stack's resolved queue names (the catalogue's roles, named by the
//! stack's Outputs or by `onboard dev --bootstrap`), never by words in a
//! name, so a stack called `archive-publish` works as any other.

use std::collections::BTreeMap;

use onboard_shared::catalogue::{Function, QueueRole};
use onboard_shared::reason::shown_name;

/// A consumer of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Consumer {
    Archive,
    Publish,
}

impl Consumer {
    pub const ALL: [Consumer; 2] = [Consumer::Archive, Consumer::Publish];

    /// The function it is.
    pub fn function(self) -> Function {
        match self {
            Consumer::Archive => Function::ArchiveConsumer,
            Consumer::Publish => Function::PublishConsumer,
        }
    }

    /// The queue it reads, as the catalogue says.
    pub fn queue(self) -> QueueRole {
        self.function()
            .reads()
            .unwrap_or_else(|| unreachable!("the catalogue names the queue each consumer reads"))
    }

    /// The consumer of a source queue.
    pub fn of_queue(role: QueueRole) -> Option<Consumer> {
        Consumer::ALL
            .into_iter()
            .find(|consumer| consumer.queue() == role)
    }
}

/// Why an SQS message's `eventSourceARN` names no consumer's queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAConsumersQueue {
    #[error("an SQS message without an eventSourceARN")]
    NoArn,
    #[error("`{0}` is a dead-letter queue: its messages go back with `onboard dlq redrive`")]
    DeadLetterQueue(String),
    #[error(
        "eventSourceARN `{arn}` names no queue of the stack (its queues: {known}); `--stack` names another stack"
    )]
    Unknown { arn: String, known: String },
}

/// A stack's queues by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueNames(BTreeMap<String, QueueRole>);

impl QueueNames {
    /// The queues of a stack, from its names by role.
    pub fn of(queues: &BTreeMap<QueueRole, String>) -> Self {
        Self(
            queues
                .iter()
                .map(|(role, name)| (name.clone(), *role))
                .collect(),
        )
    }

    /// The queues of a stack `onboard dev --bootstrap` made.
    pub fn bootstrapped(stack: &str) -> Self {
        Self::of(
            &QueueRole::ALL
                .into_iter()
                .map(|role| (role, role.bootstrapped_name(stack)))
                .collect(),
        )
    }

    /// The consumer of the queue an SQS record's `eventSourceARN` names. A
    /// dead-letter queue is refused: its messages go back with `onboard dlq
    /// redrive`.
    pub fn consumer_of(&self, arn: Option<&str>) -> Result<Consumer, NotAConsumersQueue> {
        let arn = arn.ok_or(NotAConsumersQueue::NoArn)?;
        let name = arn.rsplit(':').next().unwrap_or_default();
        match self.0.get(name) {
            Some(role) if role.is_dlq() => {
                Err(NotAConsumersQueue::DeadLetterQueue(name.to_owned()))
            }
            Some(role) => Consumer::of_queue(*role).ok_or_else(|| self.unknown(arn)),
            None => Err(self.unknown(arn)),
        }
    }

    fn unknown(&self, arn: &str) -> NotAConsumersQueue {
        let known: Vec<&str> = self
            .0
            .iter()
            .filter(|(_, role)| !role.is_dlq())
            .map(|(name, _)| name.as_str())
            .collect();
        NotAConsumersQueue::Unknown {
            // Named back only when it is a name, never free text.
            arn: shown_name(arn).unwrap_or("(not an ARN)").to_owned(),
            known: known.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(stack: &str) -> BTreeMap<QueueRole, String> {
        QueueRole::ALL
            .into_iter()
            .map(|role| (role, role.bootstrapped_name(stack)))
            .collect()
    }

    #[test]
    fn a_queue_arn_names_its_consumer_by_the_stack_s_own_names_not_by_words() {
        // A stack whose name holds both words.
        let queues = QueueNames::of(&names("archive-publish"));
        for (name, expected) in [
            ("archive-publish-archive", Consumer::Archive),
            ("archive-publish-publish", Consumer::Publish),
        ] {
            let arn = format!("arn:aws:sqs:eu-west-1:1:{name}");
            assert_eq!(queues.consumer_of(Some(&arn)), Ok(expected), "{arn}");
        }
        // A deployed stack's generated names, as its Outputs give them.
        let mut deployed = names("onboard");
        deployed.insert(QueueRole::Archive, "onboard-ArchiveQueue-1A2B".to_owned());
        let deployed = QueueNames::of(&deployed);
        assert_eq!(
            deployed.consumer_of(Some("arn:aws:sqs:eu-west-1:1:onboard-ArchiveQueue-1A2B")),
            Ok(Consumer::Archive)
        );
        assert_eq!(
            queues.consumer_of(Some("arn:aws:sqs:eu-west-1:1:archive-publish-archive-dlq")),
            Err(NotAConsumersQueue::DeadLetterQueue(
                "archive-publish-archive-dlq".to_owned()
            ))
        );
        for arn in [
            Some("arn:aws:sqs:eu-west-1:1:onboard-archive"),
            Some("arn:aws:sqs:eu-west-1:1:orders"),
            Some(""),
            None,
        ] {
            assert!(queues.consumer_of(arn).is_err(), "{arn:?}");
        }
    }
}
