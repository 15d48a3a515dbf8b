//! The functions' own metrics: what each invocation did, counted one way
//! for Lambda (CloudWatch's embedded metric format, one document per
//! invocation on standard output, through `metrics_cloudwatch_embedded`)
//! and for `onboard replay`'s report.
//!
//! A batch's counts are read off its report (`BatchReport::counts`, beside
//! the fates: a record's fate, its lost conditional writes and its
//! throttled calls are the one source of what it did); the trigger and the
//! greeting count their one request.
//!
//! Every document has the dimensions `Stack` and `Function`, and each of
//! the function's metrics, zeros included, so a dashboard's sums and an
//! alarm's missing-data rule see every invocation.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics_cloudwatch_embedded::{Builder, Collector};
use serde::Serialize;

use crate::catalogue::Function;

/// The namespace every onboard metric is in.
pub const NAMESPACE: &str = "Onboard";

impl Function {
    /// What the function's work is called when a record is done.
    pub fn applied(self) -> Metric {
        match self {
            Function::PostConfirmation => Metric::UsersRecorded,
            Function::StreamRouter => Metric::Routed,
            Function::ArchiveConsumer => Metric::Archived,
            Function::PublishConsumer => Metric::Published,
            Function::Greeting => Metric::Greeted,
            Function::Account => Metric::AccountsChanged,
        }
    }

    /// Every metric the function emits.
    pub fn metrics(self) -> Vec<Metric> {
        let mut metrics = vec![self.applied()];
        match self {
            Function::PostConfirmation => metrics.extend([Metric::Skipped, Metric::Throttles]),
            Function::Greeting => metrics.extend([Metric::Unanswered, Metric::Throttles]),
            Function::Account => metrics.extend([
                Metric::AccountsErased,
                Metric::Unanswered,
                Metric::Throttles,
            ]),
            Function::StreamRouter => metrics.extend([
                Metric::Skipped,
                Metric::DeadLetteredUnreadable,
                Metric::DeadLetteredRefused,
                Metric::Retried,
                Metric::Throttles,
            ]),
            Function::ArchiveConsumer | Function::PublishConsumer => {
                metrics.extend([
                    Metric::Skipped,
                    Metric::Superseded,
                    Metric::DeadLetteredUnreadable,
                    Metric::DeadLetteredRefused,
                    Metric::Retried,
                ]);
                // Parameter Store has no conditional write to lose; its
                // writer says how much of each tier the names use.
                if self == Function::ArchiveConsumer {
                    metrics.push(Metric::WriteConflicts);
                } else {
                    metrics.extend([
                        Metric::StandardParameters,
                        Metric::AdvancedParameters,
                        Metric::StandardShareUsed,
                        Metric::NamesWaitSeconds,
                    ]);
                }
                metrics.push(Metric::Throttles);
            }
        }
        metrics.push(Metric::ColdStart);
        metrics
    }
}

/// A metric of onboard's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Metric {
    /// Stream records sent on to both queues.
    Routed,
    /// Users written to the archive.
    Archived,
    /// Users' names written to Parameter Store.
    Published,
    /// New users written to the table by the trigger.
    UsersRecorded,
    /// Greetings answered with a name.
    Greeted,
    /// Renames written to the table (the account function).
    AccountsChanged,
    /// Accounts erased (the account function).
    AccountsErased,
    /// Requests answered without a greeting or a change (400, 401, 404, ...).
    Unanswered,
    /// Records that needed no write (already there, older, not applicable).
    Skipped,
    /// Records a newer change of the same user in the batch replaced.
    Superseded,
    /// Records dead-lettered because they could not be read.
    DeadLetteredUnreadable,
    /// Records dead-lettered because a service refused their write for good.
    DeadLetteredRefused,
    /// Records the event source gave up on (only a local run counts these:
    /// in AWS the queue or the stream's on-failure destination does).
    DeadLetteredExhausted,
    /// Records handed back to be delivered again.
    Retried,
    /// Archive writes whose condition failed because another writer got
    /// there first (each is read and tried again).
    WriteConflicts,
    /// Calls that stayed throttled after the SDK's retries.
    Throttles,
    /// 1 on an execution environment's first invocation.
    ColdStart,
    /// The standard parameters the packed names use (the publish writer's,
    /// at the end of each invocation): its alarm warns before the share.
    StandardParameters,
    /// The advanced parameters the packed names use: priced a month each.
    AdvancedParameters,
    /// The share of the standard tier the packed names may use that they
    /// use, in percent: its alarm fires before the layout grows into the
    /// advanced tier.
    StandardShareUsed,
    /// How long the longest-waiting change the names' writer carried to
    /// its next run has waited, in seconds: its alarm fires past the delay
    /// the stack accepts (`AcceptedNamesDelaySeconds`).
    NamesWaitSeconds,
}

