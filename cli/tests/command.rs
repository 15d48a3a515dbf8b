//! The `onboard` binary as a person runs it: exit codes, the table, errors.

use std::path::Path;
use std::process::Output;

use onboard_tests::onboard::Onboard;

const ONBOARD: Onboard = Onboard::at(env!("CARGO_BIN_EXE_onboard"));

fn onboard(state: &Path, args: &[&str]) -> Output {
    onboard_with_env(state, args, &[])
}

/// `onboard replay --state STATE ARGS...` in `fixtures/`, with `env` set.
fn onboard_with_env(state: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    ONBOARD
        .bare()
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
    // Each dead letter names the record it came from.
    assert!(
        stdout.contains(
            "dead letter in router-dlq, from dynamodb/batch-with-poison-records.json#1: \
             the NewImage does not decode into a user: missing field `version`"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("4 dead letters, kept with their reasons."),
        "{stdout}"
    );
    assert!(
        stdout.contains("New writes: 6 archive objects, 1 parameter of names."),
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
        stdout.contains(
            r#"→ 200 application/json; charset=utf-8 {"message":"Hello, Zoë Martin","version":1}"#
        ),
        "{stdout}"
    );
    assert!(stdout.contains("→ 401"), "{stdout}");
    assert!(
        stdout.contains("5 API requests answered by the greeting and the account function."),
        "{stdout}"
    );
    assert!(stdout.contains("DLQ archive-dlq"), "{stdout}");
}

#[test]
fn a_replay_of_the_self_service_fixtures_renames_exports_and_erases_as_the_api_would() {
    // GIVEN Noa's sign-up, then her requests to the self-service API
    let state = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let stdout = succeeded(&onboard(state.path(), &["self-service"]));
    // THEN each request gets the answer API Gateway and the functions give,
    // in order, with the request validator's 400s from the same schema
    let statuses: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("→ "))
        .map(|answer| &answer[..3])
        .collect();
    assert_eq!(
        statuses,
        [
            "200", "200", "200", "400", "400", "400", "400", "400", "400", "400", "400", "200",
            "401", "200", "200", "410", "200"
        ],
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"{"message":"Hello, Noa Lind","version":2}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"{"erased":true,"version":4}"#),
        "{stdout}"
    );
    // AND the rename and the erasure went on through the pipeline
    assert!(
        stdout.contains("account            AccountsChanged 2, AccountsErased 1, Unanswered 10"),
        "{stdout}"
    );
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
fn every_stack_command_without_credentials_says_so_in_one_line_and_exits_two() {
    // A folder with no local state: nothing hints at an emulator.
    let nowhere = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    for args in [
        &["queues"][..],
        &["dlq", "peek", "archive"],
        &["doctor"],
        &["reconcile"],
        &["token", "--email", "zoe@example.com", "--password", "x"],
    ] {
        let output = ONBOARD
            .bare()
            .current_dir(&nowhere)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", env!("CARGO_TARGET_TMPDIR"))
            // No instance metadata to ask, wherever the tests run.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "eu-west-1")
            .args(args)
            .output()
            .expect("onboard starts");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(
            stderr.contains("no AWS credentials were found") && stderr.contains("AWS_PROFILE"),
            "{args:?}: {stderr}"
        );
        assert!(text(&output.stdout).is_empty(), "{args:?}");
        assert!(!stderr.contains("--endpoint-url"), "{args:?}: {stderr}");
    }
}

#[test]
fn without_credentials_in_a_folder_used_with_an_emulator_the_line_names_the_endpoint_flag() {
    // GIVEN a folder where a replay kept its local state
    let folder = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let replay = ONBOARD
        .bare()
        .current_dir(folder.path())
        .args(["replay", "--state", ".onboard/state"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cognito"))
        .output()
        .unwrap_or_else(|err| panic!("{err}"));
    succeeded(&replay);
    // WHEN a stack command runs there with no endpoint and no credentials
    let output = ONBOARD
        .bare()
        .current_dir(folder.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "eu-west-1")
        .arg("queues")
        .output()
        .unwrap_or_else(|err| panic!("{err}"));
    // THEN its one line also says how to reach an emulator
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no AWS credentials were found")
            && stderr.contains("--endpoint-url URL (or AWS_ENDPOINT_URL)"),
        "{stderr}"
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

/// A stream record of user `user` at `version` (created at 1, renamed after), one line.
fn record_line(user: usize, version: u64, sequence: u128) -> String {
    let image = |version: u64| {
        serde_json::json!({
            "user_id": { "S": format!("u-{user:05}") },
            "created_at": { "S": "2026-01-01T09:00:00.000Z" },
            "version": { "N": version.to_string() },
            "name": { "S": format!("User {user} v{version}") },
        })
    };
    let mut change = serde_json::json!({
        "Keys": { "user_id": { "S": format!("u-{user:05}") } },
        "NewImage": image(version),
        "SequenceNumber": sequence.to_string(),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "SizeBytes": 200,
        "ApproximateCreationDateTime": 1767258000.0,
    });
    if version > 1 {
        change["OldImage"] = image(version - 1);
    }
    let record = serde_json::json!({
        "eventID": format!("e{sequence}"),
        "eventName": if version == 1 { "INSERT" } else { "MODIFY" },
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.1",
        "awsRegion": "eu-west-1",
        "dynamodb": change,
    });
    format!("{record}\n")
}

/// `users` users, each created then renamed, as JSON Lines of stream records.
fn generated_records(users: usize) -> String {
    let mut sequence: u128 = 100_000_000_000_000_000_000;
    let mut lines = String::new();
    for user in 0..users {
        for version in [1, 2] {
            sequence += 1;
            lines.push_str(&record_line(user, version, sequence));
        }
    }
    lines
}

/// Every file of a state folder but its lock, by path, with its bytes.
fn state_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap_or_else(|err| panic!("{err}")) {
            let path = entry.unwrap_or_else(|err| panic!("{err}")).path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|name| name != ".lock") {
                let name = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                files.insert(
                    name,
                    std::fs::read(&path).unwrap_or_else(|err| panic!("{err}")),
                );
            }
        }
    }
    files
}

#[test]
fn a_replay_killed_at_any_moment_then_run_again_ends_where_a_clean_run_does() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let input = dir.path().join("records.jsonl");
    std::fs::write(&input, generated_records(3000)).unwrap_or_else(|err| panic!("{err}"));
    let input = input.display().to_string();
    let replay = |state: &Path| {
        ONBOARD
            .bare()
            .args(["replay", "--no-progress", "--json", "--state"])
            .arg(state)
            .arg(&input)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("onboard did not start: {err}"))
    };
    // A clean run, to compare with.
    let clean = dir.path().join("clean");
    let status = replay(&clean).wait().unwrap_or_else(|err| panic!("{err}"));
    assert!(status.success());
    let expected = state_files(&clean);
    assert!(
        expected
            .keys()
            .filter(|k| k.starts_with("archive/users/"))
            .count()
            == 3000
    );

    // Runs killed (SIGKILL) at moments spread over a run, writes included.
    let crashed = dir.path().join("crashed");
    let mut killed = 0;
    for moment in (0..12).map(|k| std::time::Duration::from_millis(150 * k + 40)) {
        let mut child = replay(&crashed);
        std::thread::sleep(moment);
        if child
            .try_wait()
            .unwrap_or_else(|err| panic!("{err}"))
            .is_none()
        {
            child.kill().unwrap_or_else(|err| panic!("{err}"));
            killed += 1;
        }
        child.wait().unwrap_or_else(|err| panic!("{err}"));
        // Whatever a kill left, every state file is whole: JSON that reads.
        if crashed.exists() {
            for (name, bytes) in state_files(&crashed) {
                if name.ends_with(".json") {
                    assert!(
                        serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
                        "{name} is cut or empty after a kill at {moment:?}"
                    );
                }
            }
        }
    }
    assert!(killed > 0, "no run was killed: the moments are too late");
    // Run again to the end: the state is the clean run's.
    let status = replay(&crashed)
        .wait()
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(status.success());
    let got = state_files(&crashed);
    let differ: Vec<&String> = expected
        .keys()
        .chain(got.keys())
        .filter(|name| !name.ends_with(".tmp") && expected.get(*name) != got.get(*name))
        .collect();
    assert!(
        differ.is_empty(),
        "{} files differ: {:?}",
        differ.len(),
        &differ[..differ.len().min(5)]
    );
}

