//! `onboard replay`: events through the whole pipeline, on local state or a
//! stack.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::commands::replay::{self, Options, StackTarget};
use crate::output::{Fit, UntilClosed};
use crate::stack::StackArgs;
use clap::Args;
use onboard_shared::error::error_chain;

use crate::commands::rules::RuleArgs;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Event files (.json, or .jsonl/.ndjson with one event or record a line)
    /// and folders of them: stream and SQS events, API Gateway requests,
    /// Cognito triggers.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The folder that holds the local table, archive, parameters and DLQs.
    #[arg(
        long,
        env = "ONBOARD_STATE",
        default_value = ".onboard/state",
        value_name = "DIR"
    )]
    pub state: PathBuf,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub stack: StackArgs,
    /// Replay into the stack on AWS (the usual profile and region settings)
    /// rather than the local state; `--endpoint-url` does the same on an
    /// emulator. Stream records go through the router to the stack's queues,
    /// SQS messages to the queue they name, Cognito events to its table.
    #[arg(long)]
    pub aws: bool,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Keep every line whole instead of fitting the terminal's width.
    #[arg(long)]
    pub wide: bool,
}

/// Replays, and says how it went in the exit status: 0 when every record
/// reached a final outcome, 1 when a file or a trigger event was refused, 2
/// when the replay could not run. Only an endpoint given on the command line
/// (`endpoint_given`) moves the replay onto a stack.
pub async fn run(args: ReplayArgs, endpoint_given: bool) -> ExitCode {
    let mut stack_args = args.stack;
    if !endpoint_given {
        stack_args.endpoint_url = None;
    }
    let (prefix, queues, stack) = if args.aws || stack_args.endpoint_url.is_some() {
        let (sdk, names) = match stack_args.resolve().await {
            Ok(found) => found,
            Err(err) => {
                eprintln!("onboard replay: {}", error_chain(&err));
                return ExitCode::from(2);
            }
        };
        (
            names.parameter_prefix.clone(),
            names.queue_names(),
            Some(StackTarget { sdk, names }),
        )
    } else {
        // The local pipeline stands in for the stack `--stack` names (by
        // default `onboard`, whose queues the fixtures' messages name).
        let names = stack_args.names();
        (names.parameter_prefix.clone(), names.queue_names(), None)
    };
    let options = Options {
        paths: args.paths,
        state: args.state,
        prefix,
        queues,
        stack,
        settings: args.rules.settings(),
        json: args.json,
        progress: !args.no_progress,
        fit: Fit::stdout(args.wide),
    };
    let stdout = std::io::stdout();
    // A reader that goes away (`| head`) ends the report, not the replay:
    // the state is still saved, then the command ends quietly.
    let mut out = UntilClosed::new(std::io::BufWriter::new(stdout.lock()));
    let result = replay::run(&options, &mut out).await;
    match result {
        Ok(_) if out.reader_left() => ExitCode::SUCCESS,
        Ok(summary) if summary.succeeded() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(err) => {
            drop(out);
            eprintln!("onboard replay: {}", error_chain(&err));
            ExitCode::from(2)
        }
    }
}
