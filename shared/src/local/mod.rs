//! Local adapters: the same ports, with no server and no account.
//!
//! Queues live in memory, the users table keeps its items in a JSON file and
//! emits stream records as DynamoDB Streams would, the archive is a folder
//! and the parameters a JSON file. State is held in memory while handlers run
//! and written out by `flush`, atomically (write to a temporary file, then
//! rename), so a replay of many records does not rewrite files per record.
//! Every adapter counts its calls, so tests can assert the number of API
//! calls a handler makes.

//!
//! One file per adapter: [`queue`], [`table`], [`archive`], [`parameters`],
//! [`directory`] (the user pool),
//! over [`json_file`]; and [`quota_parameters`], a Parameter Store that
//! keeps AWS's quotas on a simulated clock, for the capacity run. This module is compiled only with the `local`
//! feature, which the `onboard` command and the tests turn on: none of it
//! is in a Lambda binary.

mod archive;
mod directory;
mod json_file;
mod parameters;
mod queue;
mod quota_parameters;
mod table;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Mutex;

pub use archive::{FolderArchive, LocalObject, REFUSED_PUT};
pub use directory::MemoryDirectory;
pub use json_file::{JsonFile, crash_point, naming, write_atomically};
pub use parameters::FileParameters;
pub use queue::{LocalMessage, MemoryQueue, OVERSIZED_KEY};
pub use quota_parameters::{QuotaParameters, QuotaStats, Quotas, SimClock};
pub use table::LocalTable;

/// Counts calls by operation name.
#[derive(Debug, Default)]
pub struct CallCounter(Mutex<BTreeMap<&'static str, u64>>);

impl CallCounter {
    fn count(&self, operation: &'static str) {
        *lock(&self.0).entry(operation).or_default() += 1;
    }

    pub fn get(&self, operation: &str) -> u64 {
        lock(&self.0).get(operation).copied().unwrap_or(0)
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.0).clone()
    }
}

/// Locks a mutex, going on with the data even if a panicking thread held it:
/// every critical section here leaves the data consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
