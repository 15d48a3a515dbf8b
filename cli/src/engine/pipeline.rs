//! The embedded pipeline: the real handlers over the local adapters, driven
//! with the event-source rules of AWS.
//!
//! - Cognito calls the post-confirmation trigger and retries it (up to three
//!   attempts) when it fails with a retryable error.
//! - Lambda reads the table's stream and each queue with the rules of
//!   [`crate::engine::event_source`]; the router's on-failure destination receives
//!   the records themselves, with their reasons.

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use archive_consumer::Archiver;
use chrono::Utc;
use onboard_shared::batch::ItemReport;
use onboard_shared::local::{
    FileParameters, FolderArchive, LocalMessage, LocalTable, MemoryQueue, crash_point, naming,
};
use onboard_shared::names::NamesPaths;
use onboard_shared::ports::{MessageQueue, UserStore};
use onboard_shared::published::ParameterPrefix;
use post_confirmation::{Outcome, TriggerError};
use publish_consumer::writer::Writer;
use serde_json::Value;
use serde_json::value::RawValue;
use stream_router::Router;

use crate::engine::event_source::Settings;
use crate::engine::event_source::on_failure::RecordsWithReasons;
use crate::engine::event_source::queue::LocalQueuePoller;
use crate::engine::event_source::stream::{Clock, StreamPoller};
use crate::engine::handlers;
use crate::engine::queue_roles::Consumer;
use onboard_shared::catalogue::QueueRole;

/// The final fate of one queue message at a consumer.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub consumer: Consumer,
    pub item: ItemReport,
}

/// What the trigger did with one Cognito event.
#[derive(Debug)]
pub struct SignUp {
    pub outcome: Result<Outcome, TriggerError>,
    pub attempts: u32,
    /// The stream records the table emitted.
    pub stream: Vec<Box<RawValue>>,
}

/// A dead letter as the local DLQ files keep it.
#[derive(Debug, Clone)]
pub struct DeadLettered {
    pub queue: String,
    pub message: LocalMessage,
}

/// A dead-letter file whose last line a crash cut short, mended on open:
/// the cut line is dropped (replaying the same input writes that dead
/// letter again).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Repair {
    pub path: PathBuf,
    /// The bytes of the cut line that were dropped.
    pub dropped_bytes: usize,
}

impl std::fmt::Display for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "repaired {}: dropped its last line, {} bytes cut short by a crash (replaying the same input writes that dead letter again)",
            self.path.display(),
            self.dropped_bytes
        )
    }
}

/// The local state and the handlers wired over it.
pub struct LocalPipeline {
    pub settings: Settings,
    pub table: Arc<LocalTable>,
    pub archive: Arc<FolderArchive>,
    pub parameters: Arc<FileParameters>,
    /// Every queue of the stack, in memory, by role.
    queues: BTreeMap<QueueRole, Arc<MemoryQueue>>,
    pub router: Router,
    pub archiver: Archiver,
    /// The one writer of the names, run until the publish queue is empty.
    pub writer: Arc<Writer>,
    state: Option<PathBuf>,
    /// The state folder's lock, held as long as the pipeline.
    lock: Option<std::fs::File>,
    /// Fingerprints of the dead letters already in the DLQ files.
    seen_dead_letters: HashSet<u64>,
    /// The dead-letter files mended when the state was opened.
    pub repairs: Vec<Repair>,
}

