//! A stack of its own on the emulator for a test, the local Lambda service
//! running over it, and the calls tests make to its queues and user pool.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider as cognito;
use onboard_cli::commands::dev::{self, DevSettings};
use onboard_cli::stack::{self, Names, QueueSettings, Stack, sqs_calls};
use onboard_shared::aws::sqs;
use onboard_shared::domain::UserId;
use onboard_shared::names::{NamesPaths, layout_of, user_hash};
use onboard_shared::published::ParameterPrefix;
use onboard_shared::wire::REASON_ATTRIBUTE;
use tokio::sync::watch;

use crate::{emulator, unique};

/// A bootstrapped stack of its own on the emulator.
pub async fn fresh_stack() -> Stack {
    // A prefix of its own: the names have one writer per prefix.
    let name = unique("e2e");
    let names = Names::for_stack(&name, stack::default_parameter_prefix(&name));
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
#[derive(Debug)]
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

/// How many messages a queue holds: visible, and in flight.
pub async fn depth(stack: &Stack, url: &str) -> (u64, u64) {
    let depth = sqs_calls::depth(&stack.sqs, url).await.unwrap();
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
/// Receives every message waiting in a queue (hiding each for 30 s):
/// its body and its dead-letter reason (empty when it has none).
///
/// # Panics
///
/// When the queue cannot be read.
pub async fn receive_all(client: &sqs::Client, url: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let messages = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap_or_else(|err| panic!("receiving from {url}: {err}"))
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for message in messages {
            let reason = message
                .message_attributes
                .as_ref()
                .and_then(|a| a.get(REASON_ATTRIBUTE))
                .and_then(|v| v.string_value.clone())
                .unwrap_or_default();
            out.push((message.body.unwrap_or_default(), reason));
        }
    }
}

/// A user's ID token from the pool, as `onboard token` gets it (the CLI's
/// app client, `AdminInitiateAuth`).
///
/// # Panics
///
/// When the pool refuses the user.
pub async fn id_token(
    sdk: &SdkConfig,
    pool: &onboard_cli::stack::UserPool,
    username: &str,
    password: &str,
) -> String {
    let client = cognito::Client::new(sdk);
    onboard_cli::commands::token::id_token(&client, pool, username, password, || None)
        .await
        .unwrap_or_else(|err| panic!("signing in: {err}"))
}

/// Every parameter under a stack's names path, by name (all pages of
/// `GetParametersByPath`).
///
/// # Panics
///
/// When Parameter Store cannot be read.
pub async fn names_parameters(
    ssm: &onboard_shared::aws::ssm::Client,
    prefix: &ParameterPrefix,
) -> BTreeMap<String, (String, i64)> {
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let page = ssm
            .get_parameters_by_path()
            .path(prefix.names_path())
            .recursive(true)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        for parameter in page.parameters() {
            if let (Some(name), Some(value)) = (parameter.name(), parameter.value()) {
                out.insert(name.to_owned(), (value.to_owned(), parameter.version()));
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

/// What the packed names hold for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The display name; `None` once removed.
    pub name: Option<String>,
    pub version: u64,
    pub removed: bool,
    /// The parameter that holds it, and that parameter's own version in
    /// Parameter Store (it grows by one on every write).
    pub parameter: String,
    pub parameter_version: i64,
}

/// What the stack's packed names hold for a user, `None` before the writer
/// has written it.
pub async fn published(stack: &Stack, user: &str) -> Option<Published> {
    published_under(&stack.ssm, &stack.names.parameter_prefix, user).await
}

/// What the packed names under a prefix hold for a user.
pub async fn published_under(
    ssm: &onboard_shared::aws::ssm::Client,
    prefix: &ParameterPrefix,
    user: &str,
) -> Option<Published> {
    let parameters = names_parameters(ssm, prefix).await;
    let paths = NamesPaths::new(prefix);
    let values: BTreeMap<String, String> = parameters
        .iter()
        .map(|(name, (value, _))| (name.clone(), value.clone()))
        .collect();
    let layout = layout_of(&paths, &values);
    let user = UserId::parse(user).ok()?;
    let leaf = layout.leaf_of(user_hash(&user))?;
    let entry = layout.entry(&user)?;
    let parameter = paths.leaf(leaf, layout.get(leaf)?.side());
    Some(Published {
        name: entry.name.clone(),
        version: entry.revision.version.get(),
        removed: entry.revision.removed,
        parameter_version: parameters[&parameter].1,
        parameter,
    })
}

/// `onboard serve`'s API in-process on a free port of 127.0.0.1, over a
/// stack's resources, with names cached for `name_cache`; its base URL.
///
/// # Panics
///
/// When the API cannot be built or bound.
pub async fn serve_api(
    stack: &Stack,
    pool: &onboard_cli::stack::UserPool,
    name_cache: Duration,
) -> String {
    let state = onboard_cli::commands::serve::ServeState::for_stack(
        &stack.sdk,
        &stack.names,
        pool,
        name_cache,
    )
    .await
    .unwrap_or_else(|err| panic!("the API: {err}"));
    let app = onboard_cli::commands::serve::app(std::sync::Arc::new(state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|err| panic!("binding: {err}"));
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .unwrap_or_else(|err| panic!("the address: {err}"))
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
