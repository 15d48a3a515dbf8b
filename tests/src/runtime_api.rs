//! Lambda's Runtime API on loopback, for running a function's real binary
//! as Lambda runs it: the binary polls `GET /runtime/invocation/next`, gets
//! an event with the headers Lambda sends (request id, deadline, function
//! ARN, trace id), and posts its response or error back.
//!
//! [`invoke_once`] runs one invocation and returns what the process wrote:
//! standard output (where the metric documents go) and standard error (the
//! log lines), as Lambda's log capture would see them.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
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

#[derive(Debug, Default)]
struct Mock {
    event: Option<Value>,
    posted: Option<(bool, Value)>,
}

type Shared = Arc<Mutex<Mock>>;

async fn next(State(mock): State<Shared>) -> (StatusCode, HeaderMap, String) {
    let event = mock.lock().ok().and_then(|mut m| m.event.take());
    let Some(event) = event else {
        // One invocation only: the next poll waits until the process is stopped.
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
    (StatusCode::OK, headers, event.to_string())
}

async fn posted(
    State(mock): State<Shared>,
    UrlPath((_, outcome)): UrlPath<(String, String)>,
    body: String,
) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    if let Ok(mut mock) = mock.lock() {
        mock.posted = Some((outcome == "error", value));
    }
    StatusCode::ACCEPTED
}

/// Runs `binary` as Lambda would for one invocation with `event`, with the
/// environment Lambda sets and `env`, and stops it once it has answered.
pub fn invoke_once(binary: &Path, env: &[(&str, &str)], event: Value) -> Ran {
    let mock: Shared = Arc::new(Mutex::new(Mock {
        event: Some(event),
        posted: None,
    }));
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

    let mut child = Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "onboard-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/onboard-test")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]0123")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{} did not start: {err}", binary.display()));
    let started = Instant::now();
    let answer = loop {
        if let Some(answer) = mock.lock().ok().and_then(|mut m| m.posted.take()) {
            break answer;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{} exited with {status} before answering", binary.display());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} did not answer within 30 s",
            binary.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    // Lambda freezes the process after its answer; here it is stopped. What
    // it wrote during the invocation is in the pipes.
    std::thread::sleep(Duration::from_millis(100));
    let _ = child.kill();
    let output = child.wait_with_output().expect("the process's output");
    runtime.shutdown_background();
    let lines = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    Ran {
        posted: answer.1,
        failed: answer.0,
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