impl std::fmt::Debug for LocalPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPipeline")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl LocalPipeline {
    /// Opens (or starts) the local state in a folder, and holds it: a
    /// second pipeline on the same folder (another replay) is refused until
    /// this one is dropped, so two runs never interleave their writes.
    pub fn open(state: &Path, prefix: ParameterPrefix, settings: Settings) -> io::Result<Self> {
        std::fs::create_dir_all(state).map_err(|err| naming(state, err))?;
        let lock = hold(state)?;
        let mut pipeline = Self::build(
            LocalTable::open(state.join("table.json"))?,
            FolderArchive::open(state.join("archive"))?,
            FileParameters::open(state.join("parameters.json"))?,
            prefix,
            settings,
            Some(state.join("oversized")),
        );
        (pipeline.seen_dead_letters, pipeline.repairs) =
            load_dead_letter_fingerprints(&state.join("dead-letters"))?;
        pipeline.state = Some(state.to_owned());
        pipeline.lock = Some(lock);
        Ok(pipeline)
    }

    /// A pipeline whose state lives in memory only.
    pub fn in_memory(prefix: ParameterPrefix, settings: Settings) -> Self {
        Self::build(
            LocalTable::in_memory(),
            FolderArchive::in_memory(),
            FileParameters::in_memory(),
            prefix,
            settings,
            None,
        )
    }

    fn build(
        table: LocalTable,
        archive: FolderArchive,
        parameters: FileParameters,
        prefix: ParameterPrefix,
        settings: Settings,
        oversized: Option<PathBuf>,
    ) -> Self {
        let table = Arc::new(table);
        let archive = Arc::new(archive);
        let parameters = Arc::new(parameters);
        let queues: BTreeMap<QueueRole, Arc<MemoryQueue>> = QueueRole::ALL
            .into_iter()
            .map(|role| {
                let queue = MemoryQueue::new(role.name());
                // A record too big even for its dead letter is kept apart.
                let queue = match (&oversized, role.is_dlq()) {
                    (Some(dir), true) => queue.keeping_oversized_in(dir),
                    _ => queue,
                };
                (role, Arc::new(queue))
            })
            .collect();
        let queue = |role: QueueRole| -> Arc<MemoryQueue> { queues[&role].clone() };
        let router = Router {
            archive: queue(QueueRole::Archive),
            publish: queue(QueueRole::Publish),
            dead_letters: queue(QueueRole::RouterDlq),
        };
        let archiver = Archiver {
            archive: archive.clone(),
            dead_letters: queue(QueueRole::ArchiveDlq),
        };
        let writer = Arc::new(Writer::new(
            parameters.clone(),
            queue(QueueRole::Publish),
            queue(QueueRole::PublishDlq),
            NamesPaths::new(&prefix),
            LOCAL_STANDARD_SHARE,
        ));
        Self {
            settings,
            table,
            archive,
            parameters,
            queues,
            router,
            archiver,
            writer,
            state: None,
            lock: None,
            seen_dead_letters: HashSet::new(),
            repairs: Vec::new(),
        }
    }

    pub fn state_dir(&self) -> Option<&Path> {
        self.state.as_deref()
    }

    /// Calls the post-confirmation trigger as Cognito does, retrying what
    /// can be retried.
    pub async fn sign_up(&self, event: Value) -> SignUp {
        let (outcome, attempts) =
            trigger(self.table.as_ref(), event, self.settings.trigger_attempts).await;
        SignUp {
            outcome,
            attempts,
            stream: self.table.take_stream(),
        }
    }

    /// Routes stream records as Lambda's stream poller would, and returns the
    /// final fate of each, in order. Records are read as they were written
    /// ([`Clock::RecordTime`]), and retried without waiting.
    pub async fn route(&self, records: &[Box<RawValue>]) -> Vec<ItemReport> {
        let poller = StreamPoller {
            settings: self.settings.stream,
            clock: Clock::RecordTime,
            retry_delay: Duration::ZERO,
        };
        let destination = RecordsWithReasons(self.queue(QueueRole::RouterDlq).clone());
        poller
            .deliver_all(records, &self.router, &destination)
            .await
    }

    /// The queue with this role.
    pub fn queue(&self, role: QueueRole) -> &Arc<MemoryQueue> {
        &self.queues[&role]
    }

    /// Drains both queues and returns the final fate of every message each
    /// consumer saw. The two are independent, as in AWS, each on a task of
    /// its own: the archive consumer invoked with batches by the queue's
    /// rules, the publish writer draining its queue run after run.
    pub async fn drain(&self) -> Vec<Consumed> {
        let mut archive_poller = LocalQueuePoller::new(
            self.queue(QueueRole::Archive).clone(),
            self.queue(QueueRole::ArchiveDlq).clone(),
            self.settings.queue,
        );
        let archiver = self.archiver.clone();
        let archive = tokio::spawn(async move { archive_poller.drain(&archiver).await });
        let writer = self.writer.clone();
        let queue = self.queue(QueueRole::Publish).clone();
        let dlq = self.queue(QueueRole::PublishDlq).clone();
        let max_receives = self.settings.queue.max_receive_count;
        let publish =
            tokio::spawn(
                async move { handlers::write_all(&writer, &queue, &dlq, max_receives).await },
            );
        let (archive, publish) = tokio::join!(archive, publish);
        let finished = |fates: Result<Vec<ItemReport>, tokio::task::JoinError>, consumer| {
            fates
                .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))
                .into_iter()
                .map(move |item| Consumed { consumer, item })
        };
        finished(archive, Consumer::Archive)
            .chain(finished(publish, Consumer::Publish))
            .collect()
    }

    /// Writes the state out and appends this run's dead letters to the DLQ
    /// files (each once, however often it was dead-lettered). Returns the
    /// dead letters of this run.
    pub fn flush(&mut self) -> io::Result<Vec<DeadLettered>> {
        self.table.flush()?;
        self.archive.flush()?;
        self.parameters.flush()?;
        let mut dead_letters = Vec::new();
        // In the pipeline's order: the router's dead letters, then the consumers'.
        let dlqs = [
            QueueRole::RouterDlq,
            QueueRole::ArchiveDlq,
            QueueRole::PublishDlq,
        ];
        for queue in dlqs.map(|role| &self.queues[&role]) {
            let messages = queue.drain();
            let mut fresh = Vec::new();
            for message in messages {
                if self
                    .seen_dead_letters
                    .insert(fingerprint(queue.name(), &message))
                {
                    fresh.push(message.clone());
                }
                dead_letters.push(DeadLettered {
                    queue: queue.name().to_owned(),
                    message,
                });
            }
            if let (Some(state), false) = (&self.state, fresh.is_empty()) {
                append_dead_letters(&state.join("dead-letters"), queue.name(), &fresh)?;
            }
        }
        Ok(dead_letters)
    }
}

