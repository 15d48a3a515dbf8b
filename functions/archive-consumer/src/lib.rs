//! The archive consumer: keeps the latest state of every user as a JSON
//! object in S3, `users/<user id>.json`.
//!
//! Writes never go backwards: the object's metadata carries the revision it
//! holds, and a change is written only over an older revision, with
//! `If-Match` on the entity tag that was read (or `If-None-Match: *` for a new
//! object), so two writers racing on one user cannot undo each other. A
//! change already archived is skipped, so redelivery and replays write
//! nothing. With bucket versioning on, every archived change stays
//! retrievable.
//!
//! A removal replaces the object with a tombstone that keeps the user id,
//! the version and whether it expired, and none of the user's personal data:
//! the tombstone is what keeps a late, older update from bringing it back.
//! Then every older version of the object is deleted (each holds the user as
//! they were), and an erasure's id goes into the log of erasures
//! (`erased/<id>`, ids only) that outlives a restore of the table.

mod lambda;
pub use lambda::invoke;

use std::cmp::Ordering;
use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use onboard_shared::batch::{
    self, BatchReport, ChangeConsumer, Fate, Outcome, Skip, Ticket, Worked,
};
use onboard_shared::catalogue::Function;
use onboard_shared::domain::{ChangeKind, ChangeMessage, User, UserId, Version};
use onboard_shared::error::PortError;
use onboard_shared::ports::{ArchiveStore, Conditional, MessageQueue, WriteCondition};
use serde::Serialize;

/// How often a write that lost a race is tried again within one invocation.
const MAX_CONFLICTS: usize = 3;

#[derive(Clone)]
pub struct Archiver {
    pub archive: Arc<dyn ArchiveStore>,
    pub dead_letters: Arc<dyn MessageQueue>,
}

impl std::fmt::Debug for Archiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archiver")
            .field("dead_letters", &self.dead_letters.name())
            .finish_non_exhaustive()
    }
}

/// The archived document of one user.
#[derive(Debug, Serialize)]
pub struct ArchivedUser<'a> {
    pub user_id: &'a UserId,
    pub version: Version,
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
    /// The user as it now is; absent from a removal's tombstone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a User>,
    pub event_id: &'a str,
    pub sequence_number: &'a str,
}

impl<'a> ArchivedUser<'a> {
    pub fn from_change(message: &'a ChangeMessage) -> Self {
        Self {
            user_id: message.user_id(),
            version: message.version,
            kind: message.kind,
            expired: message.expired,
            user: (message.kind != ChangeKind::Removed).then_some(&message.user),
            event_id: &message.event_id,
            sequence_number: &message.sequence_number,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("ArchivedUser serializes"))
    }
}

/// Archives one SQS batch and reports the fate of every message.
pub async fn handle(archiver: &Archiver, event: &SqsEvent) -> BatchReport {
    batch::consume(archiver, event).await
}

impl ChangeConsumer for Archiver {
    /// One user's changes are applied in order, one at a time.
    type Key = UserId;
    const NAME: &'static str = "archive";
    const FUNCTION: Function = Function::ArchiveConsumer;
    /// Users side by side: each write is one user's object.
    const GROUPS_AT_ONCE: bool = true;

    fn key(&self, message: &ChangeMessage) -> UserId {
        message.user_id().clone()
    }

    async fn apply(&self, changes: &[(Ticket, ChangeMessage)]) -> Vec<Worked> {
        let mut in_order: Vec<&(Ticket, ChangeMessage)> = changes.iter().collect();
        in_order.sort_by_key(|(_, message)| message.revision());
        let mut worked = Vec::with_capacity(changes.len());
        for (ticket, message) in in_order {
            let mut write_conflicts = 0;
            let mut result =
                archive_one(self.archive.as_ref(), message, &mut write_conflicts).await;
            if message.kind == ChangeKind::Removed
                && result.is_ok()
                && let Err(err) = forget(self.archive.as_ref(), message).await
            {
                result = Err(err);
            }
            worked.push(Worked {
                ticket: *ticket,
                outcome: Outcome::from(result),
                write_conflicts,
            });
        }
        worked
    }

    fn dead_letters(&self) -> &dyn MessageQueue {
        self.dead_letters.as_ref()
    }
}