impl Metric {
    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Routed => "Routed",
            Metric::Archived => "Archived",
            Metric::Published => "Published",
            Metric::UsersRecorded => "UsersRecorded",
            Metric::Greeted => "Greeted",
            Metric::AccountsChanged => "AccountsChanged",
            Metric::AccountsErased => "AccountsErased",
            Metric::Unanswered => "Unanswered",
            Metric::Skipped => "Skipped",
            Metric::Superseded => "Superseded",
            Metric::DeadLetteredUnreadable => "DeadLetteredUnreadable",
            Metric::DeadLetteredRefused => "DeadLetteredRefused",
            Metric::DeadLetteredExhausted => "DeadLetteredExhausted",
            Metric::Retried => "Retried",
            Metric::WriteConflicts => "WriteConflicts",
            Metric::Throttles => "Throttles",
            Metric::ColdStart => "ColdStart",
            Metric::StandardParameters => "StandardParameters",
            Metric::AdvancedParameters => "AdvancedParameters",
            Metric::StandardShareUsed => "StandardShareUsed",
            Metric::NamesWaitSeconds => "NamesWaitSeconds",
        }
    }
}

/// What one invocation (or a whole replay) of a function did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(BTreeMap<Metric, u64>);

impl Serialize for Counts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(metric, n)| (metric.name(), n)))
    }
}

impl Counts {
    pub fn add(&mut self, metric: Metric, n: u64) {
        if n > 0 {
            *self.0.entry(metric).or_default() += n;
        }
    }

    pub fn get(&self, metric: Metric) -> u64 {
        self.0.get(&metric).copied().unwrap_or_default()
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Counts) {
        for (metric, n) in &other.0 {
            self.add(*metric, *n);
        }
    }

    /// Each count, in name order (only non-zero ones are kept).
    pub fn iter(&self) -> impl Iterator<Item = (Metric, u64)> + '_ {
        self.0.iter().map(|(m, n)| (*m, *n))
    }

    /// One of `metric`: an invocation that did one thing.
    pub fn one(metric: Metric) -> Self {
        let mut counts = Counts::default();
        counts.add(metric, 1);
        counts
    }
}

/// The invocation a document is for.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
    /// The kind of failure, when it failed.
    pub error_type: Option<&'a str>,
}

impl<'a> Invocation<'a> {
    /// The invocation of this Lambda context.
    pub fn of(context: &'a lambda_runtime::Context) -> Self {
        Self {
            request_id: &context.request_id,
            trace_id: context.xray_trace_id.as_deref(),
            error_type: None,
        }
    }

    /// The same invocation, failed with this kind of failure.
    pub fn failed(self, error_type: Option<&'a str>) -> Self {
        Self { error_type, ..self }
    }
}

/// The metrics recorder could not be installed (a second one, in one
/// process).
#[derive(Debug, thiserror::Error)]
#[error("the metrics recorder could not be installed")]
pub struct MetricsError(#[source] metrics_cloudwatch_embedded::Error);

/// Writes one embedded-metric document per invocation for one function.
pub struct Emitter {
    function: Function,
    collector: &'static Collector,
    cold: AtomicBool,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("function", &self.function)
            .field("cold", &self.cold.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The stack a function belongs to: `ONBOARD_STACK`, which the template
/// sets, else `onboard`.
pub fn stack_name() -> String {
    std::env::var("ONBOARD_STACK")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "onboard".to_owned())
}

impl Emitter {
    /// The emitter of `function` in `stack`, installed as the process's
    /// metrics recorder. Once per process; a second call fails.
    pub fn install(function: Function, stack: &str) -> Result<Self, MetricsError> {
        let collector = Builder::new()
            .cloudwatch_namespace(NAMESPACE)
            .with_dimension("Stack", stack.to_owned())
            .with_dimension("Function", function.name())
            .emit_zeros(true)
            .init()
            .map_err(MetricsError)?;
        for metric in function.metrics() {
            // Registered once, so that every document carries every metric.
            ::metrics::describe_counter!(metric.name(), ::metrics::Unit::Count, "");
            ::metrics::counter!(metric.name()).absolute(0);
        }
        Ok(Self {
            function,
            collector,
            cold: AtomicBool::new(true),
        })
    }

    /// The function whose metrics these are.
    pub fn function(&self) -> Function {
        self.function
    }

    /// Ends an invocation: its counts, as one log line and one document on
    /// standard output, where Lambda's log capture hands it to CloudWatch;
    /// with the kind of failure (`errorType`) when it failed.
    pub fn record(&self, counts: Counts, invocation: Invocation<'_>) {
        tracing::info!(
            counts = %serde_json::to_string(&counts).unwrap_or_default(),
            "invocation done"
        );
        if let Err(err) = self.emit(counts, invocation, std::io::stdout().lock()) {
            tracing::warn!(error = %err, "the metrics could not be written");
        }
    }

    /// Writes the invocation's document: `counts`, `ColdStart` on the
    /// first, and the request and trace ids (and the kind of failure) as
    /// properties.
    pub fn emit(
        &self,
        mut counts: Counts,
        invocation: Invocation<'_>,
        out: impl Write,
    ) -> std::io::Result<()> {
        let Invocation {
            request_id,
            trace_id,
            error_type,
        } = invocation;
        if self.cold.swap(false, Ordering::Relaxed) {
            counts.add(Metric::ColdStart, 1);
        }
        for metric in self.function.metrics() {
            ::metrics::counter!(metric.name()).increment(counts.get(metric));
        }
        self.collector.set_property("requestId", request_id);
        match trace_id {
            Some(trace) => self.collector.set_property("xrayTraceId", trace),
            None => self.collector.remove_property("xrayTraceId"),
        };
        match error_type {
            Some(kind) => self.collector.set_property("errorType", kind),
            None => self.collector.remove_property("errorType"),
        };
        self.collector.flush(out)
    }
}
