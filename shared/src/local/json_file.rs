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
        fs::create_dir_all(parent).map_err(|err| naming(parent, err))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    crash_point();
    fs::write(&tmp, bytes).map_err(|err| naming(&tmp, err))?;
    crash_point();
    fs::rename(&tmp, path).map_err(|err| naming(path, err))?;
    crash_point();
    Ok(())
}

/// A boundary between the local state's writes. With
/// `ONBOARD_CRASH_AT_WRITE=N` set (the crash tests), the process aborts at
/// the Nth boundary it reaches, as a kill there would leave it; otherwise a
/// boundary costs one atomic increment.
pub fn crash_point() {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    static REACHED: AtomicU64 = AtomicU64::new(0);
    let at = AT.get_or_init(|| {
        std::env::var("ONBOARD_CRASH_AT_WRITE")
            .ok()
            .and_then(|n| n.parse().ok())
    });
    if let Some(at) = at
        && REACHED.fetch_add(1, Ordering::Relaxed) + 1 == *at
    {
        std::process::abort();
    }
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
        Err(err) => Err(naming(path, err)),
    }
}

/// The same error, its message led by the file it is about: the system's
/// own ("Is a directory") names none.
pub fn naming(path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}
