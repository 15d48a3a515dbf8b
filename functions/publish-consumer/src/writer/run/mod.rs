//! One run of the writer: receive and merge ([`load`] finds the leaves),
//! write the longest waiting leaves and carry the rest ([`write`]), and
//! delete what was received.

use std::collections::{BTreeSet, HashMap};

use onboard_shared::batch::{Fate, ItemReport, ReasonClass, Skip, dead_letter_all};
use onboard_shared::catalogue::Function;
use onboard_shared::domain::{ChangeMessage, UserId};
use onboard_shared::error::PortError;
use onboard_shared::names::{Layout, LeafId, MAX_NAME_BYTES, Merged, Summary, user_hash};
use onboard_shared::ports::Received;
use onboard_shared::reason::Reason;

mod load;
mod write;

use super::carried::{Decoded, decode};
use super::{RunLimits, RunReport, Writer};

/// The state of one run.
pub(super) struct Run<'a> {
    writer: &'a Writer,
    pub(super) layout: &'a mut Layout,
    pub(super) report: RunReport,
    /// The summary as read this run (where leaves are), once read.
    summary: Option<Option<Summary>>,
    /// The run's time, in the caller's seconds.
    now: u64,
    /// Leaves found beside their halves, being taken in.
    adopting: BTreeSet<LeafId>,
    /// Receipts whose work needs no write: to delete.
    done: Vec<String>,
    /// Receipts whose entries changed leaves, with those leaves and the
    /// index of their item in the report.
    held: Vec<(String, BTreeSet<LeafId>, usize)>,
    /// The item of each user's last applied change this run (none when
    /// it came with other users' entries, carried).
    last_change: HashMap<UserId, Option<usize>>,
    /// Items whose change a later one replaced before it was written.
    superseded: BTreeSet<usize>,
    /// Leaves written this run (and leaves that split).
    written: BTreeSet<LeafId>,
    /// Leaves whose entries were carried to the next run.
    carried: BTreeSet<LeafId>,
    /// Leaves that must rotate and may not yet: their messages return.
    waiting: BTreeSet<LeafId>,
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
            now: 0,
            adopting: BTreeSet::new(),
            done: Vec::new(),
            held: Vec::new(),
            last_change: HashMap::new(),
            superseded: BTreeSet::new(),
            written: BTreeSet::new(),
            carried: BTreeSet::new(),
            waiting: BTreeSet::new(),
            failure: None,
        }
    }

    pub(super) async fn receive(&mut self, limits: RunLimits, now: u64) -> Result<(), PortError> {
        self.now = now;
        let mut letters: Vec<Letter> = Vec::new();
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
            self.report.received += batch.len();
            self.report.received_bytes += batch.iter().map(|m| m.body.len()).sum::<usize>();
            for message in batch {
                if let Some(letter) = self.take(message, now).await {
                    letters.push(letter);
                }
            }
            if drained {
                break;
            }
        }
        self.dead_letter(letters).await;
        Ok(())
    }

    /// Decodes and merges one message; what cannot ever be merged comes
    /// back as a dead letter.
    async fn take(&mut self, message: Received, now: u64) -> Option<Letter> {
        let index = self.report.items.len();
        let decoded = match decode(&message.body, now) {
            Ok(decoded) => decoded,
            Err(reason) => {
                self.report.items.push(item(&message, None, unsettled()));
                return Some((message, index, ReasonClass::Unreadable, reason));
            }
        };
        let change = decoded.change.clone();
        self.report
            .items
            .push(item(&message, change.as_deref(), unsettled()));
        match self.merge(message.receipt.clone(), decoded, index).await {
            Ok(()) => None,
            Err(Unmerged::Refused(reason)) => Some((message, index, ReasonClass::Refused, reason)),
            // Left for the queue to return.
            Err(Unmerged::Retry(reason)) => {
                self.report.returned += 1;
                self.report.items[index].fate = Fate::Failed { reason };
                None
            }
        }
    }

    /// Sends what can never be merged to the DLQ with its reason; a
    /// message whose send failed returns with the queue.
    async fn dead_letter(&mut self, letters: Vec<Letter>) {
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

    /// Carries every leaf still waiting, then deletes each message whose
    /// work is now written or carried; the others return to the queue (a
    /// leaf waiting to rotate is taken back to what the store holds, and
    /// its messages return after the queue's visibility timeout, longer
    /// than the wait).
    pub(super) async fn finish(&mut self, now: u64) {
        for id in &self.waiting {
            self.layout.revert(*id);
        }
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
            } else if touched.iter().any(|id| self.waiting.contains(id)) {
                item.fate = failed(
                    "its leaf lost a name and rotated less than two minutes ago: the message returns, and the leaf rotates then",
                );
                self.report.waiting += 1;
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

/// A message to dead-letter: its item's index, its class and reason.
type Letter = (Received, usize, ReasonClass, Reason);

/// The fate of a message not settled yet (every path settles it).
fn unsettled() -> Fate {
    failed("not settled")
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
