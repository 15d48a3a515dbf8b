//! The archive in a local folder.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{CallCounter, JsonFile, lock, write_atomically};
use crate::domain::{Revision, UserId};
use crate::error::PortError;
use crate::ports::{
    ArchiveHead, ArchiveReader, ArchiveStore, ArchivedObject, Conditional, WriteCondition,
    archive_key,
};

/// The name `calls` counts a `PutObject` under when its condition failed
/// (it is also counted as a `PutObject`, as S3 would bill it).
pub const REFUSED_PUT: &str = "PutObject refused";

/// What the folder archive knows of an object, as S3 keeps it in metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalObject {
    pub key: String,
    pub revision: Revision,
    pub etag: String,
}

/// The archive in a local folder: `users/<id>.json` under it, beside an
/// `index.json` that plays the part of S3's object metadata.
#[derive(Debug)]
pub struct FolderArchive {
    dir: Option<PathBuf>,
    index: JsonFile<BTreeMap<UserId, LocalObject>>,
    /// The log of erasures (`erased.json`): ids only.
    erased: JsonFile<BTreeSet<UserId>>,
    /// Bodies put and not yet written.
    pending: Mutex<HashMap<UserId, Vec<u8>>>,
    pub calls: CallCounter,
}

impl FolderArchive {
    pub fn in_memory() -> Self {
        Self {
            dir: None,
            index: JsonFile::in_memory(),
            erased: JsonFile::in_memory(),
            pending: Mutex::default(),
            calls: CallCounter::default(),
        }
    }

    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        Ok(Self {
            index: JsonFile::open(dir.join("index.json"))?,
            erased: JsonFile::open(dir.join("erased.json"))?,
            dir: Some(dir),
            pending: Mutex::default(),
            calls: CallCounter::default(),
        })
    }

    /// The writes that were made: the `PutObject` calls not refused.
    pub fn writes(&self) -> u64 {
        self.calls.get("PutObject") - self.calls.get(REFUSED_PUT)
    }

    /// The ids in the log of erasures.
    pub fn erased(&self) -> Vec<UserId> {
        self.erased.read(|erased| erased.iter().cloned().collect())
    }

    /// Every object, by user id.
    pub fn objects(&self) -> Vec<LocalObject> {
        self.index.read(|index| index.values().cloned().collect())
    }

    /// The body of a user's object, written or still pending.
    pub fn body(&self, user: &UserId) -> io::Result<Option<Vec<u8>>> {
        if let Some(body) = lock(&self.pending).get(user) {
            return Ok(Some(body.clone()));
        }
        let key = self
            .index
            .read(|index| index.get(user).map(|o| o.key.clone()));
        match (&self.dir, key) {
            (Some(dir), Some(key)) => fs::read(dir.join(key)).map(Some),
            _ => Ok(None),
        }
    }

    /// Writes the objects put since the last call, without the index and
    /// without holding the lock while writing. An object that could not be
    /// written stays pending (unless a newer one replaced it) for the next
    /// call, and the index is not written.
    fn write_pending(&self) -> io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let pending = std::mem::take(&mut *lock(&self.pending));
        if pending.is_empty() {
            return Ok(());
        }
        fs::create_dir_all(dir.join("users"))?;
        let mut pending = pending.into_iter();
        while let Some((user, body)) = pending.next() {
            if let Err(err) = write_atomically(&dir.join(archive_key(&user)), &body) {
                let mut kept = lock(&self.pending);
                for (user, body) in std::iter::once((user, body)).chain(pending) {
                    kept.entry(user).or_insert(body);
                }
                return Err(err);
            }
        }
        Ok(())
    }

    /// Writes the pending objects, then the index. Each is written whole or
    /// not at all (a temporary file, then a rename), so a crash never leaves
    /// an empty or cut object. The index is what `head` trusts (as S3 trusts
    /// its metadata) and is replaced last: after a crash an object may be
    /// newer than its index entry, never older, and the next replay of the
    /// same input rewrites it.
    pub fn flush(&self) -> io::Result<()> {
        self.write_pending()?;
        self.erased.flush()?;
        self.index.flush()
    }
}

fn etag(body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

#[async_trait]
impl ArchiveStore for FolderArchive {
    async fn head(&self, user: &UserId) -> Result<Option<ArchiveHead>, PortError> {
        self.calls.count("HeadObject");
        Ok(self.index.read(|index| {
            index.get(user).map(|object| ArchiveHead {
                revision: Some(object.revision),
                etag: object.etag.clone(),
            })
        }))
    }

    async fn put(
        &self,
        user: &UserId,
        revision: Revision,
        body: &[u8],
        condition: WriteCondition,
    ) -> Result<Conditional, PortError> {
        self.calls.count("PutObject");
        // The body is pending before the index names it, under the index's
        // lock: a flush never writes an index newer than its objects.
        Ok(self.index.change(|index| {
            let current = index.get(user).map(|object| object.etag.as_str());
            let holds = match (&condition, current) {
                (WriteCondition::Absent, None) => true,
                (WriteCondition::Matches(expected), Some(current)) => expected == current,
                _ => false,
            };
            if !holds {
                self.calls.count(REFUSED_PUT);
                return (Conditional::Conflict, false);
            }
            lock(&self.pending).insert(user.clone(), body.to_vec());
            let object = LocalObject {
                key: archive_key(user),
                revision,
                etag: etag(body),
            };
            index.insert(user.clone(), object);
            (Conditional::Written, true)
        }))
    }

    /// A folder keeps only the current version: there is no history.
    async fn delete_history(&self, _user: &UserId) -> Result<usize, PortError> {
        self.calls.count("ListObjectVersions");
        Ok(0)
    }

    async fn log_erasure(&self, user: &UserId) -> Result<(), PortError> {
        self.calls.count("PutObject");
        self.erased.change(|erased| {
            let added = erased.insert(user.clone());
            ((), added)
        });
        Ok(())
    }
}

#[async_trait]
impl ArchiveReader for FolderArchive {
    async fn read(&self, user: &UserId) -> Result<Option<ArchivedObject>, PortError> {
        self.calls.count("GetObject");
        let body = self
            .body(user)
            .map_err(|err| PortError::transient("GetObject", err))?;
        Ok(body.map(|body| ArchivedObject {
            body,
            last_modified: None,
        }))
    }
}
