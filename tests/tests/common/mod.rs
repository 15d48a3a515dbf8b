//! What the tests on the emulator share: a stack of their own, the local
//! Lambda service running over it, and waiting for what it does.
#![allow(dead_code, clippy::unwrap_used)] // each test file uses some of it

use std::future::Future;
use std::time::Duration;

use onboard_cli::commands::dev::{self, DevSettings};
use onboard_cli::stack::{self, Names, QueueSettings, Stack};
use onboard_shared::published::ParameterPrefix;
use onboard_tests::{emulator, unique};
use tokio::sync::watch;

/// A bootstrapped stack of its own on the emulator.
pub async fn fresh_stack() -> Stack {
    let names = Names::for_stack(&unique("e2e"), ParameterPrefix::parse("/onboard").unwrap());
    let sdk = emulator().sdk_config().await;
    let settings = QueueSettings {
        visibility_timeout: Duration::from_secs(1),
        max_receive_count: 2,
        ..QueueSettings::default()
    };
    stack::bootstrap(&sdk, &names, settings, true)
        .await
        .unwrap();
    Stack::connect(&emulator().connection(), names)
        .await
        .unwrap()
}

/// The local Lambda service, running until dropped.
pub struct Service {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Service {
    /// The service reading the stream from its oldest record.
    pub fn start(stack: &Stack) -> Self {
        Self::run(stack, None)
    }

    /// The service keeping its stream position in a file.
    pub fn start_with_checkpoints(stack: &Stack, path: &std::path::Path) -> Self {
        Self::run(stack, Some(path.to_owned()))
    }

    fn run(stack: &Stack, checkpoints: Option<std::path::PathBuf>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let stack = stack.clone();
        let settings = DevSettings {
            stream_retry_delay: Duration::from_millis(50),
            max_writes_per_second: 50.0,
            idle: Duration::from_millis(100),
            checkpoints,
            ..DevSettings::default()
        };
        let task = tokio::spawn(async move {
            dev::run(&stack, settings, stopped).await.unwrap();
        });
        Self {
            stop,
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        self.stop.send(true).unwrap();
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Polls until `check` gives a value, for at most 20 seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many messages a queue holds: visible, and in flight.
pub async fn depth(stack: &Stack, url: &str) -> (u64, u64) {
    let depth = onboard_cli::stack::sqs_calls::depth(&stack.sqs, url)
        .await
        .unwrap();
    (depth.visible, depth.in_flight)
}

/// Sends each body to a queue as it is.
pub async fn send(stack: &Stack, url: &str, bodies: &[&str]) {
    for body in bodies {
        stack
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(*body)
            .send()
            .await
            .unwrap();
    }
}
