//! One value kept in memory and written to one JSON file, whole and
//! atomically, on `flush`: the store behind the local table, the archive's
//! index and the parameters.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::lock;

/// A value and the file it is kept in (none: in memory only).
#[derive(Debug)]
pub struct JsonFile<T> {
    path: Option<PathBuf>,
    state: Mutex<(T, bool)>,
}

impl<T: Serialize + DeserializeOwned + Default> JsonFile<T> {
    pub fn in_memory() -> Self {
        Self {
            path: None,
            state: Mutex::new((T::default(), false)),
        }
    }

    /// The value the file holds; the default when there is no file yet. A
    /// file that does not hold such a value is an error, never overwritten.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let value = read_json(&path)?;
        Ok(Self {
            path: Some(path),
            state: Mutex::new((value, false)),
        })
    }

    /// Reads the value.
    pub fn read<R>(&self, read: impl FnOnce(&T) -> R) -> R {
        read(&lock(&self.state).0)
    }

    /// Changes the value; `change` says whether it changed anything, and
    /// only then is the file written on the next flush.
    pub fn change<R>(&self, change: impl FnOnce(&mut T) -> (R, bool)) -> R {
        let mut state = lock(&self.state);
        let (result, changed) = change(&mut state.0);
        state.1 |= changed;
        result
    }

    /// Writes the file if the value changed since it was read or written.
    pub fn flush(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        if let (Some(path), true) = (&self.path, state.1) {
            let bytes = serde_json::to_vec_pretty(&state.0).map_err(io::Error::other)?;
            write_atomically(path, &bytes)?;
            state.1 = false;
        }
        Ok(())
    }
}

/// Writes a file atomically: a crash leaves the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

fn read_json<T: DeserializeOwned + Default>(path: &Path) -> io::Result<T> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not valid state: {err}", path.display()),
            )
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        Err(err) => Err(err),
    }
}
