//! `onboard serve`: the greeting API, and on an emulator the page and a
//! local hosted UI.

use std::time::Duration;

use crate::commands::serve;
use crate::stack::StackArgs;
use clap::Args;

use crate::commands::CommandError;
use crate::commands::stop_on_signal;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// The local hosted UI's port on 127.0.0.1, on an emulator (0 picks a
    /// free one).
    #[arg(long, default_value_t = 0)]
    pub hosted_ui_port: u16,
    /// How long a name read from Parameter Store is reused, in seconds.
    #[arg(long, default_value_t = 5)]
    pub name_cache_seconds: u64,
}

pub async fn run(args: ServeArgs) -> Result<(), CommandError> {
    let (sdk, names) = args.stack.resolve().await?;
    let options = serve::ServeOptions {
        port: args.port,
        hosted_ui_port: args.hosted_ui_port,
        name_cache: Duration::from_secs(args.name_cache_seconds),
    };
    Ok(serve::run(sdk, names, options, stop_on_signal()).await?)
}
