//! `onboard replay`: events from files through the embedded pipeline, with a
//! line for every record and a summary.
//!
//! Input is read a chunk at a time; each chunk is routed and both queues are
//! drained before the next is read, so a record's line is complete (router,
//! archive and publish fates) when it is printed and nothing of a large
//! replay is held in memory but the current chunk.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use aws_config::SdkConfig;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use onboard_shared::batch::{self, Fate, ItemReport, Skip};
use onboard_shared::domain::{ChangeKind, UserId};
use onboard_shared::published::ParameterPrefix;
use post_confirmation::Outcome;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::event_source::Settings;
use crate::event_source::on_failure::RecordsWithReasons;
use crate::event_source::stream::{Clock, StreamPoller};
use crate::input::{self, Input};
use crate::pipeline::{self, Consumed, Consumer, DeadLettered, LocalPipeline, SignUp};
use crate::stack::{Names, Stack, StackError};

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

/// Where the handlers' writes go.
// One per replay, made once and never moved on a hot path: boxing a variant
// would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Target {
    Local(LocalPipeline),
    Stack {
        stack: Stack,
        router: stream_router::Router,
        settings: Settings,
    },
}

impl Target {
    async fn route(&self, records: &[Box<serde_json::value::RawValue>]) -> Vec<ItemReport> {
        match self {
            Target::Local(pipeline) => pipeline.route(records).await,
            Target::Stack {
                router, settings, ..
            } => {
                // Replayed records are no part of the stack's stream, so they
                // reach its router DLQ themselves, not as a pointer into it.
                let poller = StreamPoller {
                    settings: settings.stream,
                    clock: Clock::RecordTime,
                    retry_delay: std::time::Duration::from_millis(200),
                };
                let destination = RecordsWithReasons(router.dead_letters.clone());
                poller.deliver_all(records, router, &destination).await
            }
        }
    }

    /// The consumers' work: local only; a stack's consumers run on their own.
    async fn drain(&self) -> Vec<Consumed> {
        match self {
            Target::Local(pipeline) => pipeline.drain().await,
            Target::Stack { .. } => Vec::new(),
        }
    }

