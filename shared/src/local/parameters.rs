//! Parameters in one JSON file, name to value.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use async_trait::async_trait;

use super::{CallCounter, JsonFile};
use crate::error::PortError;
use crate::ports::ParameterStore;

/// Parameters in one JSON file, name to value.
#[derive(Debug)]
pub struct FileParameters {
    values: JsonFile<BTreeMap<String, String>>,
    pub calls: CallCounter,
}

impl FileParameters {
    pub fn in_memory() -> Self {
        Self {
            values: JsonFile::in_memory(),
            calls: CallCounter::default(),
        }
    }

    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        Ok(Self {
            values: JsonFile::open(path)?,
            calls: CallCounter::default(),
        })
    }

    pub fn values(&self) -> BTreeMap<String, String> {
        self.values.read(Clone::clone)
    }

    pub fn flush(&self) -> io::Result<()> {
        self.values.flush()
    }
}

/// SSM's limit on a standard parameter's value.
const MAX_PARAMETER_BYTES: usize = 4096;

#[async_trait]
impl ParameterStore for FileParameters {
    async fn get(&self, name: &str) -> Result<Option<String>, PortError> {
        self.calls.count("GetParameter");
        Ok(self.values.read(|values| values.get(name).cloned()))
    }

    async fn put(&self, name: &str, value: &str) -> Result<(), PortError> {
        self.calls.count("PutParameter");
        if value.len() > MAX_PARAMETER_BYTES {
            return Err(PortError::rejected(
                "PutParameter",
                format!(
                    "the value has {} bytes, over the 4096 of a standard parameter",
                    value.len()
                ),
            ));
        }
        self.values.change(|values| {
            let changed = values.get(name).map(String::as_str) != Some(value);
            values.insert(name.to_owned(), value.to_owned());
            ((), changed)
        });
        Ok(())
    }
}
