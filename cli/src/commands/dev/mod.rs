//! `onboard dev`: the local Lambda service. It does on an endpoint (a local
//! emulator) what Lambda's event-source mappings do in AWS, with the real
//! handlers in-process:
//!
//! - **The table's stream → the router.** Reads every shard of the users
//!   table's stream with `GetRecords`, turns each record into the JSON Lambda
//!   would send, and routes batches with Lambda's rules
//!   ([`crate::engine::event_source::stream`]: the checkpoint, bisection, bounded
//!   retries, an hour's record age on the wall clock), sending what it gives
//!   up on to the router's dead-letter queue as Lambda's own invocation
//!   record, which `onboard dlq redrive` reads back from the stream.
//! - **The archive queue → its consumer** ([`QueuePoller`]). Receives
//!   batches, hands them to the consumer as an SQS event, deletes what
//!   succeeded and leaves the rest to come back after the visibility
//!   timeout ([`crate::engine::event_source::queue`]); the queue's redrive
//!   policy moves a message that keeps failing to its DLQ.
//! - **The publish queue → the one writer of the names**, run after run as
//!   Lambda's schedule runs it: it drains the queue itself.
//!
//! One log line per batch or writer run, naming users by id only: the functions' own
//! lines (one per change, as they log in Lambda) show with
//! `RUST_LOG=info`. A failing call (the emulator went away) is logged and
//! retried after a pause; the service runs until it is told to stop.
//!
//! Each shard's position is saved after every routed batch (in
//! `.onboard/dev-checkpoints.json` by default), so a restart goes on after
//! the last routed record; a new table's stream, or `--from-start`, is read
//! from its oldest record (`TRIM_HORIZON`). A crash between routing a batch
//! and saving its position routes it again, which every handler tolerates.

pub mod command;

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_dynamodbstreams as streams;
use onboard_shared::batch::{BatchReport, Fate};
use onboard_shared::catalogue::Function;
use onboard_shared::error::error_chain;
use stream_router::Router;
use tokio::sync::watch;

use crate::engine::event_source::Settings;
use crate::engine::event_source::on_failure::InvocationRecords;
use crate::engine::event_source::stream::{Clock, StreamPoller};
use crate::engine::pipeline::LOCAL_STANDARD_SHARE;
use crate::stack::table_stream::ShardReader;
use crate::stack::{Stack, StackError, latest_stream_arn};
use publish_consumer::writer::Writer;

mod queue_poller;

pub use queue_poller::QueuePoller;

/// How the local service polls: Lambda's settings (the stack's own by
/// default), and the pace of a local loop.
#[derive(Debug, Clone, PartialEq)]
pub struct DevSettings {
    /// The event-source mappings' settings. Only those of Lambda apply here:
    /// the queues' visibility timeout and `maxReceiveCount` are the queues'
    /// own, kept by the emulator.
    pub rules: Settings,
    /// The pause before each retry of a stream batch.
    pub stream_retry_delay: Duration,
    /// The publisher's Parameter Store write pace.
    pub max_writes_per_second: f64,
    /// How long to wait when there is nothing to read, and after an error.
    pub idle: Duration,
    /// Where the stream position is kept across runs (each shard's last
    /// routed sequence number); `None` reads from the oldest record.
    pub checkpoints: Option<PathBuf>,
}

impl Default for DevSettings {
    fn default() -> Self {
        Self {
            rules: Settings::default(),
            stream_retry_delay: Duration::from_millis(500),
            max_writes_per_second: 3.0,
            idle: Duration::from_millis(250),
            checkpoints: None,
        }
    }
}

/// Runs the pollers until `stop` turns true. Fails only at start, when the
/// table's stream cannot be found.
pub async fn run(
    stack: &Stack,
    settings: DevSettings,
    stop: watch::Receiver<bool>,
) -> Result<(), StackError> {
    let stream_arn = latest_stream_arn(&stack.dynamodb, &stack.names.table).await?;
    tracing::info!(table = %stack.names.table, stream = %stream_arn, "reading the table's stream");
    let mut poller = ShardReader::new(streams::Client::new(&stack.sdk), stream_arn);
    if let Some(path) = &settings.checkpoints {
        poller = poller.with_checkpoints(path.clone());
    }
    let router = stack.router();
    let archive = QueuePoller::new(stack, &stack.queues.archive).await;
    let archiver = stack.archiver();
    let writer = stack.writer(settings.max_writes_per_second, LOCAL_STANDARD_SHARE);
    tokio::join!(
        poll_stream(poller, &router, &settings, stop.clone()),
        archive.run(
            &archiver,
            Function::ArchiveConsumer,
            &settings,
            stop.clone()
        ),
        write_names(&writer, &settings, stop),
    );
    Ok(())
}

