//! One run of the writer: receive and merge, write the longest waiting
//! leaves, carry the rest and delete what was received.

use std::collections::{BTreeSet, HashMap};

use onboard_shared::batch::{Fate, ItemReport, ReasonClass, Skip, dead_letter_all};
use onboard_shared::catalogue::Function;
use onboard_shared::domain::{ChangeMessage, UserId};
use onboard_shared::error::PortError;
use onboard_shared::names::{
    Layout, Leaf, LeafId, MAX_NAME_BYTES, Merged, Placed, Plan, Search, Summary, Tier, find_path,
    read_summary, read_value, user_hash,
};
use onboard_shared::ports::{NAMES_PER_CALL, Received};
use onboard_shared::reason::Reason;

use super::carried::{Carried, Decoded, Entries, decode};
use super::{RunLimits, RunReport, Writer};

/// The state of one run.
pub(super) struct Run<'a> {
    writer: &'a Writer,
    pub(super) layout: &'a mut Layout,
    pub(super) report: RunReport,
    /// The summary as read this run (where leaves are), once read.
    summary: Option<Option<Summary>>,
    /// Leaves found beside their halves, being taken in.
    adopting: BTreeSet<LeafId>,
    /// Receipts whose work needs no write: to delete.
    done: Vec<String>,
    /// Receipts whose entries changed leaves, with those leaves and the
    /// index of their item in the report.
    held: Vec<(String, BTreeSet<LeafId>, usize)>,
    /// Items whose fate waits for the writes (and what it is if none
    /// fails): by index in the report.

    /// The item of each user's last applied change this run (none when
    /// it came with other users' entries, carried).
    last_change: HashMap<UserId, Option<usize>>,
    /// Items whose change a later one replaced before it was written.
    superseded: BTreeSet<usize>,
    /// Leaves written this run (and leaves that split).
    written: BTreeSet<LeafId>,
    /// Leaves whose entries were carried to the next run.
    carried: BTreeSet<LeafId>,
    /// Why a leaf's write failed, for the messages that return.
    failure: Option<Reason>,
}

impl<'a> Run<'a> {
    pub(super) fn new(writer: &'a Writer, layout: &'a mut Layout) -> Self {
        Self {
            writer,
            layout,
            report: RunReport::default(),
            summary: None,
            adopting: BTreeSet::new(),
            done: Vec::new(),
            held: Vec::new(),
            last_change: HashMap::new(),
            superseded: BTreeSet::new(),
            written: BTreeSet::new(),
            carried: BTreeSet::new(),
            failure: None,
        }
    }

    pub(super) async fn receive(&mut self, limits: RunLimits, now: u64) -> Result<(), PortError> {
        let mut letters: Vec<(Received, usize, ReasonClass, Reason)> = Vec::new();
        while self.report.received < limits.max_messages
            && self.report.received_bytes < limits.max_bytes
        {
            let want = (limits.max_messages - self.report.received).min(10);
            let batch = match self.writer.inbox.receive(want).await {
                Ok(batch) => batch,
                Err(err) if self.report.received == 0 => return Err(err),
                Err(_) => break,
            };
            // Fewer than asked for: the queue is (nearly) drained, and what
            // is left is the next run's.
            let drained = batch.len() < want;
            if batch.is_empty() {
                break;
            }
            self.report.received += batch.len();
            self.report.received_bytes += batch.iter().map(|m| m.body.len()).sum::<usize>();
            for message in batch {
                let index = self.report.items.len();
                match decode(&message.body, now) {
                    Err(reason) => {
                        self.report
                            .items
                            .push(item(&message, None, failed("unread")));
                        letters.push((message, index, ReasonClass::Unreadable, reason));
                    }
                    Ok(decoded) => {
                        let change = decoded.change.clone();
                        self.report
                            .items
                            .push(item(&message, change.as_deref(), failed("unread")));
                        match self.merge(message.receipt.clone(), decoded, index).await {
                            Ok(()) => {}
                            Err(Unmerged::Refused(reason)) => {
                                letters.push((message, index, ReasonClass::Refused, reason));
                            }
                            // Left for the queue to return.
                            Err(Unmerged::Retry(reason)) => {
                                self.report.returned += 1;
                                self.report.items[index].fate = Fate::Failed { reason };
                            }
                        }
                    }
                }
            }
            if drained {
                break;
            }
        }
        for class in [ReasonClass::Unreadable, ReasonClass::Refused] {
            let letters: Vec<_> = letters.iter().filter(|(_, _, c, _)| *c == class).collect();
            if letters.is_empty() {
                continue;
            }
            let fates = dead_letter_all(
                self.writer.dead_letters.as_ref(),
                Function::PublishConsumer.name(),
                class,
                letters
                    .iter()
                    .map(|(m, _, _, reason)| (m.body.as_str(), reason.clone())),
            )
            .await;
            for ((message, index, _, _), fate) in letters.iter().zip(fates) {
                if fate.is_failed() {
                    self.report.returned += 1;
                } else {
                    self.report.dead_lettered += 1;
                    self.done.push(message.receipt.clone());
                }
                self.report.items[*index].fate = fate;
            }
        }
        Ok(())
    }

