//! `onboard reconcile`: the user pool against the users table.
//!
//! Cognito calls the post-confirmation trigger only for a sign-up confirmed
//! by its user: not for a user an administrator creates
//! (`FORCE_CHANGE_PASSWORD` until their first sign-in), nor one imported
//! (`RESET_REQUIRED`), nor one whose trigger failed all of Cognito's
//! attempts. Such users are in the pool and nowhere else. This reads the
//! whole pool (`ListUsers`, paged) and the whole table (`Scan`, paged) and
//! says, by user id, who is missing from the table, which rows have no user
//! in the pool any more, and which rows differ from the pool.
//!
//! [`fix`] records the missing ones through the trigger's own code path
//! (the same event, the same conditional write), paced, so a run cut short
//! and run again finishes the job, and a second run records nothing.
//!
//! The table is the truth of a user's own changes, and erasure must finish
//! whatever stopped it ([`erasures`]): a row whose user is gone from the
//! pool (deleted straight through Cognito) is erased; a pool user whose row
//! is a tombstone (a `DELETE /me` that stopped half way) is deleted; a row
//! in the log of erasures that a restore of the table brought back is
//! erased again, and its user is never recorded again; a pool whose `name`
//! differs from the row's gets the row's. Rows whose email or other
//! attributes differ from the pool's are reported, not changed: rewriting
//! a row is a decision for a person.

mod erasures;
pub use erasures::{ErasureLog, erasure_log};

pub mod command;

use onboard_shared::reason::Reason;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::UserStatusType;
use onboard_shared::aws::dynamodb;
use onboard_shared::domain::User;
use onboard_shared::error::error_chain;
use onboard_shared::ports::{AccountStore, Directory, UserStore};
use post_confirmation::Outcome;
use serde::Serialize;

use crate::commands::signup::{PoolUser, record};
use crate::stack::{StackError, UserPool};

/// Why a pool user has no row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Created by an administrator: Cognito runs no trigger for them.
    AdminCreated,
    /// Imported (or told to reset their password): no trigger either.
    Imported,
    /// Signed in through another identity provider.
    Federated,
    /// Confirmed, yet never recorded: the trigger failed or was not attached.
    TriggerNeverRecorded,
}

impl Missing {
    fn of(status: Option<&UserStatusType>) -> Option<Self> {
        Some(match status? {
            UserStatusType::Unconfirmed => return None,
            UserStatusType::ForceChangePassword => Missing::AdminCreated,
            UserStatusType::ResetRequired => Missing::Imported,
            UserStatusType::ExternalProvider => Missing::Federated,
            _ => Missing::TriggerNeverRecorded,
        })
    }

    pub fn describe(self) -> &'static str {
        match self {
            Missing::AdminCreated => "created by an administrator (no trigger runs)",
            Missing::Imported => "imported (no trigger runs)",
            Missing::Federated => "signed in through another provider",
            Missing::TriggerNeverRecorded => "confirmed, but the trigger never recorded them",
        }
    }
}

/// What reconciling found for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// In the pool, not in the table.
    Missing { why: Missing },
    /// In the table, not in the pool (deleted straight through Cognito):
    /// an erasure to finish.
    Gone,
    /// The row is a tombstone (or the id is in the log of erasures) but the
    /// pool still has the user: a `DELETE /me` that stopped half way.
    ErasureUnfinished,
    /// In the log of erasures, yet the row is a live user again: a restore
    /// of the table brought it back.
    ErasedBroughtBack,
    /// The pool's `name` differs from the row's (the table is the truth).
    PoolNameBehind,
    /// In both, but the row's fields differ from the pool's: which ones.
    OutOfDate { fields: Vec<&'static str> },
    /// A row that does not decode into a user.
    UnreadableRow { reason: Reason },
    /// A pool user whose attributes the trigger would refuse.
    Unrecordable { reason: Reason },
}

/// One user the pool and the table disagree about. Named by id only: the
/// report carries no email.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub user_id: String,
    /// The pool's status of the user, where the pool has them.
    pub status: Option<String>,
    #[serde(flatten)]
    pub finding: Finding,
    /// What `--fix` did: `recorded`, `already recorded`, or why it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
}

