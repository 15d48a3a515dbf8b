//! `onboard replay`: events from files through the embedded pipeline, with a
//! line for every record and a summary. Stream records go to the router,
//! SQS messages to the consumer of the queue their `eventSourceARN` names,
//! Cognito triggers to the trigger and API Gateway requests to the greeting
//! ([`target`]); [`report`] and [`printer`] say what became of each.
//!
//! Input is read a chunk at a time; each chunk is routed and both queues are
//! drained before the next is read, so a record's line is complete (router,
//! archive and publish fates) when it is printed and nothing of a large
//! replay is held in memory but the current chunk.

mod printer;
mod report;
mod target;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::event::sqs::SqsMessage;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use onboard_shared::batch::Fate;
use onboard_shared::domain::{ChangeKind, UserId};
use onboard_shared::published::ParameterPrefix;
use post_confirmation::Outcome;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::event_source::Settings;
use crate::input::{self, Input};
use crate::pipeline::{Consumed, LocalPipeline};
use crate::queue_roles::Consumer;
use crate::stack::{Names, Stack, StackError};
use printer::{Finish, Printer};
use report::{ArchivedReport, ParameterReport};
pub use report::{FileReport, Response, Row, Summary, Tally};
use target::Target;

/// How a replay is run and shown.
#[derive(Debug, Clone)]
pub struct Options {
    pub paths: Vec<PathBuf>,
    pub state: PathBuf,
    pub prefix: ParameterPrefix,
    pub settings: Settings,
    pub json: bool,
    /// Draw a progress bar on standard error (for long replays on a terminal).
    pub progress: bool,
    /// Replay into a stack's real resources instead of the local state.
    pub stack: Option<StackTarget>,
}

/// A stack to replay into: its table for Cognito events, its queues for
/// stream records. Its own consumers (Lambda, or `onboard dev`) take it from
/// there.
#[derive(Debug, Clone)]
pub struct StackTarget {
    /// The SDK config that found the stack, used again for its calls.
    pub sdk: SdkConfig,
    pub names: Names,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Input(String),
    #[error("the local state in {path} cannot be used: {source}")]
    State {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("the report could not be written: {0}")]
    Output(#[from] io::Error),
}

/// Runs a replay, writing the report to `out`.
pub async fn run(options: &Options, out: &mut dyn Write) -> Result<Summary, ReplayError> {
    let files = input::discover(&options.paths).map_err(ReplayError::Input)?;
    if files.is_empty() {
        return Err(ReplayError::Input(
            "no .json, .jsonl or .ndjson files under the given paths".to_owned(),
        ));
    }
    let target = match &options.stack {
        None => Target::local(
            LocalPipeline::open(&options.state, options.prefix.clone(), options.settings).map_err(
                |source| ReplayError::State {
                    path: options.state.clone(),
                    source,
                },
            )?,
            options,
        ),
        Some(target) => Target::stack(
            Stack::from_config(target.sdk.clone(), target.names.clone()).await?,
            options.settings,
        ),
    };
    let progress = progress_bar(options, &files);
    let mut printer = Printer::new(options.json, out, progress.clone())?;
    let mut replay = Replay {
        target,
        prefix: &options.prefix,
        summary: Summary::default(),
        archived: BTreeMap::new(),
        published: BTreeSet::new(),
    };
    let mut file_reports = Vec::new();

    for file in &files {
        let source: Arc<str> = file.display().to_string().into();
        let (tx, mut rx) = mpsc::channel(2);
        let reader = input::read(file.clone(), tx, progress.clone());
        while let Some(input) = rx.recv().await {
            let rows = match input {
                Input::StreamRecords { first, records } => {
                    replay.stream(&source, first, records).await
                }
                Input::SqsMessages { first, messages } => {
                    replay.sqs(&source, first, &messages).await
                }
                Input::Cognito { index, event } => replay.cognito(&source, index, event).await,
                Input::ApiRequest { index, request } => replay.api(&source, index, *request).await,
                Input::End { records } => {
                    file_reports.push(FileReport {
                        path: source.to_string(),
                        records,
                        refused: None,
                    });
                    continue;
                }
                Input::Refused { reason } => {
                    printer.refused(&source, &reason)?;
                    file_reports.push(FileReport {
                        path: source.to_string(),
                        records: 0,
                        refused: Some(reason),
                    });
                    continue;
                }
            };
            replay.count(&rows);
            printer.rows(&rows)?;
        }
        // The reader always ends by sending End or Refused; joining it only
        // surfaces a panic, which is a bug to report loudly.
        if reader.join().is_err() {
            return Err(ReplayError::Input(format!("{source}: the reader failed")));
        }
    }
    if let Some(progress) = &progress {
        progress.finish_and_clear();
    }

    let Replay {
        mut target,
        mut summary,
        archived,
        published,
        ..
    } = replay;
    let dead_letters = target.flush().map_err(|source| ReplayError::State {
        path: options.state.clone(),
        source,
    })?;
    summary.files = file_reports.len();
    summary.refused_files = file_reports.iter().filter(|f| f.refused.is_some()).count();
    summary.dead_letters = dead_letters.len();
    summary.archive_writes = archived.len();
    summary.parameter_writes = published.len();
    let values = target.parameter_values();
    let parameters: Vec<_> = published
        .iter()
        .filter_map(|name| {
            values
                .get(name)
                .map(|value| ParameterReport { name, value })
        })
        .collect();
    let archive: Vec<_> = archived
        .into_iter()
        .map(|(user, (version, removed))| ArchivedReport {
            key: onboard_shared::ports::archive_key(&user),
            version,
            removed,
        })
        .collect();
    printer.finish(&Finish {
        summary: &summary,
        files: &file_reports,
        dead_letters: &dead_letters,
        archive: &archive,
        parameters: &parameters,
        location: target.location(options),
        remote: target.is_remote(),
    })?;
    Ok(summary)
}

/// A replay under way: where it goes, and what it did so far.
struct Replay<'o> {
    target: Target,
    prefix: &'o ParameterPrefix,
    summary: Summary,
    /// Users archived, with the version and whether it was a removal.
    archived: BTreeMap<UserId, (u64, bool)>,
    /// Parameters written.
    published: BTreeSet<String>,
}

