//! A file that holds one JSON event. A `Records` array is handed over record
//! by record as it is read, so a stream event of a million records is never
//! held whole; any other event is small and read whole.

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::kind::record_kind;
use super::{InputError, Sender};

pub(super) fn read_document(reader: impl Read, sender: &mut Sender<'_>) -> Result<(), InputError> {
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let top = de::Deserializer::deserialize_map(
        &mut deserializer,
        TopLevel {
            sender: &mut *sender,
        },
    )
    .map_err(|err| match err.classify() {
        serde_json::error::Category::Io => InputError::Read(err.into()),
        _ => InputError::NotAJsonEvent(err),
    })?;
    deserializer.end().map_err(InputError::NotAJsonEvent)?;
    match top {
        TopLevelSeen::Records => Ok(()),
        TopLevelSeen::Other(object) => sender.event(Value::Object(object)),
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
        f.write_str("`Records`, an array of stream records or SQS messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<Box<RawValue>>()? {
            let kind = record_kind(&record, self.sender.queues).map_err(de::Error::custom)?;
            self.sender
                .record(kind, record)
                .map_err(de::Error::custom)?;
        }
        Ok(())
    }
}
