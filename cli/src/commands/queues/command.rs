//! `onboard queues`: every queue and DLQ of a stack, once or watched.

use crate::{out, outln};
use std::time::Duration;

use crate::commands::queues as ops;
use crate::output::Fit;
use crate::stack::StackArgs;
use clap::Args;

use crate::commands::CommandError;
use crate::commands::{connect, stop_on_signal};

#[derive(Debug, Args)]
pub struct QueuesArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "watch")]
    pub json: bool,
    /// Refresh in place every few seconds, showing how the depths move.
    #[arg(long)]
    pub watch: bool,
    /// Keep every line whole instead of fitting the terminal's width.
    #[arg(long)]
    pub wide: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
}

/// Shows the queues; true when every DLQ is empty.
pub async fn run(args: QueuesArgs) -> Result<bool, CommandError> {
    let stack = connect(&args.stack).await?;
    let fit = Fit::stdout(args.wide);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&stack.sdk);
    let empty_dlqs = |statuses: &[ops::QueueStatus]| {
        statuses
            .iter()
            .filter(|s| s.is_dlq)
            .all(|s| s.visible + s.in_flight + s.delayed == 0)
    };
    if !args.watch {
        let statuses = ops::statuses(&stack, &cloudwatch).await?;
        if args.json {
            let document = serde_json::json!({
                "queues": statuses,
                "dead_letters": statuses.iter().filter(|s| s.is_dlq).map(|s| s.visible).sum::<u64>(),
            });
            outln!("{document:#}");
        } else {
            outln!("{}", queue_table(&statuses, None, fit));
        }
        return Ok(empty_dlqs(&statuses));
    }
    let mut stop = stop_on_signal();
    let mut previous: Option<Vec<ops::QueueStatus>> = None;
    loop {
        let statuses = ops::statuses(&stack, &cloudwatch).await?;
        // Clear the screen and draw again from the top.
        out!("\x1b[H\x1b[2J");
        outln!(
            "{}  {}  (every {} s, Ctrl-C stops)",
            chrono::Utc::now().format("%H:%M:%S"),
            stack.names.table,
            args.interval
        );
        outln!("{}", queue_table(&statuses, previous.as_deref(), fit));
        let clean = empty_dlqs(&statuses);
        previous = Some(statuses);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(args.interval)) => {}
            _ = stop.changed() => return Ok(clean),
        }
    }
}

fn queue_table(
    statuses: &[ops::QueueStatus],
    previous: Option<&[ops::QueueStatus]>,
    fit: Fit,
) -> comfy_table::Table {
    let delta = |queue: &str, now: u64, pick: fn(&ops::QueueStatus) -> u64| {
        let before = previous.and_then(|p| p.iter().find(|s| s.queue == queue).map(pick));
        match before {
            Some(before) if before != now => {
                format!("{now} ({:+})", i128::from(now) - i128::from(before))
            }
            _ => now.to_string(),
        }
    };
    let mut table = fit.table();
    table.set_header([
        "QUEUE",
        "NAME",
        "VISIBLE",
        "IN FLIGHT",
        "DELAYED",
        "OLDEST",
        "DLQ",
        "STATUS",
    ]);
    for s in statuses {
        let oldest = match (s.oldest_age_seconds, s.age_from) {
            (Some(age), Some("messages")) => format!("{age}s (sent)"),
            (Some(age), _) => format!("{age}s"),
            (None, _) => "-".to_owned(),
        };
        table.add_row([
            s.queue.to_owned(),
            s.name.clone(),
            delta(s.queue, s.visible, |s| s.visible),
            delta(s.queue, s.in_flight, |s| s.in_flight),
            s.delayed.to_string(),
            oldest,
            s.dlq_depth
                .map_or_else(|| "-".to_owned(), |d| d.to_string()),
            s.status.clone(),
        ]);
    }
    table
}