impl Replay<'_> {
    /// Stream records: to the router, then through both queues.
    async fn stream(
        &mut self,
        source: &Arc<str>,
        first: usize,
        records: Vec<Box<RawValue>>,
    ) -> Vec<Row> {
        let mut rows: Vec<Row> = (0..records.len())
            .map(|offset| Row::new(source, first + offset, "stream"))
            .collect();
        let routed = self.target.route(&records).await;
        rows.iter_mut()
            .zip(routed)
            .for_each(|(row, item)| row.routed(item));
        self.drain(&mut rows).await;
        rows
    }

    /// SQS messages: onto the queue their `eventSourceARN` names, then to
    /// its consumer with the queue rules.
    async fn sqs(
        &mut self,
        source: &Arc<str>,
        first: usize,
        messages: &[Box<RawValue>],
    ) -> Vec<Row> {
        let mut rows = Vec::with_capacity(messages.len());
        let mut queued = Vec::with_capacity(messages.len());
        for (offset, raw) in messages.iter().enumerate() {
            let mut row = Row::new(source, first + offset, "sqs");
            let message = sqs_message(raw, first + offset);
            let consumer = message
                .event_source_arn
                .as_deref()
                .ok_or_else(|| "the message has no eventSourceARN".to_owned())
                .and_then(Consumer::for_queue_arn);
            row.queued(&message);
            match consumer {
                Ok(consumer) => queued.push((rows.len(), consumer, message)),
                // Not queued anywhere: it is reported, and counts as failed.
                Err(reason) => row.archive = Some(Fate::Failed { reason }),
            }
            rows.push(row);
        }
        let enqueue: Vec<_> = queued.iter().map(|(_, c, m)| (*c, m.clone())).collect();
        for (index, item) in self.target.enqueue(&enqueue).await {
            let (row, consumer, _) = &queued[index];
            *consumer_fate(&mut rows[*row], *consumer) = Some(item.fate);
        }
        self.drain(&mut rows).await;
        rows
    }

    /// A Cognito trigger: the trigger, then whatever its write sets off.
    async fn cognito(
        &mut self,
        source: &Arc<str>,
        index: usize,
        event: serde_json::Value,
    ) -> Vec<Row> {
        let mut row = Row::new(source, index, "cognito");
        let sign_up = self.target.sign_up(event).await;
        row.trigger = Some(match &sign_up.outcome {
            Ok(Outcome::Recorded(user)) => {
                row.user_id = Some(user.clone());
                "sign-up: recorded".to_owned()
            }
            Ok(Outcome::AlreadyRecorded(user)) => {
                row.user_id = Some(user.clone());
                "sign-up: already recorded".to_owned()
            }
            Ok(Outcome::Ignored) => "password reset: ignored".to_owned(),
            Err(err) => {
                self.summary.triggers_rejected += 1;
                format!("rejected: {err}")
            }
        });
        // A sign-up writes one item, so it emits at most one stream record.
        let mut rows = vec![row];
        if !sign_up.stream.is_empty() {
            let routed = self.target.route(&sign_up.stream).await;
            if let Some(item) = routed.into_iter().next() {
                rows[0].routed(item);
            }
            self.drain(&mut rows).await;
        }
        rows
    }

    /// An API Gateway request: the greeting's answer.
    async fn api(
        &mut self,
        source: &Arc<str>,
        index: usize,
        request: ApiGatewayProxyRequest,
    ) -> Vec<Row> {
        let mut row = Row::new(source, index, "api");
        row.trigger = Some(format!(
            "{} {}",
            request.http_method,
            request.path.as_deref().unwrap_or("/")
        ));
        row.user_id = request
            .request_context
            .authorizer
            .fields
            .get("claims")
            .and_then(|claims| claims.get("sub"))
            .and_then(serde_json::Value::as_str)
            .and_then(|sub| UserId::parse(sub).ok());
        let response = self.target.greet(request).await;
        self.summary.requests += 1;
        row.response = Some(Response {
            status: response.status_code,
            content_type: response
                .headers
                .get(aws_lambda_events::http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            body: match response.body {
                Some(Body::Text(text)) => text,
                Some(Body::Binary(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
                _ => String::new(),
            },
        });
        vec![row]
    }

    /// Drains both queues and attaches each consumer's fate to its row.
    async fn drain(&mut self, rows: &mut [Row]) {
        let consumed = self.target.drain().await;
        settle(
            rows,
            consumed,
            &mut self.archived,
            &mut self.published,
            self.prefix,
        );
    }

    fn count(&mut self, rows: &[Row]) {
        for row in rows.iter().filter(|row| row.response.is_none()) {
            self.summary.records += 1;
            for (tally, fate) in [
                (&mut self.summary.router, &row.router),
                (&mut self.summary.archive, &row.archive),
                (&mut self.summary.publish, &row.publish),
            ] {
                if let Some(fate) = fate {
                    tally.add(fate);
                }
            }
        }
    }
}

/// An SQS event's record; one that does not read as one keeps its whole
/// text as the body, for its consumer to dead-letter with the reason.
fn sqs_message(raw: &RawValue, index: usize) -> SqsMessage {
    serde_json::from_str::<SqsMessage>(raw.get()).unwrap_or_else(|_| {
        let mut message = SqsMessage::default();
        message.body = Some(raw.get().to_owned());
        message.event_source_arn = serde_json::from_str::<serde_json::Value>(raw.get())
            .ok()
            .and_then(|v| v["eventSourceARN"].as_str().map(str::to_owned));
        message.message_id = Some(format!("replayed-{index}"));
        message
    })
}

fn consumer_fate(row: &mut Row, consumer: Consumer) -> &mut Option<Fate> {
    match consumer {
        Consumer::Archive => &mut row.archive,
        Consumer::Publish => &mut row.publish,
    }
}

/// Attaches the consumers' fates to the rows of their records (by message
/// id for SQS input, by the change's event id otherwise), and notes what
/// was written.
fn settle(
    rows: &mut [Row],
    consumed: Vec<Consumed>,
    archived: &mut BTreeMap<UserId, (u64, bool)>,
    published: &mut BTreeSet<String>,
    prefix: &ParameterPrefix,
) {
    let by_message: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .filter_map(|(index, row)| row.message_id.as_deref().map(|id| (id, index)))
        .collect();
    let by_event: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, row)| row.message_id.is_none())
        .filter_map(|(index, row)| row.event_id.as_deref().map(|id| (id, index)))
        .collect();
    let mut updates = Vec::with_capacity(consumed.len());
    for Consumed { consumer, item } in consumed {
        if let (Fate::Applied, Some(user), Some(version)) =
            (&item.fate, &item.user_id, item.version)
        {
            let removed = item.kind == Some(ChangeKind::Removed);
            match consumer {
                Consumer::Archive => {
                    archived.insert(user.clone(), (version.get(), removed));
                }
                Consumer::Publish => {
                    published.insert(prefix.name_parameter(user));
                }
            }
        }
        let row = by_message.get(item.id.as_str()).copied().or_else(|| {
            item.event_id
                .as_deref()
                .and_then(|id| by_event.get(id).copied())
        });
        if let Some(row) = row {
            updates.push((row, consumer, item.fate));
        }
    }
    for (row, consumer, fate) in updates {
        *consumer_fate(&mut rows[row], consumer) = Some(fate);
    }
}

fn progress_bar(options: &Options, files: &[PathBuf]) -> Option<ProgressBar> {
    use std::io::IsTerminal;
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    // Only long replays on a terminal get a bar.
    if !options.progress || !io::stderr().is_terminal() || bytes < (1 << 20) {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} replaying [{bar:40}] {bytes}/{total_bytes} ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    Some(bar)
}
