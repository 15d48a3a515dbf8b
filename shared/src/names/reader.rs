//! Reading a user's published name: one `GetParameters` call finds the
//! parameter that holds it and many other users, kept for a short time, so
//! reads grow with the parameters read, not with the users greeted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::{Revision, UserId};
use crate::error::PortError;
use crate::names::key::{UserKey, user_hash};
use crate::names::leaf::{Entry, Leaf, LeafId};
use crate::names::store::{NamesPaths, Search, find_path, read_summary};
use crate::names::summary::Summary;
use crate::names::value::{Placed, Side};
use crate::ports::{NamesStore, ParameterStore};
use crate::published::{ParameterPrefix, PublishedName};

/// Leaves kept at most (a leaf is at most 8 KB); past that the cache
/// starts over.
const CACHE_LEAVES: usize = 1_000;

/// Users of the one-parameter-a-user layout kept at most.
const CACHE_LEGACY_USERS: usize = 10_000;

#[derive(Debug, Default)]
struct Cache {
    summary: Option<(Instant, Summary)>,
    leaves: HashMap<LeafId, (Instant, Leaf)>,
    /// What the one-parameter-a-user layout held for users the leaves do
    /// not hold.
    legacy: HashMap<UserId, (Instant, Option<Entry>)>,
}

/// A user's published entry, where it is and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub entry: Entry,
    /// The parameter that holds it (with other users' entries).
    pub parameter: String,
    /// When the parameter was last written, where the store says.
    pub written_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Reads published names, caching what it read for `ttl`.
pub struct NamesReader {
    store: Arc<dyn NamesStore>,
    /// The layout of one parameter a user, read for a user the packed
    /// names do not hold yet (a stack whose names are being migrated).
    legacy: Arc<dyn ParameterStore>,
    prefix: ParameterPrefix,
    paths: NamesPaths,
    ttl: Duration,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for NamesReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamesReader")
            .field("paths", &self.paths)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl NamesReader {
    pub fn new(
        store: Arc<dyn NamesStore>,
        legacy: Arc<dyn ParameterStore>,
        prefix: ParameterPrefix,
        ttl: Duration,
    ) -> Self {
        Self {
            store,
            legacy,
            paths: NamesPaths::new(&prefix),
            prefix,
            ttl,
            cache: Mutex::default(),
        }
    }

    /// The user's published display name; `None` when there is none (yet:
    /// a name is published within the writer's delay).
    ///
    /// # Errors
    ///
    /// When the store cannot be read (throttled, or failing).
    pub async fn name(&self, user: &UserId) -> Result<Option<String>, PortError> {
        Ok(self.entry(user).await?.and_then(|entry| entry.name))
    }

    /// The user's published entry (their name and the revision it is of);
    /// `None` when none is published yet.
    ///
    /// # Errors
    ///
    /// When the store cannot be read (throttled, or failing).
    pub async fn entry(&self, user: &UserId) -> Result<Option<Entry>, PortError> {
        let hash = user_hash(user);
        let key = UserKey::of(user);
        if let Some(leaf) = self.cached_leaf(hash) {
            return Ok(self.found(&leaf, &key, user).await);
        }
        let summary = self.summary().await?;
        let leaf = match self.holder(hash, &summary).await? {
            Some((id, _, placed)) => {
                self.keep(id, placed.leaf.clone());
                placed.leaf
            }
            // No packed names yet, or none for this user.
            None => Leaf::default(),
        };
        Ok(self.found(&leaf, &key, user).await)
    }

    /// The leaf that holds a hash's users, at the summary's depths; `None`
    /// when there are no packed names yet or no leaf holds them.
    async fn holder(
        &self,
        hash: u64,
        summary: &Summary,
    ) -> Result<Option<(LeafId, Side, Placed)>, PortError> {
        if summary.depths.is_empty() {
            return Ok(None);
        }
        let path = find_path(
            self.store.as_ref(),
            &self.paths,
            hash,
            summary.depth_range(),
            Search::Summary,
        )
        .await?;
        Ok(path.holder().cloned())
    }

    /// The user's own entry, read now (no cache), and the parameter that
    /// holds it: what the user's export shows. Never another user's entry.
    ///
    /// # Errors
    ///
    /// When the store cannot be read (throttled, or failing).
    pub async fn held(&self, user: &UserId) -> Result<Option<Held>, PortError> {
        let summary = read_summary(self.store.as_ref(), &self.paths)
            .await?
            .unwrap_or_default();
        let Some((id, side, placed)) = self.holder(user_hash(user), &summary).await? else {
            return Ok(None);
        };
        let Some(entry) = placed.leaf.get(&UserKey::of(user)) else {
            return Ok(None);
        };
        let parameter = self.paths.leaf(id, side);
        let written_at = self
            .store
            .modified_at(std::slice::from_ref(&parameter))
            .await?
            .remove(&parameter);
        Ok(Some(Held {
            entry: entry.clone(),
            parameter,
            written_at,
        }))
    }

    /// The entry a leaf holds for a user, or the one-parameter-a-user
    /// layout's when the leaf does not hold the user.
    async fn found(&self, leaf: &Leaf, key: &UserKey, user: &UserId) -> Option<Entry> {
        if let Some(entry) = leaf.get(key) {
            return Some(entry.clone());
        }
        if let Some((at, entry)) = lock(&self.cache).legacy.get(user)
            && at.elapsed() < self.ttl
        {
            return entry.clone();
        }
        let entry = self
            .legacy
            .get(&self.prefix.name_parameter(user))
            .await
            .ok()
            .flatten()
            .and_then(|value| PublishedName::parse(&value).ok())
            .map(|published| Entry {
                revision: Revision {
                    version: published.version,
                    removed: published.removed,
                },
                name: published.name,
            });
        let mut cache = lock(&self.cache);
        if cache.legacy.len() >= CACHE_LEGACY_USERS {
            cache.legacy.clear();
        }
        cache
            .legacy
            .insert(user.clone(), (Instant::now(), entry.clone()));
        entry
    }

    fn cached_leaf(&self, hash: u64) -> Option<Leaf> {
        let cache = lock(&self.cache);
        (0..=LeafId::MAX_DEPTH).rev().find_map(|depth| {
            let (at, leaf) = cache.leaves.get(&LeafId::of(hash, depth))?;
            (at.elapsed() < self.ttl).then(|| leaf.clone())
        })
    }

    fn keep(&self, id: LeafId, leaf: Leaf) {
        let mut cache = lock(&self.cache);
        if cache.leaves.len() >= CACHE_LEAVES {
            cache.leaves.clear();
        }
        cache.leaves.insert(id, (Instant::now(), leaf));
    }

    async fn summary(&self) -> Result<Summary, PortError> {
        if let Some((at, summary)) = &lock(&self.cache).summary
            && at.elapsed() < self.ttl
        {
            return Ok(summary.clone());
        }
        let summary = read_summary(self.store.as_ref(), &self.paths)
            .await?
            .unwrap_or_default();
        lock(&self.cache).summary = Some((Instant::now(), summary.clone()));
        Ok(summary)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
