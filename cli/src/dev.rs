//! `onboard dev`: the local Lambda service. It does on an endpoint (a local
//! emulator) what Lambda's event-source mappings do in AWS, with the real
//! handlers in-process:
//!
//! - **The table's stream → the router.** Reads every shard of the users
//!   table's stream with `GetRecords`, turns each record into the JSON Lambda
//!   would send, and routes batches with Lambda's rules (retry from the
//!   lowest failed sequence number, a bounded number of times, then the
//!   router's dead-letter queue; see [`crate::event_source`]).
//! - **Each queue → its consumer.** Receives batches of up to ten messages,
//!   hands them to the consumer as an SQS event, deletes what succeeded and
//!   leaves the failures to come back after the visibility timeout; the
//!   queue's redrive policy moves a message that keeps failing to its DLQ.
//!
//! One log line per batch, naming users by id only. A failing call (the
//! emulator went away) is logged and retried after a pause; the service
//! runs until it is told to stop.
//!
//! Each shard's position is saved after every routed batch (in
//! `.onboard/dev-checkpoints.json` by default), so a restart goes on after
//! the last routed record; a new table's stream, or `--from-start`, is read
//! from its oldest record (`TRIM_HORIZON`). A crash between routing a batch
//! and saving its position routes it again, which every handler tolerates.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use archive_consumer::Archiver;
use aws_lambda_events::event::dynamodb::{EventRecord, StreamRecord, UserIdentity};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_dynamodbstreams as streams;
use onboard_shared::aws::sqs;
use onboard_shared::batch::{BatchReport, Fate};
use onboard_shared::error::error_chain;
use publish_consumer::Publisher;
use serde_json::value::RawValue;
use stream_router::Router;
use tokio::sync::watch;

use crate::event_source::route_stream_batch;
use crate::stack::{QueueRef, Stack, StackError, latest_stream_arn, queue_arn};

/// How the local service polls, as the SAM template's event-source mappings
/// are set in AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct DevSettings {
    /// Records per router invocation (`GetRecords` limit).
    pub stream_batch_size: i32,
    /// Retries of a failing stream batch before its records go to the
    /// router's dead-letter queue.
    pub stream_max_retries: u32,
    /// The pause before each retry of a stream batch.
    pub stream_retry_delay: Duration,
    /// Messages per consumer invocation (at most ten).
    pub queue_batch_size: i32,
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
            stream_batch_size: 100,
            stream_max_retries: 2,
            stream_retry_delay: Duration::from_millis(500),
            queue_batch_size: 10,
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
    let mut poller = StreamPoller::new(streams::Client::new(&stack.sdk), stream_arn);
    if let Some(path) = &settings.checkpoints {
        poller = poller.with_checkpoints(path.clone());
    }
    let router = stack.router();
    let archive = QueuePoller::new(stack, &stack.queues.archive).await;
    let publish = QueuePoller::new(stack, &stack.queues.publish).await;
    let archiver = Consumer::Archive(stack.archiver());
    let publisher = Consumer::Publish(stack.publisher(settings.max_writes_per_second));
    tokio::join!(
        poll_stream(poller, &router, &settings, stop.clone()),
        archive.run(&archiver, &settings, stop.clone()),
        publish.run(&publisher, &settings, stop),
    );
    Ok(())
}

