//! The AWS API emulator (moto's server) of this test process, and the
//! template deployed into its CloudFormation.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use aws_config::SdkConfig;
use onboard_shared::aws::{Connection, EMULATOR_REGION};

use crate::venv::Venv;
use crate::workspace;

/// The emulator this test process talks to.
#[derive(Debug)]
pub struct Emulator {
    url: String,
    /// The running server and the pipe that keeps it alive (none when the
    /// emulator came from `ONBOARD_TEST_ENDPOINT`).
    _process: Option<Mutex<(Child, ChildStdin)>>,
}

impl Emulator {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How `onboard` and the adapters reach the emulator.
    pub fn connection(&self) -> Connection {
        Connection {
            endpoint_url: Some(self.url.clone()),
            region: Some(EMULATOR_REGION.to_owned()),
            profile: None,
        }
    }

    /// An SDK config for the emulator, built as the `onboard` command builds
    /// its own.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.connection().load().await
    }
}

/// The emulator of this test process, started on first use.
///
/// # Panics
///
/// When the emulator cannot be started: the message says why (no Python,
/// pip could not install the pin, the server did not come up).
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| start().unwrap_or_else(|err| panic!("the AWS emulator: {err}")))
}

fn start() -> Result<Emulator, String> {
    if let Some(url) = std::env::var("ONBOARD_TEST_ENDPOINT")
        .ok()
        .filter(|url| !url.trim().is_empty())
    {
        return Ok(Emulator {
            url,
            _process: None,
        });
    }
    let python = Venv::EMULATOR.python()?;
    let (child, stdin, url) = start_server(
        Command::new(python).arg(workspace().join("tests/moto/serve.py")),
        "http://127.0.0.1:",
    )?;
    Ok(Emulator {
        url,
        _process: Some(Mutex::new((child, stdin))),
    })
}

/// Starts a server script of `tests/moto/` that prints its URL on its first
/// line and serves until its standard input closes. Returns the process,
/// the pipe that keeps it alive, and the URL, which must start with
/// `prefix`; the script's own output goes to this process's standard error.
pub fn start_server(
    command: &mut Command,
    prefix: &str,
) -> Result<(Child, ChildStdin, String), String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("{} did not start: {err}", command.get_program().display()))?;
    let stdin = child.stdin.take().ok_or("no stdin pipe to the server")?;
    let stdout = child
        .stdout
        .take()
        .ok_or("no stdout pipe from the server")?;
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .map_err(|err| format!("reading the server's URL: {err}"))?;
    let url = first.trim().to_owned();
    if !url.starts_with(prefix) {
        let _ = child.kill();
        return Err(format!(
            "the server did not print its URL (got {url:?}); see its output above"
        ));
    }
    Ok((child, stdin, url))
}

/// `infra/template.yaml` deployed into the emulator's CloudFormation as the
/// stack `stack` (see `tests/infra/deploy_on_emulator.py`): its report, with
/// the stack's Outputs and how each resource was made.
///
/// # Panics
///
/// When the SAM venv cannot be built or the stack is not created.
pub fn deploy_template(stack: &str, parameters: &[(&str, &str)]) -> serde_json::Value {
    let python = Venv::SAM
        .python()
        .unwrap_or_else(|err| panic!("the SAM venv: {err}"));
    let mut command = Command::new(python);
    command
        .arg(workspace().join("tests/infra/deploy_on_emulator.py"))
        .args(["--endpoint", emulator().url(), "--stack", stack]);
    for (key, value) in parameters {
        command.arg("--parameter").arg(format!("{key}={value}"));
    }
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("deploying the template: {err}"));
    assert!(
        output.status.success(),
        "the template was not deployed on the emulator:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("the deploy's report is not JSON: {err}"))
}
