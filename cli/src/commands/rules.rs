//! The event-source settings a person can change for one run of `replay`
//! or `dev`. Each defaults to the stack's own ([`Settings::default`], the
//! values of `infra/template.yaml`).

use std::time::Duration;

use crate::engine::event_source::{QueueSettings, Settings, StreamSettings};
use clap::Args;
use clap::builder::TypedValueParser as _;

#[derive(Debug, Args)]
pub struct RuleArgs {
    /// Stream records per router invocation (`BatchSize`).
    #[arg(long, default_value_t = StreamSettings::default().batch_size,
          value_parser = clap::value_parser!(u16).range(1..=10000).map(usize::from))]
    pub batch_size: usize,
    /// Retries of a failing stream batch before its records go to the
    /// router's DLQ (`MaximumRetryAttempts`).
    #[arg(long, default_value_t = StreamSettings::default().maximum_retry_attempts,
          value_parser = clap::value_parser!(u32).range(0..=10000))]
    pub max_retries: u32,
    /// Messages per consumer invocation (`BatchSize` of the queue mappings).
    #[arg(long, default_value_t = QueueSettings::default().batch_size,
          value_parser = clap::value_parser!(u16).range(1..=10).map(usize::from))]
    pub queue_batch_size: usize,
    /// Receives of a failing message before it moves to its queue's DLQ
    /// (`maxReceiveCount`; `dev` sets it on the queues it bootstraps).
    #[arg(long, default_value_t = QueueSettings::default().max_receive_count,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_receive_count: u32,
    /// Seconds a failed message stays hidden before it comes back
    /// (`VisibilityTimeout`; `replay` keeps it on a clock of its own and
    /// never waits; `dev` sets it on the queues it bootstraps).
    #[arg(long, default_value_t = QueueSettings::default().visibility_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=43200))]
    pub visibility_timeout: u64,
}

impl RuleArgs {
    pub fn settings(&self) -> Settings {
        let defaults = Settings::default();
        Settings {
            stream: StreamSettings {
                batch_size: self.batch_size,
                maximum_retry_attempts: self.max_retries,
                ..defaults.stream
            },
            queue: QueueSettings {
                batch_size: self.queue_batch_size,
                max_receive_count: self.max_receive_count,
                visibility_timeout: Duration::from_secs(self.visibility_timeout),
            },
            ..defaults
        }
    }
}