/// A state folder's files as a replay would compare them: dead letters line
/// by line without the time they were sent, `.tmp` files left out.
fn comparable(dir: &Path) -> std::collections::BTreeMap<String, String> {
    state_files(dir)
        .into_iter()
        .filter(|(name, _)| !name.ends_with(".tmp"))
        .map(|(name, bytes)| {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if name.starts_with("dead-letters/") {
                let lines: Vec<String> = text
                    .lines()
                    .map(|line| {
                        let mut letter: serde_json::Value = serde_json::from_str(line)
                            .unwrap_or_else(|err| panic!("{name}: {err}"));
                        letter.as_object_mut().map(|o| o.remove("sent_at"));
                        letter.to_string()
                    })
                    .collect();
                (name, lines.join("\n"))
            } else {
                (name, text)
            }
        })
        .collect()
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|err| panic!("{err}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|err| panic!("{err}")) {
        let entry = entry.unwrap_or_else(|err| panic!("{err}"));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|err| panic!("{err}"));
        }
    }
}

#[test]
fn a_crash_at_every_write_boundary_then_a_rerun_ends_where_a_clean_run_does() {
    // GIVEN a state from a first replay, and a second input that renames
    // some users, adds others and holds a line that is no event
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let first = dir.path().join("first.jsonl");
    std::fs::write(&first, generated_records(6)).unwrap_or_else(|err| panic!("{err}"));
    let mut second = String::new();
    let mut sequence: u128 = 200_000_000_000_000_000_000;
    for user in 0..3 {
        sequence += 1;
        second.push_str(&record_line(user, 3, sequence));
    }
    second.push_str("{ not an event\n");
    for user in 6..8 {
        sequence += 1;
        second.push_str(&record_line(user, 1, sequence));
    }
    let second_path = dir.path().join("second.jsonl");
    std::fs::write(&second_path, second).unwrap_or_else(|err| panic!("{err}"));
    let replay = |state: &Path, input: &Path, crash_at: Option<u64>| {
        let mut command = ONBOARD.bare();
        command
            .args(["replay", "--no-progress", "--json", "--state"])
            .arg(state)
            .arg(input)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(at) = crash_at {
            command.env("ONBOARD_CRASH_AT_WRITE", at.to_string());
        }
        command.status().unwrap_or_else(|err| panic!("{err}"))
    };
    let base = dir.path().join("base");
    assert!(replay(&base, &first, None).success());
    let clean = dir.path().join("clean");
    copy_folder(&base, &clean);
    assert!(replay(&clean, &second_path, None).success());
    let expected = comparable(&clean);

    // WHEN the second replay crashes at each write boundary in turn, and is
    // run again
    let mut boundaries = 0;
    for at in 1.. {
        let state = dir.path().join(format!("crash-{at}"));
        copy_folder(&base, &state);
        if replay(&state, &second_path, Some(at)).success() {
            break; // past the last boundary: nothing crashed
        }
        boundaries += 1;
        // THEN whatever the crash left reads, and the rerun ends where the
        // clean run did
        for (name, bytes) in state_files(&state) {
            if name.ends_with(".json") {
                assert!(
                    serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
                    "{name} is cut after a crash at boundary {at}"
                );
            }
        }
        assert!(
            replay(&state, &second_path, None).success(),
            "rerun after boundary {at}"
        );
        assert_eq!(
            comparable(&state),
            expected,
            "after a crash at boundary {at}"
        );
        std::fs::remove_dir_all(&state).unwrap_or_else(|err| panic!("{err}"));
    }
    // Objects, index, parameters, table and a dead letter: each has its own.
    assert!(boundaries >= 15, "only {boundaries} write boundaries");
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "crashes: a crash at each of {boundaries} write boundaries, each rerun ended as a clean run"
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_replay_quietly_and_its_state_is_still_saved() {
    // GIVEN a replay of many records whose output is read one line, then closed
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let input = dir.path().join("records.jsonl");
    std::fs::write(&input, generated_records(500)).unwrap_or_else(|err| panic!("{err}"));
    let state = dir.path().join("state");
    let mut child = ONBOARD
        .bare()
        .args(["replay", "--no-progress", "--state"])
        .arg(&state)
        .arg(&input)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("onboard did not start: {err}"));
    let mut stdout = child.stdout.take().unwrap_or_else(|| unreachable!());
    let mut first = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(&first, b"SOURCE");
    // WHEN the reader goes away (as `| head -1` does)
    drop(stdout);
    let output = child
        .wait_with_output()
        .unwrap_or_else(|err| panic!("{err}"));
    // THEN no panic, no message, exit 0, and every user is in the state
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let archived = state_files(&state)
        .keys()
        .filter(|k| k.starts_with("archive/users/"))
        .count();
    assert_eq!(archived, 500);
}