/// Waits for `duration`, or less when asked to stop. True when asked to stop.
async fn pause(stop: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(duration) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

async fn poll_stream(
    mut poller: StreamPoller,
    router: &Router,
    settings: &DevSettings,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let records = match poller.next_batch(settings.stream_batch_size).await {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(error = %err, "reading the stream failed; trying again");
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
        let fates = route_stream_batch(
            router,
            &records,
            settings.stream_max_retries,
            settings.stream_retry_delay,
        )
        .await;
        // Every record reached its final fate: from here on, a restart
        // starts after them.
        if let Err(err) = poller.commit() {
            tracing::warn!(error = %err, "could not save the stream position");
        }
        let report = BatchReport { items: fates };
        let (routed, dead, failed) = tally(&report);
        tracing::info!(
            records = records.len(),
            routed,
            dead_lettered = dead,
            failed,
            "stream batch → router"
        );
    }
}

/// Counts applied-or-skipped, dead-lettered and failed records.
fn tally(report: &BatchReport) -> (usize, usize, usize) {
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

/// Reads a DynamoDB stream, every shard, each from its oldest record.
#[derive(Debug)]
pub struct StreamPoller {
    client: streams::Client,
    arn: String,
    shards: Vec<Shard>,
    known: HashSet<String>,
    /// Look for new shards before the next read.
    refresh: bool,
    /// The file of saved positions, and what it held at start.
    checkpoints: Option<(PathBuf, Checkpoints)>,
}

/// Saved stream positions: stream ARN → shard → last routed sequence number.
/// A new table has a new stream ARN, so its stream is read from the start.
type Checkpoints = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Debug)]
struct Shard {
    id: String,
    /// `None` once the shard is closed and read to its end.
    iterator: Option<String>,
    last_sequence_number: Option<String>,
}

impl StreamPoller {
    pub fn new(client: streams::Client, arn: String) -> Self {
        Self {
            client,
            arn,
            shards: Vec::new(),
            known: HashSet::new(),
            refresh: true,
            checkpoints: None,
        }
    }

    /// Starts each shard after the position saved in `path` (from its
    /// oldest record when none is saved) and saves positions there on
    /// [`commit`](Self::commit). An unreadable file is started over.
    pub fn with_checkpoints(mut self, path: PathBuf) -> Self {
        let saved: Checkpoints = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        self.checkpoints = Some((path, saved));
        self
    }

    fn saved_position(&self, shard: &str) -> Option<String> {
        let (_, saved) = self.checkpoints.as_ref()?;
        saved.get(&self.arn)?.get(shard).cloned()
    }

    /// Saves the position of every shard read so far.
    pub fn commit(&mut self) -> std::io::Result<()> {
        let Some((path, saved)) = &mut self.checkpoints else {
            return Ok(());
        };
        let positions = saved.entry(self.arn.clone()).or_default();
        for shard in &self.shards {
            if let Some(sequence) = &shard.last_sequence_number {
                positions.insert(shard.id.clone(), sequence.clone());
            }
        }
        let bytes = serde_json::to_vec_pretty(saved).map_err(std::io::Error::other)?;
        onboard_shared::local::write_atomically(path, &bytes)
    }

    async fn iterator(&self, shard: &str, after: Option<&str>) -> Result<Option<String>, String> {
        use streams::types::ShardIteratorType;
        let request = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.arn)
            .shard_id(shard);
        let request = match after {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        request
            .send()
            .await
            .map(|out| out.shard_iterator)
            .map_err(|err| error_chain(&err))
    }

