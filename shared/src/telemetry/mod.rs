//! Tracing, set up once per process: JSON lines in Lambda (CloudWatch reads
//! them as structured logs), readable text on a terminal; and the functions'
//! own [`metrics`].
//!
//! In Lambda every line carries the fields of the spans it is in on its top
//! level: the runtime's invocation span gives `requestId` (and `xrayTraceId`
//! when the function is traced), as in Lambda's own JSON log format, so a
//! Logs Insights query `filter requestId = "..."` finds an invocation's lines.
//!
//! The level comes from `RUST_LOG` (`info`, or `target=level,...`), else
//! Lambda's `AWS_LAMBDA_LOG_LEVEL`, else the default. Log fields name users
//! by id, never by email.

pub mod metrics;

use std::str::FromStr;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// JSON inside Lambda or when `LOG_FORMAT=json`, text otherwise.
    pub fn detect() -> Self {
        let lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let asked = std::env::var("LOG_FORMAT").ok();
        match asked.as_deref() {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            _ if lambda => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// Installs the global subscriber at `info` by default; a second call does nothing.
pub fn init(format: LogFormat) {
    init_with_default(format, "info");
}

/// Installs the global subscriber with the given default level.
pub fn init_with_default(format: LogFormat, default_level: &str) {
    let filter = ["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL"]
        .into_iter()
        .filter_map(|var| std::env::var(var).ok())
        .find_map(|value| Targets::from_str(&value.to_ascii_lowercase()).ok())
        .or_else(|| Targets::from_str(default_level).ok())
        .unwrap_or_default();
    let registry = tracing_subscriber::registry().with(filter);
    let _already_set = match format {
        LogFormat::Json => registry
            .with(
                json_subscriber::fmt::layer()
                    .flatten_event(true)
                    .with_current_span(false)
                    .flatten_span_list_on_top_level(true)
                    .with_target(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    // Colours only for a person at a terminal, not in log files.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_target(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}
