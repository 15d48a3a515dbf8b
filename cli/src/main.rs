//! `onboard`: replay events through the sign-up pipeline, run it on a local
//! emulator, sign users up and serve the greeting.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use onboard_cli::dev::{self, DevSettings};
use onboard_cli::ops;
use onboard_cli::pipeline::Settings;
use onboard_cli::replay::{self, Options, StackTarget};
use onboard_cli::serve;
use onboard_cli::signup;
use onboard_cli::stack::{self, QueueSettings, Stack, StackArgs};
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
    /// Gateway would; on an emulator also the greeting page, GET /, with a
    /// local stand-in for the hosted UI to sign up through in a browser.
    Serve(ServeArgs),
    /// Every queue and DLQ of the stack: depths, oldest message, status.
    /// Exits 1 when any DLQ holds messages.
    Queues(QueuesArgs),
    /// Look into a dead-letter queue, move its messages back, or empty it.
    Dlq(DlqArgs),
}

#[derive(Debug, Args)]
struct QueuesArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "watch")]
    json: bool,
    /// Refresh in place every few seconds, showing how the depths move.
    #[arg(long)]
    watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    interval: u64,
}

#[derive(Debug, Args)]
struct DlqArgs {
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
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
    /// Where the stream position is kept across runs.
    #[arg(
        long,
        default_value = ".onboard/dev-checkpoints.json",
        value_name = "FILE"
    )]
    checkpoints: PathBuf,
    /// Read the stream from its oldest record, whatever was saved.
    #[arg(long)]
    from_start: bool,
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
    /// The local hosted UI's port on 127.0.0.1, on an emulator (0 picks a
    /// free one).
    #[arg(long, default_value_t = 0)]
    hosted_ui_port: u16,
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
    let default_level = match cli.command {
        Command::Replay(_) => "error",
        Command::Queues(_) | Command::Dlq(_) => "warn",
        Command::Dev(_) | Command::Signup(_) | Command::Serve(_) => "info",
    };
    telemetry::init_with_default(LogFormat::detect(), default_level);
    match cli.command {
        Command::Dev(args) => report("dev", run_dev(args).await),
        Command::Signup(args) => report("signup", run_signup(args).await),
        Command::Serve(args) => report("serve", run_serve(args).await),
        Command::Queues(args) => match run_queues(args).await {
            Ok(clean) => ExitCode::from(u8::from(!clean)),
            Err(err) => report("queues", Err(err)),
        },
        Command::Dlq(args) => report("dlq", run_dlq(args.command).await),
        Command::Replay(args) => {
            let mut stack_args = args.stack;
            if !replay_endpoint_given {
                stack_args.endpoint_url = None;
            }
            let (prefix, stack) = if args.aws || stack_args.endpoint_url.is_some() {
                let (sdk, names) = match stack_args.resolve().await {
                    Ok(found) => found,
                    Err(err) => return report("replay", Err(err.to_string())),
                };
                (
                    names.parameter_prefix.clone(),
                    Some(StackTarget { sdk, names }),
                )
            } else {
                (stack_args.names().parameter_prefix, None)
            };
            let options = Options {
                paths: args.paths,
                state: args.state,
                prefix,
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
    if args.stack.endpoint_url.is_none() {
        return Err("dev runs the pipeline on an emulator: give --endpoint-url (or AWS_ENDPOINT_URL); in AWS, Lambda itself does this".to_owned());
    }
    let (sdk, names, deployed) = args
        .stack
        .resolve_deployed()
        .await
        .map_err(|err| err.to_string())?;
    if args.bootstrap && deployed {
        // Bootstrap's short visibility timeout and receive count are for
        // development; they would overwrite the deployed queues' own.
        return Err(format!(
            "the stack `{}` is deployed, so its resources exist: run dev without --bootstrap",
            args.stack.stack
        ));
    }
    if args.bootstrap {
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
    let stack = Stack::from_config(sdk, names)
        .await
        .map_err(|err| err.to_string())?;
    if args.from_start {
        match std::fs::remove_file(&args.checkpoints) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("{}: {err}", args.checkpoints.display()));
            }
            _ => {}
        }
    }
    let settings = DevSettings {
        stream_batch_size: args.batch_size,
        stream_max_retries: args.max_retries,
        max_writes_per_second: args.max_writes_per_second,
        checkpoints: Some(args.checkpoints),
        ..DevSettings::default()
    };
    tracing::info!("running the pipeline; Ctrl-C stops");
    dev::run(&stack, settings, stop_on_signal())
        .await
        .map_err(|err| err.to_string())
}

async fn run_signup(args: SignupArgs) -> Result<(), String> {
    let stack = connect(&args.stack).await?;
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
    let (sdk, names) = args.stack.resolve().await.map_err(|err| err.to_string())?;
    let options = serve::ServeOptions {
        port: args.port,
        hosted_ui_port: args.hosted_ui_port,
        name_cache: Duration::from_secs(args.name_cache_seconds),
    };
    serve::run(sdk, names, options, stop_on_signal()).await
}

async fn connect(args: &StackArgs) -> Result<Stack, String> {
    args.connect().await.map_err(|err| err.to_string())
}

