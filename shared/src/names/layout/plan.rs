//! What a round of changes makes the writer write: each changed leaf put,
//! split first when it would outgrow its tier, or rotated to its other
//! name when it lost a name it held.

use super::Layout;
use crate::names::leaf::LeafId;
use crate::names::summary::Summary;
use crate::names::value::{Placed, Side};
use crate::parameter_tier::Tier;

/// One parameter to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    pub id: LeafId,
    pub side: Side,
    pub tier: Tier,
    pub value: String,
}

/// A round's writes, in the order they must be made: the puts, then the
/// summary readers use to find leaves (when it changed), then the deletes
/// of the leaves that split and of the names leaves rotated from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub puts: Vec<Put>,
    pub summary: Option<Summary>,
    pub deletes: Vec<(LeafId, Side)>,
    /// Leaves rotated to their other name (a name they held was removed).
    pub rotated: usize,
    /// A leaf that must rotate and may not yet: when it may (its changes
    /// stay waiting till then).
    pub rotates_at: Option<u64>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.summary.is_none() && self.deletes.is_empty()
    }
}

/// Why a round cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "the layout needs more than the {limit} advanced parameters an account and Region may hold"
    )]
    Full { limit: usize },
    #[error("users whose hashes are equal in all 64 bits do not fit one parameter")]
    Unsplittable,
}

impl Layout {
    /// The round's writes at `now` (seconds); afterwards the layout holds
    /// what they write.
    pub fn plan(&mut self, now: u64) -> Result<Plan, LayoutError> {
        let mut plan = Plan::default();
        for id in self.dirty_leaves() {
            let leaf = self.plan_leaf(id, now)?;
            plan.puts.extend(leaf.puts);
            plan.deletes.extend(leaf.deletes);
            plan.summary = leaf.summary.or(plan.summary);
            plan.rotated += leaf.rotated;
            plan.rotates_at = plan.rotates_at.min(leaf.rotates_at).or(leaf.rotates_at);
        }
        plan.deletes.extend(std::mem::take(&mut self.orphans));
        if self.held != self.published {
            self.published = self.held.clone();
            plan.summary = Some(self.held.clone());
        }
        Ok(plan)
    }

    /// The writes of one leaf's changes at `now` (seconds; none when it
    /// has none, or when it must rotate and may not yet: see
    /// [`Plan::rotates_at`]); afterwards the layout holds what they write.
    pub fn plan_leaf(&mut self, id: LeafId, now: u64) -> Result<Plan, LayoutError> {
        let mut plan = Plan::default();
        let Some(placed) = self.leaves.get(&id) else {
            self.dirty.remove(&id);
            return Ok(plan);
        };
        if !self.dirty.contains_key(&id) {
            return Ok(plan);
        }
        let stored = self.stored.get(&id).and_then(Option::as_ref);
        let rotate = stored.is_some_and(|before| lost_a_name(before, placed));
        // The value it would be written as: rotated, its header says so
        // (and takes bytes of the tier's limit).
        let generation = if rotate {
            placed.generation.rotated(now)
        } else {
            placed.generation
        };
        let value = placed.value_at(generation);
        let fits = value.len() <= placed.tier.max_value_bytes();
        // A leaf that splits needs no rotation: its halves are new names.
        if fits && rotate && !placed.generation.may_rotate(now) {
            plan.rotates_at = Some(placed.generation.next_rotation());
            return Ok(plan);
        }
        self.dirty.remove(&id);
        self.stored.remove(&id);
        let Some(mut placed) = self.remove(id) else {
            return Ok(plan);
        };
        if fits {
            if rotate {
                // Under the other name, then the old one deleted: a
                // parameter's history goes only with the parameter.
                plan.deletes.push((id, placed.side()));
                placed.generation = generation;
                plan.rotated = 1;
            }
            plan.puts.push(Put {
                id,
                side: placed.side(),
                tier: placed.tier,
                value,
            });
            self.insert(id, placed);
            self.in_store.insert(id);
        } else {
            // Too big: split until every half fits its tier. The halves
            // are new names, with no history.
            plan.deletes.push((id, placed.side()));
            self.in_store.remove(&id);
            let mut pending = vec![(id, placed.leaf)];
            while let Some((id, leaf)) = pending.pop() {
                let Some(halves) = leaf.split(id) else {
                    return Err(LayoutError::Unsplittable);
                };
                for (half, leaf) in halves {
                    let tier = self.new_tier();
                    if tier == Tier::Advanced
                        && self.held.advanced >= Tier::Advanced.account_limit()
                    {
                        return Err(LayoutError::Full {
                            limit: Tier::Advanced.account_limit(),
                        });
                    }
                    let placed = Placed::new(tier, leaf);
                    if !placed.fits() {
                        pending.push((half, placed.leaf));
                        continue;
                    }
                    plan.puts.push(Put {
                        id: half,
                        side: placed.side(),
                        tier,
                        value: placed.value(),
                    });
                    self.insert(half, placed);
                    self.in_store.insert(half);
                }
            }
        }
        if self.held != self.published {
            self.published = self.held.clone();
            plan.summary = Some(self.held.clone());
        }
        Ok(plan)
    }
}

/// Whether a leaf no longer holds a name it held: one to take out of the
/// parameter's history.
fn lost_a_name(before: &Placed, after: &Placed) -> bool {
    before.leaf.entries().any(|(key, held)| {
        held.name.is_some() && after.leaf.get(key).is_some_and(|now| now.name.is_none())
    })
}