/// How many standard parameters the local names may use: the standard
/// tier's default share (a template parameter in AWS).
pub const LOCAL_STANDARD_SHARE: usize = 5_000;

/// Takes the state folder's lock (`.lock` in it), or says who holds it.
fn hold(state: &Path) -> io::Result<std::fs::File> {
    let path = state.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|err| naming(&path, err))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "another replay is using this state folder; wait for it to end, or give another --state",
        )),
        Err(std::fs::TryLockError::Error(err)) => Err(err),
    }
}

/// Calls the post-confirmation trigger as Cognito does: again, up to
/// `max_attempts` in all, while it fails with a retryable error. Returns the
/// last outcome and the attempts made.
pub async fn trigger(
    users: &dyn UserStore,
    event: Value,
    max_attempts: u32,
) -> (Result<Outcome, TriggerError>, u32) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match post_confirmation::handle(users, event.clone(), Utc::now(), None).await {
            Ok((_, outcome)) => return (Ok(outcome), attempts),
            Err(err) if err.is_retryable() && attempts < max_attempts => continue,
            Err(err) => return (Err(err), attempts),
        }
    }
}

/// What makes a dead letter the same one again: its queue and the record it
/// holds, whatever the reason given (a record is kept once, with the first
/// reason it was dead-lettered for).
fn fingerprint(queue: &str, message: &LocalMessage) -> u64 {
    let mut hasher = DefaultHasher::new();
    queue.hash(&mut hasher);
    message.body.hash(&mut hasher);
    hasher.finish()
}

/// The fingerprints of the dead letters the DLQ files hold, and the files
/// whose cut last line was dropped.
fn load_dead_letter_fingerprints(dir: &Path) -> io::Result<(HashSet<u64>, Vec<Repair>)> {
    let mut seen = HashSet::new();
    let mut repairs = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok((seen, repairs)),
        Err(err) => return Err(naming(dir, err)),
    };
    for entry in entries {
        let path = entry.map_err(|err| naming(dir, err))?.path();
        // `<queue>.jsonl`
        let queue = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
            .to_owned();
        let mut text = std::fs::read_to_string(&path).map_err(|err| naming(&path, err))?;
        // A line without its end is an append a crash cut short: it is
        // dropped, and said so.
        if !text.is_empty() && !text.ends_with('\n') {
            let whole = text.rfind('\n').map_or(0, |end| end + 1);
            repairs.push(Repair {
                path: path.clone(),
                dropped_bytes: text.len() - whole,
            });
            text.truncate(whole);
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_len(whole as u64))
                .map_err(|err| naming(&path, err))?;
        }
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let message: LocalMessage = serde_json::from_str(line).map_err(|err| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} line {}: {err}", path.display(), number + 1),
                )
            })?;
            seen.insert(fingerprint(&queue, &message));
        }
    }
    Ok((seen, repairs))
}

fn append_dead_letters(dir: &Path, queue: &str, messages: &[LocalMessage]) -> io::Result<()> {
    std::fs::create_dir_all(dir).map_err(|err| naming(dir, err))?;
    let path = dir.join(format!("{queue}.jsonl"));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|err| naming(&path, err))?;
    let mut buffer = Vec::new();
    for message in messages {
        serde_json::to_writer(&mut buffer, message).map_err(io::Error::other)?;
        buffer.push(b'\n');
    }
    // Two writes, a boundary between them: a crash may cut an append
    // short, and the next open drops the cut line.
    let (first, rest) = buffer.split_at(buffer.len() / 2);
    crash_point();
    file.write_all(first)?;
    crash_point();
    file.write_all(rest)?;
    file.sync_data()?;
    crash_point();
    Ok(())
}