    async fn sign_up(&self, event: serde_json::Value) -> SignUp {
        match self {
            Target::Local(pipeline) => pipeline.sign_up(event).await,
            Target::Stack {
                stack, settings, ..
            } => {
                // The table's own stream carries the new user on from here.
                let (outcome, attempts) =
                    pipeline::trigger(&stack.users(), event, settings.trigger_attempts).await;
                SignUp {
                    outcome,
                    attempts,
                    stream: Vec::new(),
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<Vec<DeadLettered>> {
        match self {
            Target::Local(pipeline) => pipeline.flush(),
            Target::Stack { .. } => Ok(Vec::new()),
        }
    }

    fn parameter_values(&self) -> BTreeMap<String, String> {
        match self {
            Target::Local(pipeline) => pipeline.parameters.values(),
            Target::Stack { .. } => BTreeMap::new(),
        }
    }

    /// Where the replay went, for the report's last line.
    fn location(&self, options: &Options) -> String {
        match self {
            Target::Local(_) => options.state.display().to_string(),
            Target::Stack { stack, .. } => format!(
                "{} and {} ({})",
                stack.queues.archive.url, stack.queues.publish.url, stack.names.table
            ),
        }
    }
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

/// What happened to one input record.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub source: Arc<str>,
    pub index: usize,
    /// `stream` or `cognito`.
    pub input: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    pub event_id: Option<String>,
    pub sequence_number: Option<String>,
    pub kind: Option<ChangeKind>,
    pub user_id: Option<UserId>,
    pub version: Option<u64>,
    pub router: Option<Fate>,
    pub archive: Option<Fate>,
    pub publish: Option<Fate>,
}

impl Row {
    fn new(source: &Arc<str>, index: usize, input: &'static str) -> Self {
        Self {
            source: source.clone(),
            index,
            input,
            trigger: None,
            event_id: None,
            sequence_number: None,
            kind: None,
            user_id: None,
            version: None,
            router: None,
            archive: None,
            publish: None,
        }
    }

    fn routed(&mut self, item: ItemReport) {
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
    fn add(&mut self, fate: &Fate) {
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
    pub router: Tally,
    pub archive: Tally,
    pub publish: Tally,
    pub dead_letters: usize,
    pub archive_writes: usize,
    pub parameter_writes: usize,
}

impl Summary {
    /// A replay succeeded when every file was read and every record reached
    /// a final fate (dead letters included: they are kept with their reason).
    pub fn succeeded(&self) -> bool {
        self.refused_files == 0 && self.triggers_rejected == 0
    }
}

#[derive(Debug, Serialize)]
struct DeadLetterReport<'a> {
    queue: &'a str,
    message_id: &'a str,
    source: Option<&'a str>,
    reason: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct ArchivedReport {
    key: String,
    version: u64,
    removed: bool,
}

#[derive(Debug, Serialize)]
struct ParameterReport<'a> {
    name: &'a str,
    value: &'a str,
}

/// Runs a replay, writing the report to `out`.
pub async fn run(options: &Options, out: &mut dyn Write) -> Result<Summary, ReplayError> {
    let files = input::discover(&options.paths).map_err(ReplayError::Input)?;
    if files.is_empty() {
        return Err(ReplayError::Input(
            "no .json, .jsonl or .ndjson files under the given paths".to_owned(),
        ));
    }
    let mut pipeline = match &options.stack {
        None => Target::Local(
            LocalPipeline::open(&options.state, options.prefix.clone(), options.settings).map_err(
                |source| ReplayError::State {
                    path: options.state.clone(),
                    source,
                },
            )?,
        ),
        Some(target) => {
            let stack = Stack::from_config(target.sdk.clone(), target.names.clone()).await?;
            Target::Stack {
                router: stack.router(),
                stack,
                settings: options.settings,
            }
        }
    };
    let progress = progress_bar(options, &files);
    let mut printer = Printer::new(options.json, out, progress.clone())?;
    let mut summary = Summary::default();
    let mut file_reports = Vec::new();
    let mut archived: BTreeMap<UserId, (u64, bool)> = BTreeMap::new();
    let mut published: BTreeSet<String> = BTreeSet::new();

    for file in &files {
        let source: Arc<str> = file.display().to_string().into();
        let (tx, mut rx) = mpsc::channel(2);
        let reader = input::read(file.clone(), tx, progress.clone());
        while let Some(input) = rx.recv().await {
            let rows = match input {
                Input::StreamRecords { first, records } => {
                    let mut rows: Vec<Row> = (0..records.len())
                        .map(|offset| Row::new(&source, first + offset, "stream"))
                        .collect();
                    let routed = pipeline.route(&records).await;
                    rows.iter_mut()
                        .zip(routed)
                        .for_each(|(row, item)| row.routed(item));
                    settle(
                        &mut rows,
                        pipeline.drain().await,
                        &mut archived,
                        &mut published,
                        &options.prefix,
                    );
                    rows
                }
                Input::Cognito { index, event } => {
                    let mut row = Row::new(&source, index, "cognito");
                    let sign_up = pipeline.sign_up(event).await;
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
                            summary.triggers_rejected += 1;
                            format!("rejected: {err}")
                        }
                    });
                    // A sign-up writes one item, so it emits at most one stream record.
                    let mut rows = vec![row];
                    if !sign_up.stream.is_empty() {
                        let routed = pipeline.route(&sign_up.stream).await;
                        if let Some(item) = routed.into_iter().next() {
                            rows[0].routed(item);
                        }
                        settle(
                            &mut rows,
                            pipeline.drain().await,
                            &mut archived,
                            &mut published,
                            &options.prefix,
                        );
                    }
                    rows
                }
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
            for row in &rows {
                summary.records += 1;
                for (tally, fate) in [
                    (&mut summary.router, &row.router),
                    (&mut summary.archive, &row.archive),
                    (&mut summary.publish, &row.publish),
                ] {
                    if let Some(fate) = fate {
                        tally.add(fate);
                    }
                }
            }
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

    let dead_letters = pipeline.flush().map_err(|source| ReplayError::State {
        path: options.state.clone(),
        source,
    })?;
    summary.files = file_reports.len();
    summary.refused_files = file_reports.iter().filter(|f| f.refused.is_some()).count();
    summary.dead_letters = dead_letters.len();
    summary.archive_writes = archived.len();
    summary.parameter_writes = published.len();
    let values = pipeline.parameter_values();
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
        location: pipeline.location(options),
        remote: matches!(pipeline, Target::Stack { .. }),
    })?;
    Ok(summary)
}

/// Attaches the consumers' fates to the rows of their records, and notes
/// what was written.
fn settle(
    rows: &mut [Row],
    consumed: Vec<Consumed>,
    archived: &mut BTreeMap<UserId, (u64, bool)>,
    published: &mut BTreeSet<String>,
    prefix: &ParameterPrefix,
) {
    let by_event: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
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
        let row = item
            .event_id
            .as_deref()
            .and_then(|id| by_event.get(id).copied());
        if let Some(row) = row {
            updates.push((row, consumer, item.fate));
        }
    }
    for (row, consumer, fate) in updates {
        match consumer {
            Consumer::Archive => rows[row].archive = Some(fate),
            Consumer::Publish => rows[row].publish = Some(fate),
        }
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

/// Everything the end of the report shows.
struct Finish<'a> {
    summary: &'a Summary,
    files: &'a [FileReport],
    dead_letters: &'a [DeadLettered],
    archive: &'a [ArchivedReport],
    parameters: &'a [ParameterReport<'a>],
    /// The local state folder, or the stack's queues.
    location: String,
    /// The changes went to a stack, whose consumers write on their own.
    remote: bool,
}

/// Writes the report as a table or as one JSON document, a chunk of rows at
/// a time.
struct Printer<'w> {
    json: bool,
    out: &'w mut dyn Write,
    progress: Option<ProgressBar>,
    rows_written: usize,
    refusals: Vec<(String, String)>,
}

const SOURCE_WIDTH: usize = 44;

impl<'w> Printer<'w> {
    fn new(json: bool, out: &'w mut dyn Write, progress: Option<ProgressBar>) -> io::Result<Self> {
        let printer = Self {
            json,
            out,
            progress,
            rows_written: 0,
            refusals: Vec::new(),
        };
        if json {
            printer.out.write_all(b"{\"records\":[")?;
        } else {
            let header = format!(
                "{:<SOURCE_WIDTH$}  {:<30}  {:<36}  {:>3}  {:<16}  {:<20}  {:<20}\n",
                "SOURCE", "EVENT", "USER", "VER", "ROUTER", "ARCHIVE", "PUBLISH"
            );
            printer.out.write_all(header.trim_end().as_bytes())?;
            printer.out.write_all(b"\n")?;
        }
        Ok(printer)
    }

