//! `onboard`: replay events through the sign-up pipeline, run it on a local
//! emulator, sign users up and serve the greeting.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use onboard_shared::error::error_chain;
use onboard_shared::telemetry::{self, LogFormat};

use onboard_cli::commands::{
    CommandError, credentials, dev, dlq, doctor, me, names, queues, reconcile, replay, serve,
    signup, token,
};

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
    /// Replay DynamoDB stream events, SQS events, API Gateway requests and
    /// Cognito post-confirmation triggers through the real handlers,
    /// in-process, on local state.
    Replay(replay::command::ReplayArgs),
    /// The local Lambda service: on an emulator, read the table's stream
    /// into the router and each queue into its consumer, until interrupted.
    Dev(dev::command::DevArgs),
    /// Sign a user up in the pool, confirm them, and run the
    /// post-confirmation trigger as Cognito would. Prints the user's sub.
    Signup(signup::command::SignupArgs),
    /// Serve GET /hello on 127.0.0.1 behind a Cognito authorizer, as API
    /// Gateway would; on an emulator also the greeting page, GET /, with a
    /// local stand-in for the hosted UI to sign up through in a browser.
    Serve(serve::command::ServeArgs),
    /// Every queue and DLQ of the stack: depths, oldest message, status.
    /// Exits 1 when any DLQ holds messages.
    Queues(queues::command::QueuesArgs),
    /// Look into a dead-letter queue, move its messages back, or empty it.
    Dlq(dlq::command::DlqArgs),
    /// The user pool against the users table: users the trigger never
    /// recorded (created by an administrator, imported, trigger failed),
    /// rows whose user is gone, rows out of date. `--fix` records the
    /// missing ones. Exits 1 while they differ.
    Reconcile(reconcile::command::ReconcileArgs),
    /// Sign a user in with the stack's CLI app client (as an administrator:
    /// AdminInitiateAuth) and print their ID token
    /// (answering the new-password challenge of an administrator-created
    /// user).
    Token(token::command::TokenArgs),
    /// Print a user's own temporary AWS credentials from the stack's
    /// identity pool (export lines, or --json for credential_process):
    /// they read the user's own archive object and nothing else.
    Credentials(credentials::command::CredentialsArgs),
    /// A signed-in user's own account, through the API: shown as the
    /// greeting and the export see it; `--rename`, `--export FILE`,
    /// `--delete` (asks to confirm; `--yes` for scripts).
    Me(me::command::MeArgs),
    /// Whether the stack can work: credentials, region, stack, resources,
    /// trigger, event source mappings, alarms, DLQs. Exits 1 on trouble.
    Doctor(doctor::command::DoctorArgs),
    /// The published names: `migrate` moves a stack's one-parameter-a-user
    /// names into the packed names, through the names' one writer.
    Names(names::command::NamesArgs),
}

// Replays allocate many small strings; mimalloc keeps that cheap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Two workers: the archive and publish consumers drain side by side.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    // The embedded replay is the default: only an endpoint given on the
    // command line moves a replay onto a stack, never one left in the
    // environment (AWS_ENDPOINT_URL) by an earlier session with an emulator.
    let replay_endpoint_given = matches
        .subcommand_matches("replay")
        .and_then(|replay| replay.value_source("endpoint_url"))
        == Some(clap::parser::ValueSource::CommandLine);
    // A replay's or an operation's report says what happened, so the
    // handlers' own log lines (standard error) only show with RUST_LOG=info;
    // the running services log what they do.
    // `dev` logs one line per batch: the functions' own lines (one per
    // change or per batch, as in Lambda) only with RUST_LOG=info.
    const FUNCTIONS_QUIET: &str = "info,stream_router=warn,archive_consumer=warn,\
        publish_consumer=warn,onboard_shared::batch=warn,onboard_shared::telemetry=warn";
    let default_level = match cli.command {
        Command::Replay(_) => "error",
        Command::Queues(_)
        | Command::Dlq(_)
        | Command::Reconcile(_)
        | Command::Token(_)
        | Command::Credentials(_)
        | Command::Me(_)
        | Command::Doctor(_)
        | Command::Names(_) => "warn",
        Command::Dev(_) => FUNCTIONS_QUIET,
        Command::Signup(_) | Command::Serve(_) => "info",
    };
    // The SDK's credential chain warns of each provider it tried (with raw
    // HTTP responses); the credentials check says the outcome in one line.
    let default_level = format!("{default_level},aws_config=error");
    telemetry::init_with_default(LogFormat::detect(), &default_level);
    match cli.command {
        Command::Dev(args) => report("dev", dev::command::run(args).await),
        Command::Signup(args) => report("signup", signup::command::run(args).await),
        Command::Serve(args) => report("serve", serve::command::run(args).await),
        Command::Queues(args) => match queues::command::run(args).await {
            Ok(clean) => ExitCode::from(u8::from(!clean)),
            Err(err) => report("queues", Err(err)),
        },
        Command::Dlq(args) => match dlq::command::run(args.command).await {
            Ok(clean) => ExitCode::from(u8::from(!clean)),
            Err(err) => report("dlq", Err(err)),
        },
        Command::Token(args) => report("token", token::command::run(args).await),
        Command::Credentials(args) => report("credentials", credentials::command::run(args).await),
        Command::Me(args) => report("me", me::command::run(args).await),
        Command::Reconcile(args) => match reconcile::command::run(args).await {
            Ok(matches) => ExitCode::from(u8::from(!matches)),
            Err(err) => report("reconcile", Err(err)),
        },
        Command::Doctor(args) => match doctor::command::run(args).await {
            Ok(healthy) => ExitCode::from(u8::from(!healthy)),
            Err(err) => report("doctor", Err(err)),
        },
        Command::Names(args) => match names::command::run(args).await {
            Ok(done) => ExitCode::from(u8::from(!done)),
            Err(err) => report("names", Err(err)),
        },
        Command::Replay(args) => replay::command::run(args, replay_endpoint_given).await,
    }
}

/// Prints a command's error, with every cause, once, and turns it into the
/// exit status.
fn report(command: &str, result: Result<(), CommandError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("onboard {command}: {}", error_chain(&err));
            ExitCode::from(2)
        }
    }
}
