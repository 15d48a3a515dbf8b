//! One module per command: its arguments, its run and its printing.
//! `main.rs` only parses, dispatches and turns errors into exit codes.

use onboard_cli::stack::{Stack, StackArgs};
use tokio::sync::watch;

mod error;
pub use error::CommandError;

pub mod dev;
pub mod dlq;
pub mod doctor;
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
