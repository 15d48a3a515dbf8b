//! `onboard doctor`: whether the stack can work, on one screen.

use crate::commands::doctor::{self, Health};
use crate::outln;
use crate::output::Fit;
use crate::plural;
use crate::stack::StackArgs;
use clap::Args;

use crate::commands::CommandError;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print JSON instead of the screen.
    #[arg(long)]
    pub json: bool,
    /// Keep every line whole instead of fitting the terminal's width.
    #[arg(long)]
    pub wide: bool,
}

/// Runs every check; true when none found trouble.
pub async fn run(args: DoctorArgs) -> Result<bool, CommandError> {
    let diagnosis = doctor::diagnose(&args.stack).await?;
    let healthy = diagnosis.healthy();
    if args.json {
        let mut document = serde_json::to_value(&diagnosis).unwrap_or_default();
        document["healthy"] = healthy.into();
        outln!("{document:#}");
        return Ok(healthy);
    }
    outln!(
        "onboard doctor: stack `{}` on {}",
        diagnosis.stack,
        diagnosis.endpoint.as_deref().unwrap_or("AWS")
    );
    let mut table = Fit::stdout(args.wide).table();
    for check in &diagnosis.checks {
        let mark = match check.health {
            Health::Ok => "ok",
            Health::Note => "note",
            Health::Trouble => "TROUBLE",
        };
        table.add_row([mark, &check.name, &check.detail]);
    }
    outln!("{table}");
    let troubles = diagnosis
        .checks
        .iter()
        .filter(|c| c.health == Health::Trouble)
        .count();
    if troubles == 0 {
        outln!("Healthy: the stack can work.");
    } else {
        outln!("{} found trouble.", plural(troubles, "check"));
    }
    Ok(healthy)
}
