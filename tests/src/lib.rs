//! The one support module of every test crate (the `tests/` package's and
//! the CLI's): a real AWS API emulator (moto's server) on loopback, a stack
//! of a test's own on it with the local Lambda service ([`stack`]), the
//! `onboard` binary run as a person runs it ([`onboard`]), the ports'
//! contracts ([`contract`]), stream records for the event-source rules
//! ([`stream_records`]), seeded property runs ([`property`]), the mock of
//! Lambda's Runtime API ([`runtime_api`]) and the release build
//! ([`release`]).
//!
//! [`emulator`] starts one emulator per test process, the first time a test
//! asks for it, and every test of that process shares it, each with
//! resources of its own names ([`unique`]). Nothing needs starting by hand:
//!
//! - The emulator runs from a project-local Python venv, `.venv` at the
//!   workspace root, with the moto pinned in `tests/moto/requirements.txt`.
//!   The venv is created (or brought up to the pin) when it is missing,
//!   under a file lock, so test processes running side by side build it once.
//!   The template checks and the release build use a second one,
//!   [`Venv::INFRA`] (cfn-lint, checkov, cargo-lambda), and the SAM CLI a
//!   third, [`Venv::SAM`], built the same way.
//! - `tests/moto/serve.py` binds a free port on 127.0.0.1 and prints its
//!   URL. Its standard input is a pipe this process holds: when the test
//!   process ends, however it ends, the pipe closes and the emulator stops.
//! - The browser tests' Chromium and Playwright are installed the same way,
//!   by [`browser`].
//! - `ONBOARD_TEST_ENDPOINT=http://127.0.0.1:PORT` uses an emulator that is
//!   already running instead; `ONBOARD_PYTHON` names the Python that builds
//!   the venv (default `python3`).

pub mod browser;
pub mod capacity;
pub mod capacity_model;
pub mod contract;
pub mod emf;
mod emulator;
pub mod names_mix;
pub mod onboard;
pub mod property;
pub mod published;
pub mod release;
pub mod runtime_api;
pub mod stack;
pub mod stream_records;
pub mod template;
mod venv;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use emulator::{Emulator, deploy_template, emulator, start_server};
pub use stack::{id_token, receive_all};
pub use venv::Venv;
pub(crate) use venv::{run, with_lock};

/// A name no other test of this run uses: `<prefix>-<pid>-<n>`, within the
/// limits of queue, table and bucket names (lowercase, digits, `-`).
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .to_owned()
}

/// Polls until `check` gives a value, for at most 20 seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
