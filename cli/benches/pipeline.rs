//! `cargo bench`: the CPU each handler spends per record, in-process on the
//! local adapters, and the throughput and peak memory of `onboard replay`.
//! Prints its figures beside the targets; it asserts nothing, so a busy
//! machine never fails a build.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up has nothing to say

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use archive_consumer::Archiver;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use onboard_cli::commands::replay::{self, Options};
use onboard_shared::local::{FileParameters, FolderArchive, MemoryQueue};
use onboard_shared::names::NamesPaths;
use onboard_shared::ports::Inbox;
use onboard_shared::published::ParameterPrefix;
use publish_consumer::writer::{RunLimits, Writer};
use serde_json::Value;
use serde_json::value::RawValue;
use stream_router::Router;

// The allocator `onboard` runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TEMPLATE: &str = include_str!("../../fixtures/dynamodb/insert-modify-remove.json");

/// A stream record: `user`'s change to `version` (an INSERT at version 1).
fn stream_record(template: &Value, i: u64, user: u64, version: u64) -> Value {
    let mut record = template.clone();
    let user = format!("user-{user:06}");
    record["eventID"] = format!("event-{i}").into();
    record["eventName"] = (if version == 1 { "INSERT" } else { "MODIFY" }).into();
    record["dynamodb"]["Keys"]["user_id"]["S"] = user.clone().into();
    record["dynamodb"]["NewImage"]["user_id"]["S"] = user.into();
    record["dynamodb"]["NewImage"]["version"]["N"] = version.to_string().into();
    record["dynamodb"]["SequenceNumber"] = (300_000_000_000_000_000_000_u128 + u128::from(i))
        .to_string()
        .into();
    record
}

fn per_record(elapsed: Duration, records: u64) -> f64 {
    elapsed.as_secs_f64() * 1e6 / records as f64
}

fn line(what: &str, figure: f64, unit: &str, target: &str) {
    println!("{what:<52} {figure:>10.2} {unit:<10} (target {target})");
}

async fn router_cpu(template: &Value) {
    let archive = Arc::new(MemoryQueue::new("archive"));
    let publish = Arc::new(MemoryQueue::new("publish"));
    let router = Router {
        archive: archive.clone(),
        publish: publish.clone(),
        dead_letters: Arc::new(MemoryQueue::new("router-dlq")),
    };
    let batches: Vec<Vec<Box<RawValue>>> = (0..200_u64)
        .map(|b| {
            (0..100_u64)
                .map(|i| {
                    let n = b * 100 + i;
                    RawValue::from_string(stream_record(template, n, n, 1).to_string()).unwrap()
                })
                .collect()
        })
        .collect();
    let mut elapsed = Duration::ZERO;
    for batch in &batches {
        let start = Instant::now();
        let report = stream_router::handle(&router, batch, None).await;
        elapsed += start.elapsed();
        assert_eq!(report.failed().count(), 0);
        archive.drain();
        publish.drain();
    }
    line(
        "stream-router, CPU per record (batch of 100)",
        per_record(elapsed, 20_000),
        "µs",
        "≤ 10 µs",
    );
}

/// SQS batches of ten change messages, `users` users, versions rising.
fn sqs_batches(template: &Value, messages: u64, users: u64) -> Vec<SqsEvent> {
    let bodies: Vec<String> = (0..messages)
        .map(|i| {
            let record = stream_record(template, i, i % users, i / users + 1);
            let raw = RawValue::from_string(record.to_string()).unwrap();
            onboard_shared::stream::decode_raw(&raw).unwrap().to_json()
        })
        .collect();
    bodies
        .chunks(10)
        .enumerate()
        .map(|(b, chunk)| {
            let mut event = SqsEvent::default();
            event.records = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    let mut message = SqsMessage::default();
                    message.message_id = Some(format!("m-{b}-{i}"));
                    message.body = Some(body.clone());
                    message
                })
                .collect();
            event
        })
        .collect()
}

