//! `onboard names migrate [--dry-run] [--wait SECONDS]`: what it found,
//! sent, saw packed and removed, a line each.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use crate::commands::CommandError;
use crate::commands::names::{self, OldName};
use crate::outln;
use crate::plural;
use crate::stack::StackArgs;

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[command(subcommand)]
    pub command: NamesCommand,
}

#[derive(Debug, Subcommand)]
pub enum NamesCommand {
    /// Move the names of the one-parameter-a-user layout
    /// (`<prefix>/users/<id>/name`) into the packed names, through the
    /// names' one writer (Lambda's, or `onboard dev`'s), then delete them.
    /// Safe to cut short and run again. Exits 1 while some are left.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Say what would be sent and removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for the writer to pack what was sent, in seconds
    /// (it runs once a minute, and writes a few parameters a second).
    #[arg(long, default_value_t = 600)]
    pub wait: u64,
}

/// Runs the subcommand; true when nothing is left to migrate.
pub async fn run(args: NamesArgs) -> Result<bool, CommandError> {
    match args.command {
        NamesCommand::Migrate(args) => migrate(args).await,
    }
}

async fn migrate(args: MigrateArgs) -> Result<bool, CommandError> {
    let stack = args.stack.connect().await?;
    let old = names::old_names(&stack).await?;
    let packed = names::packed(&stack).await?;
    let waiting = names::not_packed(&old.names, &packed);
    let held: Vec<&OldName> = old
        .names
        .iter()
        .filter(|name| !waiting.contains(name))
        .collect();
    outln!(
        "{} in the one-parameter-a-user layout: {} packed already, {} to send to the names' writer.",
        plural(old.names.len(), "name"),
        held.len(),
        waiting.len()
    );
    if !old.unreadable.is_empty() {
        outln!(
            "{} under the old path {} not a name onboard wrote: left alone.",
            plural(old.unreadable.len(), "parameter"),
            if old.unreadable.len() == 1 {
                "is"
            } else {
                "are"
            }
        );
    }
    if args.dry_run {
        outln!(
            "Dry run: would send {} and delete the {} once packed; nothing was changed.",
            plural(waiting.len(), "name"),
            plural(old.names.len(), "old parameter")
        );
        return Ok(old.names.is_empty());
    }
    if !waiting.is_empty() {
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        names::send(&stack, &waiting, now).await?;
        outln!(
            "Sent {} to the names' writer; waiting up to {} s for it to pack them.",
            plural(waiting.len(), "name"),
            args.wait
        );
    }
    // Wait until the writer has packed what was sent.
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let mut left = waiting.len();
    while left > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let packed = names::packed(&stack).await?;
        left = names::not_packed(&old.names, &packed).len();
    }
    let packed = names::packed(&stack).await?;
    let still = names::not_packed(&old.names, &packed);
    let done: Vec<&OldName> = old
        .names
        .iter()
        .filter(|name| !still.contains(name))
        .collect();
    names::remove(&stack, &done).await?;
    outln!(
        "Packed and removed: {}.",
        plural(done.len(), "old parameter")
    );
    if still.is_empty() {
        outln!("Nothing is left in the one-parameter-a-user layout.");
        Ok(true)
    } else {
        outln!(
            "{} not packed yet (is the names' writer running?): run `onboard names migrate` again.",
            plural(still.len(), "name")
        );
        Ok(false)
    }
}
