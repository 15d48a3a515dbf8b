//! The writer's view of every parameter of names, and what a round of
//! changes makes it write.
//!
//! Only the one writer holds a [`Layout`]: Parameter Store has no
//! conditional write, so two writers of a parameter would lose each other's
//! updates. Changes are merged into their leaves in memory; [`Layout::plan`]
//! then gives the round's writes: each changed leaf, split first (by the
//! next bit of the hash, again while a half is still too big) when its
//! value would outgrow its tier. A split's halves are new parameters, put
//! before the leaf they replace is deleted, so a reader finds every user
//! at every moment; a leaf that exists beside one of its halves (a round
//! cut short) is merged into its halves at the next round ([`Layout::adopt`]).
//!
//! New parameters are standard while the layout holds fewer than its share
//! of the standard tier (a template parameter: the rest is the account's
//! own), advanced past it, so the layout grows instead of failing.
//!
//! A leaf that loses a name it held (a user removed) is rotated to its
//! other name, which forgets the parameter's history ([`crate::names::value`]).

mod plan;

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::UserId;
use crate::names::key::{UserKey, user_hash};
use crate::names::leaf::{Entry, Leaf, LeafId, MAX_NAME_BYTES, Merged};
use crate::names::summary::Summary;
use crate::names::value::{Placed, Side};
use crate::parameter_tier::Tier;

pub use plan::{LayoutError, Plan, Put};

/// Every leaf the writer knows, and the changes not yet written.
#[derive(Debug, Clone)]
pub struct Layout {
    leaves: BTreeMap<LeafId, Placed>,
    /// Leaves changed since they were last planned, with the earliest
    /// time (seconds, the caller's clock) a change of theirs waits from.
    dirty: BTreeMap<LeafId, u64>,
    /// The leaves the store holds, as it holds them: kept for each changed
    /// leaf (`None`: the store does not hold it), so that changes carried
    /// elsewhere can be taken back out ([`Layout::revert`]).
    stored: BTreeMap<LeafId, Option<Placed>>,
    /// The leaves the store holds.
    in_store: BTreeSet<LeafId>,
    /// How many standard parameters the layout may use.
    standard_share: usize,
    /// Parameters to delete at the next plan: leaves found beside their
    /// halves, names a rotation left, deletes that failed.
    orphans: BTreeSet<(LeafId, Side)>,
    /// The summary of the leaves held now, kept as they change.
    held: Summary,
    /// The summary last planned (what readers have).
    published: Summary,
}

impl Layout {
    /// A layout with no leaves yet.
    pub fn new(standard_share: usize) -> Self {
        Self {
            leaves: BTreeMap::new(),
            dirty: BTreeMap::new(),
            stored: BTreeMap::new(),
            in_store: BTreeSet::new(),
            standard_share,
            orphans: BTreeSet::new(),
            held: Summary::default(),
            published: Summary::default(),
        }
    }

    /// The layout of leaves read back from the store.
    pub fn of(standard_share: usize, leaves: impl IntoIterator<Item = (LeafId, Placed)>) -> Self {
        let mut layout = Self::new(standard_share);
        for (id, placed) in leaves {
            layout.insert(id, placed);
        }
        layout.published = layout.held.clone();
        layout
    }

    pub fn leaves(&self) -> impl Iterator<Item = (LeafId, &Placed)> {
        self.leaves.iter().map(|(id, placed)| (*id, placed))
    }

    pub fn get(&self, id: LeafId) -> Option<&Placed> {
        self.leaves.get(&id)
    }

    /// The leaf that holds a hash: the deepest one on its path.
    pub fn leaf_of(&self, hash: u64) -> Option<LeafId> {
        // Only the depths that hold leaves: a few, of 65.
        self.held
            .depths
            .keys()
            .rev()
            .map(|depth| LeafId::of(hash, *depth))
            .find(|id| self.leaves.contains_key(id))
    }

    /// What the layout holds for a user.
    pub fn entry(&self, user: &UserId) -> Option<&Entry> {
        let id = self.leaf_of(user_hash(user))?;
        self.leaves[&id].leaf.get(&UserKey::of(user))
    }

    /// Merges one user's entry into its leaf (the root, for the first).
    pub fn merge(&mut self, user: &UserId, entry: Entry) -> Merged {
        self.merge_since(user, entry, 0)
    }

    /// The same, for a change that has waited since `since`.
    pub fn merge_since(&mut self, user: &UserId, entry: Entry, since: u64) -> Merged {
        let hash = user_hash(user);
        let id = match self.leaf_of(hash) {
            Some(id) => id,
            None => {
                // The root for the first user; a path with no leaf in a
                // layout that has some (its reader did not load it) gets
                // one at the deepest depth, which overlaps none it holds.
                let depth = self.held.depths.keys().next_back().copied().unwrap_or(0);
                let id = LeafId::of(hash, depth);
                self.open(id);
                id
            }
        };
        if entry
            .name
            .as_ref()
            .is_some_and(|name| name.len() > MAX_NAME_BYTES)
        {
            return Merged::TooLong;
        }
        let in_store = self.in_store.contains(&id);
        let placed = self.leaves.get_mut(&id).unwrap_or_else(|| unreachable!());
        if !self.dirty.contains_key(&id) {
            let before = in_store.then(|| placed.clone());
            self.stored.entry(id).or_insert(before);
        }
        let merged = placed.leaf.merge(UserKey::of(user), entry);
        if merged == Merged::Applied {
            let waiting = self.dirty.entry(id).or_insert(since);
            *waiting = (*waiting).min(since);
        }
        merged
    }

