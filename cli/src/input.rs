//! Reading replay input as a stream.
//!
//! Files are read on a thread of their own and handed over in chunks, so a
//! file of a million stream records is never held in memory whole. A file is
//! either one JSON event (a DynamoDB stream event, whose `Records` are
//! streamed one by one, or a Cognito trigger event) or JSON Lines (`.jsonl`,
//! `.ndjson`): one event or one stream record a line.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

/// Stream records handed over at a time.
pub const CHUNK: usize = 1000;

/// Something read from an input file.
#[derive(Debug)]
pub enum Input {
    /// Consecutive stream records of one file (`first` is the index of the first).
    StreamRecords {
        first: usize,
        records: Vec<Box<RawValue>>,
    },
    /// A Cognito trigger event.
    Cognito { index: usize, event: Value },
    /// The file ended; `records` is how many it held.
    End { records: usize },
    /// The file cannot be replayed; the reason says why.
    Refused { reason: String },
}

/// Lists the files under the given paths: files as given, folders walked in
/// name order, looking for `.json`, `.jsonl` and `.ndjson` files.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        let metadata =
            std::fs::metadata(path).map_err(|err| format!("{}: {err}", path.display()))?;
        if metadata.is_dir() {
            walk(path, &mut files).map_err(|err| format!("{}: {err}", path.display()))?;
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
/// ending with `End` or `Refused`.
pub fn read(
    path: PathBuf,
    sink: mpsc::Sender<Input>,
    progress: Option<indicatif::ProgressBar>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let outcome = File::open(&path)
            .map_err(|err| format!("cannot be read: {err}"))
            .and_then(|file| {
                let lines = matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("jsonl" | "ndjson")
                );
                let mut sender = Sender::new(&sink);
                let file: Box<dyn Read> = match progress {
                    Some(bar) => Box::new(bar.wrap_read(file)),
                    None => Box::new(file),
                };
                let reader = BufReader::with_capacity(1 << 16, file);
                let result = if lines {
                    read_lines(reader, &mut sender)
                } else {
                    read_document(reader, &mut sender)
                };
                result.and_then(|()| sender.finish())
            });
        let last = match outcome {
            Ok(records) => Input::End { records },
            Err(reason) => Input::Refused { reason },
        };
        // The receiver stopped listening: nobody is left to tell.
        let _ = sink.blocking_send(last);
    })
}

/// Buffers stream records into chunks and counts what was sent.
struct Sender<'a> {
    sink: &'a mpsc::Sender<Input>,
    pending: Vec<Box<RawValue>>,
    first: usize,
    count: usize,
}

impl<'a> Sender<'a> {
    fn new(sink: &'a mpsc::Sender<Input>) -> Self {
        Self {
            sink,
            pending: Vec::with_capacity(CHUNK),
            first: 0,
            count: 0,
        }
    }

