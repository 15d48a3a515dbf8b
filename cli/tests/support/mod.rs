//! Running the `onboard` binary on the emulator, as a person would, for the
//! CLI's integration tests.
#![allow(dead_code)] // each test crate uses its own part of it

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use onboard_tests::emulator;

/// An `onboard` command on the emulator, for one stack.
pub fn onboard(stack: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_onboard"));
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", emulator().url())
        .env("ONBOARD_STACK", stack)
        .env("RUST_LOG", "info")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID");
    command
}

/// Runs a command to its end: its exit code, standard output and error.
///
/// # Panics
///
/// When the binary cannot be started.
pub fn run(stack: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let output = onboard(stack, args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("onboard {args:?}: {err}"));
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
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

/// `onboard dev --bootstrap` for a stack, its log in `dir/dev.log` and its
/// stream positions in `dir/checkpoints.json`, once the stack's resources
/// exist.
pub fn start_dev_bootstrapped(stack: &str, dir: &Path) -> Running {
    let checkpoints = dir.join("checkpoints.json");
    let checkpoints = checkpoints
        .to_str()
        .unwrap_or_else(|| panic!("a UTF-8 path"));
    // At its default log level, as a person runs it.
    let mut command = onboard(stack, &["dev", "--bootstrap", "--checkpoints", checkpoints]);
    command.env_remove("RUST_LOG");
    let (dev, mut out) = start(command, &dir.join("dev.log"));
    line_with(&mut out, "app client");
    dev
}
