//! Erasure, finished by reconcile: the log of erasures read from the
//! archive bucket (`erased/<id>`, ids only), and the fixes of the findings
//! that an erasure left or a restore undid, each through the account
//! function's own [`account::erase_everywhere`] (safe to repeat).

use std::collections::HashSet;

use onboard_shared::aws::s3;
use onboard_shared::domain::UserId;
use onboard_shared::error::error_chain;
use onboard_shared::ports::ERASURE_PREFIX;

use super::{ERASED, Entry, Finding, Fixers, NAME_SET};
use crate::commands::signup::PoolUser;
use crate::stack::StackError;

/// The ids in the log of erasures.
#[derive(Debug, Default, Clone)]
pub struct ErasureLog(HashSet<String>);

impl ErasureLog {
    pub fn contains(&self, user: &str) -> bool {
        self.0.contains(user)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<String> for ErasureLog {
    fn from_iter<I: IntoIterator<Item = String>>(ids: I) -> Self {
        Self(ids.into_iter().collect())
    }
}

/// Every id in the log of erasures, a page (of 1,000) at a time.
pub async fn erasure_log(client: &s3::Client, bucket: &str) -> Result<ErasureLog, StackError> {
    let mut ids = HashSet::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(ERASURE_PREFIX)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| StackError::call(format!("ListObjectsV2 {bucket}"), err))?;
        ids.extend(
            page.contents()
                .iter()
                .filter_map(|object| object.key()?.strip_prefix(ERASURE_PREFIX))
                .map(str::to_owned),
        );
    }
    Ok(ErasureLog(ids))
}

/// Whether a finding is one of erasure's (or a pool name behind).
pub(super) fn fixes(finding: &Finding) -> bool {
    matches!(
        finding,
        Finding::Gone
            | Finding::ErasureUnfinished
            | Finding::ErasedBroughtBack
            | Finding::PoolNameBehind
    )
}

/// Fixes one finding: what was done, or why it could not be.
pub(super) async fn fix(
    entry: &Entry,
    pool_user: Option<&PoolUser>,
    fixers: &Fixers<'_>,
) -> Result<String, String> {
    let failed = |why: String| Err(format!("not fixed: {why}"));
    let Ok(user) = UserId::parse(entry.user_id.as_str()) else {
        return failed("the id is no user id".to_owned());
    };
    let username = pool_user.map(|u| u.username.as_str());
    if entry.finding == Finding::PoolNameBehind {
        let row = match fixers.accounts.get(&user).await {
            Ok(Some(row)) => row,
            Ok(None) => return failed("the row is gone".to_owned()),
            Err(err) => return failed(error_chain(&err)),
        };
        let (Some(name), Some(username)) = (row.name, username) else {
            return failed("no name to set".to_owned());
        };
        return match fixers.directory.set_name(username, &name).await {
            Ok(_) => Ok(NAME_SET.to_owned()),
            Err(err) => failed(error_chain(&err)),
        };
    }
    match account::erase_everywhere(fixers.accounts, fixers.directory, &user, username).await {
        Ok(_) => Ok(ERASED.to_owned()),
        Err(err) => failed(error_chain(&err)),
    }
}
