//! The benchmark of the real binaries, run as Lambda runs them: each
//! function's release `bootstrap` (built by `cargo lambda build --release`,
//! as `sam build` builds it) polls a mock Lambda Runtime API for its events
//! and calls the AWS API emulator, moto, behind a keep-alive HTTP server.
//!
//! ```sh
//! cargo run -p onboard-tests --bin lambda-bench              # the whole run
//! cargo run -p onboard-tests --bin lambda-bench -- --quick   # a short one
//! cargo run -p onboard-tests --bin lambda-bench -- --against DIR
//! ```
//!
//! `--against DIR` runs a second build (`DIR/<function>/bootstrap`, as
//! `cargo lambda build --lambda-dir DIR` lays it out) in turn with this one,
//! process for process, and prints each figure of both with their ratio:
//! the way to compare two builds on a machine whose speed moves.
//!
//! It prints, beside each target:
//!
//! 1. for each function, over many invocations of one process: the CPU it
//!    spends per record (user and system, from its threads' scheduler
//!    statistics), the wall time per invocation, its peak resident memory,
//!    and the AWS calls it makes per record (from the emulator's access log);
//! 2. start-up, from exec to the first poll of the Runtime API, for each
//!    function and for a hello-world `lambda_runtime` binary built with the
//!    same profile, in turn, and each function's ratio to it;
//! 3. each function's cold first invocation held to the CPU share Lambda
//!    gives 128 MB (cgroup v1 `cpu` quota), over HTTPS to the emulator with
//!    a certificate of its own (trusted through `SSL_CERT_FILE`), with its
//!    margin to its budget.
//!
//! It asserts nothing about speed (a busy machine never fails a build); it
//! fails only when a function's answer says the work was not done, since
//! then there is nothing to measure.

mod cold;
mod keepalive;
mod process;
mod start_up;
mod stats;
mod warm;
mod workload;

use onboard_shared::catalogue::Function;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use onboard_tests::release::{self, FUNCTIONS, HELLO, PACKAGES};
use onboard_tests::runtime_api::{Answer, RuntimeApi};
use serde_json::Value;

use keepalive::KeepAliveEmulator;
use process::{CpuShare, MB_PER_VCPU};
use stats::{median, spread};
use workload::Workload;

/// The memory size whose CPU share the cold invocations are held to.
const MEMORY_MB: f64 = 128.0;

#[derive(Debug, Clone)]
struct Options {
    quick: bool,
    /// Only this function's figures (and those it needs).
    only: Option<&'static str>,
    build: bool,
    runs: usize,
    /// A second build to run in turn with this one.
    against: Option<PathBuf>,
}

const USAGE: &str =
    "usage: lambda-bench [--quick] [--runs N] [--only FUNCTION] [--against DIR] [--no-build]";

impl Options {
    fn parse() -> Result<Self, String> {
        let mut options = Self {
            quick: false,
            only: None,
            build: true,
            runs: 3,
            against: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => {
                    options.quick = true;
                    options.runs = 1;
                }
                "--no-build" => options.build = false,
                "--runs" => {
                    options.runs = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|n| *n > 0)
                        .ok_or("--runs takes a count")?;
                }
                "--only" => {
                    let name = args.next().unwrap_or_default();
                    options.only =
                        Some(FUNCTIONS.into_iter().find(|f| *f == name).ok_or_else(|| {
                            format!("--only takes one of {}", FUNCTIONS.join(", "))
                        })?);
                }
                "--against" => {
                    let dir = PathBuf::from(args.next().ok_or("--against takes a folder")?);
                    if !dir.is_dir() {
                        return Err(format!("--against {}: no such folder", dir.display()));
                    }
                    options.against = Some(dir);
                }
                "--help" | "-h" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other}\n{USAGE}")),
            }
        }
        Ok(options)
    }

    /// Invocations each function gets per run, after the warm-up.
    fn invocations(&self, function: &str) -> usize {
        let full = match Function::named(function) {
            Some(Function::StreamRouter) => 20,
            Some(Function::ArchiveConsumer | Function::PublishConsumer) => 100,
            _ => 300,
        };
        if self.quick { (full / 10).max(3) } else { full }
    }

    /// The functions to measure, in pipeline order: all, or the one asked
    /// for (with the publish consumer before the greeting, which reads the
    /// names it wrote).
    fn functions(&self) -> Vec<&'static str> {
        FUNCTIONS
            .into_iter()
            // The account function has no workload here yet: its renames
            // and erasures need users in a pool (the benchmark's next step).
            .filter(|f| *f != Function::Account.name())
            .filter(|f| match self.only {
                None => true,
                // The greeting reads the names the publish consumer wrote.
                Some(only) if only == Function::Greeting.name() => {
                    *f == only || *f == Function::PublishConsumer.name()
                }
                Some(only) => *f == only,
            })
            .collect()
    }

    fn start_up_rounds(&self) -> usize {
        if self.quick { 5 } else { 30 }
    }

    fn cold_runs(&self) -> usize {
        if self.quick { 2 } else { 5 }
    }
}