    /// Merges one message's entries; the leaves they changed are held
    /// with its receipt until written.
    async fn merge(
        &mut self,
        receipt: String,
        decoded: Decoded,
        index: usize,
    ) -> Result<(), Unmerged> {
        let Decoded {
            entries,
            since,
            leaf,
            ..
        } = decoded;
        let mut touched = BTreeSet::new();
        for (user, entry) in &entries {
            if entry
                .name
                .as_ref()
                .is_some_and(|n| n.len() > MAX_NAME_BYTES)
            {
                return Err(Unmerged::Refused(Reason::fixed(
                    "the name is longer than 1,024 bytes, more than a parameter of names takes",
                )));
            }
            self.load(user, leaf).await.map_err(|err| {
                tracing::warn!(error = %err.chain(), "a leaf could not be read; the message returns");
                Unmerged::Retry(Reason::of_error(&err))
            })?;
        }
        let mut stale = false;
        let single = entries.len() == 1;
        for (user, entry) in entries {
            match self.layout.merge_since(&user, entry, since) {
                Merged::Applied => {
                    self.report.applied += 1;
                    if let Some(id) = self.layout.leaf_of(user_hash(&user)) {
                        touched.insert(id);
                    }
                    // A change this one replaced before any write carried
                    // it shares this one's write.
                    let newest = single.then_some(index);
                    if let Some(Some(older)) = self.last_change.insert(user, newest) {
                        self.superseded.insert(older);
                    }
                }
                Merged::Duplicate => self.report.duplicates += 1,
                Merged::Stale => {
                    self.report.stale += 1;
                    stale = true;
                }
                Merged::TooLong => unreachable!("checked above"),
            }
        }
        if touched.is_empty() {
            let why = if stale { Skip::Stale } else { Skip::Duplicate };
            self.report.items[index].fate = Fate::Skipped { why };
            self.done.push(receipt);
        } else {
            self.held.push((receipt, touched, index));
        }
        Ok(())
    }

