//! DynamoDB stream records as the local stream rules see them: raw JSON
//! with a sequence number and a creation time, nothing else.

use std::time::Duration;

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::value::RawValue;

/// A stream record with a sequence number, written `age` ago.
///
/// # Panics
///
/// When `age` is beyond what a date can hold.
pub fn record(sequence: u64, age: Duration) -> Box<RawValue> {
    let created = chrono::Utc::now()
        - chrono::Duration::from_std(age).unwrap_or_else(|err| panic!("{age:?}: {err}"));
    let json = format!(
        r#"{{"eventID":"e{sequence}","eventName":"INSERT","eventSource":"aws:dynamodb","dynamodb":{{"SequenceNumber":"{sequence}","ApproximateCreationDateTime":{}}}}}"#,
        created.timestamp()
    );
    RawValue::from_string(json).unwrap_or_else(|err| panic!("a stream record: {err}"))
}

/// Records written now, one per sequence number.
pub fn records(sequences: impl IntoIterator<Item = u64>) -> Vec<Box<RawValue>> {
    sequences
        .into_iter()
        .map(|sequence| record(sequence, Duration::ZERO))
        .collect()
}

/// The sequence numbers of records, in their order.
///
/// # Panics
///
/// When a record has no numeric sequence number.
pub fn sequence_numbers(records: &[Box<RawValue>]) -> Vec<u64> {
    records
        .iter()
        .map(|record| {
            let value: serde_json::Value = serde_json::from_str(record.get())
                .unwrap_or_else(|err| panic!("a stream record: {err}"));
            value["dynamodb"]["SequenceNumber"]
                .as_str()
                .and_then(|sequence| sequence.parse().ok())
                .unwrap_or_else(|| panic!("no sequence number in {value}"))
        })
        .collect()
}

/// A partial batch response naming these items as failed (`None`: an
/// item with no identifier, which fails the whole batch).
pub fn failing(ids: &[Option<&str>]) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = ids
        .iter()
        .map(|id| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = id.map(str::to_owned);
            failure
        })
        .collect();
    response
}