#[test]
fn a_dead_letter_file_cut_short_by_a_crash_is_repaired_and_the_replay_says_where() {
    // GIVEN a state whose router DLQ file ends in a line a crash cut short
    let state = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    succeeded(&onboard(
        state.path(),
        &["dynamodb/batch-with-poison-records.json"],
    ));
    let file = state.path().join("dead-letters/router-dlq.jsonl");
    let whole = std::fs::read_to_string(&file).unwrap_or_else(|err| panic!("{err}"));
    let cut = &whole[..whole.len() - 10];
    std::fs::write(&file, cut).unwrap_or_else(|err| panic!("{err}"));
    let dropped = cut.len() - cut.rfind('\n').map_or(0, |end| end + 1);

    // WHEN the next replay opens the state
    let stdout = succeeded(&onboard(state.path(), &["cognito"]));

    // THEN it says it dropped the cut line, of which file, and the file is whole again
    assert!(
        stdout.contains(&format!(
            "repaired {}: dropped its last line, {dropped} bytes cut short by a crash",
            file.display()
        )),
        "{stdout}"
    );
    let repaired = std::fs::read_to_string(&file).unwrap_or_else(|err| panic!("{err}"));
    assert!(repaired.ends_with('\n') && whole.starts_with(&repaired));
    let json = succeeded(&onboard(state.path(), &["--json", "cognito"]));
    let report: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|err| panic!("{err}: {json}"));
    assert_eq!(report["repairs"], serde_json::json!([]), "repaired once");
}

