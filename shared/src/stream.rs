//! DynamoDB stream records into change messages.
//!
//! Each record is decoded on its own, from its raw JSON, so that one record
//! that does not decode is dead-lettered with its reason instead of failing
//! the whole batch. Images are decoded with `serde_dynamo` into [`User`].

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::domain::{ChangeKind, ChangeMessage, User};

/// A DynamoDB stream event whose records are kept raw until each is decoded
/// on its own: the shape Lambda sends, without trusting any one record.
#[derive(Debug, Deserialize)]
pub struct RawStreamEvent {
    #[serde(rename = "Records")]
    pub records: Vec<Box<RawValue>>,
}

/// Why a stream record can never become a change message. Every variant is
/// permanent: retrying the same record gives the same answer. All but
/// [`DecodeError::NoChange`] are defects, for a dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the record is not a DynamoDB stream record: {0}")]
    Record(#[source] serde_json::Error),
    #[error(
        "unknown eventName {} (expected INSERT, MODIFY or REMOVE)",
        crate::reason::quoted_name(.0)
    )]
    UnknownEventName(String),
    #[error("the record has no SequenceNumber")]
    MissingSequenceNumber,
    #[error("the record has no {0} (the stream must be NEW_AND_OLD_IMAGES)")]
    MissingImage(&'static str),
    #[error("the {image} does not decode into a user: {source}")]
    Image {
        image: &'static str,
        #[source]
        source: serde_dynamo::Error,
    },
    #[error("the version went from {old} to {new}: a change must raise it")]
    VersionDidNotGrow { old: u64, new: u64 },
    /// A MODIFY that changes nothing the user is, at the same version: it
    /// set an attribute outside the user (a time-to-live stamp, a last
    /// sign-in time). Nothing to route, and nothing wrong.
    #[error("the MODIFY changes nothing of the user (version {version})")]
    NoChange { version: u64 },
    #[error("the old and new images are of different users")]
    KeyChanged,
}

impl DecodeError {
    /// True when the record is fine and only has nothing to route.
    pub fn is_no_change(&self) -> bool {
        matches!(self, DecodeError::NoChange { .. })
    }
}

/// The parts of a stream record that identify it, known even when the
/// record's images do not decode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordId {
    pub event_id: Option<String>,
    pub sequence_number: Option<String>,
}

/// Decodes one raw stream record. On failure, whatever identifies the record
/// is still returned, for the report and the dead-letter message.
pub fn decode_raw(raw: &RawValue) -> Result<ChangeMessage, (RecordId, DecodeError)> {
    let record: EventRecord = serde_json::from_str(raw.get())
        .map_err(|err| (RecordId::default(), DecodeError::Record(err)))?;
    let id = RecordId {
        event_id: Some(record.event_id.clone()),
        sequence_number: record.change.sequence_number.clone(),
    };
    decode(record).map_err(|err| (id, err))
}

/// Decodes one stream record into the message both queues receive.
pub fn decode(record: EventRecord) -> Result<ChangeMessage, DecodeError> {
    let kind = match record.event_name.as_str() {
        "INSERT" => ChangeKind::Created,
        "MODIFY" => ChangeKind::Updated,
        "REMOVE" => ChangeKind::Removed,
        other => return Err(DecodeError::UnknownEventName(other.to_owned())),
    };
    let expired = kind == ChangeKind::Removed
        && record.user_identity.as_ref().is_some_and(|identity| {
            identity.type_ == "Service" && identity.principal_id == "dynamodb.amazonaws.com"
        });
    let change = record.change;
    let sequence_number = change
        .sequence_number
        .filter(|s| !s.is_empty())
        .ok_or(DecodeError::MissingSequenceNumber)?;

    let trace_header = [&change.new_image, &change.old_image]
        .into_iter()
        .find_map(|image| match image.get(crate::wire::TRACE_ROW_ATTRIBUTE)? {
            serde_dynamo::AttributeValue::S(header) => Some(header.clone()),
            _ => None,
        });
    let mut kind = kind;
    let user = match kind {
        ChangeKind::Created => image(change.new_image, "NewImage")?,
        ChangeKind::Removed => image(change.old_image, "OldImage")?,
        ChangeKind::Updated => {
            let new = image(change.new_image, "NewImage")?;
            // The old image is only a check here; a MODIFY without it still
            // routes, since the new image is the state to publish.
            if !change.old_image.is_empty() {
                let old = image(change.old_image, "OldImage")?;
                if old.user_id != new.user_id {
                    return Err(DecodeError::KeyChanged);
                }
                if new == old {
                    return Err(DecodeError::NoChange {
                        version: new.version.get(),
                    });
                }
                if new.version <= old.version {
                    return Err(DecodeError::VersionDidNotGrow {
                        old: old.version.get(),
                        new: new.version.get(),
                    });
                }
            }
            // An erasure leaves a tombstone in the row: downstream it is a
            // removal, carrying the tombstone and none of the old image.
            if new.is_erased() {
                kind = ChangeKind::Removed;
            }
            new
        }
    };
    Ok(ChangeMessage {
        kind,
        version: user.version,
        user,
        expired,
        event_id: record.event_id,
        sequence_number,
        trace_header,
    })
}

