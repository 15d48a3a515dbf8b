//! The users table: items in a JSON file, changes emitted as DynamoDB
//! stream records.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::{EventRecord, StreamRecord, StreamViewType};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{CallCounter, JsonFile, lock};
use crate::domain::{User, UserId};
use crate::error::PortError;
use crate::ports::{AccountStore, Conditional, Expected, PutNew, UserReader, UserStore};

#[derive(Debug, Default, Serialize, Deserialize)]
struct TableFile {
    /// The last sequence number handed out, so a later run continues the stream.
    last_sequence_number: u128,
    items: BTreeMap<UserId, User>,
}

/// The users table: items in a JSON file, changes emitted as DynamoDB stream
/// records (`NEW_AND_OLD_IMAGES`) for the runner to hand to the router.
#[derive(Debug)]
pub struct LocalTable {
    file: JsonFile<TableFile>,
    /// Emitted and not yet taken, in sequence order.
    stream: Mutex<Vec<Box<RawValue>>>,
    pub calls: CallCounter,
}

/// Sequence numbers of the local stream start here, so they have the 21
/// digits of real ones.
const FIRST_SEQUENCE_NUMBER: u128 = 100_000_000_000_000_000_000;

impl LocalTable {
    pub fn in_memory() -> Self {
        Self {
            file: JsonFile::in_memory(),
            stream: Mutex::default(),
            calls: CallCounter::default(),
        }
    }

    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        Ok(Self {
            file: JsonFile::open(path)?,
            stream: Mutex::default(),
            calls: CallCounter::default(),
        })
    }

    pub fn get(&self, user: &UserId) -> Option<User> {
        self.file.read(|file| file.items.get(user).cloned())
    }

    pub fn len(&self) -> usize {
        self.file.read(|file| file.items.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stream records emitted since the last call.
    pub fn take_stream(&self) -> Vec<Box<RawValue>> {
        std::mem::take(&mut lock(&self.stream))
    }

    pub fn flush(&self) -> io::Result<()> {
        self.file.flush()
    }

    /// Writes (or, with no new image, deletes) an item and emits its stream
    /// record, under one lock so the stream keeps the order of the writes.
    fn write(
        &self,
        file: &mut TableFile,
        event_name: &str,
        old: Option<&User>,
        new: Option<&User>,
    ) -> Result<(), PortError> {
        let record = Self::emit(file, event_name, old, new)?;
        match (new, old) {
            (Some(user), _) => {
                file.items.insert(user.user_id.clone(), user.clone());
            }
            (None, Some(old)) => {
                file.items.remove(&old.user_id);
            }
            (None, None) => {}
        }
        lock(&self.stream).push(record);
        Ok(())
    }

    /// The stream record of a change, with the next sequence number.
    fn emit(
        file: &mut TableFile,
        event_name: &str,
        old: Option<&User>,
        new: Option<&User>,
    ) -> Result<Box<RawValue>, PortError> {
        file.last_sequence_number = file.last_sequence_number.max(FIRST_SEQUENCE_NUMBER - 1) + 1;
        let sequence_number = file.last_sequence_number.to_string();
        let image = |user: Option<&User>| -> Result<serde_dynamo::Item, PortError> {
            user.map_or_else(
                || {
                    Ok(serde_dynamo::Item::from(HashMap::<
                        String,
                        serde_dynamo::AttributeValue,
                    >::new()))
                },
                |user| {
                    serde_dynamo::to_item(user).map_err(|err| {
                        PortError::rejected("PutItem", format!("the user does not encode: {err}"))
                    })
                },
            )
        };
        let key = new.or(old).map(|user| user.user_id.clone());
        let mut change = StreamRecord::default();
        change.approximate_creation_date_time = Utc::now();
        let mut keys = HashMap::new();
        if let Some(key) = key {
            keys.insert(
                "user_id".to_owned(),
                serde_dynamo::AttributeValue::S(key.as_str().to_owned()),
            );
        }
        change.keys = serde_dynamo::Item::from(keys);
        change.new_image = image(new)?;
        change.old_image = image(old)?;
        change.sequence_number = Some(sequence_number.clone());
        change.size_bytes = 0;
        change.stream_view_type = Some(StreamViewType::NewAndOldImages);
        let mut record = EventRecord::default();
        record.aws_region = "local".to_owned();
        record.change = change;
        record.event_id = format!("local-{sequence_number}");
        record.event_name = event_name.to_owned();
        record.event_source = Some("aws:dynamodb".to_owned());
        record.event_version = Some("1.1".to_owned());
        record.event_source_arn =
            Some("arn:aws:dynamodb:local:000000000000:table/users/stream/local".to_owned());
        serde_json::value::to_raw_value(&record).map_err(|err| {
            PortError::rejected(
                "PutItem",
                format!("the stream record does not encode: {err}"),
            )
        })
    }

    /// Replaces an item, raising its version, as an application update would.
    pub fn update(&self, mut user: User) -> Result<User, PortError> {
        self.calls.count("UpdateItem");
        self.file.change(|file| {
            let old = file.items.get(&user.user_id).cloned();
            user.version = old.as_ref().map_or(user.version, |old| old.version.next());
            let event = if old.is_some() { "MODIFY" } else { "INSERT" };
            let written = self.write(file, event, old.as_ref(), Some(&user));
            let changed = written.is_ok();
            (written.map(|()| user), changed)
        })
    }

    /// Deletes an item, as an application or DynamoDB's time to live would.
    pub fn delete(&self, user: &UserId) -> Result<Option<User>, PortError> {
        self.calls.count("DeleteItem");
        self.file.change(|file| {
            let Some(old) = file.items.get(user).cloned() else {
                return (Ok(None), false);
            };
            let written = self.write(file, "REMOVE", Some(&old), None);
            let changed = written.is_ok();
            (written.map(|()| Some(old)), changed)
        })
    }
}

#[async_trait]
impl UserStore for LocalTable {
    async fn put_new(&self, user: &User) -> Result<PutNew, PortError> {
        self.calls.count("PutItem");
        self.file.change(|file| {
            if file.items.contains_key(&user.user_id) {
                return (Ok(PutNew::AlreadyExists), false);
            }
            let written = self.write(file, "INSERT", None, Some(user));
            let changed = written.is_ok();
            (written.map(|()| PutNew::Created), changed)
        })
    }
}

#[async_trait]
impl UserReader for LocalTable {
    async fn get(&self, user: &UserId) -> Result<Option<User>, PortError> {
        self.calls.count("GetItem");
        Ok(LocalTable::get(self, user))
    }
}

#[async_trait]
impl AccountStore for LocalTable {
    async fn replace(&self, user: &User, expected: Expected) -> Result<Conditional, PortError> {
        self.calls.count("PutItem");
        self.file.change(|file| {
            let old = file.items.get(&user.user_id).cloned();
            let holds = match (&old, expected) {
                (None, Expected::Absent) => true,
                (Some(old), Expected::Version(version)) => {
                    old.version == version && !old.is_erased()
                }
                _ => false,
            };
            if !holds {
                return (Ok(Conditional::Conflict), false);
            }
            let event = if old.is_some() { "MODIFY" } else { "INSERT" };
            let written = self.write(file, event, old.as_ref(), Some(user));
            let changed = written.is_ok();
            (written.map(|()| Conditional::Written), changed)
        })
    }
}
