//! The `onboard` binary as a person runs it: exit codes, the table, errors.

use std::path::Path;
use std::process::{Command, Output};

fn onboard(state: &Path, args: &[&str]) -> Output {
    onboard_with_env(state, args, &[])
}

/// `onboard replay --state STATE ARGS...` in `fixtures/`, with `env` set.
fn onboard_with_env(state: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    Command::new(env!("CARGO_BIN_EXE_onboard"))
        .current_dir(&fixtures)
        .envs(env.iter().copied())
        .arg("replay")
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("onboard did not start: {err}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that the run exited 0 (showing what it printed if not); its stdout.
fn succeeded(output: &Output) -> String {
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    stdout
}

#[test]
fn a_replay_prints_a_line_per_record_and_a_summary_and_exits_zero() {
    let state = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let stdout = succeeded(&onboard(state.path(), &["cognito", "dynamodb"]));
    assert!(stdout.starts_with("SOURCE"), "{stdout}");
    assert!(stdout.contains("sign-up: recorded"), "{stdout}");
    assert!(stdout.contains("DLQ router-dlq"), "{stdout}");
    assert!(stdout.contains("15 records from 6 files"), "{stdout}");
    assert!(
        stdout.contains("New writes: 6 archive objects, 6 parameters."),
        "{stdout}"
    );
    assert!(!stdout.contains("@example"), "no email in the output");

    let again = text(&onboard(state.path(), &["cognito", "dynamodb"]).stdout);
    assert!(again.contains("No new writes"), "{again}");
}

#[test]
fn a_replay_of_every_fixture_folder_prints_the_greeting_s_answers_and_exits_zero() {
    let state = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let stdout = succeeded(&onboard(
        state.path(),
        &["cognito", "dynamodb", "sqs", "apigw"],
    ));
    assert!(
        stdout.contains(r#"→ 200 application/json; charset=utf-8 {"message":"Hello, Zoë Martin"}"#),
        "{stdout}"
    );
    assert!(stdout.contains("→ 401"), "{stdout}");
    assert!(
        stdout.contains("5 API requests answered by the greeting."),
        "{stdout}"
    );
    assert!(stdout.contains("DLQ archive-dlq"), "{stdout}");
}

#[test]
fn a_file_that_is_not_an_event_is_named_with_its_reason_and_the_exit_code_is_one() {
    let state = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let output = onboard(
        state.path(),
        &[
            "malformed/not-json.json",
            "cognito/post-confirmation-sign-up.json",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("not replayed: malformed/not-json.json: is not a JSON event"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sign-up: recorded"),
        "the other file was still replayed: {stdout}"
    );
}

#[test]
fn a_missing_path_is_an_error_on_standard_error_with_exit_code_two() {
    let state = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let output = onboard(state.path(), &["no-such-folder"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).starts_with("onboard replay: no-such-folder:"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn an_endpoint_left_in_the_environment_does_not_move_the_replay_off_the_local_state() {
    let state = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let stdout = succeeded(&onboard_with_env(
        state.path(),
        &["cognito"],
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
    ));
    assert!(stdout.contains("State: "), "{stdout}");
    assert!(state.path().join("table.json").exists());
}

#[test]
fn a_rejected_trigger_shows_its_whole_reason_and_the_summary_says_so() {
    let state = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let output = onboard(state.path(), &["malformed/cognito-without-sub.json"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(
            "→ rejected: the confirmed user cannot be recorded: the attribute `sub` is required but missing"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 trigger event rejected: nothing was recorded for it"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("the state already held every change"),
        "{stdout}"
    );
}
