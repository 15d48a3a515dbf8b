//! The `onboard` binary run as a person runs it, on the emulator, for the
//! CLI's integration tests.
//!
//! Only the package that builds the binary knows where it is (Cargo's
//! `CARGO_BIN_EXE_onboard`), so a test file names it once:
//!
//! ```ignore
//! const ONBOARD: Onboard = Onboard::at(env!("CARGO_BIN_EXE_onboard"));
//! ```

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::emulator;

/// The `onboard` binary of this build.
#[derive(Debug, Clone, Copy)]
pub struct Onboard {
    binary: &'static str,
}

impl Onboard {
    pub const fn at(binary: &'static str) -> Self {
        Self { binary }
    }

    /// The binary with nothing set: no emulator, no stack.
    pub fn bare(self) -> Command {
        Command::new(self.binary)
    }

    /// An `onboard` command on the emulator, for one stack.
    pub fn command(self, stack: &str, args: &[&str]) -> Command {
        let mut command = self.bare();
        command
            .args(args)
            .env("AWS_ENDPOINT_URL", emulator().url())
            .env("ONBOARD_STACK", stack)
            .env("RUST_LOG", "info")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID");
        command
    }

    /// Runs a command on the emulator to its end: its exit code, standard
    /// output and error.
    ///
    /// # Panics
    ///
    /// When the binary cannot be started.
    pub fn run(self, stack: &str, args: &[&str]) -> (Option<i32>, String, String) {
        let output = self
            .command(stack, args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|err| panic!("onboard {args:?}: {err}"));
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `onboard signup` of a person the pool accepts: their user id, which
    /// the command prints.
    ///
    /// # Panics
    ///
    /// When the sign-up fails.
    pub fn sign_up(self, stack: &str, email: &str, password: &str, name: &str) -> String {
        let (code, out, err) = self.run(
            stack,
            &[
                "signup",
                "--email",
                email,
                "--password",
                password,
                "--name",
                name,
            ],
        );
        assert_eq!(code, Some(0), "{err}");
        out.trim().to_owned()
    }

    /// `onboard dev --bootstrap` for a stack, its log in `dir/dev.log` and
    /// its stream positions in `dir/checkpoints.json`, once the stack's
    /// resources exist.
    ///
    /// # Panics
    ///
    /// When it does not start, or ends before its resources exist.
    pub fn start_dev_bootstrapped(self, stack: &str, dir: &Path) -> Running {
        let checkpoints = dir.join("checkpoints.json");
        let checkpoints = checkpoints
            .to_str()
            .unwrap_or_else(|| panic!("a UTF-8 path"));
        // At its default log level, as a person runs it.
        let mut command =
            self.command(stack, &["dev", "--bootstrap", "--checkpoints", checkpoints]);
        command.env_remove("RUST_LOG");
        let (dev, mut out) = start(command, &dir.join("dev.log"));
        // The last resource it makes: the identity pool.
        line_with(&mut out, &format!("{stack}-identities"));
        dev
    }
}

/// A running command, stopped when dropped.
#[derive(Debug)]
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a command with its standard error in a file; its standard output
/// to read.
///
/// # Panics
///
/// When the command cannot be started.
pub fn start(mut command: Command, log: &Path) -> (Running, BufReader<ChildStdout>) {
    let log = std::fs::File::create(log).unwrap_or_else(|err| panic!("{}: {err}", log.display()));
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|err| panic!("starting {command:?}: {err}"));
    let stdout = child.stdout.take().map(BufReader::new);
    let running = Running(child);
    (
        running,
        stdout.unwrap_or_else(|| panic!("no standard output")),
    )
}

/// Reads lines until one contains `needle`, and returns it.
///
/// # Panics
///
/// When the output ends first.
pub fn line_with(stdout: &mut impl BufRead, needle: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let read = stdout
            .read_line(&mut line)
            .unwrap_or_else(|err| panic!("reading the output: {err}"));
        assert!(read > 0, "the output ended before `{needle}`");
        if line.contains(needle) {
            return line;
        }
    }
}

/// The first `http://` URL in a line.
///
/// # Panics
///
/// When there is none.
pub fn url_in(line: &str) -> String {
    line.split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches([',', ')', ';'])
        .to_owned()
}