    /// Makes sure the layout holds the leaf of a user, reading it from the
    /// store; a leaf left beside it by a split cut short is taken in: its
    /// users' own leaves read first, then its entries merged into them
    /// (never backwards), and it is deleted with the run's writes.
    async fn load(&mut self, user: &UserId, hint: Option<LeafId>) -> Result<(), PortError> {
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

    /// Writes the changed leaves, the longest waiting first, within the
    /// run's writes. A leaf whose put fails is forgotten (read again when
    /// next needed) and carried; the rest wait for the next run.
    pub(super) async fn write(&mut self, limits: RunLimits) {
        let mut writes = 0;
        let orphans = self.layout.take_orphans();
        self.delete_leaves(&orphans, &mut writes).await;
        for id in self.layout.dirty_leaves() {
            if writes >= limits.max_writes {
                break;
            }
            let plan = match self.layout.plan_leaf(id) {
                Ok(plan) => plan,
                Err(err) => {
                    tracing::error!(leaf = %id.segment(), error = %err, "the leaf cannot be written");
                    break;
                }
            };
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
            self.written.extend(plan.deletes.iter().copied());
            // A split's old leaf goes after its halves are in place.
            self.delete_leaves(&plan.deletes, &mut writes).await;
        }
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
            let name = self.writer.paths.leaf(put.id);
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

    /// Deletes leaves that split. One that stays (the call failed) is
    /// found beside its halves by the next run and deleted then.
    async fn delete_leaves(&mut self, leaves: &[LeafId], writes: &mut usize) {
        for chunk in leaves.chunks(NAMES_PER_CALL) {
            *writes += 1;
            let names: Vec<String> = chunk.iter().map(|id| self.writer.paths.leaf(*id)).collect();
            match self.writer.store.delete_many(&names).await {
                Ok(()) => self.report.deletes += 1,
                Err(err) => self.count_throttle(&err),
            }
        }
    }

    fn count_throttle(&mut self, err: &PortError) {
        if matches!(err, PortError::Throttled { .. }) {
            self.report.throttled += 1;
        }
    }

    /// Sends a leaf's entries back into the queue for the next run.
    async fn carry(&mut self, id: LeafId, entries: Entries, since: u64) {
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

    /// Carries every leaf still waiting, then deletes each message whose
    /// work is now written or carried; the others return to the queue.
    pub(super) async fn finish(&mut self, now: u64) {
        for id in self.layout.dirty_leaves() {
            let since = self.layout.waiting_since(id).unwrap_or(now);
            let waited = now.saturating_sub(since);
            self.report.oldest_wait = self.report.oldest_wait.max(Some(waited));
            let entries = self.layout.content(id);
            self.carry(id, entries, since).await;
            // Its changes are carried: the leaf is again as the store holds it.
            self.layout.revert(id);
        }
        let mut delete = std::mem::take(&mut self.done);
        for (receipt, touched, index) in std::mem::take(&mut self.held) {
            let item = &mut self.report.items[index];
            if touched.iter().all(|id| self.written.contains(id)) {
                item.fate = if self.superseded.contains(&index) {
                    Fate::Skipped {
                        why: Skip::Superseded,
                    }
                } else {
                    Fate::Applied
                };
                delete.push(receipt);
            } else if touched
                .iter()
                .all(|id| self.written.contains(id) || self.carried.contains(id))
            {
                item.fate = failed("its leaf is carried to the writer's next run");
                delete.push(receipt);
            } else {
                item.fate = Fate::Failed {
                    reason: self
                        .failure
                        .clone()
                        .unwrap_or_else(|| Reason::fixed("its leaf was not written")),
                };
                self.report.returned += 1;
            }
        }
        for chunk in delete.chunks(10) {
            if let Err(err) = self.writer.inbox.delete(chunk).await {
                // They come back, and their merge changes nothing.
                tracing::warn!(error = %err.chain(), "received messages were not deleted");
            }
        }
    }
}

/// Why a message was not merged.
enum Unmerged {
    /// For good: to its dead-letter queue.
    Refused(Reason),
    /// The store could not be read: the queue returns it.
    Retry(Reason),
}

/// A message's report entry.
fn item(message: &Received, change: Option<&ChangeMessage>, fate: Fate) -> ItemReport {
    match change {
        Some(change) => ItemReport::for_message(&message.message_id, change, fate),
        None => ItemReport::new(&message.message_id, fate),
    }
}

fn failed(why: &'static str) -> Fate {
    Fate::Failed {
        reason: Reason::fixed(why),
    }
}
