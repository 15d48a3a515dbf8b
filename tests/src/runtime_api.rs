//! Lambda's Runtime API on loopback, for running a function's real binary
//! as Lambda runs it: the binary polls `GET /runtime/invocation/next`, gets
//! an event with the headers Lambda sends (request id, deadline, function
//! ARN, trace id), and posts its response or error back.
//!
//! [`RuntimeApi`] hands a process one event at a time, as Lambda does, and
//! says when it first polled and when it answered each one (the benchmark of
//! the real binaries is built on it). [`invoke_once`] runs one invocation
//! and returns what the process wrote: standard output (where the metric
//! documents go) and standard error (the log lines), as Lambda's log capture
//! would see them.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;

/// The ids Lambda hands the invocation.
pub const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
pub const TRACE_ID: &str =
    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";

/// What one invocation of a binary came to.
#[derive(Debug)]
pub struct Ran {
    /// The body the function posted: its response, or its error.
    pub posted: Value,
    /// True when it posted to `/error`.
    pub failed: bool,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

/// A function's answer to one event.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The body it posted: its response, or its error.
    pub posted: Value,
    /// True when it posted to `/error`.
    pub failed: bool,
    /// When the event was handed over (the process's poll was answered).
    pub handed: Instant,
    /// When its answer arrived.
    pub answered: Instant,
}

impl Answer {
    /// The invocation as Lambda bills it: from the event handed to the answer.
    pub fn duration(&self) -> Duration {
        self.answered.saturating_duration_since(self.handed)
    }
}

#[derive(Debug, Default)]
struct Mock {
    /// The events not yet handed over, oldest first.
    events: tokio::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Value>>>,
    /// When the process first asked for an event.
    first_poll: OnceLock<Instant>,
    /// When the event being worked on was handed over.
    handed: Mutex<Option<Instant>>,
    answers: Mutex<Option<mpsc::Sender<Answer>>>,
}