    fn rows(&mut self, rows: &[Row]) -> io::Result<()> {
        let mut buffer = Vec::with_capacity(rows.len() * 200);
        for row in rows {
            if self.json {
                if self.rows_written > 0 {
                    buffer.push(b',');
                }
                serde_json::to_writer(&mut buffer, row).map_err(io::Error::other)?;
            } else {
                writeln!(buffer, "{}", table_line(row).trim_end())?;
            }
            self.rows_written += 1;
        }
        match &self.progress {
            Some(bar) => bar.suspend(|| self.out.write_all(&buffer)),
            None => self.out.write_all(&buffer),
        }
    }

    fn refused(&mut self, path: &str, reason: &str) -> io::Result<()> {
        self.refusals.push((path.to_owned(), reason.to_owned()));
        Ok(())
    }

    fn finish(self, finish: &Finish<'_>) -> io::Result<()> {
        if self.json {
            let dead_letters: Vec<_> = finish
                .dead_letters
                .iter()
                .map(|d| DeadLetterReport {
                    queue: &d.queue,
                    message_id: &d.message.message_id,
                    source: d.message.attribute(batch::SOURCE_ATTRIBUTE),
                    reason: d.message.attribute(batch::REASON_ATTRIBUTE),
                })
                .collect();
            let rest = serde_json::json!({
                "dead_letters": dead_letters,
                "archive": finish.archive,
                "parameters": finish.parameters,
                "files": finish.files,
                "summary": finish.summary,
                "state": finish.location,
            });
            // Close the records array and splice in the other fields.
            let rest = rest.to_string();
            self.out.write_all(b"],")?;
            self.out.write_all(&rest.as_bytes()[1..])?;
            self.out.write_all(b"\n")?;
            return self.out.flush();
        }
        let s = finish.summary;
        let out = self.out;
        writeln!(out)?;
        for (path, reason) in &self.refusals {
            writeln!(out, "not replayed: {path}: {reason}")?;
        }
        for d in finish.dead_letters {
            writeln!(
                out,
                "dead letter in {}: {}",
                d.queue,
                d.message
                    .attribute(batch::REASON_ATTRIBUTE)
                    .unwrap_or("no reason given")
            )?;
        }
        // A stack's consumers run on their own: only the router's part is known here.
        let consumers = if finish.remote {
            String::new()
        } else {
            format!(
                "; archive {}; publish {}",
                tally_text(&s.archive, "written"),
                tally_text(&s.publish, "written")
            )
        };
        writeln!(
            out,
            "{} records from {}{}: router {}{consumers}.",
            s.records,
            plural(s.files - s.refused_files, "file"),
            if s.refused_files > 0 {
                format!(" ({} files not replayed)", s.refused_files)
            } else {
                String::new()
            },
            tally_text(&s.router, "routed"),
        )?;
        if finish.remote {
            writeln!(
                out,
                "Sent to the stack: its consumers archive and publish the routed changes."
            )?;
        } else if s.archive_writes + s.parameter_writes == 0 {
            writeln!(out, "No new writes: the state already held every change.")?;
        } else {
            writeln!(
                out,
                "New writes: {} archive objects, {} parameters.",
                s.archive_writes, s.parameter_writes
            )?;
        }
        if s.dead_letters > 0 {
            writeln!(
                out,
                "{} dead letters, kept with their reasons.",
                s.dead_letters
            )?;
        }
        let label = if finish.remote { "Sent to" } else { "State" };
        writeln!(out, "{label}: {}", finish.location)?;
        out.flush()
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn tally_text(tally: &Tally, applied: &str) -> String {
    let mut parts = vec![format!("{} {applied}", tally.applied)];
    if tally.skipped > 0 {
        parts.push(format!("{} skipped", tally.skipped));
    }
    if tally.dead_lettered > 0 {
        parts.push(format!("{} dead-lettered", tally.dead_lettered));
    }
    if tally.failed > 0 {
        parts.push(format!("{} failed", tally.failed));
    }
    parts.join(", ")
}

fn fate_cell(fate: Option<&Fate>, applied: &str) -> String {
    match fate {
        None => "-".to_owned(),
        Some(Fate::Applied) => applied.to_owned(),
        Some(Fate::Skipped {
            why: Skip::Superseded,
        }) => "superseded".to_owned(),
        Some(Fate::Skipped { why }) => format!("skipped: {}", why.as_str()),
        Some(Fate::DeadLettered { queue, .. }) => format!("DLQ {queue}"),
        Some(Fate::Failed { .. }) => "failed".to_owned(),
    }
}

fn table_line(row: &Row) -> String {
    let mut source = format!("{}#{}", row.source, row.index);
    if source.chars().count() > SOURCE_WIDTH {
        let skip = source.chars().count() - (SOURCE_WIDTH - 1);
        source = format!("…{}", source.chars().skip(skip).collect::<String>());
    }
    let event = match (&row.trigger, row.kind) {
        (Some(trigger), _) => trigger.clone(),
        (None, Some(kind)) => kind.as_str().to_owned(),
        (None, None) => "not routable".to_owned(),
    };
    let event: String = event.chars().take(30).collect();
    format!(
        "{source:<SOURCE_WIDTH$}  {event:<30}  {:<36}  {:>3}  {:<16}  {:<20}  {:<20}",
        row.user_id.as_ref().map_or("-", |u| u.as_str()),
        row.version.map_or("-".to_owned(), |v| v.to_string()),
        fate_cell(row.router.as_ref(), "routed"),
        fate_cell(row.archive.as_ref(), "written"),
        fate_cell(row.publish.as_ref(), "written"),
    )
}