async fn consumers_cpu(template: &Value) {
    let batches = sqs_batches(template, 20_000, 2_000);
    let archiver = Archiver {
        archive: Arc::new(FolderArchive::in_memory()),
        dead_letters: Arc::new(MemoryQueue::new("archive-dlq")),
    };
    let start = Instant::now();
    for batch in &batches {
        archive_consumer::handle(&archiver, batch).await;
    }
    line(
        "archive-consumer, CPU per message (batch of 10)",
        per_record(start.elapsed(), 20_000),
        "µs",
        "≤ 25 µs",
    );

    // The writer drains its queue itself: the same messages, put in first.
    let queue = Arc::new(MemoryQueue::new("publish"));
    let writer = Writer::new(
        Arc::new(FileParameters::in_memory()),
        queue.clone(),
        Arc::new(MemoryQueue::new("publish-dlq")),
        NamesPaths::new(&ParameterPrefix::parse("/onboard").unwrap()),
        5_000,
    );
    for batch in &batches {
        let bodies: Vec<String> = batch
            .records
            .iter()
            .filter_map(|record| record.body.clone())
            .collect();
        Inbox::send(queue.as_ref(), &bodies).await.unwrap();
    }
    let limits = RunLimits {
        max_messages: 20_000,
        max_bytes: usize::MAX,
        max_writes: usize::MAX,
    };
    let start = Instant::now();
    let run = writer.run(limits, 0).await.unwrap();
    assert_eq!(run.received, 20_000);
    line(
        "publish-consumer, CPU per message (one run of the writer)",
        per_record(start.elapsed(), 20_000),
        "µs",
        "≤ 25 µs",
    );
}

/// Peak resident memory of this process so far, in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Generates the replay input once: `records` stream records of `users` users.
fn replay_input(
    template: &Value,
    dir: &std::path::Path,
    records: u64,
    users: u64,
) -> std::path::PathBuf {
    let path = dir.join("replay.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..records {
        writeln!(
            file,
            "{}",
            stream_record(template, i, i % users, i / users + 1)
        )
        .unwrap();
    }
    // On disk before the clock starts: a replay reads input that already
    // exists, and the writeback of a fresh 100 MiB file would slow every
    // file the replay creates.
    file.into_inner().unwrap().sync_all().unwrap();
    path
}

/// One replay of the input, its state in `state_parent`: records per second.
async fn replay_throughput(
    input: &std::path::Path,
    state_parent: &std::path::Path,
    records: u64,
) -> f64 {
    let state = tempfile::tempdir_in(state_parent).unwrap();
    let options = Options::local_json(vec![input.to_owned()], state.path().to_owned());
    let start = Instant::now();
    let summary = replay::run(&options, &mut std::io::sink()).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(summary.records as u64, records);
    assert_eq!(summary.archive.applied as u64, records);
    records as f64 / elapsed.as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test` runs benches with no flag and
    // only needs to know they build.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // As `onboard` runs: two workers.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let template: Value = serde_json::from_str::<Value>(TEMPLATE).unwrap()["Records"][0].clone();
    runtime.block_on(async {
        router_cpu(&template).await;
        consumers_cpu(&template).await;

        let (records, users) = (200_000, 10_000);
        let input_dir = tempfile::tempdir().unwrap();
        let input = replay_input(&template, input_dir.path(), records, users);
        let input_mib = std::fs::metadata(&input).unwrap().len() as f64 / f64::from(1 << 20);
        let before = peak_rss_mib();
        // The state is 10,000 archive files: on a memory-backed folder the
        // figure is the pipeline's; on the project's disk it adds the
        // filesystem's cost of creating them.
        let what = format!("onboard replay, {records} records of {users} users");
        let tmpfs = std::path::Path::new("/dev/shm");
        if tmpfs.is_dir() {
            // The median of three, with the spread: one replay takes a few
            // seconds and a busy machine moves a single figure a lot.
            let mut rates = Vec::new();
            for _ in 0..3 {
                rates.push(replay_throughput(&input, tmpfs, records).await);
            }
            rates.sort_by(f64::total_cmp);
            println!(
                "{:<52} {:>10.0} {:<10} (target ≥ 50,000; median of 3, {:.0} to {:.0})",
                format!("{what}, state on tmpfs"),
                rates[1],
                "records/s",
                rates[0],
                rates[2]
            );
        }
        // The filesystem's figure, not the pipeline's: no target.
        let disk = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        let rate = replay_throughput(&input, disk, records).await;
        println!(
            "{:<52} {rate:>10.0} {:<10} (the project's disk: creating 10,000 files)",
            format!("{what}, state on disk"),
            "records/s"
        );
        if let (Some(before), Some(after)) = (before, peak_rss_mib()) {
            println!(
                "{:<52} {after:>10.1} {:<10} (input {input_mib:.0} MiB, read as a stream; {before:.1} MiB before the replays)",
                "onboard replay, peak resident memory", "MiB"
            );
        }
    });
}
