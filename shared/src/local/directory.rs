//! The user pool in memory: what the account function keeps in step with
//! the table, for a replay with no server (a user it has not seen is
//! present, with no name, until deleted).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{CallCounter, lock};
use crate::error::PortError;
use crate::ports::{Directory, Gone};

#[derive(Debug, Default)]
struct Pool {
    names: BTreeMap<String, String>,
    deleted: BTreeSet<String>,
    signed_out: BTreeSet<String>,
}

/// A user pool in memory, by username.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    pool: Mutex<Pool>,
    pub calls: CallCounter,
}

impl MemoryDirectory {
    /// Whether the user was deleted.
    pub fn is_deleted(&self, username: &str) -> bool {
        lock(&self.pool).deleted.contains(username)
    }

    /// Whether the user's sessions were ended.
    pub fn is_signed_out(&self, username: &str) -> bool {
        lock(&self.pool).signed_out.contains(username)
    }

    fn gone(pool: &Pool, username: &str) -> Gone {
        if pool.deleted.contains(username) {
            Gone::Yes
        } else {
            Gone::No
        }
    }
}

#[async_trait]
impl Directory for MemoryDirectory {
    async fn set_name(&self, username: &str, name: &str) -> Result<Gone, PortError> {
        self.calls.count("AdminUpdateUserAttributes");
        let mut pool = lock(&self.pool);
        let gone = Self::gone(&pool, username);
        if gone == Gone::No {
            pool.names.insert(username.to_owned(), name.to_owned());
        }
        Ok(gone)
    }

    async fn name(&self, username: &str) -> Result<Option<String>, PortError> {
        self.calls.count("AdminGetUser");
        Ok(lock(&self.pool).names.get(username).cloned())
    }

    async fn sign_out_everywhere(&self, username: &str) -> Result<Gone, PortError> {
        self.calls.count("AdminUserGlobalSignOut");
        let mut pool = lock(&self.pool);
        let gone = Self::gone(&pool, username);
        if gone == Gone::No {
            pool.signed_out.insert(username.to_owned());
        }
        Ok(gone)
    }

    async fn delete(&self, username: &str) -> Result<Gone, PortError> {
        self.calls.count("AdminDeleteUser");
        let mut pool = lock(&self.pool);
        let gone = Self::gone(&pool, username);
        pool.names.remove(username);
        pool.deleted.insert(username.to_owned());
        Ok(gone)
    }
}
