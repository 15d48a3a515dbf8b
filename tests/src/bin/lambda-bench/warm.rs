//! Section 1: one process over many invocations, as a warm Lambda
//! environment runs: CPU per record, wall per invocation, peak memory and
//! AWS calls per record.

use onboard_shared::catalogue::Function;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use onboard_tests::release::HELLO;
use onboard_tests::runtime_api::RuntimeApi;

use crate::keepalive::KeepAliveEmulator;
use crate::stats::{median, micros, millis};
use crate::workload::Workload;
use crate::{Row, check, process, spawn, stop, verdict};

/// Invocations each process gets before it is measured: the first makes the
/// connections (it is measured apart, cold, in section 3).
pub const WARM_UP: usize = 2;
/// The consumers' memory target.
const PEAK_MEMORY_TARGET: f64 = 10.0;

/// One process's figures over many invocations.
#[derive(Debug, Clone)]
pub struct Warm {
    pub invocations: usize,
    pub cpu_per_record: Duration,
    /// The user share of the CPU time, 0 to 1.
    pub user_share: f64,
    pub wall_median: Duration,
    pub peak: u64,
    pub calls: BTreeMap<String, u64>,
}

/// Runs `binary` over the workload's events in one process; `between` runs
/// after each invocation (the process is waiting then, and costs nothing).
pub fn measure(
    binary: &Path,
    workload: &Workload,
    emulator: &KeepAliveEmulator,
    between: &dyn Fn() -> Result<(), String>,
) -> Result<Warm, String> {
    let api = RuntimeApi::start();
    let child = spawn(&api, binary, &workload.env, &emulator.url, None, None)?;
    let pid = child.id();
    let timeout = Duration::from_secs(60);
    let result = (|| {
        let (warm_up, measured) = workload.events.split_at(WARM_UP);
        for event in warm_up {
            check(workload, &api.invoke(event.clone(), timeout)?)?;
            between()?;
        }
        let cpu_before = process::cpu_time(pid)?;
        let ticks_before = process::user_and_system_ticks(pid)?;
        let mark = emulator.mark();
        let mut walls = Vec::with_capacity(measured.len());
        for event in measured {
            let answer = api.invoke(event.clone(), timeout)?;
            check(workload, &answer)?;
            walls.push(millis(answer.duration()));
            between()?;
        }
        let cpu = process::cpu_time(pid)?.saturating_sub(cpu_before);
        let ticks_after = process::user_and_system_ticks(pid)?;
        let peak = process::peak_resident(pid)?;
        // The server logs a request after answering it.
        std::thread::sleep(Duration::from_millis(300));
        let calls = emulator.calls_since(mark)?;
        let user = ticks_after.0.saturating_sub(ticks_before.0) as f64;
        let system = ticks_after.1.saturating_sub(ticks_before.1) as f64;
        let records = u32::try_from(measured.len() * workload.per_invocation).unwrap_or(u32::MAX);
        Ok(Warm {
            invocations: measured.len(),
            cpu_per_record: cpu / records.max(1),
            user_share: if user + system > 0.0 {
                user / (user + system)
            } else {
                f64::NAN
            },
            wall_median: Duration::from_secs_f64(median(&walls) / 1e3),
            peak,
            calls,
        })
    })();
    stop(child);
    result
}

/// Prints one function's figures: a column per build, each the median of
/// its runs with their range.
pub fn report(workload: &Workload, labels: &[String], runs: &[Vec<Warm>]) {
    let first = &runs[0][0];
    let unit = workload.unit;
    let plural = if workload.per_invocation == 1 {
        ""
    } else {
        "s"
    };
    println!();
    println!(
        "{} ({} invocations of {} {unit}{plural} each, after {WARM_UP} to warm up)",
        workload.function, first.invocations, workload.per_invocation,
    );
    if labels.len() > 1 {
        Row::header(labels);
    }
    let of = |f: &dyn Fn(&Warm) -> f64| -> Vec<Vec<f64>> {
        runs.iter().map(|r| r.iter().map(f).collect()).collect()
    };
    let cpu = of(&|w| micros(w.cpu_per_record));
    let target = workload.cpu_target.map_or_else(
        || {
            if workload.function == HELLO {
                "the floor: the Runtime API's round trip alone".to_owned()
            } else {
                "no target".to_owned()
            }
        },
        |target| {
            format!(
                "target ≤ {} µs: {}",
                target.as_micros(),
                verdict(median(&cpu[0]) <= micros(target))
            )
        },
    );
    Row::new(&format!("CPU per {unit}"), "µs", 1, &cpu).print(&target);
    let user = of(&|w| w.user_share * 100.0);
    Row::new("  of it, user (%)", "%", 0, &user)
        .print("the rest is system; from /proc/<pid>/stat, in 10 ms ticks");
    let wall = of(&|w| millis(w.wall_median));
    Row::new("wall per invocation", "ms", 2, &wall)
        .print("the median invocation; most of it is the emulator's own time");
    let peak = of(&|w| w.peak as f64 / 1_048_576.0);
    let consumer = Function::named(workload.function).is_some_and(|f| f.reads().is_some());
    let note = if consumer {
        format!(
            "target ≤ {PEAK_MEMORY_TARGET} MiB: {}",
            verdict(median(&peak[0]) <= PEAK_MEMORY_TARGET)
        )
    } else {
        String::new()
    };
    Row::new("peak resident memory", "MiB", 1, &peak).print(&note);
    for (label, build_runs) in labels.iter().zip(runs) {
        let warm = &build_runs[0];
        let records = (warm.invocations * workload.per_invocation) as f64;
        let total: u64 = warm.calls.values().sum();
        let each: Vec<String> = warm
            .calls
            .iter()
            .map(|(op, n)| format!("{op} {:.2}", *n as f64 / records))
            .collect();
        let whose = if labels.len() > 1 {
            format!(" ({label})")
        } else {
            String::new()
        };
        println!(
            "  {:<30} {:<7.2} {}",
            format!("AWS calls per {unit}{whose}"),
            total as f64 / records,
            each.join(", ")
        );
    }
}