/// A set of release binaries, `<dir>/<package>/bootstrap`.
#[derive(Debug, Clone)]
struct Build {
    /// "this" or "against", in the start-up table.
    short: &'static str,
    label: String,
    dir: PathBuf,
}

impl Build {
    fn binary(&self, package: &str) -> PathBuf {
        self.dir.join(package).join("bootstrap")
    }
}

fn main() -> ExitCode {
    let options = match Options::parse() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lambda-bench: {err}");
            ExitCode::from(1)
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    if options.build {
        println!(
            "building {} for x86_64 (cargo lambda build --release)",
            PACKAGES.join(", ")
        );
        release::build(&PACKAGES, None, &release::out_dir("x86_64"))?;
    }
    let mut builds = vec![Build {
        short: "this",
        label: "this build".to_owned(),
        dir: release::out_dir("x86_64"),
    }];
    if let Some(dir) = &options.against {
        builds.push(Build {
            short: "against",
            label: format!("against {}", dir.display()),
            dir: dir.clone(),
        });
    }
    for build in &builds {
        for package in options.functions().into_iter().chain([HELLO]) {
            if !build.binary(package).exists() {
                return Err(format!("{} is not built", build.binary(package).display()));
            }
        }
    }
    let labels: Vec<String> = builds.iter().map(|b| b.label.clone()).collect();
    // The function measured gets a CPU of its own, as in Lambda; this
    // process (the mock Runtime API) and the emulator share the other.
    process::keep_off_function_cpu(std::process::id())?;
    let dir = tempfile::tempdir().map_err(|err| err.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;

    println!();
    println!("machine: {}", machine());
    for build in &builds {
        println!("{}: {}", build.label, build.dir.display());
    }
    println!();
    println!(
        "== 1. Each function over many invocations: release bootstrap, mock Runtime API, \
         the emulator behind keep-alive HTTP =="
    );
    println!(
        "{}, each a fresh process; a figure is the median of the runs \
         (lowest to highest in brackets).",
        per_function(options.runs, "run", builds.len())
    );
    let emulator = KeepAliveEmulator::start(dir.path(), false)?;
    let sdk = runtime.block_on(emulator.sdk_config())?;
    let mut published = None;
    let mut envs = Vec::new();
    let floor = options.only.is_none().then_some(HELLO);
    for function in floor.into_iter().chain(options.functions()) {
        let mut runs = vec![Vec::new(); builds.len()];
        let mut last = None;
        for _ in 0..options.runs {
            for (build, runs) in builds.iter().zip(&mut runs) {
                let total = options.invocations(function) + warm::WARM_UP;
                let workload = runtime.block_on(prepare(&sdk, function, total, &mut published))?;
                let ready = || runtime.block_on(workload.ready(&sdk));
                ready()?;
                runs.push(warm::measure(
                    &build.binary(function),
                    &workload,
                    &emulator,
                    &ready,
                )?);
                last = Some(workload);
            }
        }
        if let Some(workload) = last {
            warm::report(&workload, &labels, &runs);
            if function != HELLO {
                envs.push((function, workload.env));
            }
        }
    }
    drop(emulator);

    println!();
    println!(
        "== 2. Start-up: exec to the first poll of the Runtime API, in turn with a hello-world \
         lambda_runtime binary built with the same profile =="
    );
    let mut contenders = vec![start_up::Contender {
        name: HELLO.to_owned(),
        binary: builds[0].binary(HELLO),
        env: Vec::new(),
    }];
    for (function, env) in &envs {
        for build in &builds {
            contenders.push(start_up::Contender {
                name: if builds.len() > 1 {
                    format!("{function} ({})", build.short)
                } else {
                    (*function).to_owned()
                },
                binary: build.binary(function),
                env: env.clone(),
            });
        }
    }
    let times = start_up::measure(&contenders, options.start_up_rounds())?;
    start_up::report(&contenders, &times);

    println!();
    let share = MEMORY_MB / MB_PER_VCPU;
    println!(
        "== 3. The cold first invocation at {MEMORY_MB:.0} MB: held to {:.1} % of a CPU \
         (cgroup cpu quota, 20 ms periods), over HTTPS to the emulator with a certificate \
         of its own ==",
        share * 100.0
    );
    let group = match CpuShare::new(share, Duration::from_millis(20)) {
        Ok(group) => group,
        Err(err) => {
            println!("not measured: {err}");
            return Ok(());
        }
    };
    println!(
        "{}; median (lowest to highest).",
        per_function(options.cold_runs(), "cold start", builds.len())
    );
    let emulator = KeepAliveEmulator::start(dir.path(), true)?;
    let sdk = runtime.block_on(emulator.sdk_config())?;
    let mut published = None;
    for function in options.functions() {
        let cold_runs = options.cold_runs();
        let workload = runtime.block_on(prepare(
            &sdk,
            function,
            cold_runs * builds.len(),
            &mut published,
        ))?;
        runtime.block_on(workload.ready(&sdk))?;
        let mut colds = vec![Vec::new(); builds.len()];
        let mut events = workload.events.iter();
        for _ in 0..cold_runs {
            for (build, colds) in builds.iter().zip(&mut colds) {
                let event = events.next().ok_or("fewer events than cold starts")?;
                colds.push(cold::measure(
                    &build.binary(function),
                    &workload,
                    event,
                    &emulator,
                    &group,
                )?);
                runtime.block_on(workload.ready(&sdk))?;
            }
        }
        cold::report(&workload, &labels, &colds);
    }
    Ok(())
}

/// "3 runs per function and build, the builds in turn".
fn per_function(count: usize, what: &str, builds: usize) -> String {
    format!(
        "{count} {what}{} per function{}",
        if count == 1 { "" } else { "s" },
        if builds > 1 {
            " and build, the builds in turn"
        } else {
            ""
        }
    )
}

/// One line about where the figures were taken.
fn machine() -> String {
    let cpus = process::cpus();
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "an unknown CPU".to_owned());
    let pinned = if cpus > 1 {
        format!(
            "; the function measured runs alone on CPU {}, the emulator and the mock Runtime API on the others",
            process::FUNCTION_CPU
        )
    } else {
        "; one CPU, shared by the function, the emulator and the mock Runtime API".to_owned()
    };
    format!("{cpus} CPUs, {model}{pinned}")
}