/// Writes one change unless the archive already holds it or something newer.
///
/// A new user's first change is written at once, on the condition that no
/// object exists: one call, where reading first would make two. Only when
/// that is refused (a redelivery, or the user is not new to the archive)
/// is the object read, as every other change's is, and written over the
/// revision read.
/// Each write that lost to another writer is counted in `write_conflicts`.
async fn archive_one(
    archive: &dyn ArchiveStore,
    message: &ChangeMessage,
    write_conflicts: &mut u32,
) -> Result<Fate, PortError> {
    let user = message.user_id();
    let revision = message.revision();
    let body = ArchivedUser::from_change(message).to_bytes();
    if message.kind == ChangeKind::Created
        && archive
            .put(user, revision, &body, WriteCondition::Absent)
            .await?
            == Conditional::Written
    {
        return Ok(Fate::Applied);
    }
    for _ in 0..MAX_CONFLICTS {
        let condition = match archive.head(user).await? {
            // A foreign object (no revision) ranks below every change.
            Some(head) => match head.revision.cmp(&Some(revision)) {
                Ordering::Equal => {
                    return Ok(Fate::Skipped {
                        why: Skip::Duplicate,
                    });
                }
                Ordering::Greater => return Ok(Fate::Skipped { why: Skip::Stale }),
                Ordering::Less => WriteCondition::Matches(head.etag),
            },
            None => WriteCondition::Absent,
        };
        match archive.put(user, revision, &body, condition).await? {
            Conditional::Written => return Ok(Fate::Applied),
            Conditional::Conflict => {
                *write_conflicts += 1;
                tracing::debug!(user_id = %user, "the object changed while writing; reading it again")
            }
        }
    }
    Err(PortError::transient(
        "PutObject",
        "the object kept changing under concurrent writes",
    ))
}