/// What a reconcile found (and, with `--fix`, did).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub pool_users: usize,
    pub rows: usize,
    pub in_step: usize,
    pub entries: Vec<Entry>,
    pub recorded: usize,
    pub fix_failed: usize,
}

impl Report {
    /// The findings of one kind.
    pub fn count(&self, kind: impl Fn(&Finding) -> bool) -> usize {
        self.entries.iter().filter(|e| kind(&e.finding)).count()
    }

    /// Findings a fix did not resolve: all but the missing users recorded.
    pub fn remaining(&self) -> usize {
        self.entries.iter().filter(|e| !e.resolved()).count()
    }
}

impl Entry {
    /// A finding a fix resolved: a missing user recorded, an erasure
    /// finished, a pool name set.
    fn resolved(&self) -> bool {
        matches!(
            self.fixed.as_deref(),
            Some(RECORDED | ALREADY_RECORDED | ERASED | NAME_SET)
        )
    }
}

const RECORDED: &str = "recorded";
const ALREADY_RECORDED: &str = "already recorded";
const ERASED: &str = "erased";
const NAME_SET: &str = "pool name set";

/// Paces calls to at most `per_second`.
#[derive(Debug)]
pub struct Pace(tokio::time::Interval);

impl Pace {
    pub fn new(per_second: f64) -> Self {
        let mut interval =
            tokio::time::interval(Duration::from_secs_f64(1.0 / per_second.max(0.01)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self(interval)
    }

    pub async fn wait(&mut self) {
        self.0.tick().await;
    }
}

/// Every user of the pool, a page (of 60) at a time, paced.
pub async fn pool_users(
    client: &cognito::Client,
    pool: &UserPool,
    pace: &mut Pace,
    mut progress: impl FnMut(usize),
) -> Result<Vec<PoolUser>, StackError> {
    let mut users = Vec::new();
    let mut token: Option<String> = None;
    loop {
        pace.wait().await;
        let page = client
            .list_users()
            .user_pool_id(&pool.pool_id)
            .limit(60)
            .set_pagination_token(token.take())
            .send()
            .await
            .map_err(|err| StackError::call("ListUsers", err))?;
        for user in page.users() {
            users.push(PoolUser {
                username: user.username().unwrap_or_default().to_owned(),
                status: user.user_status().cloned(),
                attributes: user
                    .attributes()
                    .iter()
                    .filter_map(|a| Some((a.name().to_owned(), a.value()?.to_owned())))
                    .collect(),
            });
        }
        progress(users.len());
        match page.pagination_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(users),
        }
    }
}

/// A row of the users table: the user, or why it does not decode.
#[derive(Debug)]
pub struct Row {
    pub user_id: String,
    pub user: Result<User, Reason>,
}

/// Every row of the users table, a page at a time.
pub async fn table_rows(client: &dynamodb::Client, table: &str) -> Result<Vec<Row>, StackError> {
    let mut rows = Vec::new();
    let mut pages = client.scan().table_name(table).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| StackError::call(format!("Scan {table}"), err))?;
        for item in page.items.unwrap_or_default() {
            let user_id = item
                .get("user_id")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let user =
                serde_dynamo::from_item::<_, User>(item).map_err(|err| Reason::of_error(&err));
            rows.push(Row { user_id, user });
        }
    }
    Ok(rows)
}

