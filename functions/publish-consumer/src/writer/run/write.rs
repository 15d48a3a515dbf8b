//! Writing the changed leaves: the summary first, then the leaves, then
//! the leaves their splits replaced; and carrying what is left.

use onboard_shared::error::PortError;
use onboard_shared::names::{LeafId, Plan, Side, Summary, Tier};
use onboard_shared::ports::NAMES_PER_CALL;
use onboard_shared::reason::Reason;

use super::super::RunLimits;
use super::super::carried::{Carried, Entries};
use super::Run;

impl Run<'_> {
    /// Writes the changed leaves, the longest waiting first, within the
    /// run's writes, at `now` (seconds). A leaf whose put fails is
    /// forgotten (read again when next needed) and carried; the rest wait
    /// for the next run; a leaf that must rotate and may not yet waits for
    /// its messages to return. The deletes (of leaves that split, of names
    /// leaves rotated from) go ten names a call, each after the puts that
    /// replace it.
    pub(in crate::writer) async fn write(&mut self, limits: RunLimits, now: u64) {
        let mut writes = 0;
        // Names left from earlier runs go first: a leaf may rotate back to
        // one of them this run.
        let orphans = self.layout.take_orphans();
        self.delete_leaves(&orphans, &mut writes).await;
        let mut deletes = Vec::new();
        for id in self.layout.dirty_leaves() {
            if writes + deletes.len().div_ceil(NAMES_PER_CALL) >= limits.max_writes {
                break;
            }
            let plan = match self.layout.plan_leaf(id, now) {
                Ok(plan) => plan,
                Err(err) => {
                    tracing::error!(leaf = %id.segment(), error = %err, "the leaf cannot be written");
                    break;
                }
            };
            if let Some(at) = plan.rotates_at {
                tracing::info!(leaf = %id.segment(), rotates_at = at, "a leaf lost a name and rotated less than two minutes ago; it waits");
                self.waiting.insert(id);
                continue;
            }
            // The summary first: no leaf is ever deeper than the summary
            // says, so a path found with no leaf can be given one at its
            // deepest depth without covering a leaf that exists.
            let written = match self.put_summary(plan.summary.as_ref(), &mut writes).await {
                Ok(()) => self.put_leaves(&plan, &mut writes).await,
                Err(err) => Err(err),
            };
            if let Err(err) = written {
                // The store holds another state than the layout now: its
                // leaves are read again when next needed, and the messages
                // that changed them return (the queue's redrive policy
                // counts their receives).
                tracing::warn!(leaf = %id.segment(), error = %err.chain(), "a leaf was not written; its messages return");
                for put in &plan.puts {
                    self.layout.evict(put.id);
                }
                self.layout.summary_unwritten();
                self.failure = Some(Reason::of_error(&err));
                break;
            }
            self.written.extend(plan.puts.iter().map(|put| put.id));
            self.written.extend(plan.deletes.iter().map(|(id, _)| *id));
            self.report.rotations += plan.rotated;
            // A split's old leaf, or the name a leaf rotated from, goes
            // after what replaces it is in place.
            deletes.extend(plan.deletes);
            if deletes.len() >= NAMES_PER_CALL {
                let full: Vec<_> = deletes.drain(..NAMES_PER_CALL).collect();
                self.delete_leaves(&full, &mut writes).await;
            }
        }
        self.delete_leaves(&deletes, &mut writes).await;
    }

    async fn put_summary(
        &mut self,
        summary: Option<&Summary>,
        writes: &mut usize,
    ) -> Result<(), PortError> {
        let Some(summary) = summary else {
            return Ok(());
        };
        *writes += 1;
        let value = serde_json::to_string(summary).unwrap_or_default();
        let name = self.writer.paths.summary();
        let put = self
            .writer
            .store
            .put_tiered(&name, &value, Tier::Standard)
            .await;
        if let Err(err) = &put {
            self.count_throttle(err);
        }
        put
    }

    async fn put_leaves(&mut self, plan: &Plan, writes: &mut usize) -> Result<(), PortError> {
        for put in &plan.puts {
            *writes += 1;
            let name = self.writer.paths.leaf(put.id, put.side);
            if let Err(err) = self
                .writer
                .store
                .put_tiered(&name, &put.value, put.tier)
                .await
            {
                self.count_throttle(&err);
                return Err(err);
            }
            self.report.puts += 1;
        }
        Ok(())
    }

    /// Deletes the leaves that split and the names leaves rotated from.
    /// One whose call failed is deleted at the next run's writes.
    async fn delete_leaves(&mut self, leaves: &[(LeafId, Side)], writes: &mut usize) {
        for chunk in leaves.chunks(NAMES_PER_CALL) {
            *writes += 1;
            let names: Vec<String> = chunk
                .iter()
                .map(|(id, side)| self.writer.paths.leaf(*id, *side))
                .collect();
            match self.writer.store.delete_many(&names).await {
                Ok(()) => self.report.deletes += 1,
                Err(err) => {
                    tracing::warn!(error = %err.chain(), "parameters of names were not deleted; the next run deletes them");
                    self.count_throttle(&err);
                    for (id, side) in chunk {
                        self.layout.orphan(*id, *side);
                    }
                }
            }
        }
    }

    fn count_throttle(&mut self, err: &PortError) {
        if matches!(err, PortError::Throttled { .. }) {
            self.report.throttled += 1;
        }
    }

    /// Sends a leaf's entries back into the queue for the next run.
    pub(super) async fn carry(&mut self, id: LeafId, entries: Entries, since: u64) {
        let carried = Carried::of(id, entries, since);
        let body = serde_json::to_string(&carried).unwrap_or_default();
        match self.writer.inbox.send(&[body]).await {
            Ok(()) => {
                self.report.carried += 1;
                self.carried.insert(id);
            }
            Err(err) => {
                tracing::warn!(leaf = %id.segment(), error = %err.chain(), "a leaf's names could not be carried; its messages return");
            }
        }
    }
}
