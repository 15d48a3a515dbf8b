//! The stack's queues by what they are for: one catalogue that the local
//! pipeline, the stack's names and the operations read, so that a queue's
//! role, its dead-letter queue and where that DLQ's messages go back to are
//! said once.

use onboard_shared::reason::shown_name;

/// Every queue of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueRole {
    /// The router's changes for the archive consumer.
    Archive,
    /// The router's changes for the publish consumer.
    Publish,
    /// What the archive queue's redrive policy gave up on.
    ArchiveDlq,
    /// What the publish queue's redrive policy gave up on.
    PublishDlq,
    /// The router's dead letters and its stream's on-failure destination.
    RouterDlq,
}

/// Where a dead-letter queue's messages go back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DlqSource {
    /// A queue: its messages are moved back there.
    Queue(QueueRole),
    /// The table's stream: its records go through the router again.
    Router,
}

impl QueueRole {
    pub const ALL: [QueueRole; 5] = [
        QueueRole::Archive,
        QueueRole::ArchiveDlq,
        QueueRole::Publish,
        QueueRole::PublishDlq,
        QueueRole::RouterDlq,
    ];

    /// The name reports use, and the suffix of the queue's name on a
    /// bootstrapped stack (`<stack>-archive-dlq`).
    pub fn name(self) -> &'static str {
        match self {
            QueueRole::Archive => "archive",
            QueueRole::Publish => "publish",
            QueueRole::ArchiveDlq => "archive-dlq",
            QueueRole::PublishDlq => "publish-dlq",
            QueueRole::RouterDlq => "router-dlq",
        }
    }

    /// The Output of `infra/template.yaml` that gives the queue's URL.
    pub fn output_key(self) -> &'static str {
        match self {
            QueueRole::Archive => "ArchiveQueueUrl",
            QueueRole::Publish => "PublishQueueUrl",
            QueueRole::ArchiveDlq => "ArchiveDeadLetterQueueUrl",
            QueueRole::PublishDlq => "PublishDeadLetterQueueUrl",
            QueueRole::RouterDlq => "RouterDeadLetterQueueUrl",
        }
    }

    /// The dead-letter queue of a source queue.
    pub fn dlq(self) -> Option<QueueRole> {
        match self {
            QueueRole::Archive => Some(QueueRole::ArchiveDlq),
            QueueRole::Publish => Some(QueueRole::PublishDlq),
            _ => None,
        }
    }

    /// Where a dead-letter queue's messages go back to; `None` for a source
    /// queue.
    pub fn source(self) -> Option<DlqSource> {
        match self {
            QueueRole::ArchiveDlq => Some(DlqSource::Queue(QueueRole::Archive)),
            QueueRole::PublishDlq => Some(DlqSource::Queue(QueueRole::Publish)),
            QueueRole::RouterDlq => Some(DlqSource::Router),
            QueueRole::Archive | QueueRole::Publish => None,
        }
    }

    pub fn is_dlq(self) -> bool {
        self.source().is_some()
    }
}

/// A consumer of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Consumer {
    Archive,
    Publish,
}

impl Consumer {
    pub const ALL: [Consumer; 2] = [Consumer::Archive, Consumer::Publish];

    /// The queue it reads.
    pub fn queue(self) -> QueueRole {
        match self {
            Consumer::Archive => QueueRole::Archive,
            Consumer::Publish => QueueRole::Publish,
        }
    }

    /// The function's name, as logs and reports say it.
    pub fn function(self) -> &'static str {
        match self {
            Consumer::Archive => "archive-consumer",
            Consumer::Publish => "publish-consumer",
        }
    }

    /// The consumer of the queue an SQS record's `eventSourceARN` names.
    /// Queue names are told by the words in them, so that the names of a
    /// bootstrapped stack (`onboard-archive`) and of a deployed one
    /// (`onboard-ArchiveQueue-1A2B3C`) both work; a dead-letter queue is
    /// refused: its messages go back with `onboard dlq redrive`.
    pub fn for_queue_arn(arn: &str) -> Result<Consumer, String> {
        let name = arn.rsplit(':').next().unwrap_or_default();
        // Named back only when it is a name, never free text.
        let (arn, name) = (
            shown_name(arn).unwrap_or("(not an ARN)"),
            shown_name(name).unwrap_or("(not a queue name)"),
        );
        let lower = name.to_ascii_lowercase();
        if lower.contains("dlq") || lower.contains("dead") {
            return Err(format!(
                "`{name}` is a dead-letter queue: its messages go back with `onboard dlq redrive`"
            ));
        }
        match (lower.contains("archive"), lower.contains("publish")) {
            (true, false) => Ok(Consumer::Archive),
            (false, true) => Ok(Consumer::Publish),
            _ => Err(format!(
                "eventSourceARN `{arn}` names neither the archive queue nor the publish queue"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_arn_names_its_consumer_by_bootstrapped_or_deployed_name() {
        for (arn, expected) in [
            (
                "arn:aws:sqs:eu-west-1:1:onboard-archive",
                Ok(Consumer::Archive),
            ),
            (
                "arn:aws:sqs:eu-west-1:1:onboard-ArchiveQueue-1A2B",
                Ok(Consumer::Archive),
            ),
            (
                "arn:aws:sqs:eu-west-1:1:prod-publish",
                Ok(Consumer::Publish),
            ),
        ] {
            assert_eq!(Consumer::for_queue_arn(arn), expected, "{arn}");
        }
        for arn in [
            "arn:aws:sqs:eu-west-1:1:onboard-archive-dlq",
            "arn:aws:sqs:eu-west-1:1:onboard-PublishDeadLetterQueue-9",
            "arn:aws:sqs:eu-west-1:1:orders",
            "",
        ] {
            assert!(Consumer::for_queue_arn(arn).is_err(), "{arn}");
        }
    }

    #[test]
    fn each_dlq_goes_back_to_its_source_and_each_source_has_its_dlq() {
        for role in QueueRole::ALL {
            match role.source() {
                Some(DlqSource::Queue(source)) => assert_eq!(source.dlq(), Some(role)),
                Some(DlqSource::Router) => assert_eq!(role, QueueRole::RouterDlq),
                None => assert!(role.dlq().is_some_and(QueueRole::is_dlq)),
            }
        }
    }
}