/// How long one run of the writer may write for: Lambda's schedule gives
/// each invocation its timeout; locally, runs follow each other.
const WRITER_RUN: Duration = Duration::from_secs(20);

/// The publish writer, run after run as its schedule would run it (the
/// next at once while there is more, else after a pause): one line a run
/// that received anything.
async fn write_names(writer: &Writer, settings: &DevSettings, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let limits = publish_consumer::limits_for(
            WRITER_RUN + publish_consumer::FINISH_RESERVE,
            settings.max_writes_per_second,
        );
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        match writer.run(limits, now).await {
            Ok(report) if report.received == 0 => {
                if pause(&mut stop, settings.idle).await {
                    return;
                }
            }
            Ok(report) => {
                let more = report.more(limits);
                let batch = BatchReport {
                    items: report.items,
                };
                let (done, dead, returned) = tally(&batch);
                tracing::info!(
                    messages = report.received,
                    done,
                    dead_lettered = dead,
                    returned,
                    parameters_written = report.puts,
                    carried = report.carried,
                    rotations = report.rotations,
                    users = %users(&batch),
                    "names run → {}",
                    Function::PublishConsumer.name(),
                );
                if !more && pause(&mut stop, settings.idle).await {
                    return;
                }
            }
            Err(err) => {
                tracing::warn!(error = %err.chain(), "the writer could not read its queue; trying again");
                if pause(&mut stop, settings.idle * 4).await {
                    return;
                }
            }
        }
    }
}

/// Waits for `duration`, or less when asked to stop. True when asked to stop.
pub(crate) async fn pause(stop: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(duration) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

async fn poll_stream(
    mut reader: ShardReader,
    router: &Router,
    settings: &DevSettings,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let batch_size = i32::try_from(settings.rules.stream.batch_size).unwrap_or(i32::MAX);
        let (shard_id, records) = match reader.next_batch(batch_size).await {
            Ok(read) => read,
            Err(err) => {
                tracing::warn!(error = %error_chain(&err), "reading the stream failed; trying again");
                if pause(&mut stop, settings.idle * 4).await {
                    return;
                }
                continue;
            }
        };
        if records.is_empty() {
            if pause(&mut stop, settings.idle).await {
                return;
            }
            continue;
        }
        let poller = StreamPoller {
            settings: settings.rules.stream,
            clock: Clock::Wall,
            retry_delay: settings.stream_retry_delay,
        };
        let destination = InvocationRecords {
            queue: router.dead_letters.clone(),
            function_arn: function_arn(&reader.arn, Function::StreamRouter.name()),
            stream_arn: reader.arn.clone(),
            shard_id,
        };
        let fates = poller.deliver(&records, router, &destination).await;
        // Every record reached its final fate: from here on, a restart
        // starts after them.
        if let Err(err) = reader.commit() {
            tracing::warn!(error = %err, "could not save the stream position");
        }
        let report = BatchReport { items: fates };
        let (routed, dead, failed) = tally(&report);
        tracing::info!(
            records = records.len(),
            routed,
            dead_lettered = dead,
            failed,
            users = %users(&report),
            "stream batch → router"
        );
    }
}

/// Counts applied-or-skipped, dead-lettered and failed records.
pub(crate) fn tally(report: &BatchReport) -> (usize, usize, usize) {
    let mut counts = (0, 0, 0);
    for item in &report.items {
        match item.fate {
            Fate::Applied | Fate::Skipped { .. } => counts.0 += 1,
            Fate::DeadLettered { .. } => counts.1 += 1,
            Fate::Failed { .. } => counts.2 += 1,
        }
    }
    counts
}

/// The users of a batch by id (never by email), each once, in order.
pub(crate) fn users(report: &BatchReport) -> String {
    let mut ids: Vec<&str> = Vec::new();
    for id in report.items.iter().filter_map(|item| item.user_id.as_ref()) {
        if !ids.contains(&id.as_str()) {
            ids.push(id.as_str());
        }
    }
    ids.join(",")
}

/// The ARN Lambda would name a function by, in the stream's region and
/// account.
fn function_arn(stream_arn: &str, function: &str) -> String {
    let mut parts = stream_arn.split(':').skip(3);
    let region = parts.next().unwrap_or("local");
    let account = parts.next().unwrap_or("000000000000");
    format!("arn:aws:lambda:{region}:{account}:function:{function}")
}
