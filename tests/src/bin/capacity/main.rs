//! The capacity run: users signed up through the real trigger, routed by the
//! real router under Lambda's stream rules, and published by the names'
//! one writer run on its schedule, against a Parameter Store that keeps
//! AWS's quotas, on a simulated clock (an hour of it takes seconds).
//!
//! ```sh
//! cargo run -p onboard-tests --bin capacity -- --users 100000            # what .ci/run runs
//! cargo run --release -p onboard-tests --bin capacity -- --users 1000000
//! ```
//!
//! It prints the parameters of each tier, users a parameter, the writes,
//! the largest value, how long the burst of sign-ups took to be published,
//! the delay at a steady rate of renames, the greeting's reads, the
//! advanced tier's price, and checks every user's published name against
//! what it signed up or was renamed to; it exits 1 when one differs.
//!
//! Then it erases `--erase` users (one in a hundred by default) and checks
//! that no version of any parameter still holds their names.
//!
//! Options: `--users N` (100,000), `--steady-per-second R` (50 renames a
//! second), `--steady-minutes M` (30), `--writes-per-second W` (2, the
//! template's default), `--share S` (5,000), `--erase E` (N / 100),
//! `--seed N`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use onboard_cli::engine::event_source::Settings;
use onboard_cli::engine::pipeline::LocalPipeline;
use onboard_shared::catalogue::QueueRole;
use onboard_shared::local::{QuotaParameters, Quotas, SimClock};
use onboard_shared::names::NamesPaths;
use onboard_shared::published::ParameterPrefix;
use onboard_tests::capacity::Paced;
use onboard_tests::names_mix::NameMix;
use onboard_tests::published::names_in;
use publish_consumer::writer::{RunReport, Writer};
use serde_json::Value;

mod erasure;
mod records;
mod report;

use records::{removed, renamed};
use report::report;

