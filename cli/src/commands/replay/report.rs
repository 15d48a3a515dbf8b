//! What a replay reports: a row for every input record, the files, and the
//! totals.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsMessage;
use onboard_shared::batch::{Fate, ItemReport};
use onboard_shared::catalogue::Function;
use onboard_shared::domain::{ChangeKind, ChangeMessage, UserId};
use onboard_shared::telemetry::metrics::Counts;
use serde::Serialize;

/// What happened to one input record.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub source: Arc<str>,
    pub index: usize,
    /// `stream`, `sqs`, `cognito` or `api`.
    pub input: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// An SQS message's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub event_id: Option<String>,
    pub sequence_number: Option<String>,
    pub kind: Option<ChangeKind>,
    pub user_id: Option<UserId>,
    pub version: Option<u64>,
    pub router: Option<Fate>,
    pub archive: Option<Fate>,
    pub publish: Option<Fate>,
    /// The greeting's answer to an API Gateway request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
}

/// An API Gateway response, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    pub status: i64,
    pub content_type: Option<String>,
    pub body: String,
}

impl Row {
    pub(super) fn new(source: &Arc<str>, index: usize, input: &'static str) -> Self {
        Self {
            source: source.clone(),
            index,
            input,
            trigger: None,
            message_id: None,
            event_id: None,
            sequence_number: None,
            kind: None,
            user_id: None,
            version: None,
            router: None,
            archive: None,
            publish: None,
            response: None,
        }
    }

    /// An SQS message put on its consumer's queue: what its body says.
    pub(super) fn queued(&mut self, message: &SqsMessage) {
        self.message_id = message.message_id.clone();
        if let Some(change) = message
            .body
            .as_deref()
            .and_then(|body| ChangeMessage::from_json(body).ok())
        {
            self.event_id = Some(change.event_id.clone());
            self.kind = Some(change.kind);
            self.user_id = Some(change.user_id().clone());
            self.version = Some(change.version.get());
        }
    }

    pub(super) fn routed(&mut self, item: ItemReport) {
        self.event_id = item.event_id.or(self.event_id.take());
        self.sequence_number = Some(item.id).filter(|id| !id.is_empty());
        self.kind = item.kind;
        self.user_id = item.user_id.or(self.user_id.take());
        self.version = item.version.map(u64::from);
        self.router = Some(item.fate);
    }
}

/// One input file and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub records: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Counts of a fate column.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub applied: usize,
    pub skipped: usize,
    pub dead_lettered: usize,
    pub failed: usize,
}

impl Tally {
    pub(super) fn add(&mut self, fate: &Fate) {
        match fate {
            Fate::Applied => self.applied += 1,
            Fate::Skipped { .. } => self.skipped += 1,
            Fate::DeadLettered { .. } => self.dead_lettered += 1,
            Fate::Failed { .. } => self.failed += 1,
        }
    }
}

/// The totals of a replay.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub records: usize,
    pub files: usize,
    pub refused_files: usize,
    pub triggers_rejected: usize,
    /// API Gateway requests the greeting answered.
    pub requests: usize,
    pub router: Tally,
    pub archive: Tally,
    pub publish: Tally,
    pub dead_letters: usize,
    pub archive_writes: usize,
    pub parameter_writes: usize,
    /// Each function's metrics, named and counted as it reports them to
    /// CloudWatch: from each record's final fate, each trigger's outcome
    /// and each request's answer.
    pub metrics: BTreeMap<Function, Counts>,
}

impl Summary {
    /// A replay succeeded when every file was read and every record reached
    /// a final fate (dead letters included: they are kept with their reason).
    /// A record still failed at the end (one that could not even be
    /// dead-lettered) is not kept anywhere: the replay did not succeed.
    pub fn succeeded(&self) -> bool {
        self.refused_files == 0 && self.triggers_rejected == 0 && self.failed() == 0
    }

    /// Adds to `function`'s metrics.
    pub(super) fn metered(&mut self, function: Function, counts: &Counts) {
        self.metrics.entry(function).or_default().merge(counts);
    }

    /// Records that ended failed, in any column.
    pub fn failed(&self) -> usize {
        self.router.failed + self.archive.failed + self.publish.failed
    }
}

#[derive(Debug, Serialize)]
pub(super) struct DeadLetterReport<'a> {
    pub(super) queue: &'a str,
    pub(super) message_id: &'a str,
    pub(super) source: Option<&'a str>,
    pub(super) reason: Option<&'a str>,
    /// Where the record is kept, when it was too big for its dead letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) kept_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct ArchivedReport {
    pub(super) key: String,
    pub(super) version: u64,
    pub(super) removed: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct ParameterReport<'a> {
    pub(super) name: &'a str,
    pub(super) value: &'a str,
}
