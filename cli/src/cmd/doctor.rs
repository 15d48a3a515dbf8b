//! `onboard doctor`: whether the stack can work, on one screen.

use clap::Args;
use onboard_cli::doctor::{self, Health};
use onboard_cli::plural;
use onboard_cli::stack::StackArgs;

use super::CommandError;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print JSON instead of the screen.
    #[arg(long)]
    pub json: bool,
}

/// Runs every check; true when none found trouble.
pub async fn run(args: DoctorArgs) -> Result<bool, CommandError> {
    let diagnosis = doctor::diagnose(&args.stack).await?;
    let healthy = diagnosis.healthy();
    if args.json {
        let mut document = serde_json::to_value(&diagnosis).unwrap_or_default();
        document["healthy"] = healthy.into();
        println!("{document:#}");
        return Ok(healthy);
    }
    println!(
        "onboard doctor: stack `{}` on {}",
        diagnosis.stack,
        diagnosis.endpoint.as_deref().unwrap_or("AWS")
    );
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    for check in &diagnosis.checks {
        let mark = match check.health {
            Health::Ok => "ok",
            Health::Note => "note",
            Health::Trouble => "TROUBLE",
        };
        table.add_row([mark, &check.name, &check.detail]);
    }
    println!("{table}");
    let troubles = diagnosis
        .checks
        .iter()
        .filter(|c| c.health == Health::Trouble)
        .count();
    if troubles == 0 {
        println!("Healthy: the stack can work.");
    } else {
        println!("{} found trouble.", plural(troubles, "check"));
    }
    Ok(healthy)
}