    fn record(&mut self, record: Box<RawValue>) -> Result<(), String> {
        self.pending.push(record);
        self.count += 1;
        if self.pending.len() == CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn cognito(&mut self, event: Value) -> Result<(), String> {
        self.flush()?;
        let index = self.count;
        self.count += 1;
        self.first = self.count;
        self.send(Input::Cognito { index, event })
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let records = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        let first = self.first;
        self.first = self.count;
        self.send(Input::StreamRecords { first, records })
    }

    fn send(&self, input: Input) -> Result<(), String> {
        self.sink
            .blocking_send(input)
            .map_err(|_| "the replay stopped reading".to_owned())
    }

    fn finish(mut self) -> Result<usize, String> {
        self.flush()?;
        Ok(self.count)
    }
}

/// What kind of event a JSON object is, by the fields AWS puts in it.
fn classify(object: &serde_json::Map<String, Value>) -> Result<Kind, String> {
    if let Some(source) = object.get("triggerSource").and_then(Value::as_str) {
        return if source.starts_with("PostConfirmation_") {
            Ok(Kind::Cognito)
        } else {
            Err(format!(
                "a Cognito `{source}` trigger: replay takes post-confirmation triggers"
            ))
        };
    }
    if object.contains_key("dynamodb") && object.contains_key("eventName") {
        return Ok(Kind::StreamRecord);
    }
    if object.contains_key("httpMethod") || object.contains_key("requestContext") {
        return Err(
            "an API Gateway request: replay takes DynamoDB stream events and Cognito triggers"
                .to_owned(),
        );
    }
    Err("not an event replay knows: it takes DynamoDB stream events (`Records`) and Cognito post-confirmation triggers".to_owned())
}

enum Kind {
    Cognito,
    StreamRecord,
}

/// The fields that tell what a JSON line is, read in one pass; everything
/// else is skipped without being built.
#[derive(serde::Deserialize)]
struct Probe {
    #[serde(rename = "Records")]
    records: Option<Vec<Box<RawValue>>>,
    #[serde(rename = "triggerSource")]
    trigger_source: Option<de::IgnoredAny>,
    #[serde(rename = "eventName")]
    event_name: Option<de::IgnoredAny>,
    dynamodb: Option<de::IgnoredAny>,
}

fn read_lines(reader: impl BufRead, sender: &mut Sender<'_>) -> Result<(), String> {
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|err| format!("cannot be read: {err}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = |reason: String| format!("line {}: {reason}", number + 1);
        let probe: Probe =
            serde_json::from_str(&line).map_err(|err| at(format!("not a JSON event: {err}")))?;
        match probe {
            // A whole stream event on one line: its records, in order.
            Probe {
                records: Some(records),
                ..
            } => {
                if let Some(first) = records.first() {
                    refuse_foreign_records(first).map_err(at)?;
                }
                for record in records {
                    sender.record(record)?;
                }
            }
            // The common case of a large replay: one stream record a line.
            Probe {
                event_name: Some(_),
                dynamodb: Some(_),
                trigger_source: None,
                ..
            } => {
                let raw = RawValue::from_string(line).map_err(|err| at(err.to_string()))?;
                sender.record(raw)?;
            }
            _ => {
                let value: Value =
                    serde_json::from_str(&line).map_err(|err| at(err.to_string()))?;
                let object = value
                    .as_object()
                    .ok_or_else(|| at("not a JSON object".to_owned()))?;
                match classify(object).map_err(at)? {
                    Kind::Cognito => sender.cognito(value)?,
                    Kind::StreamRecord => {
                        sender.record(
                            serde_json::value::to_raw_value(&value)
                                .map_err(|err| at(err.to_string()))?,
                        )?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn read_document(reader: impl Read, sender: &mut Sender<'_>) -> Result<(), String> {
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let top = de::Deserializer::deserialize_map(
        &mut deserializer,
        TopLevel {
            sender: &mut *sender,
        },
    )
    .map_err(|err| match err.classify() {
        serde_json::error::Category::Io => format!("cannot be read: {err}"),
        _ => format!("is not a JSON event: {err}"),
    })?;
    deserializer
        .end()
        .map_err(|err| format!("is not a JSON event: {err}"))?;
    match top {
        TopLevelSeen::Records => Ok(()),
        TopLevelSeen::Other(object) => match classify(&object)? {
            Kind::Cognito => sender.cognito(Value::Object(object)),
            Kind::StreamRecord => {
                let raw =
                    serde_json::value::to_raw_value(&object).map_err(|err| err.to_string())?;
                sender.record(raw)
            }
        },
    }
}

enum TopLevelSeen {
    /// A `Records` array, already handed over record by record.
    Records,
    /// Any other object, whole.
    Other(serde_json::Map<String, Value>),
}

/// Visits the top-level object: a `Records` array is streamed, every other
/// field is kept (a Cognito event is small).
struct TopLevel<'s, 'a> {
    sender: &'s mut Sender<'a>,
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = TopLevelSeen;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut other = serde_json::Map::new();
        let mut records = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" {
                map.next_value_seed(RecordsSeed {
                    sender: &mut *self.sender,
                })?;
                records = true;
            } else {
                other.insert(key, map.next_value()?);
            }
        }
        Ok(if records {
            TopLevelSeen::Records
        } else {
            TopLevelSeen::Other(other)
        })
    }
}

struct RecordsSeed<'s, 'a> {
    sender: &'s mut Sender<'a>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`Records`, an array of stream records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut first = true;
        while let Some(record) = seq.next_element::<Box<RawValue>>()? {
            if first {
                first = false;
                refuse_foreign_records(&record).map_err(de::Error::custom)?;
            }
            self.sender.record(record).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// An SQS or S3 event also has `Records`: say what it is instead of
/// dead-lettering every record as an unreadable stream record.
fn refuse_foreign_records(record: &RawValue) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Source {
        #[serde(rename = "eventSource", alias = "EventSource")]
        event_source: Option<String>,
    }
    let source = serde_json::from_str::<Source>(record.get())
        .ok()
        .and_then(|s| s.event_source);
    match source.as_deref() {
        None | Some("aws:dynamodb") => Ok(()),
        Some(other) => Err(format!(
            "holds `{other}` records: replay takes DynamoDB stream events and Cognito triggers"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(path: PathBuf) -> Vec<Input> {
        let (tx, mut rx) = mpsc::channel(4);
        let handle = read(path, tx, None);
        let mut out = Vec::new();
        while let Some(input) = rx.recv().await {
            out.push(input);
        }
        handle.join().unwrap();
        out
    }

    fn fixture(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures")
            .join(path)
    }

    #[tokio::test]
    async fn a_stream_event_is_streamed_record_by_record() {
        let inputs = read_all(fixture("dynamodb/insert-modify-remove.json")).await;
        assert!(
            matches!(&inputs[0], Input::StreamRecords { first: 0, records } if records.len() == 5)
        );
        assert!(matches!(inputs[1], Input::End { records: 5 }));
    }

    #[tokio::test]
    async fn a_cognito_event_is_read_whole() {
        let inputs = read_all(fixture("cognito/post-confirmation-sign-up.json")).await;
        assert!(
            matches!(&inputs[0], Input::Cognito { index: 0, event } if event["triggerSource"] == "PostConfirmation_ConfirmSignUp")
        );
    }

    #[tokio::test]
    async fn other_events_and_broken_files_are_refused_with_a_reason() {
        for (path, expected) in [
            ("apigw/hello-json.json", "an API Gateway request"),
            ("sqs/changes-out-of-order.json", "holds `aws:sqs` records"),
            ("malformed/not-json.json", "is not a JSON event"),
            ("malformed/stream-not-an-event.json", "is not a JSON event"),
        ] {
            let inputs = read_all(fixture(path)).await;
            match inputs.last() {
                Some(Input::Refused { reason }) => {
                    assert!(reason.contains(expected), "{path}: {reason}")
                }
                other => panic!("{path}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn json_lines_hold_records_events_and_triggers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mixed.jsonl");
        let stream: Value =
            serde_json::from_str(include_str!("../../fixtures/dynamodb/ttl-removal.json")).unwrap();
        let cognito: Value = serde_json::from_str(include_str!(
            "../../fixtures/cognito/post-confirmation-sign-up.json"
        ))
        .unwrap();
        let lines = [
            stream.to_string(),
            stream["Records"][0].to_string(),
            String::new(),
            cognito.to_string(),
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let inputs = read_all(path).await;
        assert!(
            matches!(&inputs[0], Input::StreamRecords { first: 0, records } if records.len() == 3)
        );
        assert!(matches!(&inputs[1], Input::Cognito { index: 3, .. }));
        assert!(matches!(inputs[2], Input::End { records: 4 }));
    }

    #[test]
    fn folders_are_walked_in_name_order() {
        let files = discover(&[fixture("dynamodb")]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "batch-with-poison-records.json",
                "insert-modify-remove.json",
                "ttl-removal.json"
            ]
        );
        assert!(discover(&[fixture("nowhere")]).is_err());
    }
}
