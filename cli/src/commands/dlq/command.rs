//! `onboard dlq`: peek into a DLQ, redrive it, or purge it.

use crate::{out, outln};
use std::path::PathBuf;

use crate::commands::dlq as ops;
use crate::plural;
use crate::stack::StackArgs;
use clap::{Args, Subcommand};
use onboard_shared::reason::mask_emails;

use crate::commands::CommandError;
use crate::commands::connect;

#[derive(Debug, Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Show a DLQ's messages, decoded, without consuming them.
    Peek {
        #[command(flatten)]
        stack: StackArgs,
        /// archive, publish, router, or a DLQ's URL.
        name: String,
        /// Messages to show at most.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1000))]
        max: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Show email addresses in bodies and reasons as they are (masked
        /// by default).
        #[arg(long)]
        unmasked: bool,
    },
    /// Move a DLQ's messages back to their source (the router's DLQ: through
    /// the router again).
    Redrive {
        #[command(flatten)]
        stack: StackArgs,
        /// archive, publish, router, or a DLQ's URL.
        name: String,
        /// Say what would move, and move nothing.
        #[arg(long)]
        dry_run: bool,
        /// Messages moved a second, at most.
        #[arg(long)]
        max_per_second: Option<f64>,
        /// Move at most this many messages.
        #[arg(long)]
        max: Option<u64>,
        /// Where the records of a stream batch Lambda gave up on (its
        /// on-failure metadata in the router's DLQ) are saved, as fixtures
        /// `onboard replay` takes, once fetched from the stream.
        #[arg(long, default_value = ".onboard/recovered", value_name = "DIR")]
        recovered: PathBuf,
    },
    /// Delete every message of a DLQ.
    Purge {
        #[command(flatten)]
        stack: StackArgs,
        /// archive, publish, router, or a DLQ's URL.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs the command; `false` when a redrive moved nothing and something
/// failed again.
pub async fn run(command: DlqCommand) -> Result<bool, CommandError> {
    match command {
        DlqCommand::Peek {
            stack,
            name,
            max,
            json,
            unmasked,
        } => {
            let stack = connect(&stack).await?;
            let url = match ops::find_dlq(&stack, &name) {
                Ok(dlq) => dlq.queue.url,
                // Any queue can be peeked by URL.
                Err(_) if name.starts_with("http") => name.clone(),
                Err(err) => return Err(err.into()),
            };
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            let mut messages = ops::peek(&stack.sqs, &url, max).await?;
            if !unmasked {
                for m in &mut messages {
                    m.body = mask_emails(&m.body);
                    m.reason = m.reason.as_deref().map(mask_emails);
                }
            }
            if json {
                outln!(
                    "{:#}",
                    serde_json::json!({ "queue": url, "messages": messages })
                );
                return Ok(true);
            }
            if messages.is_empty() {
                outln!("no messages in {url}");
                return Ok(true);
            }
            outln!(
                "{} in {url} (still there; each `dlq peek` and, on an emulator, each `queues` read counts as a receive):",
                plural(messages.len(), "message")
            );
            for m in &messages {
                outln!();
                match &m.received_as {
                    Some(received_as) => outln!(
                        "message {} (received as {received_as}: the id the function's log names)",
                        m.message_id
                    ),
                    None => outln!("message {}", m.message_id),
                }
                let what = match &m.decoded {
                    ops::Decoded::Change {
                        user_id,
                        version,
                        kind,
                    } => format!("{} of user {user_id}, version {version}", kind.as_str()),
                    ops::Decoded::StreamRecord {
                        event_name,
                        sequence_number,
                        user_id,
                    } => format!(
                        "stream record {} {} of user {}",
                        event_name.as_deref().unwrap_or("?"),
                        sequence_number.as_deref().unwrap_or("?"),
                        user_id.as_deref().unwrap_or("?")
                    ),
                    ops::Decoded::StreamBatchInfo {
                        shard_id,
                        start_sequence_number,
                        end_sequence_number,
                        ..
                    } => format!(
                        "stream batch {shard_id} {start_sequence_number}..{end_sequence_number} (Lambda's on-failure metadata)"
                    ),
                    ops::Decoded::Raw => "not a change message".to_owned(),
                };
                outln!("  {what}");
                outln!(
                    "  received {}; sent {}; first received {}",
                    plural(
                        usize::try_from(m.receive_count).unwrap_or(usize::MAX),
                        "time"
                    ),
                    m.sent.map_or_else(|| "?".to_owned(), |t| t.to_rfc3339()),
                    m.first_receive
                        .map_or_else(|| "?".to_owned(), |t| t.to_rfc3339())
                );
                if let Some(reason) = &m.reason {
                    outln!(
                        "  reason: {reason}{}",
                        m.dead_lettered_by
                            .as_deref()
                            .map(|by| format!(" (by {by})"))
                            .unwrap_or_default()
                    );
                }
                if matches!(m.decoded, ops::Decoded::Raw) {
                    outln!("  body: {}", m.body);
                }
            }
            Ok(true)
        }
        DlqCommand::Redrive {
            stack,
            name,
            dry_run,
            max_per_second,
            max,
            recovered,
        } => {
            let stack = connect(&stack).await?;
            let dlq = ops::find_dlq(&stack, &name)?;
            let target = match &dlq.source {
                ops::Source::Queue(queue) => queue.name.clone(),
                ops::Source::Router => "the router".to_owned(),
            };
            if dry_run {
                let messages = ops::peek(&stack.sqs, &dlq.queue.url, 1000).await?;
                let count = max.map_or(messages.len() as u64, |m| m.min(messages.len() as u64));
                outln!(
                    "would move {} from {} to {target}; moved nothing",
                    plural(usize::try_from(count).unwrap_or(usize::MAX), "message"),
                    dlq.queue.name
                );
                return Ok(true);
            }
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} redriving [{bar:40}] {pos}/{len}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            let progress = |done: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(done);
            };
            let options = ops::RedriveOptions {
                max_per_second,
                max_messages: max,
                recovered: Some(recovered),
            };
            let result = ops::redrive(&stack, &dlq, &options, &progress).await;
            bar.finish_and_clear();
            let done = result?;
            outln!("{}", done.summary(&dlq.queue.name, &target));
            for path in &done.recovered {
                outln!(
                    "saved the records of a failed stream batch to {} (onboard replay takes it)",
                    path.display()
                );
            }
            if done.unrecoverable > 0 {
                outln!(
                    "{} name records the stream no longer holds; they stay in the DLQ",
                    plural(done.unrecoverable as usize, "on-failure message")
                );
            }
            Ok(!done.nothing_moved_and_some_failed())
        }
        DlqCommand::Purge { stack, name, yes } => {
            let stack = connect(&stack).await?;
            let dlq = ops::find_dlq(&stack, &name)?;
            if !yes && !confirm(&format!("Delete every message of {}?", dlq.queue.name))? {
                outln!("nothing deleted");
                return Ok(true);
            }
            ops::purge(&stack.sqs, &dlq.queue).await?;
            outln!("purged {}", dlq.queue.name);
            Ok(true)
        }
    }
}

/// Asks a person at a terminal; refuses to guess for a script.
fn confirm(question: &str) -> Result<bool, CommandError> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Refused(format!(
            "{question} Say so with --yes (no terminal to ask on)"
        )));
    }
    out!("{question} Type yes to go on: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}
