//! The one writer of the packed names.
//!
//! Parameter Store has no conditional write: two writers of one parameter
//! lose each other's updates. So one process writes every parameter of
//! names — Lambda runs this function on a schedule with a reserved
//! concurrency of one, and `onboard` runs it as one task — and it drains
//! the publish queue itself instead of being handed batches. A run:
//!
//! 1. receives what the queue holds (up to [`RunLimits::max_messages`]),
//!    each message a change from the router or names carried over by an
//!    earlier run, and merges every user's entry into its leaf, read from
//!    the store the first time it is needed (never backwards: an entry
//!    older than the one held changes nothing);
//! 2. writes the changed leaves, the longest waiting first, up to
//!    [`RunLimits::max_writes`] calls, each at the pace the store's adapter
//!    keeps: all that waited for a leaf goes in one write, however much it
//!    is (the coalescing has no bound but the run's);
//! 3. sends back into the queue, one message a leaf, whatever it had no
//!    writes left for, then deletes what it received: a message's work is
//!    then written or carried, and a crash before that only returns the
//!    messages, whose merge is idempotent.
//!
//! Before a split's halves, it writes the summary readers find leaves by:
//! no leaf is ever deeper than the summary says, so a path that has none
//! (a split whose halves were not all written) gets one at the deepest
//! depth, which covers no leaf that exists.
//!
//! A leaf that loses a user's name rotates to its other name, which drops
//! the parameter's history with the old one: all the removals a run holds
//! for it go in one rotation, and a leaf rotates at most once every two
//! minutes (a deleted name is not created again for 30 seconds, and a
//! rotation's delete may come a run after its plan); a removal that finds
//! its leaf rotated more recently returns with its message, after
//! the queue's visibility timeout. So a removed name leaves every version
//! of every parameter at the first run after it arrives, or at most one
//! visibility timeout later.
//!
//! A message that is not a change, or a name too long for any parameter,
//! is dead-lettered with its reason; a write that fails returns the
//! messages merged into that leaf, and only those, for the queue's redrive
//! policy to count; the rest carry on.

mod carried;
mod run;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use onboard_shared::batch::ItemReport;
use onboard_shared::error::PortError;
use onboard_shared::names::{Layout, NamesPaths};
use onboard_shared::ports::{Inbox, MessageQueue, NamesStore};
use tokio::sync::Mutex;

pub use carried::{Carried, CarriedName};
use run::Run;

/// How much one run may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Messages received a run.
    pub max_messages: usize,
    /// Bytes of messages received a run: what it holds in memory (a
    /// carried message holds a whole leaf, up to 8 KB of names).
    pub max_bytes: usize,
    /// Write calls a run (puts and deletes): its time at the store's pace.
    pub max_writes: usize,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub received: usize,
    pub received_bytes: usize,
    /// Entries that changed a leaf.
    pub applied: usize,
    /// Entries a leaf already held, or held newer.
    pub duplicates: usize,
    pub stale: usize,
    pub dead_lettered: usize,
    /// Messages left for the queue to return (a call failed).
    pub returned: usize,
    pub puts: usize,
    pub deletes: usize,
    /// Leaves moved to their other name to forget a removed name.
    pub rotations: usize,
    /// Messages left to return because their leaf must rotate and may not
    /// yet (it rotated less than [`ROTATION_GAP_SECS`] ago).
    ///
    /// [`ROTATION_GAP_SECS`]: onboard_shared::names::ROTATION_GAP_SECS
    pub waiting: usize,
    /// Leaves written back into the queue for the next run.
    pub carried: usize,
    /// Reads of the store to find leaves.
    pub reads: usize,
    /// How long the longest-waiting change carried to the next run has
    /// waited, in the caller's seconds (none when nothing was carried).
    pub oldest_wait: Option<u64>,
    pub throttled: usize,
    /// The layout's parameters of each tier after the run.
    pub standard: usize,
    pub advanced: usize,
    /// Each message received, in order, and what became of it: applied
    /// (its leaf written), skipped (nothing newer), dead-lettered, or
    /// failed (its leaf carried to the next run, or the message left for
    /// the queue to return).
    pub items: Vec<ItemReport>,
}

impl RunReport {
    /// Adds a later run's report to this one (the tiers' counts are the
    /// later run's: they are what the layout holds now).
    pub fn absorb(&mut self, later: RunReport) {
        self.received += later.received;
        self.received_bytes += later.received_bytes;
        self.applied += later.applied;
        self.duplicates += later.duplicates;
        self.stale += later.stale;
        self.dead_lettered += later.dead_lettered;
        self.returned += later.returned;
        self.puts += later.puts;
        self.deletes += later.deletes;
        self.rotations += later.rotations;
        self.waiting += later.waiting;
        self.carried += later.carried;
        self.reads += later.reads;
        self.oldest_wait = self.oldest_wait.max(later.oldest_wait);
        self.throttled += later.throttled;
        self.standard = later.standard;
        self.advanced = later.advanced;
        self.items.extend(later.items);
    }

    /// Whether the queue may still hold work (a next run should follow at once).
    pub fn more(&self, limits: RunLimits) -> bool {
        self.received >= limits.max_messages
            || self.received_bytes >= limits.max_bytes
            || self.carried > 0
            || self.returned > 0
    }
}

/// The writer, and the layout it keeps warm between runs: as the only
/// writer, what it last wrote is what the store holds.
pub struct Writer {
    pub store: Arc<dyn NamesStore>,
    pub inbox: Arc<dyn Inbox>,
    pub dead_letters: Arc<dyn MessageQueue>,
    pub paths: NamesPaths,
    /// How many standard parameters the layout may use.
    pub standard_share: usize,
    layout: Mutex<Option<Layout>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("paths", &self.paths)
            .field("standard_share", &self.standard_share)
            .finish_non_exhaustive()
    }
}

impl Writer {
    pub fn new(
        store: Arc<dyn NamesStore>,
        inbox: Arc<dyn Inbox>,
        dead_letters: Arc<dyn MessageQueue>,
        paths: NamesPaths,
        standard_share: usize,
    ) -> Self {
        Self {
            store,
            inbox,
            dead_letters,
            paths,
            standard_share,
            layout: Mutex::new(None),
        }
    }

    /// One run; `now` is the caller's clock in seconds (how long a leaf's
    /// changes have waited orders the writes).
    ///
    /// # Errors
    ///
    /// When the queue cannot be read at all: nothing was taken from it.
    pub async fn run(&self, limits: RunLimits, now: u64) -> Result<RunReport, PortError> {
        let mut guard = self.layout.lock().await;
        let layout = match guard.as_mut() {
            Some(layout) => layout,
            None => guard.insert(Layout::new(self.standard_share)),
        };
        let mut run = Run::new(self, layout);
        run.receive(limits, now).await?;
        run.write(limits, now).await;
        run.finish(now).await;
        let summary = run.layout.summary();
        run.report.standard = summary.standard;
        run.report.advanced = summary.advanced;
        Ok(run.report)
    }
}