    async fn discover(&mut self) -> Result<(), String> {
        let mut start = None;
        loop {
            let described = self
                .client
                .describe_stream()
                .stream_arn(&self.arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .map_err(|err| error_chain(&err))?;
            let description = described.stream_description;
            let shards = description
                .as_ref()
                .map(|d| d.shards().to_vec())
                .unwrap_or_default();
            for shard in shards {
                let Some(id) = shard.shard_id else { continue };
                if self.known.insert(id.clone()) {
                    let saved = self.saved_position(&id);
                    let iterator = match self.iterator(&id, saved.as_deref()).await {
                        Ok(iterator) => iterator,
                        // The saved position is gone from the stream (older
                        // than its retention): start from what it holds.
                        Err(_) if saved.is_some() => self.iterator(&id, None).await?,
                        Err(err) => return Err(err),
                    };
                    self.shards.push(Shard {
                        id,
                        iterator,
                        last_sequence_number: saved,
                    });
                }
            }
            start = description.and_then(|d| d.last_evaluated_shard_id);
            if start.is_none() {
                return Ok(());
            }
        }
    }

    /// The next records of one shard, as Lambda would send them (empty when
    /// no shard has new records).
    pub async fn next_batch(&mut self, limit: i32) -> Result<Vec<Box<RawValue>>, String> {
        if self.refresh {
            self.discover().await?;
            self.refresh = false;
        }
        for index in 0..self.shards.len() {
            let Some(iterator) = self.shards[index].iterator.clone() else {
                continue;
            };
            let read = self
                .client
                .get_records()
                .shard_iterator(iterator)
                .limit(limit)
                .send()
                .await;
            let output = match read {
                Ok(output) => output,
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_expired_iterator_exception()) =>
                {
                    let shard = &self.shards[index];
                    let fresh = self
                        .iterator(&shard.id, shard.last_sequence_number.as_deref())
                        .await?;
                    self.shards[index].iterator = fresh;
                    continue;
                }
                Err(err) => return Err(error_chain(&err)),
            };
            let shard = &mut self.shards[index];
            shard.iterator = output.next_shard_iterator;
            if shard.iterator.is_none() {
                // A closed shard read to its end: its children are new shards.
                self.refresh = true;
            }
            if output.records.as_ref().is_none_or(Vec::is_empty) {
                continue;
            }
            let mut batch = Vec::new();
            for record in output.records.unwrap_or_default() {
                if let Some(sequence) = record
                    .dynamodb
                    .as_ref()
                    .and_then(|d| d.sequence_number.clone())
                {
                    shard.last_sequence_number = Some(sequence);
                }
                batch.push(lambda_record(record, &self.arn).map_err(|err| err.to_string())?);
            }
            return Ok(batch);
        }
        Ok(Vec::new())
    }
}

/// A record from `GetRecords` as the JSON Lambda hands the router: the same
/// fields, the images as DynamoDB JSON.
pub fn lambda_record(
    record: streams::types::Record,
    stream_arn: &str,
) -> Result<Box<RawValue>, serde_json::Error> {
    let mut out = EventRecord::default();
    out.aws_region = record.aws_region.unwrap_or_default();
    out.event_id = record.event_id.unwrap_or_default();
    out.event_name = record
        .event_name
        .map(|name| name.as_str().to_owned())
        .unwrap_or_default();
    out.event_source = record.event_source;
    out.event_version = record.event_version;
    out.event_source_arn = Some(stream_arn.to_owned());
    out.user_identity = record.user_identity.map(|identity| {
        let mut user = UserIdentity::default();
        user.type_ = identity.r#type.unwrap_or_default();
        user.principal_id = identity.principal_id.unwrap_or_default();
        user
    });
    if let Some(change) = record.dynamodb {
        let mut stream = StreamRecord::default();
        if let Some(at) = change
            .approximate_creation_date_time
            .and_then(|at| chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos()))
        {
            stream.approximate_creation_date_time = at;
        }
        stream.keys = change
            .keys
            .map(serde_dynamo::Item::from)
            .unwrap_or_default();
        stream.new_image = change
            .new_image
            .map(serde_dynamo::Item::from)
            .unwrap_or_default();
        stream.old_image = change
            .old_image
            .map(serde_dynamo::Item::from)
            .unwrap_or_default();
        stream.sequence_number = change.sequence_number;
        stream.size_bytes = change.size_bytes.unwrap_or_default();
        stream.stream_view_type = change
            .stream_view_type
            .and_then(|view| serde_json::from_value(view.as_str().into()).ok());
        out.change = stream;
    }
    serde_json::value::to_raw_value(&out)
}

/// A consumer and what it needs.
enum Consumer {
    Archive(Archiver),
    Publish(Publisher),
}

impl Consumer {
    async fn handle(&self, event: &SqsEvent) -> BatchReport {
        match self {
            Consumer::Archive(archiver) => archive_consumer::handle(archiver, event).await,
            Consumer::Publish(publisher) => publish_consumer::handle(publisher, event).await,
        }
    }
}

/// Lambda's poller of one queue.
struct QueuePoller {
    client: sqs::Client,
    queue: QueueRef,
    arn: String,
    region: String,
}

