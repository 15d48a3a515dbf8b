//! `onboard`: replay events through the sign-up pipeline, locally.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use onboard_cli::pipeline::Settings;
use onboard_cli::replay::{self, Options};
use onboard_shared::published::ParameterPrefix;
use onboard_shared::telemetry::{self, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "onboard",
    version,
    about = "The onboard sign-up pipeline: replay, run and operate it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay DynamoDB stream events and Cognito post-confirmation triggers
    /// through the real handlers, in-process, on local state.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// Event files (.json, or .jsonl/.ndjson with one event or stream record
    /// a line) and folders of them.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The folder that holds the local table, archive, parameters and DLQs.
    #[arg(
        long,
        env = "ONBOARD_STATE",
        default_value = ".onboard/state",
        value_name = "DIR"
    )]
    state: PathBuf,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
    /// Where the users' name parameters live.
    #[arg(long, env = "PARAMETER_PREFIX", default_value = "/onboard", value_parser = parse_prefix)]
    parameter_prefix: ParameterPrefix,
    /// Stream records per router invocation.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=10000))]
    batch_size: u16,
    /// Retries of a failing stream batch before its records go to the router's DLQ.
    #[arg(long, default_value_t = 2)]
    max_retries: u32,
    /// Messages per consumer invocation.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=10))]
    queue_batch_size: u16,
    /// Receives of a failing message before it moves to its queue's DLQ.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_receive_count: u32,
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
}

// Replays allocate many small strings; mimalloc keeps that cheap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn parse_prefix(raw: &str) -> Result<ParameterPrefix, String> {
    ParameterPrefix::parse(raw)
}

// Two workers: the archive and publish consumers drain side by side.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    // The report says what happened; the handlers' own log lines (standard
    // error) only show with RUST_LOG=info.
    telemetry::init_with_default(LogFormat::detect(), "error");
    let cli = Cli::parse();
    match cli.command {
        Command::Replay(args) => {
            let options = Options {
                paths: args.paths,
                state: args.state,
                prefix: args.parameter_prefix,
                settings: Settings {
                    stream_batch_size: usize::from(args.batch_size),
                    stream_max_retries: args.max_retries,
                    queue_batch_size: usize::from(args.queue_batch_size),
                    max_receive_count: args.max_receive_count,
                    ..Settings::default()
                },
                json: args.json,
                progress: !args.no_progress,
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match replay::run(&options, &mut out).await {
                Ok(summary) if summary.succeeded() => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(1),
                Err(err) => {
                    drop(out);
                    eprintln!("onboard replay: {err}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