#[test]
fn a_state_file_that_cannot_be_read_is_named_in_the_error() {
    // GIVEN a state folder whose table.json is a folder
    let state = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    std::fs::create_dir(state.path().join("table.json")).unwrap_or_else(|err| panic!("{err}"));
    // WHEN a replay opens it
    let output = onboard(state.path(), &["cognito"]);
    // THEN the one line names the file and the reason
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: Is a directory",
            state.path().join("table.json").display()
        )),
        "{stderr}"
    );
}

#[test]
fn one_dead_letter_is_said_in_the_singular_with_the_line_it_came_from() {
    // GIVEN JSON Lines with one record and one line that is no event
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let input = dir.path().join("records.jsonl");
    let lines = format!(
        "{}not an event\n",
        record_line(0, 1, 100_000_000_000_000_000_001)
    );
    std::fs::write(&input, lines).unwrap_or_else(|err| panic!("{err}"));
    // WHEN it is replayed
    let output = ONBOARD
        .bare()
        .args(["replay", "--no-progress", "--state"])
        .arg(dir.path().join("state"))
        .arg(&input)
        .output()
        .unwrap_or_else(|err| panic!("{err}"));
    // THEN one dead letter, named by its file and record, in the singular
    let stdout = succeeded(&output);
    assert!(
        stdout.contains(&format!(
            "dead letter in router-dlq, from {}#1: line 2: not a JSON event",
            input.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 dead letter, kept with its reason."),
        "{stdout}"
    );
}
