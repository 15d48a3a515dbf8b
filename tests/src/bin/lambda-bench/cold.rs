//! Section 3: a function's cold first invocation, init and first call, held
//! to the CPU share Lambda gives 128 MB, over HTTPS to the emulator.

use onboard_shared::catalogue::Function;
use std::path::Path;
use std::time::{Duration, Instant};

use onboard_tests::runtime_api::RuntimeApi;
use serde_json::Value;

use crate::keepalive::KeepAliveEmulator;
use crate::process::CpuShare;
use crate::stats::{self, millis, spread};
use crate::workload::Workload;
use crate::{check, spawn, stop};

/// Cognito's wait for the whole trigger invocation.
const COGNITO_WAIT: Duration = Duration::from_secs(5);

/// A cold process's first invocation.
#[derive(Debug, Clone, Copy)]
pub struct Cold {
    /// From exec to the first poll, under the quota.
    pub init: Duration,
    /// The first invocation: from the event handed over to the answer.
    pub first: Duration,
}

/// Starts `binary` in `group` with `event` waiting, as an invocation that
/// makes Lambda start an environment finds it, and times its answer.
pub fn measure(
    binary: &Path,
    workload: &Workload,
    event: &Value,
    emulator: &KeepAliveEmulator,
    group: &CpuShare,
) -> Result<Cold, String> {
    let api = RuntimeApi::start();
    let started = Instant::now();
    let child = spawn(
        &api,
        binary,
        &workload.env,
        &emulator.url,
        emulator.certificate.as_deref(),
        Some(group),
    )?;
    let answer = api.invoke(event.clone(), Duration::from_secs(60));
    let polled = api.first_poll(Duration::ZERO);
    stop(child);
    let answer = answer?;
    check(workload, &answer)?;
    Ok(Cold {
        init: polled.map_or(Duration::ZERO, |p| p.saturating_duration_since(started)),
        first: answer.duration(),
    })
}

/// Prints each build's cold figures and the worst one's margin to the
/// function's budget.
pub fn report(workload: &Workload, labels: &[String], colds: &[Vec<Cold>]) {
    let limit = millis(workload.budget.limit);
    for (label, colds) in labels.iter().zip(colds) {
        let first: Vec<f64> = colds.iter().map(|c| millis(c.first)).collect();
        let init: Vec<f64> = colds.iter().map(|c| millis(c.init)).collect();
        let worst = stats::max(&first);
        let name = if labels.len() > 1 {
            format!("{} ({label})", workload.function)
        } else {
            workload.function.to_owned()
        };
        println!(
            "  {name:<30} init {:<24} first invocation {:<26} worst {worst:.1} ms of {} ({limit:.0} ms): margin {:.0} ms",
            format!("{} ms", spread(&init, 1)),
            format!("{} ms", spread(&first, 1)),
            workload.budget.what,
            limit - worst,
        );
        if workload.function == Function::PostConfirmation.name() {
            let whole: Vec<f64> = colds.iter().map(|c| millis(c.init + c.first)).collect();
            let worst = stats::max(&whole);
            let wait = millis(COGNITO_WAIT);
            println!(
                "  {:<30} init and first invocation together: worst {worst:.1} ms of Cognito's {:.0} s wait: margin {:.0} ms",
                "",
                wait / 1e3,
                wait - worst
            );
        }
    }
}
