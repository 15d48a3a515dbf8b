//! One module per command, each the whole command: its work (in the
//! module) and its arguments, run and printing (in its `command`). `main.rs`
//! only parses, dispatches and turns errors into exit codes.
//!
//! - [`replay`]: events from files through the embedded pipeline.
//! - [`dev`]: the local Lambda service on an emulator.
//! - [`signup`], [`token`], [`credentials`]: a confirmed sign-up and its
//!   trigger; a user's ID token; their own temporary AWS credentials.
//! - [`me`]: a signed-in user's own account: shown, renamed, exported,
//!   erased.
//! - [`serve`]: the greeting page and API behind a Cognito authorizer, and
//!   on an emulator a local stand-in for the hosted UI.
//! - [`queues`], [`dlq`]: every queue's depth; a DLQ peeked, redriven or
//!   purged.
//! - [`reconcile`], [`doctor`]: the pool against the table; whether the
//!   stack can work.
//! - [`names`]: the published names moved from one parameter a user into
//!   the packed names.
//! - [`rules`]: the event-source settings `replay` and `dev` take.

use crate::stack::{Stack, StackArgs};
use tokio::sync::watch;

mod error;
pub use error::CommandError;

pub mod credentials;
pub mod dev;
pub mod dlq;
pub mod doctor;
pub mod me;
pub mod names;
pub mod queues;
pub mod reconcile;
pub mod replay;
pub mod rules;
pub mod serve;
pub mod signup;
pub mod token;

/// A channel that turns true on Ctrl-C or SIGTERM.
pub fn stop_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let terminate = async {
            #[cfg(unix)]
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                term.recv().await;
                return;
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        let _ = tx.send(true);
    });
    rx
}

pub async fn connect(args: &StackArgs) -> Result<Stack, CommandError> {
    Ok(args.connect().await?)
}
