//! Test support: a real AWS API emulator (moto's server) on loopback.
//!
//! [`emulator`] starts one emulator per test process, the first time a test
//! asks for it, and every test of that process shares it, each with
//! resources of its own names ([`unique`]). Nothing needs starting by hand:
//!
//! - The emulator runs from a project-local Python venv, `.venv` at the
//!   workspace root, with the moto pinned in `tests/moto/requirements.txt`.
//!   The venv is created (or brought up to the pin) when it is missing,
//!   under a file lock, so test processes running side by side build it once.
//!   The template checks and the release build use a second one,
//!   [`Venv::INFRA`] (cfn-lint, checkov, cargo-lambda), and the SAM CLI a
//!   third, [`Venv::SAM`], built the same way.
//! - `tests/moto/serve.py` binds a free port on 127.0.0.1 and prints its
//!   URL. Its standard input is a pipe this process holds: when the test
//!   process ends, however it ends, the pipe closes and the emulator stops.
//! - The browser tests' Chromium and Playwright are installed the same way,
//!   by [`browser`].
//! - `ONBOARD_TEST_ENDPOINT=http://127.0.0.1:PORT` uses an emulator that is
//!   already running instead; `ONBOARD_PYTHON` names the Python that builds
//!   the venv (default `python3`).

pub mod browser;
pub mod contract;
pub mod emf;
pub mod property;
pub mod release;
pub mod runtime_api;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider as cognito;
use onboard_shared::aws::{Connection, EMULATOR_REGION, sqs};
use onboard_shared::wire::REASON_ATTRIBUTE;

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

/// A name no other test of this run uses: `<prefix>-<pid>-<n>`, within the
/// limits of queue, table and bucket names (lowercase, digits, `-`).
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
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

/// A user's ID token from the pool, as the hosted UI would get it (here by
/// `USER_PASSWORD_AUTH`).
///
/// # Panics
///
/// When the pool refuses the user.
pub async fn id_token(sdk: &SdkConfig, client_id: &str, username: &str, password: &str) -> String {
    cognito::Client::new(sdk)
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(cognito::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap_or_else(|err| panic!("signing in: {err}"))
        .authentication_result
        .and_then(|result| result.id_token)
        .unwrap_or_else(|| panic!("signing in gave no ID token"))
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

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .to_owned()
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

/// A project-local Python venv holding exactly the requirements pinned in a
/// file of the repository.
#[derive(Debug, Clone, Copy)]
pub struct Venv {
    /// The venv's folder, at the workspace root.
    dir: &'static str,
    /// The pinned requirements, relative to the workspace root.
    requirements: &'static str,
}

impl Venv {
    /// moto's server, the AWS API emulator.
    pub const EMULATOR: Venv = Venv {
        dir: ".venv",
        requirements: "tests/moto/requirements.txt",
    };
    /// The template's linters and the Lambda release build.
    pub const INFRA: Venv = Venv {
        dir: ".venv-infra",
        requirements: "tests/infra/requirements.txt",
    };
    /// The SAM CLI and translator (their pins conflict with checkov's).
    pub const SAM: Venv = Venv {
        dir: ".venv-sam",
        requirements: "tests/sam/requirements.txt",
    };

    /// The venv's Python, the venv built first when needed.
    pub fn python(self) -> Result<PathBuf, String> {
        self.tool("python")
    }

    /// A program the venv installed (`cfn-lint`, `cargo-lambda`, ...), the
    /// venv built first when needed.
    pub fn tool(self, name: &str) -> Result<PathBuf, String> {
        self.ensure(&workspace())?;
        Ok(workspace().join(self.dir).join("bin").join(name))
    }

    /// Makes the venv hold exactly the pinned requirements, once.
    fn ensure(self, root: &Path) -> Result<(), String> {
        let venv = root.join(self.dir);
        let python = venv.join("bin/python");
        let requirements = root.join(self.requirements);
        let wanted = std::fs::read_to_string(&requirements)
            .map_err(|err| format!("{}: {err}", requirements.display()))?;
        let stamp = venv.join("onboard-requirements.txt");
        let ready =
            || python.exists() && std::fs::read_to_string(&stamp).ok().as_ref() == Some(&wanted);
        if ready() {
            return Ok(());
        }

        // Several test processes may get here at once: one builds, the others wait.
        with_lock(self.dir, || {
            if ready() {
                return Ok(());
            }
            if !python.exists() {
                let base = std::env::var("ONBOARD_PYTHON").unwrap_or_else(|_| "python3".to_owned());
                run(Command::new(&base).args(["-m", "venv"]).arg(&venv))
                    .map_err(|err| format!("creating {} with {base}: {err}", venv.display()))?;
            }
            run(Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements))
            .map_err(|err| format!("installing {}: {err}", requirements.display()))?;
            std::fs::write(&stamp, &wanted).map_err(|err| format!("{}: {err}", stamp.display()))?;
            Ok(())
        })
    }
}

/// Runs `f` holding `<name>.lock` at the workspace root, so that test
/// processes running side by side install a thing once.
pub(crate) fn with_lock(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let path = workspace().join(format!("{name}.lock"));
    let lock = File::create(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    lock.lock()
        .map_err(|err| format!("locking {}: {err}", path.display()))?;
    f()
}

/// Runs a command to its end; its standard error when it fails.
pub(crate) fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|err| err.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
