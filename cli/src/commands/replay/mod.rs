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

pub mod command;

mod inputs;
mod printer;
mod report;
mod target;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use aws_config::SdkConfig;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use onboard_shared::names::{NamesPaths, layout_of, user_hash};
use onboard_shared::published::ParameterPrefix;
use tokio::sync::mpsc;

use crate::engine::event_source::Settings;
use crate::engine::input::{self, Input};
use crate::engine::pipeline::LocalPipeline;
use crate::engine::queue_roles::QueueNames;
use crate::output::Fit;
use crate::stack::{Names, Stack, StackError};
use inputs::Replay;
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
    /// The width the table fits (none: lines whole).
    pub fit: Fit,
    /// The stack's queues by name: an SQS message goes to the consumer of
    /// the queue its `eventSourceARN` names.
    pub queues: QueueNames,
    /// Replay into a stack's real resources instead of the local state.
    pub stack: Option<StackTarget>,
}

impl Options {
    /// A local replay of `paths` into the local `state` of the default stack
    /// (`onboard`), with Lambda's default settings, its report as JSON lines.
    pub fn local_json(paths: Vec<PathBuf>, state: PathBuf) -> Self {
        let names = Names::for_stack("onboard", crate::stack::default_parameter_prefix("onboard"));
        Self {
            paths,
            state,
            prefix: names.parameter_prefix.clone(),
            queues: names.queue_names(),
            stack: None,
            settings: Settings::default(),
            json: true,
            progress: false,
            fit: Fit::WIDE,
        }
    }
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
    #[error(transparent)]
    Input(#[from] input::InputError),
    #[error("no .json, .jsonl or .ndjson files under the given paths")]
    NoFiles,
    #[error("{0}: the reader failed")]
    Reader(String),
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
    let files = input::discover(&options.paths)?;
    if files.is_empty() {
        return Err(ReplayError::NoFiles);
    }
    let queues = Arc::new(options.queues.clone());
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
        Some(target) => {
            Target::stack(
                Stack::from_config(target.sdk.clone(), target.names.clone()).await?,
                options.settings,
            )
            .await?
        }
    };
    let progress = progress_bar(options, &files);
    let mut printer = Printer::new(options.json, options.fit, out, progress.clone())?;
    let mut replay = Replay {
        target,
        summary: Summary::default(),
        archived: BTreeMap::new(),
        published: BTreeSet::new(),
    };
    let mut file_reports = Vec::new();

    for file in &files {
        let source: Arc<str> = file.display().to_string().into();
        let (tx, mut rx) = mpsc::channel(2);
        let reader = input::read(file.clone(), tx, progress.clone(), queues.clone());
        while let Some(input) = rx.recv().await {
            let rows = match input {
                Input::StreamRecords { first, records } => {
                    replay.stream(&source, first, records).await
                }
                Input::SqsMessages {
                    first,
                    consumer,
                    messages,
                } => replay.sqs(&source, first, consumer, &messages).await,
                Input::Cognito { index, event } => replay.cognito(&source, index, event).await,
                Input::ApiRequest { index, request } => replay.api(&source, index, *request).await,
                Input::Unreadable {
                    index,
                    text,
                    reason,
                } => replay.unreadable(&source, index, &text, reason).await,
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
            return Err(ReplayError::Reader(source.to_string()));
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
    // The parameters that hold the users published.
    let values = target.parameter_values();
    let paths = NamesPaths::new(&options.prefix);
    let layout = layout_of(&paths, &values);
    let written: BTreeSet<String> = published
        .iter()
        .filter_map(|user| layout.leaf_of(user_hash(user)))
        .filter_map(|leaf| Some(paths.leaf(leaf, layout.get(leaf)?.side())))
        .collect();
    summary.parameter_writes = written.len();
    let parameters: Vec<_> = written
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
        repairs: target.repairs(),
    })?;
    Ok(summary)
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
