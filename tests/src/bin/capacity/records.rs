//! The stream records a capacity run routes after the sign-ups: renames
//! and removals, as DynamoDB's stream writes them.

use serde_json::Value;
use serde_json::value::RawValue;

fn image(sub: &str, version: u64, name: &str) -> Value {
    serde_json::json!({
        "user_id": { "S": sub },
        "created_at": { "S": "2026-01-01T09:00:00.000Z" },
        "version": { "N": version.to_string() },
        "name": { "S": name },
    })
}

fn record(sub: &str, event: &str, sequence: u128, images: Value) -> Box<RawValue> {
    let mut dynamodb = serde_json::json!({
        "Keys": { "user_id": { "S": sub } },
        "SequenceNumber": sequence.to_string(),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let (Some(dynamodb), Some(images)) = (dynamodb.as_object_mut(), images.as_object()) {
        dynamodb.extend(images.clone());
    }
    let record = serde_json::json!({
        "eventID": format!("{}-{sequence}", event.to_lowercase()),
        "eventName": event,
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": dynamodb,
    });
    serde_json::value::to_raw_value(&record).unwrap_or_else(|err| panic!("{err}"))
}

/// A MODIFY stream record: the user at `version`, renamed.
pub(crate) fn renamed(sub: &str, version: u64, name: &str, sequence: u128) -> Box<RawValue> {
    let images = serde_json::json!({
        "NewImage": image(sub, version, name),
        "OldImage": image(sub, version - 1, "before"),
    });
    record(sub, "MODIFY", sequence, images)
}

/// A REMOVE stream record: the user, last at `version`, deleted.
pub(crate) fn removed(sub: &str, version: u64, name: &str, sequence: u128) -> Box<RawValue> {
    let images = serde_json::json!({ "OldImage": image(sub, version, name) });
    record(sub, "REMOVE", sequence, images)
}
