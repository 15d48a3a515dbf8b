//! `onboard dev`: the local Lambda service, on an emulator.

use crate::outln;
use std::path::PathBuf;

use crate::commands::dev::{self, DevSettings};
use crate::stack::{self, Stack, StackArgs};
use clap::Args;

use crate::commands::CommandError;
use crate::commands::rules::RuleArgs;
use crate::commands::stop_on_signal;

#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Create the stack's resources first (idempotent) and print them.
    #[arg(long)]
    pub bootstrap: bool,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// The publisher's Parameter Store writes per second.
    #[arg(long, env = "MAX_WRITES_PER_SECOND", default_value_t = 3.0)]
    pub max_writes_per_second: f64,
    /// Where the stream position is kept across runs.
    #[arg(
        long,
        default_value = ".onboard/dev-checkpoints.json",
        value_name = "FILE"
    )]
    pub checkpoints: PathBuf,
    /// Read the stream from its oldest record, whatever was saved.
    #[arg(long)]
    pub from_start: bool,
}

pub async fn run(args: DevArgs) -> Result<(), CommandError> {
    if args.stack.endpoint_url.is_none() {
        return Err(CommandError::Refused("dev runs the pipeline on an emulator: give --endpoint-url (or AWS_ENDPOINT_URL); in AWS, Lambda itself does this".to_owned()));
    }
    let crate::stack::Resolved {
        sdk,
        names,
        deployed,
        ..
    } = args.stack.resolve_deployed().await?;
    if args.bootstrap && deployed {
        // Bootstrap sets the queues' visibility timeout and receive count:
        // it would overwrite the deployed queues' own.
        return Err(CommandError::Refused(format!(
            "the stack `{}` is deployed, so its resources exist: run dev without --bootstrap",
            args.stack.stack
        )));
    }
    if args.bootstrap {
        let made = stack::bootstrap(&sdk, &names, args.rules.settings().queue, true).await?;
        for resource in made {
            outln!(
                "{:<8} {:<11} {:<24} {}",
                resource.status,
                resource.kind,
                resource.name,
                resource.detail
            );
        }
    }
    let stack = Stack::from_config(sdk, names).await?;
    if args.from_start {
        match std::fs::remove_file(&args.checkpoints) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(CommandError::Refused(format!(
                    "{}: {err}",
                    args.checkpoints.display()
                )));
            }
            _ => {}
        }
    }
    let settings = DevSettings {
        rules: args.rules.settings(),
        max_writes_per_second: args.max_writes_per_second,
        checkpoints: Some(args.checkpoints),
        ..DevSettings::default()
    };
    tracing::info!("running the pipeline; Ctrl-C stops");
    dev::run(&stack, settings, stop_on_signal())
        .await
        .map_err(CommandError::from)
}
