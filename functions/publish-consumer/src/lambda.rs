//! The publish writer as Lambda runs it: built once from its config and the
//! SDK config (by `main.rs` and by `onboard`'s stack wiring alike), then
//! invoked on a schedule, with a reserved concurrency of one (the template
//! says so), to drain the publish queue for as long as the invocation has.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent};
use onboard_shared::aws::{SqsQueue, SsmParameters, sqs_client, ssm_client};
use onboard_shared::batch::BatchReport;
use onboard_shared::config::PublishConfig;
use onboard_shared::error::diagnostic;
use onboard_shared::names::NamesPaths;
use onboard_shared::telemetry::metrics::{Emitter, Invocation, Metric};
use serde_json::Value;

use crate::writer::{RunLimits, RunReport, Writer};

/// What a run keeps for itself at the end of an invocation: carrying its
/// unwritten leaves back into the queue, and deleting what it received.
pub const FINISH_RESERVE: Duration = Duration::from_secs(10);

/// The messages one run receives.
pub const MESSAGES_PER_RUN: usize = 20_000;

/// The bytes of messages one run holds in memory: with the layout they
/// fill, well inside the function's 128 MB.
pub const BYTES_PER_RUN: usize = 16 * 1024 * 1024;

impl Writer {
    /// The writer over Parameter Store, paced at its config's rate, and
    /// the queues its config names.
    pub fn from_config(config: &PublishConfig, sdk: &SdkConfig) -> Self {
        let sqs = sqs_client(sdk);
        Writer::new(
            Arc::new(SsmParameters::new(
                ssm_client(sdk),
                config.max_writes_per_second,
            )),
            Arc::new(SqsQueue::new(
                sqs.clone(),
                "publish",
                &config.publish_queue_url,
            )),
            Arc::new(SqsQueue::new(
                sqs,
                "publish-dlq",
                &config.dead_letter_queue_url,
            )),
            NamesPaths::new(&config.parameter_prefix),
            config.standard_share,
        )
    }
}

/// A run's limits for the time left: its writes at the pace, less the
/// finishing reserve.
pub fn limits_for(left: Duration, writes_per_second: f64) -> RunLimits {
    let writing = left.saturating_sub(FINISH_RESERVE).as_secs_f64();
    RunLimits {
        max_messages: MESSAGES_PER_RUN,
        max_bytes: BYTES_PER_RUN,
        max_writes: (writing * writes_per_second).floor() as usize,
    }
}

/// One scheduled invocation: runs until the queue is drained or the time
/// is spent, each run's report in the metrics.
pub async fn invoke(
    writer: &Writer,
    writes_per_second: f64,
    metrics: &Emitter,
    event: LambdaEvent<Value>,
) -> Result<(), Diagnostic> {
    let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
    let mut total = RunReport::default();
    let outcome = loop {
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let limits = limits_for(left, writes_per_second);
        if limits.max_writes == 0 {
            break Ok(());
        }
        match writer.run(limits, now_seconds()).await {
            Ok(report) => {
                let more = report.more(limits);
                total.absorb(report);
                if !more {
                    break Ok(());
                }
            }
            Err(err) => break Err(err),
        }
    };
    let counts = {
        let mut counts = BatchReport {
            items: std::mem::take(&mut total.items),
        }
        .counts(metrics.function());
        counts.add(Metric::Throttles, total.throttled as u64);
        counts.add(Metric::StandardParameters, total.standard as u64);
        counts.add(Metric::AdvancedParameters, total.advanced as u64);
        counts.add(Metric::NamesWaitSeconds, total.oldest_wait.unwrap_or(0));
        let share = writer.standard_share.max(1) as u64;
        counts.add(
            Metric::StandardShareUsed,
            total.standard as u64 * 100 / share,
        );
        counts
    };
    let failed = outcome.as_ref().err().map(|err| err.kind());
    metrics.record(counts, Invocation::of(&event.context).failed(failed));
    tracing::info!(
        applied = total.applied,
        puts = total.puts,
        carried = total.carried,
        rotations = total.rotations,
        waiting_to_rotate = total.waiting,
        standard = total.standard,
        advanced = total.advanced,
        "names written"
    );
    outcome.map_err(|err| diagnostic(&err))
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