/// The pool against the table (and the log of erasures).
pub fn compare(pool: &[PoolUser], rows: &[Row], erased: &ErasureLog) -> Report {
    let now = chrono::Utc::now();
    let by_id: HashMap<&str, &Row> = rows.iter().map(|r| (r.user_id.as_str(), r)).collect();
    let mut entries = Vec::new();
    let mut in_step = 0;
    let mut seen: HashSet<&str> = HashSet::new();
    for user in pool {
        let Some(sub) = user.attributes.get("sub") else {
            continue;
        };
        seen.insert(sub.as_str());
        let status = user.status.as_ref().map(|s| s.as_str().to_owned());
        let entry = |finding| Entry {
            user_id: sub.clone(),
            status: status.clone(),
            finding,
            fixed: None,
        };
        let expected = User::from_cognito(&user.attributes, now);
        let row = by_id.get(sub.as_str());
        let tombstone = matches!(row, Some(Row { user: Ok(row), .. }) if row.is_erased());
        if tombstone || (row.is_none() && erased.contains(sub)) {
            entries.push(entry(Finding::ErasureUnfinished));
            continue;
        }
        match (row, expected) {
            (None, _) => {
                if let Some(why) = Missing::of(user.status.as_ref()) {
                    entries.push(entry(Finding::Missing { why }));
                }
            }
            (
                Some(Row {
                    user: Err(reason), ..
                }),
                _,
            ) => {
                entries.push(entry(Finding::UnreadableRow {
                    reason: reason.clone(),
                }));
            }
            (Some(_), Err(err)) => entries.push(entry(Finding::Unrecordable {
                reason: Reason::of_error(&err),
            })),
            (Some(Row { user: Ok(_), .. }), _) if erased.contains(sub) => {
                entries.push(entry(Finding::ErasedBroughtBack));
            }
            (Some(Row { user: Ok(row), .. }), Ok(expected)) => {
                let mut fields = Vec::new();
                if row.email != expected.email {
                    fields.push("email");
                }
                if row.attributes != expected.attributes {
                    fields.push("attributes");
                }
                if !fields.is_empty() {
                    entries.push(entry(Finding::OutOfDate { fields }));
                } else if row.name.is_some() && row.name != expected.name {
                    entries.push(entry(Finding::PoolNameBehind));
                } else {
                    in_step += 1;
                }
            }
        }
    }
    for row in rows.iter().filter(|r| !seen.contains(r.user_id.as_str())) {
        let finding = match &row.user {
            // Erased, and gone from the pool: as it should be.
            Ok(user) if user.is_erased() => {
                in_step += 1;
                continue;
            }
            Ok(_) if erased.contains(&row.user_id) => Finding::ErasedBroughtBack,
            Ok(_) => Finding::Gone,
            Err(reason) => Finding::UnreadableRow {
                reason: reason.clone(),
            },
        };
        entries.push(Entry {
            user_id: row.user_id.clone(),
            status: None,
            finding,
            fixed: None,
        });
    }
    Report {
        pool_users: pool.len(),
        rows: rows.len(),
        in_step,
        entries,
        recorded: 0,
        fix_failed: 0,
    }
}

/// What a fix writes with: the table (as the trigger and as the account
/// function see it) and the pool.
pub struct Fixers<'a> {
    pub users: &'a dyn UserStore,
    pub accounts: &'a dyn AccountStore,
    pub directory: &'a dyn Directory,
}

impl std::fmt::Debug for Fixers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixers").finish_non_exhaustive()
    }
}

/// Records each missing user through the trigger's code path, finishes
/// each erasure and sets each pool name behind, paced; `progress` is told
/// after each.
pub async fn fix(
    report: &mut Report,
    pool_users: &[PoolUser],
    fixers: &Fixers<'_>,
    pool: &UserPool,
    region: &str,
    pace: &mut Pace,
    mut progress: impl FnMut(),
) {
    let by_sub: HashMap<&str, &PoolUser> = pool_users
        .iter()
        .filter_map(|u| Some((u.attributes.get("sub")?.as_str(), u)))
        .collect();
    for entry in &mut report.entries {
        let pool_user = by_sub.get(entry.user_id.as_str()).copied();
        if erasures::fixes(&entry.finding) {
            pace.wait().await;
            let fixed = erasures::fix(entry, pool_user, fixers).await;
            if fixed.is_err() {
                report.fix_failed += 1;
            }
            entry.fixed = Some(fixed.unwrap_or_else(|failed| failed));
            progress();
            continue;
        }
        if !matches!(entry.finding, Finding::Missing { .. }) {
            continue;
        }
        let Some(user) = pool_user else {
            continue;
        };
        pace.wait().await;
        let fixed = match record(fixers.users, region.to_owned(), pool, user.clone()).await {
            Ok((_, Outcome::Recorded(_))) => {
                report.recorded += 1;
                RECORDED.to_owned()
            }
            Ok((_, _)) => ALREADY_RECORDED.to_owned(),
            Err(err) => {
                report.fix_failed += 1;
                format!("not recorded: {}", error_chain(&err))
            }
        };
        entry.fixed = Some(fixed);
        progress();
    }
}