/// Shows the queues; true when every DLQ is empty.
async fn run_queues(args: QueuesArgs) -> Result<bool, String> {
    let stack = connect(&args.stack).await?;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&stack.sdk);
    let empty_dlqs = |statuses: &[ops::QueueStatus]| {
        statuses
            .iter()
            .filter(|s| s.is_dlq)
            .all(|s| s.visible + s.in_flight + s.delayed == 0)
    };
    if !args.watch {
        let statuses = ops::statuses(&stack, &cloudwatch)
            .await
            .map_err(|err| err.to_string())?;
        if args.json {
            let document = serde_json::json!({
                "queues": statuses,
                "dead_letters": statuses.iter().filter(|s| s.is_dlq).map(|s| s.visible).sum::<u64>(),
            });
            println!("{document:#}");
        } else {
            println!("{}", queue_table(&statuses, None));
        }
        return Ok(empty_dlqs(&statuses));
    }
    let mut stop = stop_on_signal();
    let mut previous: Option<Vec<ops::QueueStatus>> = None;
    loop {
        let statuses = ops::statuses(&stack, &cloudwatch)
            .await
            .map_err(|err| err.to_string())?;
        // Clear the screen and draw again from the top.
        print!("\x1b[H\x1b[2J");
        println!(
            "{}  {}  (every {} s, Ctrl-C stops)",
            chrono::Utc::now().format("%H:%M:%S"),
            stack.names.table,
            args.interval
        );
        println!("{}", queue_table(&statuses, previous.as_deref()));
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
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
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

async fn run_dlq(command: DlqCommand) -> Result<(), String> {
    match command {
        DlqCommand::Peek {
            stack,
            name,
            max,
            json,
        } => {
            let stack = connect(&stack).await?;
            let url = match ops::find_dlq(&stack, &name) {
                Ok(dlq) => dlq.queue.url,
                // Any queue can be peeked by URL.
                Err(_) if name.starts_with("http") => name.clone(),
                Err(err) => return Err(err.to_string()),
            };
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            let messages = ops::peek(&stack.sqs, &url, max)
                .await
                .map_err(|err| err.to_string())?;
            if json {
                println!(
                    "{:#}",
                    serde_json::json!({ "queue": url, "messages": messages })
                );
                return Ok(());
            }
            println!("{} message(s) in {url} (still there):", messages.len());
            for m in &messages {
                println!();
                println!("message {}", m.message_id);
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
                println!("  {what}");
                println!(
                    "  received {} time(s); sent {}; first received {}",
                    m.receive_count,
                    m.sent.map_or_else(|| "?".to_owned(), |t| t.to_rfc3339()),
                    m.first_receive
                        .map_or_else(|| "?".to_owned(), |t| t.to_rfc3339())
                );
                if let Some(reason) = &m.reason {
                    println!(
                        "  reason: {reason}{}",
                        m.dead_lettered_by
                            .as_deref()
                            .map(|by| format!(" (by {by})"))
                            .unwrap_or_default()
                    );
                }
                if matches!(m.decoded, ops::Decoded::Raw) {
                    println!("  body: {}", m.body);
                }
            }
            Ok(())
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
            let dlq = ops::find_dlq(&stack, &name).map_err(|err| err.to_string())?;
            let target = match &dlq.source {
                ops::Source::Queue(queue) => queue.name.clone(),
                ops::Source::Router => "the router".to_owned(),
            };
            if dry_run {
                let messages = ops::peek(&stack.sqs, &dlq.queue.url, 1000)
                    .await
                    .map_err(|err| err.to_string())?;
                let count = max.map_or(messages.len() as u64, |m| m.min(messages.len() as u64));
                println!(
                    "would move {count} message(s) from {} to {target}; moved nothing",
                    dlq.queue.name
                );
                return Ok(());
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
            let done = result.map_err(|err| err.to_string())?;
            println!(
                "moved {} message(s) from {} to {target} ({}){}; {} left in the DLQ",
                done.moved,
                dlq.queue.name,
                done.method,
                if done.dead_lettered_again > 0 {
                    format!(
                        "; {} failed again and are back in the DLQ with the new reason",
                        done.dead_lettered_again
                    )
                } else {
                    String::new()
                },
                done.left
            );
            for path in &done.recovered {
                println!(
                    "saved the records of a failed stream batch to {} (onboard replay takes it)",
                    path.display()
                );
            }
            if done.unrecoverable > 0 {
                println!(
                    "{} on-failure message(s) name records the stream no longer holds; they stay in the DLQ",
                    done.unrecoverable
                );
            }
            Ok(())
        }
        DlqCommand::Purge { stack, name, yes } => {
            let stack = connect(&stack).await?;
            let dlq = ops::find_dlq(&stack, &name).map_err(|err| err.to_string())?;
            if !yes && !confirm(&format!("Delete every message of {}?", dlq.queue.name))? {
                println!("nothing deleted");
                return Ok(());
            }
            ops::purge(&stack.sqs, &dlq.queue)
                .await
                .map_err(|err| err.to_string())?;
            println!("purged {}", dlq.queue.name);
            Ok(())
        }
    }
}

/// Asks a person at a terminal; refuses to guess for a script.
fn confirm(question: &str) -> Result<bool, String> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "{question} Say so with --yes (no terminal to ask on)"
        ));
    }
    print!("{question} Type yes to go on: ");
    std::io::stdout().flush().map_err(|err| err.to_string())?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|err| err.to_string())?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}
