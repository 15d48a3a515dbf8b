//! The stack, catalogued once: each function (its name, which is also its
//! metrics' `Function` dimension and the source its dead letters name; the
//! queue it reads; where its dead letters go) and each queue role (its
//! name on a bootstrapped stack, the Output that gives its URL, its DLQ,
//! where a DLQ's messages go back to). The functions, the `onboard`
//! command and the tests read it; a test checks it against
//! `infra/template.yaml`.
//!
//! A queue is known by its role, and a role by the stack's resolved names
//! (the queues a stack's Outputs name, or the names `onboard dev
//! --bootstrap` gives), never by words in a queue's name.

/// One of onboard's functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Function {
    PostConfirmation,
    StreamRouter,
    ArchiveConsumer,
    PublishConsumer,
    Greeting,
    Account,
}

impl Function {
    pub const ALL: [Function; 6] = [
        Function::PostConfirmation,
        Function::StreamRouter,
        Function::ArchiveConsumer,
        Function::PublishConsumer,
        Function::Greeting,
        Function::Account,
    ];

    /// Its name: its binary's and its crate's, its metrics' `Function`
    /// dimension, the `onboard.source` of the dead letters it sends.
    pub const fn name(self) -> &'static str {
        match self {
            Function::PostConfirmation => "post-confirmation",
            Function::StreamRouter => "stream-router",
            Function::ArchiveConsumer => "archive-consumer",
            Function::PublishConsumer => "publish-consumer",
            Function::Greeting => "greeting",
            Function::Account => "account",
        }
    }

    /// The function of this name.
    pub fn named(name: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|function| function.name() == name)
    }

    /// Its resource in `infra/template.yaml`.
    pub fn logical_id(self) -> &'static str {
        match self {
            Function::PostConfirmation => "PostConfirmationFunction",
            Function::StreamRouter => "StreamRouterFunction",
            Function::ArchiveConsumer => "ArchiveConsumerFunction",
            Function::PublishConsumer => "PublishConsumerFunction",
            Function::Greeting => "GreetingFunction",
            Function::Account => "AccountFunction",
        }
    }

    /// The queue it consumes, for a queue's consumer.
    pub fn reads(self) -> Option<QueueRole> {
        match self {
            Function::ArchiveConsumer => Some(QueueRole::Archive),
            Function::PublishConsumer => Some(QueueRole::Publish),
            _ => None,
        }
    }

    /// The queue it sends what can never succeed to.
    pub fn dead_letters(self) -> Option<QueueRole> {
        match self {
            Function::StreamRouter => Some(QueueRole::RouterDlq),
            Function::ArchiveConsumer => Some(QueueRole::ArchiveDlq),
            Function::PublishConsumer => Some(QueueRole::PublishDlq),
            Function::PostConfirmation | Function::Greeting | Function::Account => None,
        }
    }
}

/// Every queue of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueRole {
    /// The router's changes for the archive consumer.
    Archive,
    /// The router's changes for the publish consumer.
    Publish,
    /// What the archive queue's redrive policy or its consumer gave up on.
    ArchiveDlq,
    /// What the publish queue's redrive policy or its consumer gave up on.
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

    /// Its name on a stack `onboard dev --bootstrap` made.
    pub fn bootstrapped_name(self, stack: &str) -> String {
        format!("{stack}-{}", self.name())
    }

    /// Its resource in `infra/template.yaml`.
    pub fn logical_id(self) -> &'static str {
        match self {
            QueueRole::Archive => "ArchiveQueue",
            QueueRole::Publish => "PublishQueue",
            QueueRole::ArchiveDlq => "ArchiveDeadLetterQueue",
            QueueRole::PublishDlq => "PublishDeadLetterQueue",
            QueueRole::RouterDlq => "RouterDeadLetterQueue",
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

    /// The function that consumes it, for a source queue.
    pub fn consumer(self) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|function| function.reads() == Some(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_consumer_dead_letters_to_its_queue_s_dlq() {
        for function in Function::ALL {
            if let Some(queue) = function.reads() {
                assert_eq!(queue.consumer(), Some(function));
                assert_eq!(function.dead_letters(), queue.dlq());
            }
        }
    }
}
