//! Where a stream record sits in its shard, read from the record itself:
//! what the checkpoint, the record age and the on-failure metadata need.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Where a record sits in its shard, read from the record itself.
#[derive(Debug, Default, Clone)]
pub(super) struct Position {
    pub(super) sequence_number: Option<String>,
    pub(super) created: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct PositionRecord {
    dynamodb: Option<PositionChange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PositionChange {
    sequence_number: Option<String>,
    approximate_creation_date_time: Option<f64>,
}

pub(super) fn position(record: &RawValue) -> Position {
    let Ok(PositionRecord {
        dynamodb: Some(change),
    }) = serde_json::from_str(record.get())
    else {
        return Position::default();
    };
    Position {
        sequence_number: change.sequence_number,
        created: change.approximate_creation_date_time.and_then(|secs| {
            let millis = (secs * 1000.0).round();
            // The cast is exact for any time a stream can hold.
            #[allow(clippy::cast_possible_truncation)]
            DateTime::from_timestamp_millis(millis as i64)
        }),
    }
}