async fn next(State(mock): State<Arc<Mock>>) -> (StatusCode, HeaderMap, String) {
    let _ = mock.first_poll.set(Instant::now());
    let event = {
        let mut events = mock.events.lock().await;
        match events.as_mut() {
            Some(events) => events.recv().await,
            None => None,
        }
    };
    let Some(event) = event else {
        // No more events: the poll waits until the process is stopped.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + 30_000;
    for (name, value) in [
        ("lambda-runtime-aws-request-id", REQUEST_ID.to_owned()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:onboard-test".to_owned(),
        ),
        ("lambda-runtime-trace-id", TRACE_ID.to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if let Ok(mut handed) = mock.handed.lock() {
        *handed = Some(Instant::now());
    }
    (StatusCode::OK, headers, event.to_string())
}

async fn posted(
    State(mock): State<Arc<Mock>>,
    UrlPath((_, outcome)): UrlPath<(String, String)>,
    body: String,
) -> StatusCode {
    let answered = Instant::now();
    let posted = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let handed = mock
        .handed
        .lock()
        .ok()
        .and_then(|mut handed| handed.take())
        .unwrap_or(answered);
    if let Some(answers) = mock.answers.lock().ok().and_then(|a| a.clone()) {
        let _ = answers.send(Answer {
            posted,
            failed: outcome == "error",
            handed,
            answered,
        });
    }
    StatusCode::ACCEPTED
}

/// Lambda's Runtime API on a loopback port, handing events one at a time.
#[derive(Debug)]
pub struct RuntimeApi {
    address: SocketAddr,
    events: tokio::sync::mpsc::UnboundedSender<Value>,
    answers: mpsc::Receiver<Answer>,
    mock: Arc<Mock>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl RuntimeApi {
    /// Serves the API on a free loopback port, on a thread of its own.
    ///
    /// # Panics
    ///
    /// When no runtime or port can be had.
    pub fn start() -> Self {
        let (events, receiver) = tokio::sync::mpsc::unbounded_channel();
        let (answer, answers) = mpsc::channel();
        let mock = Arc::new(Mock {
            events: tokio::sync::Mutex::new(Some(receiver)),
            answers: Mutex::new(Some(answer)),
            ..Mock::default()
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the mock Runtime API");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/{outcome}",
                post(posted),
            )
            .with_state(mock.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            address,
            events,
            answers,
            mock,
            runtime: Some(runtime),
        }
    }

    /// `binary` with the environment Lambda sets (and nothing else of this
    /// process's but `PATH`), pointed at this API.
    pub fn command(&self, binary: &Path) -> Command {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", self.address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "onboard-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/onboard-test")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]0123")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        command
    }

    /// When the process first asked for an event, waiting up to `timeout`.
    pub fn first_poll(&self, timeout: Duration) -> Option<Instant> {
        let started = Instant::now();
        loop {
            if let Some(at) = self.mock.first_poll.get() {
                return Some(*at);
            }
            if started.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Hands `event` to the process and waits up to `timeout` for its answer.
    ///
    /// # Errors
    ///
    /// When no answer comes in time.
    pub fn invoke(&self, event: Value, timeout: Duration) -> Result<Answer, String> {
        self.events
            .send(event)
            .map_err(|_| "the Runtime API has stopped".to_owned())?;
        self.answers
            .recv_timeout(timeout)
            .map_err(|_| format!("no answer within {timeout:?}"))
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Runs `binary` as Lambda would for one invocation with `event`, with the
/// environment Lambda sets and `env`, and stops it once it has answered.
pub fn invoke_once(binary: &Path, env: &[(&str, &str)], event: Value) -> Ran {
    let api = RuntimeApi::start();
    let mut child = api
        .command(binary)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{} did not start: {err}", binary.display()));
    let answer = match api.invoke(event, Duration::from_secs(30)) {
        Ok(answer) => answer,
        Err(err) => {
            let _ = child.kill();
            let output = child.wait_with_output().expect("the process's output");
            panic!(
                "{}: {err}; it wrote:\n{}",
                binary.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    };
    // Lambda freezes the process after its answer; here it is stopped. What
    // it wrote during the invocation is in the pipes.
    std::thread::sleep(Duration::from_millis(100));
    let _ = child.kill();
    let output = child.wait_with_output().expect("the process's output");
    let lines = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    Ran {
        posted: answer.posted,
        failed: answer.failed,
        stdout: lines(&output.stdout),
        stderr: lines(&output.stderr),
    }
}

impl Ran {
    /// Every log line (standard error) as JSON; panics on one that is not.
    pub fn log_lines(&self) -> Vec<Value> {
        self.stderr
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("a log line that is not JSON ({err}): {line}"))
            })
            .collect()
    }

    /// The lines on standard output that are embedded-metric documents.
    pub fn metric_documents(&self) -> Vec<Value> {
        self.stdout
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|doc| doc.get("_aws").is_some())
            .collect()
    }

    /// Checks what every function must show in Lambda: each log line of
    /// the invocation carries `requestId` (and `xrayTraceId`) at its top
    /// level, there is at least one, and one metric document of
    /// `function` follows the embedded metric format.
    pub fn assert_observable(&self, function: &str) -> Value {
        let lines = self.log_lines();
        let in_invocation: Vec<&Value> = lines
            .iter()
            .filter(|line| line.get("requestId").is_some())
            .collect();
        assert!(
            !in_invocation.is_empty(),
            "no log line carries a top-level requestId: {:#?}",
            self.stderr
        );
        for line in &in_invocation {
            assert_eq!(line["requestId"], REQUEST_ID, "{line}");
            assert_eq!(line["xrayTraceId"], TRACE_ID, "{line}");
            assert!(line.get("spans").is_none(), "{line}");
            assert!(
                line["level"].is_string() && line["timestamp"].is_string(),
                "{line}"
            );
            assert!(line["message"].is_string(), "{line}");
        }
        let documents = self.metric_documents();
        assert_eq!(
            documents.len(),
            1,
            "one metric document per invocation: {:#?}",
            self.stdout
        );
        let document = documents[0].clone();
        crate::emf::assert_valid(&document);
        assert_eq!(document["Function"], function);
        assert_eq!(document["requestId"], REQUEST_ID);
        assert_eq!(document["xrayTraceId"], TRACE_ID);
        assert_eq!(document["ColdStart"], 1, "the first invocation is cold");
        document
    }
}