/// The schedule of the writer in the template.
const PERIOD: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Options {
    users: usize,
    steady_per_second: usize,
    steady_minutes: usize,
    writes_per_second: f64,
    share: usize,
    erase: Option<usize>,
    seed: u64,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        users: 100_000,
        steady_per_second: 50,
        steady_minutes: 30,
        writes_per_second: 2.0,
        share: 5_000,
        erase: None,
        seed: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .replace('_', "")
                .parse::<f64>()
                .map_err(|_| format!("{flag} {value}: not a number"))
        };
        match flag.as_str() {
            "--users" => options.users = number()? as usize,
            "--steady-per-second" => options.steady_per_second = number()? as usize,
            "--steady-minutes" => options.steady_minutes = number()? as usize,
            "--writes-per-second" => options.writes_per_second = number()?,
            "--share" => options.share = number()? as usize,
            "--erase" => options.erase = Some(number()? as usize),
            "--seed" => options.seed = number()? as u64,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.users == 0 || options.writes_per_second <= 0.0 {
        return Err("--users and --writes-per-second must be positive".to_owned());
    }
    if options.erase.is_some_and(|erase| erase > options.users) {
        return Err("--erase cannot be more than --users".to_owned());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("capacity: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|err| panic!("a runtime: {err}"));
    runtime.block_on(run(&options))
}

/// The writer, its queue and the simulated clock.
struct Sim {
    clock: SimClock,
    quota: Arc<QuotaParameters>,
    pipeline: LocalPipeline,
    writer: Writer,
    writes_per_second: f64,
}

impl Sim {
    fn seconds(&self) -> u64 {
        self.clock.now().as_secs()
    }

    /// Runs the writer on its schedule until its queue is drained and
    /// nothing is carried; returns the runs' reports together.
    async fn publish_all(&self) -> RunReport {
        let mut total = RunReport::default();
        loop {
            let report = self.tick().await;
            let done = report.carried == 0 && report.returned == 0 && self.queue_empty();
            total.absorb(report);
            if done {
                return total;
            }
        }
    }

    /// One scheduled invocation, then the clock at the next tick.
    async fn tick(&self) -> RunReport {
        let start = self.clock.now();
        let limits = publish_consumer::limits_for(PERIOD, self.writes_per_second);
        let report = self
            .writer
            .run(limits, self.seconds())
            .await
            .unwrap_or_else(|err| panic!("the writer's queue: {err}"));
        // What a run left comes back at the end of its visibility timeout.
        self.pipeline.queue(QueueRole::Publish).return_in_flight();
        self.clock.advance_to(start + PERIOD);
        report
    }

    fn queue_empty(&self) -> bool {
        let queue = self.pipeline.queue(QueueRole::Publish);
        queue.is_empty() && queue.in_flight() == 0
    }
}

async fn run(options: &Options) -> ExitCode {
    let started = Instant::now();
    let prefix = ParameterPrefix::parse("/onboard").unwrap_or_else(|err| panic!("{err}"));
    let clock = SimClock::default();
    let quota = Arc::new(QuotaParameters::new(Quotas::default(), clock.clone()));
    let pipeline = LocalPipeline::in_memory(prefix.clone(), Settings::default());
    let writer = Writer::new(
        Arc::new(Paced::new(quota.clone(), options.writes_per_second)),
        pipeline.queue(QueueRole::Publish).clone(),
        pipeline.queue(QueueRole::PublishDlq).clone(),
        NamesPaths::new(&prefix),
        options.share,
    );
    let sim = Sim {
        clock,
        quota,
        pipeline,
        writer,
        writes_per_second: options.writes_per_second,
    };
    let mut mix = NameMix::new(options.seed);
    // Each user's newest version and name: what must be published.
    let mut expected: Vec<(String, u64, String)> = Vec::with_capacity(options.users);

    // The burst: every user signs up at once.
    println!(
        "capacity: {} users, {} renames a second for {} minutes, {} writes a second, a share of {} standard parameters",
        options.users,
        options.steady_per_second,
        options.steady_minutes,
        options.writes_per_second,
        options.share
    );
    let template: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/cognito/post-confirmation-sign-up.json"
    ))
    .unwrap_or_else(|err| panic!("the sign-up fixture: {err}"));
    let mut stream = Vec::new();
    for n in 0..options.users {
        let (sub, name) = (mix.sub(), mix.name());
        let mut event = template.clone();
        let attributes = &mut event["request"]["userAttributes"];
        attributes["sub"] = sub.clone().into();
        attributes["name"] = name.clone().into();
        attributes["email"] = format!("user{n}@example.com").into();
        let signed_up = sim.pipeline.sign_up(event).await;
        if let Err(err) = &signed_up.outcome {
            eprintln!("capacity: the trigger refused user {n}: {err}");
            return ExitCode::FAILURE;
        }
        stream.extend(signed_up.stream);
        if stream.len() >= 1_000 {
            sim.pipeline.route(&std::mem::take(&mut stream)).await;
            sim.pipeline.queue(QueueRole::Archive).drain();
        }
        expected.push((sub, 1, name));
    }
    sim.pipeline.route(&stream).await;
    sim.pipeline.queue(QueueRole::Archive).drain();
    let signed_up = started.elapsed();
    progress(started, "signed up and routed");
    let burst_start = sim.clock.now();
    let burst = sim.publish_all().await;
    let published_burst = started.elapsed();
    let burst_took = sim.clock.now().saturating_sub(burst_start);
    progress(started, "the burst published");

    // The steady state: renames at a constant rate, routed each minute.
    let mut steady = RunReport::default();
    let mut worst_wait = 0;
    let mut sequence: u128 = 900_000_000_000_000_000_000;
    let renames_a_minute = options.steady_per_second * 60;
    for minute in 0..options.steady_minutes {
        let mut records = Vec::with_capacity(renames_a_minute);
        for _ in 0..renames_a_minute {
            let pick = (mix.sub().as_bytes()[..8]
                .iter()
                .fold(0u64, |a, b| a * 31 + u64::from(*b)) as usize)
                % expected.len();
            let name = mix.name();
            let (sub, version, current) = &mut expected[pick];
            *version += 1;
            *current = name;
            sequence += 1;
            records.push(renamed(sub, *version, current, sequence));
        }
        sim.pipeline.route(&records).await;
        sim.pipeline.queue(QueueRole::Archive).drain();
        let report = sim.tick().await;
        // The second half of the run is the steady state.
        if minute >= options.steady_minutes / 2 {
            worst_wait = worst_wait.max(report.oldest_wait.unwrap_or(0));
        }
        steady.absorb(report);
    }
    steady.absorb(sim.publish_all().await);
    progress(started, "the steady renames published");

    // Erasure: a share of the users removed, spread over the layout.
    let erase = options.erase.unwrap_or(options.users / 100);
    let mut erased = Vec::with_capacity(erase);
    let mut records = Vec::new();
    for n in 0..erase {
        let (sub, version, name) = &mut expected[n * (options.users / erase.max(1))];
        sequence += 1;
        records.push(removed(sub, *version, name, sequence));
        name.clear();
        erased.push(sub.clone());
    }
    for chunk in records.chunks(1_000) {
        sim.pipeline.route(chunk).await;
    }
    sim.pipeline.queue(QueueRole::Archive).drain();
    let erasure_start = sim.clock.now();
    let erasure = sim.publish_all().await;
    let erasure_took = sim.clock.now().saturating_sub(erasure_start);
    progress(started, "the erasures published");
    let holding = erasure::versions_holding(&sim.quota, &NamesPaths::new(&prefix), &erased);

    // Every user's name, as published, against what it must be.
    let values = sim.quota.values();
    let published = names_in("/onboard", &values);
    // An erased user's name is empty here, and published as removed.
    let wrong = expected
        .iter()
        .filter(|(sub, version, name)| {
            let want = (!name.is_empty()).then_some(name.as_str());
            published
                .get(sub)
                .is_none_or(|p| p.version != *version || p.name.as_deref() != want)
        })
        .count();
    let dead_letters = sim.pipeline.queue(QueueRole::PublishDlq).len()
        + sim.pipeline.queue(QueueRole::RouterDlq).len();

    report(options, &sim, &burst, burst_took, &steady, worst_wait);
    println!(
        "  erasure: {erase} users removed in {} min of simulated time ({} rotations, {} messages waited for a rotation); versions of any parameter still holding their names: {holding}",
        erasure_took.as_secs().div_ceil(60),
        erasure.rotations,
        erasure.waiting,
    );
    println!(
        "  checked: {} of {} users published as they are now; {dead_letters} dead letters",
        options.users - wrong,
        options.users,
    );
    println!(
        "  this machine: {:.0} s in all (signing up and routing {:.0} s, publishing the burst {:.0} s)",
        started.elapsed().as_secs_f64(),
        signed_up.as_secs_f64(),
        (published_burst - signed_up).as_secs_f64()
    );
    if wrong > 0 || dead_letters > 0 || holding > 0 {
        println!(
            "  NOT MET: every user published as they are now, no erased name kept, nothing lost"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// A phase done, on stderr (a million users take a while).
fn progress(started: Instant, what: &str) {
    eprintln!(
        "capacity: {what} ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
}