async fn prepare(
    sdk: &aws_config::SdkConfig,
    function: &str,
    invocations: usize,
    published: &mut Option<workload::Published>,
) -> Result<Workload, String> {
    if function == HELLO {
        return Ok(workload::hello(invocations));
    }
    match Function::named(function) {
        Some(Function::PostConfirmation) => workload::post_confirmation(sdk, invocations).await,
        Some(Function::StreamRouter) => workload::stream_router(sdk, invocations).await,
        Some(Function::ArchiveConsumer) => workload::archive_consumer(sdk, invocations).await,
        Some(Function::PublishConsumer) => {
            let (workload, users) = workload::publish_consumer(sdk, invocations).await?;
            *published = Some(users);
            Ok(workload)
        }
        Some(Function::Greeting) => {
            let users = published
                .as_ref()
                .ok_or("the greeting reads the names the publish consumer wrote: run it first")?;
            Ok(workload::greeting(users, invocations))
        }
        Some(Function::Account) | None => Err(format!("no workload for {function}")),
    }
}

/// Starts `binary` polling `api`, with the workload's environment; in
/// `group` when one is given.
fn spawn(
    api: &RuntimeApi,
    binary: &Path,
    env: &[(String, String)],
    endpoint: &str,
    certificate: Option<&Path>,
    group: Option<&CpuShare>,
) -> Result<Child, String> {
    let mut command = api.command(binary);
    command
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("ONBOARD_STACK", "bench");
    if let Some(certificate) = certificate {
        command.env("SSL_CERT_FILE", certificate);
    }
    let mut command: Command = match group {
        Some(group) => group.wrap(&command),
        None => process::on_cpu(process::FUNCTION_CPU, command),
    };
    // Log lines and metric documents are written as in Lambda, and dropped.
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("{} did not start: {err}", binary.display()))
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Checks that the function did the work: no error, no record failed.
fn check(workload: &Workload, answer: &Answer) -> Result<(), String> {
    let failures = answer
        .posted
        .get("batchItemFailures")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let status = answer.posted.get("statusCode").and_then(Value::as_u64);
    if answer.failed || failures > 0 || status.is_some_and(|s| s != 200) {
        return Err(format!(
            "{} did not do its work, so there is nothing to measure: {}",
            workload.function, answer.posted
        ));
    }
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

/// One figure, a column per build (the median of its runs and their
/// range), and the first build's ratio to the second's.
#[derive(Debug)]
struct Row<'a> {
    what: &'a str,
    unit: &'a str,
    precision: usize,
    values: &'a [Vec<f64>],
}

impl<'a> Row<'a> {
    fn new(what: &'a str, unit: &'a str, precision: usize, values: &'a [Vec<f64>]) -> Self {
        Self {
            what,
            unit,
            precision,
            values,
        }
    }

    fn header(labels: &[String]) {
        let columns: Vec<String> = labels.iter().map(|l| format!("{l:<30}")).collect();
        println!("  {:<30} {} ratio", "", columns.join(" "));
    }

    fn print(&self, note: &str) {
        let columns: Vec<String> = self
            .values
            .iter()
            .map(|v| {
                format!(
                    "{:<30}",
                    format!("{} {}", spread(v, self.precision), self.unit)
                )
            })
            .collect();
        let ratio = match self.values {
            [this, against] => format!("{:.2}×  ", median(this) / median(against)),
            _ => String::new(),
        };
        println!("  {:<30} {} {ratio}{note}", self.what, columns.join(" "));
    }
}
