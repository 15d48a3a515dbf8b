//! A table's stream read as Lambda reads it: every shard, in order, each
//! record turned into the JSON Lambda hands a function. `onboard dev` polls
//! it; `onboard dlq redrive` reads back the ranges Lambda gave up on.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use aws_lambda_events::event::dynamodb::{EventRecord, StreamRecord, UserIdentity};
use aws_sdk_dynamodbstreams as streams;
use onboard_shared::error::BoxError;
use onboard_shared::stream::compare_sequence_numbers;
use serde_json::value::RawValue;

/// A read of the stream that failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamReadError {
    #[error("{action} failed")]
    Call {
        action: &'static str,
        #[source]
        source: BoxError,
    },
    #[error(
        "the records from {start} of {shard_id} are no longer in the stream (it keeps them 24 hours)"
    )]
    Gone { start: String, shard_id: String },
    #[error("a stream record cannot be written as Lambda's JSON: {0}")]
    Record(#[source] serde_json::Error),
}

impl StreamReadError {
    fn call(action: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Call {
            action,
            source: source.into(),
        }
    }
}

/// Reads a DynamoDB stream, every shard, each from its oldest record.
#[derive(Debug)]
pub struct ShardReader {
    client: streams::Client,
    pub arn: String,
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

impl ShardReader {
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

    async fn iterator(
        &self,
        shard: &str,
        after: Option<&str>,
    ) -> Result<Option<String>, StreamReadError> {
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
            .map_err(|err| StreamReadError::call("GetShardIterator", err))
    }

    async fn discover(&mut self) -> Result<(), StreamReadError> {
        let mut start = None;
        loop {
            let described = self
                .client
                .describe_stream()
                .stream_arn(&self.arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .map_err(|err| StreamReadError::call("DescribeStream", err))?;
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

    /// The next records of one shard, as Lambda would send them, and the
    /// shard's id (no records when no shard has new ones).
    pub async fn next_batch(
        &mut self,
        limit: i32,
    ) -> Result<(String, Vec<Box<RawValue>>), StreamReadError> {
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
                Err(err) => return Err(StreamReadError::call("GetRecords", err)),
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
                batch.push(lambda_record(record, &self.arn).map_err(StreamReadError::Record)?);
            }
            return Ok((shard.id.clone(), batch));
        }
        Ok((String::new(), Vec::new()))
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

/// The records of one shard from `start` to `end` (both included), as
/// Lambda would have sent them.
pub async fn fetch_stream_batch(
    client: &aws_sdk_dynamodbstreams::Client,
    stream_arn: &str,
    shard_id: &str,
    start: &str,
    end: &str,
) -> Result<Vec<Box<RawValue>>, StreamReadError> {
    let gone = || StreamReadError::Gone {
        start: start.to_owned(),
        shard_id: shard_id.to_owned(),
    };
    let mut iterator = client
        .get_shard_iterator()
        .stream_arn(stream_arn)
        .shard_id(shard_id)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::AtSequenceNumber)
        .sequence_number(start)
        .send()
        .await
        .map_err(|err| {
            if err
                .as_service_error()
                .is_some_and(|e| e.is_trimmed_data_access_exception())
            {
                gone()
            } else {
                StreamReadError::call("GetShardIterator", err)
            }
        })?
        .shard_iterator;
    let mut records = Vec::new();
    let mut first = true;
    while let Some(current) = iterator.take() {
        let output = client
            .get_records()
            .shard_iterator(current)
            .limit(1000)
            .send()
            .await
            .map_err(|err| StreamReadError::call("GetRecords", err))?;
        let page = output.records.unwrap_or_default();
        if page.is_empty() {
            break;
        }
        for record in page {
            let sequence = record
                .dynamodb
                .as_ref()
                .and_then(|d| d.sequence_number.clone())
                .unwrap_or_default();
            if first && compare_sequence_numbers(&sequence, start).is_gt() {
                return Err(gone());
            }
            first = false;
            if compare_sequence_numbers(&sequence, end).is_gt() {
                return Ok(records);
            }
            records.push(lambda_record(record, stream_arn).map_err(StreamReadError::Record)?);
        }
        iterator = output.next_shard_iterator;
    }
    if first {
        return Err(gone());
    }
    Ok(records)
}
