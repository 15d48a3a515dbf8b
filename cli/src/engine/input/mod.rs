//! Reading replay input as a stream.
//!
//! Files are read on a thread of their own and handed over in chunks, so a
//! file of a million stream records is never held in memory whole. A file is
//! either one JSON event ([`document`]: a DynamoDB stream or SQS event, whose
//! `Records` are streamed one by one, a Cognito trigger or an API Gateway
//! request) or JSON Lines ([`lines`]: `.jsonl`, `.ndjson`, one event or one
//! record a line). [`kind`] tells them apart.

mod document;
mod kind;
mod lines;
#[cfg(test)]
mod tests;

use onboard_shared::reason::Reason;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use kind::{Kind, NotAKind, RecordKind};
use onboard_shared::reason::without_input_values;

use crate::engine::queue_roles::{Consumer, QueueNames};

/// Why a file, or a line of one, is not replayed. Its text quotes no
/// input value (a parser's quotes are taken out), so it can stand as a
/// reason.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A path given that cannot be read, or a folder that cannot be walked.
    #[error("{}: {source}", path.display())]
    Path {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot be read: {0}")]
    Read(#[source] std::io::Error),
    /// A whole file that is no JSON event; the parser's own message is not
    /// kept as the source, as it may quote the input.
    #[error("is not a JSON event: {}", without_input_values(&.0.to_string()))]
    NotAJsonEvent(serde_json::Error),
    /// A line that is no JSON event.
    #[error("not a JSON event: {}", without_input_values(&.0.to_string()))]
    NotAJsonLine(serde_json::Error),
    #[error("not UTF-8: {0}")]
    NotUtf8(#[source] std::str::Utf8Error),
    #[error("not a JSON object")]
    NotAnObject,
    #[error(transparent)]
    NotAKind(#[from] NotAKind),
    #[error("the replay stopped reading")]
    Stopped,
}

/// Records handed over at a time.
pub const CHUNK: usize = 1000;

/// Something read from an input file.
#[derive(Debug)]
pub enum Input {
    /// Consecutive stream records of one file (`first` is the index of the first).
    StreamRecords {
        first: usize,
        records: Vec<Box<RawValue>>,
    },
    /// Consecutive SQS messages of one file for one consumer (the one their
    /// `eventSourceARN` names), each as an SQS event's record.
    SqsMessages {
        first: usize,
        consumer: Consumer,
        messages: Vec<Box<RawValue>>,
    },
    /// A Cognito trigger event.
    Cognito { index: usize, event: Value },
    /// An API Gateway request.
    ApiRequest {
        index: usize,
        request: Box<ApiGatewayProxyRequest>,
    },
    /// A line of a JSON Lines file that cannot be read as an event (not
    /// UTF-8, not JSON, not an event replay takes): the rest of the file
    /// is still read.
    Unreadable {
        index: usize,
        /// The line as it was (invalid UTF-8 replaced).
        text: String,
        /// Why, with the line's number.
        reason: Reason,
    },
    /// The file ended; `records` is how many it held.
    End { records: usize },
    /// The file cannot be replayed; the reason says why.
    Refused { reason: String },
}

/// Lists the files under the given paths: files as given, folders walked in
/// name order, looking for `.json`, `.jsonl` and `.ndjson` files.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    for path in paths {
        let at = |source| InputError::Path {
            path: path.clone(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(at)?;
        if metadata.is_dir() {
            walk(path, &mut files).map_err(at)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, files)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "jsonl" | "ndjson")
        ) {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads one file on a thread of its own, sending what it finds, always
/// ending with `End` or `Refused`. An SQS message is for the consumer of the
/// queue its `eventSourceARN` names among `queues`.
pub fn read(
    path: PathBuf,
    sink: mpsc::Sender<Input>,
    progress: Option<indicatif::ProgressBar>,
    queues: std::sync::Arc<QueueNames>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let outcome = File::open(&path)
            .map_err(InputError::Read)
            .and_then(|file| {
                let lines = matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("jsonl" | "ndjson")
                );
                let mut sender = Sender::new(&sink, &queues);
                let file: Box<dyn Read> = match progress {
                    Some(bar) => Box::new(bar.wrap_read(file)),
                    None => Box::new(file),
                };
                let reader = BufReader::with_capacity(1 << 16, file);
                let result = if lines {
                    lines::read_lines(reader, &mut sender)
                } else {
                    document::read_document(reader, &mut sender)
                };
                result.and_then(|()| sender.finish())
            });
        let last = match outcome {
            Ok(records) => Input::End { records },
            Err(err) => Input::Refused {
                reason: err.to_string(),
            },
        };
        // The receiver stopped listening: nobody is left to tell.
        let _ = sink.blocking_send(last);
    })
}

/// Buffers records of one kind into chunks and counts what was sent.
struct Sender<'a> {
    sink: &'a mpsc::Sender<Input>,
    queues: &'a QueueNames,
    pending: Vec<Box<RawValue>>,
    pending_kind: RecordKind,
    first: usize,
    count: usize,
}