/// After a removal's tombstone is the current version (written now, or
/// by an earlier delivery): every older version, each holding the user as
/// they were, is deleted; an erasure's id goes into the log of erasures.
/// Both are safe to repeat, so a redelivered removal finishes what a failed
/// one left.
async fn forget(archive: &dyn ArchiveStore, message: &ChangeMessage) -> Result<(), PortError> {
    let user = message.user_id();
    let deleted = archive.delete_history(user).await?;
    if deleted > 0 {
        tracing::info!(user_id = %user, versions = deleted, "older versions deleted");
    }
    if message.user.is_erased() {
        archive.log_erasure(user).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use onboard_shared::domain::Revision;
    use onboard_shared::local::{FolderArchive, MemoryQueue};
    use onboard_shared::ports::ArchiveHead;

    const OUT_OF_ORDER: &str = include_str!("../../../fixtures/sqs/changes-out-of-order.json");
    const POISON: &str = include_str!("../../../fixtures/sqs/batch-with-poison-messages.json");
    const ADA: &str = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";
    const GRACE: &str = "9c8b7a6f-5e4d-4c3b-8a29-18f7e6d5c4b3";

    fn archiver() -> (Archiver, Arc<FolderArchive>, Arc<MemoryQueue>) {
        let archive = Arc::new(FolderArchive::in_memory());
        let dead_letters = Arc::new(MemoryQueue::new("archive-dlq"));
        let archiver = Archiver {
            archive: archive.clone(),
            dead_letters: dead_letters.clone(),
        };
        (archiver, archive, dead_letters)
    }

    fn event(json: &str) -> SqsEvent {
        serde_json::from_str(json).unwrap()
    }

    fn stored(archive: &FolderArchive, user: &str) -> serde_json::Value {
        let body = archive
            .body(&UserId::parse(user).unwrap())
            .unwrap()
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[tokio::test]
    async fn the_archive_ends_at_the_newest_revision_whatever_the_order() {
        let (archiver, archive, _) = archiver();
        let report = handle(&archiver, &event(OUT_OF_ORDER)).await;
        assert_eq!(report.failed().count(), 0);
        assert_eq!(stored(&archive, ADA)["version"], 3);
        assert_eq!(stored(&archive, ADA)["user"]["name"], "Ada King");
        let grace = stored(&archive, GRACE);
        assert_eq!(grace["kind"], "removed");
        assert!(
            grace.get("user").is_none(),
            "a tombstone keeps no personal data: {grace}"
        );
    }

    #[tokio::test]
    async fn the_same_batch_twice_writes_once() {
        let (archiver, archive, _) = archiver();
        handle(&archiver, &event(OUT_OF_ORDER)).await;
        let writes = archive.writes();
        let before = archive.objects();
        let again = handle(&archiver, &event(OUT_OF_ORDER)).await;
        assert_eq!(archive.writes(), writes, "no write the second time");
        assert_eq!(archive.objects(), before);
        assert!(
            again
                .items
                .iter()
                .all(|i| matches!(i.fate, Fate::Skipped { .. }))
        );
    }

    #[tokio::test]
    async fn one_put_object_per_archived_change_and_a_read_only_where_the_user_is_not_new() {
        let (archiver, archive, _) = archiver();
        handle(&archiver, &event(OUT_OF_ORDER)).await;
        // Five changes, each applied in revision order: five writes. The two
        // creations are written without a read; the three later changes
        // (Ada's versions 2 and 3, Grace's removal) each read first.
        assert_eq!(archive.calls.get("PutObject"), 5);
        assert_eq!(archive.writes(), 5);
        assert_eq!(archive.calls.get("HeadObject"), 3);
    }

    #[tokio::test]
    async fn calls_per_change_a_new_user_is_one_put_an_update_a_read_and_a_write() {
        let (archiver, archive, _) = archiver();
        let batch = event(OUT_OF_ORDER);
        let only = |index: usize| {
            let mut one = batch.clone();
            one.records = vec![batch.records[index].clone()];
            one
        };
        let calls = || {
            (
                archive.calls.get("HeadObject"),
                archive.calls.get("PutObject"),
                archive.writes(),
            )
        };

        // Ada's creation (record 1): one write, no read.
        handle(&archiver, &only(1)).await;
        assert_eq!(calls(), (0, 1, 1), "(reads, puts, writes)");
        // Her update to version 2 (record 2): one read, one conditional write.
        handle(&archiver, &only(2)).await;
        assert_eq!(calls(), (1, 2, 2));
        // Her creation delivered again: the write is refused, a read says it
        // is older than what is held, and nothing is written.
        let again = handle(&archiver, &only(1)).await;
        assert_eq!(calls(), (2, 3, 2));
        assert_eq!(again.items[0].fate, Fate::Skipped { why: Skip::Stale });
        assert_eq!(stored(&archive, ADA)["version"], 2);
    }

    /// An archive where another writer wins the first conditional write
    /// over an existing object.
    struct Raced {
        inner: FolderArchive,
        raced: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl ArchiveStore for Raced {
        async fn head(&self, user: &UserId) -> Result<Option<ArchiveHead>, PortError> {
            self.inner.head(user).await
        }
        async fn put(
            &self,
            user: &UserId,
            revision: Revision,
            body: &[u8],
            condition: WriteCondition,
        ) -> Result<Conditional, PortError> {
            if matches!(condition, WriteCondition::Matches(_))
                && !self.raced.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                return Ok(Conditional::Conflict);
            }
            self.inner.put(user, revision, body, condition).await
        }
        async fn delete_history(&self, user: &UserId) -> Result<usize, PortError> {
            self.inner.delete_history(user).await
        }
        async fn log_erasure(&self, user: &UserId) -> Result<(), PortError> {
            self.inner.log_erasure(user).await
        }
    }

    #[tokio::test]
    async fn a_write_lost_to_another_writer_is_counted_on_its_record_s_report() {
        // GIVEN Ada archived at version 1, and a writer that wins her next write
        let raced = Arc::new(Raced {
            inner: FolderArchive::in_memory(),
            raced: std::sync::atomic::AtomicBool::new(false),
        });
        let archiver = Archiver {
            archive: raced.clone(),
            dead_letters: Arc::new(MemoryQueue::new("archive-dlq")),
        };
        let batch = event(OUT_OF_ORDER);
        let only = |index: usize| {
            let mut one = batch.clone();
            one.records = vec![batch.records[index].clone()];
            one
        };
        handle(&archiver, &only(1)).await;
        // WHEN her update to version 2 is archived
        let report = handle(&archiver, &only(2)).await;
        // THEN it is applied after one lost write, which its report counts
        assert_eq!(report.items[0].fate, Fate::Applied);
        assert_eq!(report.items[0].write_conflicts, 1);
        use onboard_shared::catalogue::Function;
        use onboard_shared::telemetry::metrics::Metric;
        assert_eq!(
            report
                .counts(Function::ArchiveConsumer)
                .get(Metric::WriteConflicts),
            1
        );
    }

    #[tokio::test]
    async fn poison_messages_are_dead_lettered_with_their_reason_and_the_rest_archived() {
        let (archiver, archive, dead_letters) = archiver();
        let report = handle(&archiver, &event(POISON)).await;
        assert_eq!(report.items[0].fate, Fate::Applied);
        assert_eq!(archive.objects().len(), 1);
        let letters = dead_letters.drain();
        assert_eq!(letters.len(), 3);
        assert_eq!(letters[0].body, "this is not json");
        for letter in &letters {
            assert!(
                letter
                    .attribute(onboard_shared::wire::REASON_ATTRIBUTE)
                    .unwrap()
                    .starts_with("the body is not a change message")
            );
            assert_eq!(
                letter.attribute(onboard_shared::wire::SOURCE_ATTRIBUTE),
                Some(Function::ArchiveConsumer.name())
            );
        }
        assert!(
            report
                .sqs_response()
                .unwrap()
                .batch_item_failures
                .is_empty()
        );
    }
}
