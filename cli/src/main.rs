//! `onboard`: replay events through the sign-up pipeline, run it on a local
//! emulator, sign users up and serve the greeting.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use onboard_cli::dev::{self, DevSettings};
use onboard_cli::pipeline::Settings;
use onboard_cli::replay::{self, Options, StackTarget};
use onboard_cli::serve::{self, Authorizer, ServeState};
use onboard_cli::signup;
use onboard_cli::stack::{self, QueueSettings, Stack, StackArgs};
use onboard_shared::aws::SsmParameters;
use onboard_shared::error::error_chain;
use onboard_shared::telemetry::{self, LogFormat};
use tokio::sync::watch;

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
    /// The local Lambda service: on an emulator, read the table's stream
    /// into the router and each queue into its consumer, until interrupted.
    Dev(DevArgs),
    /// Sign a user up in the pool, confirm them, and run the
    /// post-confirmation trigger as Cognito would. Prints the user's sub.
    Signup(SignupArgs),
    /// Serve GET /hello on 127.0.0.1 behind a Cognito authorizer, as API
    /// Gateway would.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct DevArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Create the stack's resources first (idempotent) and print them.
    #[arg(long)]
    bootstrap: bool,
    /// Visibility timeout of the bootstrapped queues, in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=43200))]
    visibility_timeout: u32,
    /// Receives before a failing message moves to its DLQ (bootstrapped queues).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_receive_count: u32,
    /// Stream records per router invocation.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i32).range(1..=1000))]
    batch_size: i32,
    /// Retries of a failing stream batch before its records go to the router's DLQ.
    #[arg(long, default_value_t = 2)]
    max_retries: u32,
    /// The publisher's Parameter Store writes per second.
    #[arg(long, env = "MAX_WRITES_PER_SECOND", default_value_t = 3.0)]
    max_writes_per_second: f64,
}

#[derive(Debug, Args)]
struct SignupArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// The email to sign up with (the pool's username).
    #[arg(long)]
    email: String,
    /// The password (the pool's policy applies).
    #[arg(long, env = "ONBOARD_PASSWORD", hide_env_values = true)]
    password: String,
    /// The name to greet the user by.
    #[arg(long)]
    name: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// The port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// How long a name read from Parameter Store is reused, in seconds.
    #[arg(long, default_value_t = 5)]
    name_cache_seconds: u64,
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
    #[command(flatten)]
    stack: StackArgs,
    /// Replay into the stack on AWS (the usual profile and region settings)
    /// rather than the local state; `--endpoint-url` does the same on an
    /// emulator. Stream records go to the stack's queues, Cognito events to
    /// its table.
    #[arg(long)]
    aws: bool,
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

// Two workers: the archive and publish consumers drain side by side.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A replay's report says what happened, so the handlers' own log lines
    // (standard error) only show with RUST_LOG=info; the long-running
    // commands log what they do.
    let default_level = match cli.command {
        Command::Replay(_) => "error",
        _ => "info",
    };
    telemetry::init_with_default(LogFormat::detect(), default_level);
    match cli.command {
        Command::Dev(args) => report("dev", run_dev(args).await),
        Command::Signup(args) => report("signup", run_signup(args).await),
        Command::Serve(args) => report("serve", run_serve(args).await),
        Command::Replay(args) => {
            let stack = (args.aws || args.stack.endpoint_url.is_some()).then(|| StackTarget {
                connection: args.stack.connection(),
                names: args.stack.names(),
            });
            let options = Options {
                paths: args.paths,
                state: args.state,
                prefix: args.stack.parameter_prefix.clone(),
                stack,
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

/// Prints a command's error and turns it into the exit status.
fn report(command: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("onboard {command}: {err}");
            ExitCode::from(2)
        }
    }
}

/// A channel that turns true on Ctrl-C or SIGTERM.
fn stop_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let terminate = async {
            #[cfg(unix)]
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                term.recv().await;
                return;
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        let _ = tx.send(true);
    });
    rx
}

async fn run_dev(args: DevArgs) -> Result<(), String> {
    let connection = args.stack.connection();
    if connection.endpoint_url.is_none() {
        return Err("dev runs the pipeline on an emulator: give --endpoint-url (or AWS_ENDPOINT_URL); in AWS, Lambda itself does this".to_owned());
    }
    let names = args.stack.names();
    if args.bootstrap {
        let sdk = connection.load().await;
        let settings = QueueSettings {
            visibility_timeout_seconds: args.visibility_timeout,
            max_receive_count: args.max_receive_count,
        };
        let made = stack::bootstrap(&sdk, &names, settings, true)
            .await
            .map_err(|err| err.to_string())?;
        for resource in made {
            println!(
                "{:<8} {:<11} {:<24} {}",
                resource.status, resource.kind, resource.name, resource.detail
            );
        }
    }
    let stack = Stack::connect(&connection, names)
        .await
        .map_err(|err| err.to_string())?;
    let settings = DevSettings {
        stream_batch_size: args.batch_size,
        stream_max_retries: args.max_retries,
        max_writes_per_second: args.max_writes_per_second,
        ..DevSettings::default()
    };
    tracing::info!("running the pipeline; Ctrl-C stops");
    dev::run(&stack, settings, stop_on_signal())
        .await
        .map_err(|err| err.to_string())
}

async fn run_signup(args: SignupArgs) -> Result<(), String> {
    let stack = Stack::connect(&args.stack.connection(), args.stack.names())
        .await
        .map_err(|err| err.to_string())?;
    let signed = signup::sign_up(&stack, &args.email, &args.password, args.name.as_deref())
        .await
        .map_err(|err| error_chain(&err))?;
    tracing::info!(
        user_id = %signed.sub,
        new_in_pool = signed.new_in_pool,
        outcome = ?signed.outcome,
        "signed up and confirmed"
    );
    println!("{}", signed.sub);
    Ok(())
}

async fn run_serve(args: ServeArgs) -> Result<(), String> {
    let connection = args.stack.connection();
    let names = args.stack.names();
    let sdk = connection.load().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let pool = stack::find_user_pool(&cognito, &names)
        .await
        .map_err(|err| err.to_string())?;
    let authorizer = Authorizer::new(
        pool.jwks_url(connection.endpoint_url.as_deref()),
        pool.issuer(),
        &pool.client_id,
    )
    .await
    .map_err(|err| err.to_string())?;
    // The greeting only reads: the write pace does not apply.
    let parameters = Arc::new(SsmParameters::new(
        onboard_shared::aws::ssm::Client::new(&sdk),
        f64::INFINITY,
    ));
    let greeter = greeting::Greeter::new(
        parameters,
        names.parameter_prefix.clone(),
        Duration::from_secs(args.name_cache_seconds),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|err| format!("cannot listen on 127.0.0.1:{}: {err}", args.port))?;
    let address = listener.local_addr().map_err(|err| err.to_string())?;
    println!(
        "serving GET /hello on http://{address}/hello (user pool {})",
        pool.pool_id
    );
    let app = serve::app(Arc::new(ServeState {
        greeter,
        authorizer,
    }));
    let mut stop = stop_on_signal();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        })
        .await
        .map_err(|err| err.to_string())
}
