//! `DELETE /me`: the caller's account erased everywhere.
//!
//! 1. The row becomes a tombstone (one conditional write over the version
//!    read, or over no row at all): the id, the next version, when, and
//!    nothing personal. From then on every write of the row is refused
//!    (a rename's condition, the trigger's `attribute_not_exists`), and
//!    the stream carries the erasure to the archive (which deletes every
//!    version holding personal data, keeps one guard version, and logs the
//!    id) and to the names (whose writer takes the name out of the
//!    parameter and its history).
//! 2. The user is signed out everywhere (their refresh tokens stop), then
//!    deleted from the pool.
//!
//! Each step is safe to repeat, so a request that dies half way is
//! finished by the next `DELETE /me`, or by `onboard reconcile --fix`,
//! which runs the same [`erase_everywhere`].

use aws_lambda_events::event::apigw::ApiGatewayProxyResponse;
use chrono::Utc;
use onboard_shared::api::{Caller, json_response};
use onboard_shared::domain::{User, UserId, Version};
use onboard_shared::error::PortError;
use onboard_shared::ports::{AccountStore, Conditional, Directory, Expected};
use onboard_shared::telemetry::metrics::{Counts, Metric};
use serde_json::json;

use crate::{Account, unavailable};

/// How often an erasure that lost to another write of the row reads it again.
const ATTEMPTS: usize = 3;

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The tombstone the row now holds.
    pub tombstone: User,
    /// False when the row was a tombstone already (a repeat, or finishing
    /// an erasure that stopped half way).
    pub wrote_tombstone: bool,
}

/// Why an erasure did not finish; each step is safe to run again.
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error("the row kept changing while it was being erased")]
    Conflict,
    #[error(transparent)]
    Store(#[from] PortError),
}

/// Erases a user everywhere: the row made a tombstone, then, where the pool
/// knows them by `username`, signed out everywhere and deleted.
pub async fn erase_everywhere(
    table: &dyn AccountStore,
    directory: &dyn Directory,
    user: &UserId,
    username: Option<&str>,
) -> Result<Erasure, EraseError> {
    let erasure = tombstone(table, user).await?;
    if let Some(username) = username {
        // Signed out first: a deleted user cannot be signed out, and their
        // refresh tokens must stop whatever happens next.
        directory.sign_out_everywhere(username).await?;
        directory.delete(username).await?;
    }
    Ok(erasure)
}

/// The row made a tombstone, over the version read (or over no row).
async fn tombstone(table: &dyn AccountStore, user: &UserId) -> Result<Erasure, EraseError> {
    for _ in 0..ATTEMPTS {
        let now = Utc::now();
        let (written, expected) = match table.get(user).await? {
            Some(row) => match row.erased(now) {
                Some(written) => (written, Expected::Version(row.version)),
                // A tombstone already: what is left is the pool.
                None => {
                    return Ok(Erasure {
                        tombstone: row,
                        wrote_tombstone: false,
                    });
                }
            },
            // No row (never recorded, or removed by hand): the tombstone
            // still goes in, so nothing records the user again.
            None => (
                User::tombstone(user.clone(), Version::FIRST, now, now),
                Expected::Absent,
            ),
        };
        match table.replace(&written, expected).await? {
            Conditional::Written => {
                tracing::info!(user_id = %user, version = %written.version, "the row is a tombstone");
                return Ok(Erasure {
                    tombstone: written,
                    wrote_tombstone: true,
                });
            }
            Conditional::Conflict => {
                tracing::debug!(user_id = %user, "the row changed while erasing; reading it again");
            }
        }
    }
    Err(EraseError::Conflict)
}

pub(crate) async fn erase(
    account: &Account,
    caller: &Caller,
    counts: &mut Counts,
) -> ApiGatewayProxyResponse {
    let erased = erase_everywhere(
        account.table.as_ref(),
        account.directory.as_ref(),
        &caller.user,
        Some(&caller.username),
    )
    .await;
    match erased {
        Ok(erasure) => {
            if erasure.wrote_tombstone {
                counts.add(Metric::AccountsErased, 1);
            }
            tracing::info!(user_id = %caller.user, "erased from the pool");
            json_response(
                200,
                json!({ "erased": true, "version": erasure.tombstone.version.get() }),
            )
        }
        Err(EraseError::Conflict) => json_response(
            409,
            json!({ "message": "The account changed at the same time; try again" }),
        ),
        Err(EraseError::Store(err)) => unavailable(&err, counts),
    }
}