    /// Makes the next plan write the summary again (its write failed).
    pub fn summary_unwritten(&mut self) {
        self.published = Summary::default();
    }

    /// The parameters to delete now (leaves found beside their halves,
    /// names rotated from, deletes that failed).
    pub fn take_orphans(&mut self) -> Vec<(LeafId, Side)> {
        std::mem::take(&mut self.orphans).into_iter().collect()
    }

    /// A parameter to delete at the next plan: the older name of a leaf
    /// found under both, or one whose delete failed.
    pub fn orphan(&mut self, id: LeafId, side: Side) {
        self.orphans.insert((id, side));
    }

    /// Holds a leaf read from the store.
    pub fn insert_loaded(&mut self, id: LeafId, placed: Placed) {
        self.insert(id, placed);
        self.in_store.insert(id);
    }

    /// Takes a leaf's changes back out: it is again as the store holds it
    /// (or gone, if the store does not hold it), because its changes were
    /// carried to be merged again later.
    pub fn revert(&mut self, id: LeafId) {
        self.dirty.remove(&id);
        match self.stored.remove(&id) {
            Some(Some(placed)) => self.insert(id, placed),
            Some(None) => {
                self.remove(id);
            }
            None => {}
        }
    }

    /// Opens an empty leaf where a path has none (a store whose leaves do
    /// not cover every hash: one emptied by hand).
    pub fn open(&mut self, id: LeafId) {
        if !self.leaves.contains_key(&id) {
            let tier = self.new_tier();
            self.insert(id, Placed::new(tier, Leaf::default()));
        }
    }

    /// Forgets a leaf (the store holds another state of it than this
    /// layout, after a write that failed): it is read again when needed.
    pub fn evict(&mut self, id: LeafId) {
        self.remove(id);
        self.dirty.remove(&id);
        self.stored.remove(&id);
        self.in_store.remove(&id);
    }

    /// The leaves with changes not yet planned, the longest waiting first.
    pub fn dirty_leaves(&self) -> Vec<LeafId> {
        let mut dirty: Vec<(u64, LeafId)> =
            self.dirty.iter().map(|(id, since)| (*since, *id)).collect();
        dirty.sort_unstable();
        dirty.into_iter().map(|(_, id)| id).collect()
    }

    /// When the changes of a leaf began to wait.
    pub fn waiting_since(&self, id: LeafId) -> Option<u64> {
        self.dirty.get(&id).copied()
    }

    /// Every user of a leaf with its entry.
    pub fn content(&self, id: LeafId) -> Vec<(UserId, Entry)> {
        self.leaves
            .get(&id)
            .map(|placed| {
                placed
                    .leaf
                    .entries()
                    .filter_map(|(key, entry)| Some((key.user_id()?, entry.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Takes in a leaf found beside one of its halves (a round cut short):
    /// its users are merged into the halves that hold them, and it is
    /// deleted at the next plan.
    pub fn adopt(&mut self, id: LeafId, side: Side, stale: Leaf) {
        for (key, entry) in stale.entries() {
            if let Some(user) = key.user_id() {
                self.merge(&user, entry.clone());
            }
        }
        self.remove(id);
        self.in_store.remove(&id);
        self.orphans.insert((id, side));
    }

    /// The summary of the leaves held now.
    pub fn summary(&self) -> &Summary {
        &self.held
    }

    fn insert(&mut self, id: LeafId, placed: Placed) {
        *self.held.depths.entry(id.depth()).or_default() += 1;
        *self.held.tier_count(placed.tier) += 1;
        if let Some(old) = self.leaves.insert(id, placed) {
            self.forget(id, old.tier);
        }
    }

    fn remove(&mut self, id: LeafId) -> Option<Placed> {
        let placed = self.leaves.remove(&id)?;
        self.forget(id, placed.tier);
        Some(placed)
    }

    fn forget(&mut self, id: LeafId, tier: Tier) {
        if let Some(count) = self.held.depths.get_mut(&id.depth()) {
            *count -= 1;
            if *count == 0 {
                self.held.depths.remove(&id.depth());
            }
        }
        *self.held.tier_count(tier) -= 1;
    }

    /// A new parameter's tier: standard while the share has room.
    fn new_tier(&self) -> Tier {
        if self.held.standard < self.standard_share {
            Tier::Standard
        } else {
            Tier::Advanced
        }
    }
}
