//! Finding a user's leaf in the store, and taking in a leaf a split cut
//! short left beside its halves.

use onboard_shared::domain::UserId;
use onboard_shared::error::PortError;
use onboard_shared::names::{
    Leaf, LeafId, Placed, Search, Side, Tier, find_path, read_summary, user_hash,
};
use onboard_shared::ports::NAMES_PER_CALL;

use super::Run;

impl Run<'_> {
    /// Makes sure the layout holds the leaf of a user, reading it from the
    /// store; a leaf left beside it by a split cut short is taken in: its
    /// users' own leaves read first, then its entries merged into them
    /// (never backwards), and it is deleted with the run's writes.
    pub(super) async fn load(
        &mut self,
        user: &UserId,
        hint: Option<LeafId>,
    ) -> Result<(), PortError> {
        let hash = user_hash(user);
        if self.layout.leaf_of(hash).is_some() {
            return Ok(());
        }
        let store = self.writer.store.as_ref();
        if self.summary.is_none() {
            self.report.reads += 1;
            self.summary = Some(read_summary(store, &self.writer.paths).await?);
        }
        let summary = self.summary.clone().flatten().unwrap_or_default();
        let range = summary.depth_range();
        self.report.reads += (range.len() * Side::BOTH.len()).div_ceil(NAMES_PER_CALL);
        // With no summary (none written yet, or its write failed) every
        // depth is asked: a root written without one is still found.
        let path = find_path(store, &self.writer.paths, hash, range, Search::Everywhere).await?;
        // A name a rotation left (its delete failed) goes at the next write.
        for (id, side) in &path.superseded {
            self.layout.orphan(*id, *side);
        }
        let found: Vec<(LeafId, Side, Placed)> = path
            .found
            .into_iter()
            .filter(|(id, _, _)| !self.adopting.contains(id))
            .collect();
        let deepest_unreadable = path
            .unreadable
            .iter()
            .copied()
            .filter(|(id, _)| {
                found
                    .last()
                    .is_none_or(|(held, _, _)| id.depth() > held.depth())
            })
            .max();
        if let Some((id, side)) = deepest_unreadable {
            // Not a value this writer made, where the user's leaf is: its
            // tier is unknown, and advanced is the one a write cannot be
            // refused for.
            tracing::warn!(leaf = %id.segment(), "a leaf does not read; it is written anew");
            let mut placed = Placed::new(Tier::Advanced, Leaf::default());
            if side == Side::B {
                placed.generation.number = 1;
            }
            self.layout.insert_loaded(id, placed);
            return Ok(());
        }
        let Some((holder, _, placed)) = found.last().cloned() else {
            // A path with no leaf: the store's first user, or the gap left
            // by a split whose halves were not all written. Its leaf is at
            // the deepest depth the summary names (or the hint's, carried
            // from a leaf of that path): no leaf is deeper, so none is
            // covered by it.
            let deepest = (*summary.depth_range().end())
                .max(self.layout.summary().depth_range().into_inner().1);
            let id = hint
                .filter(|hint| hint.contains(hash) && hint.depth() >= deepest)
                .unwrap_or_else(|| LeafId::of(hash, deepest));
            self.layout.open(id);
            return Ok(());
        };
        let mut placed = placed;
        if path.superseded.iter().any(|(id, _)| *id == holder) {
            // Its other name is deleted at this run's writes: Parameter
            // Store creates it again only 30 seconds later, so the leaf
            // rotates back to it no sooner than a gap from now.
            placed.generation.rotated_at = placed.generation.rotated_at.max(self.now);
        }
        self.layout.insert_loaded(holder, placed);
        for (stale, side, placed) in found.iter().rev().skip(1) {
            self.adopting.insert(*stale);
            for (key, _) in placed.leaf.entries() {
                if let Some(user) = key.user_id() {
                    Box::pin(self.load(&user, None)).await?;
                }
            }
            self.layout.adopt(*stale, *side, placed.leaf.clone());
        }
        Ok(())
    }
}
