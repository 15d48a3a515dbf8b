//! Parameters in one JSON file, name to value.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use async_trait::async_trait;

use super::{CallCounter, JsonFile};
use crate::error::PortError;
use crate::parameter_tier::Tier;
use crate::ports::{NAMES_PER_CALL, NamesStore, ParameterStore};

/// Parameters in one JSON file, name to value (a parameter's tier is not
/// kept: only its limit is checked).
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

fn within_call(operation: &'static str, names: &[String]) -> Result<(), PortError> {
    if names.is_empty() || names.len() > NAMES_PER_CALL {
        return Err(PortError::rejected(
            operation,
            format!(
                "{} names, where a call takes 1 to {NAMES_PER_CALL}",
                names.len()
            ),
        ));
    }
    Ok(())
}

#[async_trait]
impl NamesStore for FileParameters {
    async fn get_many(&self, names: &[String]) -> Result<BTreeMap<String, String>, PortError> {
        self.calls.count("GetParameters");
        within_call("GetParameters", names)?;
        Ok(self.values.read(|values| {
            names
                .iter()
                .filter_map(|name| Some((name.clone(), values.get(name)?.clone())))
                .collect()
        }))
    }

    async fn put_tiered(&self, name: &str, value: &str, tier: Tier) -> Result<(), PortError> {
        self.calls.count("PutParameter");
        if value.len() > tier.max_value_bytes() {
            return Err(PortError::rejected(
                "PutParameter",
                format!(
                    "the value has {} bytes, over the {} of a {} parameter",
                    value.len(),
                    tier.max_value_bytes(),
                    tier.as_str()
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

    async fn delete_many(&self, names: &[String]) -> Result<(), PortError> {
        self.calls.count("DeleteParameters");
        within_call("DeleteParameters", names)?;
        self.values.change(|values| {
            let before = values.len();
            for name in names {
                values.remove(name);
            }
            ((), values.len() != before)
        });
        Ok(())
    }
}
