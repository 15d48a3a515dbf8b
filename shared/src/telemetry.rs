//! Tracing, set up once per process: JSON lines in Lambda (CloudWatch reads
//! them as structured logs), readable text on a terminal.
//!
//! The level comes from `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL`,
//! else `info`. Log fields name users by id, never by email.

use tracing_subscriber::EnvFilter;

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
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .map_err(|_| ())
                .and_then(|level| EnvFilter::try_new(level.to_ascii_lowercase()).map_err(|_| ()))
        })
        .unwrap_or_else(|()| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_set = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_target(false)
            .try_init(),
        LogFormat::Text => builder.with_target(false).compact().try_init(),
    };
}
