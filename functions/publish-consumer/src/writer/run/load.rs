//! Finding a user's leaf in the store, and taking in a leaf a split cut
//! short left beside its halves.

use onboard_shared::domain::UserId;
use onboard_shared::error::PortError;
use onboard_shared::names::{
    Leaf, LeafId, Placed, Search, Tier, find_path, read_summary, read_value, user_hash,
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
        self.report.reads += range.len().div_ceil(NAMES_PER_CALL);
        // With no summary (none written yet, or its write failed) every
        // depth is asked: a root written without one is still found.
        let path = find_path(store, &self.writer.paths, hash, range, Search::Everywhere).await?;
        let found: Vec<(LeafId, String)> = path
            .found
            .into_iter()
            .filter(|(id, _)| !self.adopting.contains(id))
            .collect();
        let Some((holder, value)) = found.last().cloned() else {
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
        let (tier, leaf) = read_value(&value).unwrap_or_else(|err| {
            // Not a value this writer made: its tier is unknown, and
            // advanced is the one a write cannot be refused for.
            tracing::warn!(leaf = %holder.segment(), error = %err, "a leaf does not read; it is written anew");
            (Tier::Advanced, Leaf::default())
        });
        self.layout.insert_loaded(holder, Placed { tier, leaf });
        for (stale, value) in found.iter().rev().skip(1) {
            let Ok((_, leaf)) = read_value(value) else {
                continue;
            };
            self.adopting.insert(*stale);
            for (key, _) in leaf.entries() {
                if let Some(user) = key.user_id() {
                    Box::pin(self.load(&user, None)).await?;
                }
            }
            self.layout.adopt(*stale, leaf);
        }
        Ok(())
    }
}