impl<'a> Sender<'a> {
    fn new(sink: &'a mpsc::Sender<Input>, queues: &'a QueueNames) -> Self {
        Self {
            sink,
            queues,
            pending: Vec::with_capacity(CHUNK),
            pending_kind: RecordKind::Stream,
            first: 0,
            count: 0,
        }
    }

    /// One record of a `Records` array (or a line that holds one).
    fn record(&mut self, kind: RecordKind, record: Box<RawValue>) -> Result<(), InputError> {
        if kind != self.pending_kind {
            self.flush()?;
            self.pending_kind = kind;
        }
        self.pending.push(record);
        self.count += 1;
        if self.pending.len() == CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// A whole event other than a `Records` array.
    fn event(&mut self, value: Value) -> Result<(), InputError> {
        let object = value.as_object().ok_or(InputError::NotAnObject)?;
        let record = |kind, value: &Value| {
            serde_json::value::to_raw_value(value)
                .map(|raw| (kind, raw))
                .map_err(InputError::NotAJsonEvent)
        };
        let (kind, raw) = match kind::classify(object, self.queues)? {
            Kind::StreamRecord => record(RecordKind::Stream, &value)?,
            Kind::SqsMessage(consumer) => record(RecordKind::Sqs(consumer), &value)?,
            Kind::Cognito => {
                return self.single(|index| Input::Cognito {
                    index,
                    event: value,
                });
            }
            Kind::ApiRequest => {
                let request = kind::api_request(value)?;
                return self.single(|index| Input::ApiRequest { index, request });
            }
        };
        self.record(kind, raw)
    }

    /// A line that cannot be read, kept with its reason.
    fn unreadable(
        &mut self,
        text: String,
        line: usize,
        err: &InputError,
    ) -> Result<(), InputError> {
        // Scrubbed here, where it becomes a reason.
        let reason = Reason::scrubbed(format_args!("line {line}: {err}"));
        self.single(|index| Input::Unreadable {
            index,
            text,
            reason,
        })
    }

    /// An input that stands alone, at the next index.
    fn single(&mut self, input: impl FnOnce(usize) -> Input) -> Result<(), InputError> {
        self.flush()?;
        let index = self.count;
        self.count += 1;
        self.first = self.count;
        self.send(input(index))
    }

    fn flush(&mut self) -> Result<(), InputError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let records = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        let first = self.first;
        self.first = self.count;
        self.send(match self.pending_kind {
            RecordKind::Stream => Input::StreamRecords { first, records },
            RecordKind::Sqs(consumer) => Input::SqsMessages {
                first,
                consumer,
                messages: records,
            },
        })
    }

    fn send(&self, input: Input) -> Result<(), InputError> {
        self.sink
            .blocking_send(input)
            .map_err(|_| InputError::Stopped)
    }

    fn finish(mut self) -> Result<usize, InputError> {
        self.flush()?;
        Ok(self.count)
    }
}