fn image(item: serde_dynamo::Item, which: &'static str) -> Result<User, DecodeError> {
    if item.is_empty() {
        return Err(DecodeError::MissingImage(which));
    }
    User::deserialize(SortedItem::new(item)).map_err(|source| DecodeError::Image {
        image: which,
        source,
    })
}

/// An image read attribute by attribute in name order, whatever order its
/// map holds them in: an image with several defects gets the same reason on
/// every run. Each attribute is still read by `serde_dynamo`.
struct SortedItem {
    attributes: std::vec::IntoIter<(String, serde_dynamo::AttributeValue)>,
    value: Option<serde_dynamo::AttributeValue>,
}

impl SortedItem {
    fn new(item: serde_dynamo::Item) -> Self {
        let mut attributes: Vec<_> = std::collections::HashMap::from(item).into_iter().collect();
        attributes.sort_by(|(a, _), (b, _)| a.cmp(b));
        Self {
            attributes: attributes.into_iter(),
            value: None,
        }
    }
}

impl<'de> serde::Deserializer<'de> for SortedItem {
    type Error = serde_dynamo::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for SortedItem {
    type Error = serde_dynamo::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((name, value)) = self.attributes.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(name.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value without its name"))?;
        seed.deserialize(serde_dynamo::Deserializer::from_attribute_value(value))
    }
}

/// Compares two stream sequence numbers. They are decimal strings of up to 40
/// digits, so they are compared by length, then digit by digit.
pub fn compare_sequence_numbers(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn record(event_name: &str, keys: &str, images: &str) -> Box<RawValue> {
        let json = format!(
            r#"{{"eventID":"e1","eventName":"{event_name}","eventSource":"aws:dynamodb","awsRegion":"eu-west-1",
            "dynamodb":{{"ApproximateCreationDateTime":1767225600,"Keys":{keys},{images}"SequenceNumber":"100","SizeBytes":120,"StreamViewType":"NEW_AND_OLD_IMAGES"}}}}"#
        );
        RawValue::from_string(json).unwrap()
    }

    const KEYS: &str = r#"{"user_id":{"S":"u1"}}"#;

    fn image_json(version: u64) -> String {
        format!(
            r#"{{"user_id":{{"S":"u1"}},"email":{{"S":"zoe@example.com"}},"name":{{"S":"Zoë"}},"created_at":{{"S":"2026-01-01T00:00:00.000Z"}},"version":{{"N":"{version}"}}}}"#
        )
    }

    #[test]
    fn an_insert_becomes_a_created_message_with_the_new_image() {
        let raw = record("INSERT", KEYS, &format!(r#""NewImage":{},"#, image_json(1)));
        let message = decode_raw(&raw).unwrap();
        assert_eq!(message.kind, ChangeKind::Created);
        assert_eq!(message.user.name.as_deref(), Some("Zoë"));
        assert_eq!(message.version.get(), 1);
        assert_eq!(message.sequence_number, "100");
        assert_eq!(message.event_id, "e1");
    }

    #[test]
    fn a_remove_carries_the_user_as_it_was() {
        let raw = record("REMOVE", KEYS, &format!(r#""OldImage":{},"#, image_json(3)));
        let message = decode_raw(&raw).unwrap();
        assert_eq!(message.kind, ChangeKind::Removed);
        assert_eq!(message.version.get(), 3);
        assert!(message.revision().removed);
        assert!(!message.expired);
    }

    #[test]
    fn an_erasure_s_modify_is_a_removal_carrying_the_tombstone_alone() {
        let tombstone = r#"{"user_id":{"S":"u1"},"created_at":{"S":"2024-01-01T00:00:00.000Z"},"version":{"N":"4"},"updated_at":{"S":"2024-02-01T00:00:00.000Z"},"erased_at":{"S":"2024-02-01T00:00:00.000Z"}}"#;
        let raw = record(
            "MODIFY",
            KEYS,
            &format!(r#""NewImage":{tombstone},"OldImage":{},"#, image_json(3)),
        );
        let message = decode_raw(&raw).unwrap();
        assert_eq!(message.kind, ChangeKind::Removed);
        assert_eq!(message.version.get(), 4);
        assert!(message.user.is_erased());
        assert_eq!((message.user.email, message.user.name), (None, None));
    }

    #[test]
    fn an_image_without_a_version_is_a_permanent_image_error() {
        let image = r#"{"user_id":{"S":"u1"},"created_at":{"S":"2026-01-01T00:00:00.000Z"}}"#;
        let raw = record("INSERT", KEYS, &format!(r#""NewImage":{image},"#));
        let (id, err) = decode_raw(&raw).unwrap_err();
        assert_eq!(id.sequence_number.as_deref(), Some("100"));
        assert!(err.to_string().contains("version"), "{err}");
    }

    #[test]
    fn a_modify_that_does_not_raise_the_version_breaks_the_rule() {
        let renamed = image_json(2).replace("Zoë", "Zed");
        let images = format!(r#""NewImage":{renamed},"OldImage":{},"#, image_json(2));
        let (_, err) = decode_raw(&record("MODIFY", KEYS, &images)).unwrap_err();
        assert!(matches!(
            err,
            DecodeError::VersionDidNotGrow { old: 2, new: 2 }
        ));
    }

    #[test]
    fn a_modify_that_changes_nothing_of_the_user_is_no_change_not_a_defect() {
        // The same user at the same version; the item gained a TTL stamp.
        let new = image_json(2).replacen('{', r#"{"expires_at":{"N":"1767225600"},"#, 1);
        let images = format!(r#""NewImage":{new},"OldImage":{},"#, image_json(2));
        let (_, err) = decode_raw(&record("MODIFY", KEYS, &images)).unwrap_err();
        assert!(err.is_no_change(), "{err}");
        // A change to the user itself at the same version is still a defect.
        let renamed = image_json(2).replace("Zoë", "Zed");
        let images = format!(r#""NewImage":{renamed},"OldImage":{},"#, image_json(2));
        let (_, err) = decode_raw(&record("MODIFY", KEYS, &images)).unwrap_err();
        assert!(!err.is_no_change(), "{err}");
    }

    #[test]
    fn an_image_with_several_defects_gets_the_same_reason_every_time() {
        // A bad email, a bad version and a bad date: each map built anew
        // iterates in another order.
        let image = r#"{"user_id":{"S":"u1"},"email":{"S":"not-an-email"},"created_at":{"S":"yesterday"},"version":{"N":"0"},"name":{"S":"Zoë"}}"#;
        let reasons: std::collections::BTreeSet<String> = (0..64)
            .map(|_| {
                let images = format!(r#""NewImage":{image},"#);
                let (_, err) = decode_raw(&record("INSERT", KEYS, &images)).unwrap_err();
                err.to_string()
            })
            .collect();
        assert_eq!(reasons.len(), 1, "{reasons:?}");
    }

    #[test]
    fn a_keys_only_stream_is_a_missing_image() {
        let (_, err) = decode_raw(&record("INSERT", KEYS, "")).unwrap_err();
        assert!(matches!(err, DecodeError::MissingImage("NewImage")));
    }

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert_eq!(compare_sequence_numbers("99", "100"), Ordering::Less);
        assert_eq!(compare_sequence_numbers("0100", "100"), Ordering::Equal);
        assert_eq!(
            compare_sequence_numbers(
                "400000000000000000000000000000001",
                "400000000000000000000000000000000"
            ),
            Ordering::Greater
        );
    }
}
