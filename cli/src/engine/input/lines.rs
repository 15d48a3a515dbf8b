//! JSON Lines (`.jsonl`, `.ndjson`): one event or one record a line.

use std::io::BufRead;

use serde::de;
use serde_json::value::RawValue;

use super::kind::{RecordKind, record_kind};
use super::{InputError, Sender};

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

pub(super) fn read_lines(reader: impl BufRead, sender: &mut Sender<'_>) -> Result<(), InputError> {
    for (number, line) in reader.split(b'\n').enumerate() {
        let mut bytes = line.map_err(InputError::Read)?;
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let line = match String::from_utf8(bytes) {
            Ok(line) => line,
            Err(err) => {
                let reason = InputError::NotUtf8(err.utf8_error());
                let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
                sender.unreadable(text, number + 1, &reason)?;
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        // A line that is no event replay takes is kept with its reason; the
        // lines around it are read as ever.
        if let Err(reason) = read_line(&line, sender) {
            sender.unreadable(line, number + 1, &reason)?;
        }
    }
    Ok(())
}

/// Reads one line; an error says why it is not an event.
fn read_line(line: &str, sender: &mut Sender<'_>) -> Result<(), InputError> {
    let probe: Probe = serde_json::from_str(line).map_err(InputError::NotAJsonLine)?;
    match probe {
        // A whole event on one line: its records, in order, once each is
        // known to be one replay takes.
        Probe {
            records: Some(records),
            ..
        } => {
            let kinds = records
                .iter()
                .map(|record| record_kind(record, sender.queues))
                .collect::<Result<Vec<_>, _>>()?;
            for (kind, record) in kinds.into_iter().zip(records) {
                sender.record(kind, record)?;
            }
            Ok(())
        }
        // The common case of a large replay: one stream record a line.
        Probe {
            event_name: Some(_),
            dynamodb: Some(_),
            trigger_source: None,
            ..
        } => {
            let raw = RawValue::from_string(line.to_owned()).map_err(InputError::NotAJsonLine)?;
            sender.record(RecordKind::Stream, raw)
        }
        _ => {
            let value = serde_json::from_str(line).map_err(InputError::NotAJsonLine)?;
            sender.event(value)
        }
    }
}
