//! JSON Lines (`.jsonl`, `.ndjson`): one event or one record a line.

use std::io::BufRead;

use serde::de;
use serde_json::value::RawValue;

use super::Sender;
use super::kind::{RecordKind, record_kind};

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

pub(super) fn read_lines(reader: impl BufRead, sender: &mut Sender<'_>) -> Result<(), String> {
    for (number, line) in reader.split(b'\n').enumerate() {
        let mut bytes = line.map_err(|err| format!("cannot be read: {err}"))?;
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let at = |reason: String| format!("line {}: {reason}", number + 1);
        let line = match String::from_utf8(bytes) {
            Ok(line) => line,
            Err(err) => {
                let reason = at(format!("not UTF-8: {}", err.utf8_error()));
                let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
                sender.unreadable(text, reason)?;
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        // A line that is no event replay takes is kept with its reason; the
        // lines around it are read as ever.
        if let Err(reason) = read_line(&line, sender) {
            sender.unreadable(line, at(reason))?;
        }
    }
    Ok(())
}

/// Reads one line; an error says why it is not an event.
fn read_line(line: &str, sender: &mut Sender<'_>) -> Result<(), String> {
    let probe: Probe =
        serde_json::from_str(line).map_err(|err| format!("not a JSON event: {err}"))?;
    match probe {
        // A whole event on one line: its records, in order, once each is
        // known to be one replay takes.
        Probe {
            records: Some(records),
            ..
        } => {
            let kinds = records
                .iter()
                .map(|record| record_kind(record))
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
            let raw = RawValue::from_string(line.to_owned()).map_err(|err| err.to_string())?;
            sender.record(RecordKind::Stream, raw)
        }
        _ => {
            let value = serde_json::from_str(line).map_err(|err| err.to_string())?;
            sender.event(value)
        }
    }
}
