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
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|err| format!("cannot be read: {err}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = |reason: String| format!("line {}: {reason}", number + 1);
        let probe: Probe =
            serde_json::from_str(&line).map_err(|err| at(format!("not a JSON event: {err}")))?;
        match probe {
            // A whole event on one line: its records, in order.
            Probe {
                records: Some(records),
                ..
            } => {
                for record in records {
                    let kind = record_kind(&record).map_err(at)?;
                    sender.record(kind, record)?;
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
                sender.record(RecordKind::Stream, raw)?;
            }
            _ => {
                let value = serde_json::from_str(&line).map_err(|err| at(err.to_string()))?;
                sender.event(value).map_err(at)?;
            }
        }
    }
    Ok(())
}