impl QueuePoller {
    async fn new(stack: &Stack, queue: &QueueRef) -> Self {
        // Only the events' eventSourceARN shows it: no ARN is no reason to stop.
        let arn = queue_arn(&stack.sqs, &queue.url).await.unwrap_or_default();
        Self {
            client: stack.sqs.clone(),
            queue: queue.clone(),
            arn,
            region: stack.region(),
        }
    }

    async fn run(
        &self,
        consumer: &Consumer,
        settings: &DevSettings,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow() {
                return;
            }
            match self.poll_once(consumer, settings).await {
                Ok(true) => {}
                Ok(false) => {
                    if pause(&mut stop, settings.idle).await {
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!(queue = %self.queue.name, error = %err, "polling failed; trying again");
                    if pause(&mut stop, settings.idle * 4).await {
                        return;
                    }
                }
            }
        }
    }

    /// One receive and one invocation. False when the queue had nothing.
    async fn poll_once(&self, consumer: &Consumer, settings: &DevSettings) -> Result<bool, String> {
        let received = self
            .client
            .receive_message()
            .queue_url(&self.queue.url)
            .max_number_of_messages(settings.queue_batch_size.clamp(1, 10))
            .message_system_attribute_names(sqs::types::MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|err| error_chain(&err))?
            .messages
            .unwrap_or_default();
        if received.is_empty() {
            return Ok(false);
        }
        let event = self.event(received);
        let report = consumer.handle(&event).await;
        // Lambda deletes nothing when the invocation failed as a whole.
        let failed: HashSet<&str> = if report.sqs_response().is_err() {
            report.items.iter().map(|item| item.id.as_str()).collect()
        } else {
            report.failed().map(|item| item.id.as_str()).collect()
        };
        let done: Vec<&SqsMessage> = event
            .records
            .iter()
            .filter(|m| !failed.contains(m.message_id.as_deref().unwrap_or_default()))
            .collect();
        self.delete(&done).await?;
        let (applied, dead, _) = tally(&report);
        tracing::info!(
            queue = %self.queue.name,
            messages = event.records.len(),
            done = applied,
            dead_lettered = dead,
            failed = failed.len(),
            "queue batch → {}",
            match consumer {
                Consumer::Archive(_) => "archive-consumer",
                Consumer::Publish(_) => "publish-consumer",
            }
        );
        Ok(true)
    }

    async fn delete(&self, messages: &[&SqsMessage]) -> Result<(), String> {
        let handles: Vec<&str> = messages
            .iter()
            .filter_map(|m| m.receipt_handle.as_deref())
            .collect();
        let not_deleted = crate::ops::delete_received(&self.client, &self.queue.url, &handles)
            .await
            .map_err(|err| err.to_string())?;
        if not_deleted > 0 {
            // Not deleted: the message comes back and is skipped as a duplicate.
            tracing::warn!(queue = %self.queue.name, not_deleted, "some processed messages could not be deleted");
        }
        Ok(())
    }

    /// The SQS event Lambda builds from received messages.
    fn event(&self, messages: Vec<sqs::types::Message>) -> SqsEvent {
        let mut event = SqsEvent::default();
        for message in messages {
            let mut record = SqsMessage::default();
            record.message_id = message.message_id;
            record.receipt_handle = message.receipt_handle;
            record.body = message.body;
            record.md5_of_body = message.md5_of_body;
            record.md5_of_message_attributes = message.md5_of_message_attributes;
            record.attributes = message
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name.as_str().to_owned(), value))
                .collect();
            record.message_attributes = message
                .message_attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| {
                    let mut attribute = SqsMessageAttribute::default();
                    attribute.data_type = Some(value.data_type);
                    attribute.string_value = value.string_value;
                    (name, attribute)
                })
                .collect::<HashMap<_, _>>();
            record.event_source = Some("aws:sqs".to_owned());
            record.event_source_arn = Some(self.arn.clone());
            record.aws_region = Some(self.region.clone());
            event.records.push(record);
        }
        event
    }
}
