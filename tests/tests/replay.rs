//! End-to-end: fixtures replayed through the whole pipeline, in-process, on
//! local state, exactly as `onboard replay` runs them.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use onboard_cli::commands::replay::{self, Options, Summary};
use onboard_cli::engine::event_source::Settings;
use onboard_shared::published::ParameterPrefix;
use onboard_tests::published::{names_in, reported};
use serde_json::Value;

fn fixtures(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path)
}

fn options(state: &Path, paths: &[&str]) -> Options {
    Options::local_json(
        paths.iter().map(|p| fixtures(p)).collect(),
        state.to_owned(),
    )
}

async fn replay_json(options: &Options) -> (Summary, Value) {
    let mut out = Vec::new();
    let summary = replay::run(options, &mut out).await.unwrap();
    let report = serde_json::from_slice(&out).unwrap_or_else(|err| {
        panic!(
            "--json is not JSON ({err}): {}",
            String::from_utf8_lossy(&out)
        )
    });
    (summary, report)
}

/// Every file of the state folder, by relative path, with its content.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(
                    path.strip_prefix(root).unwrap().to_owned(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[tokio::test]
async fn replaying_the_fixtures_twice_changes_nothing_the_second_time() {
    let state = tempfile::tempdir().unwrap();
    let options = options(state.path(), &["cognito", "dynamodb"]);

    let (first, report) = replay_json(&options).await;
    assert!(first.succeeded());
    assert!(first.archive_writes > 0 && first.parameter_writes > 0);
    let after_first = snapshot(state.path());

    let (second, report_again) = replay_json(&options).await;
    assert!(second.succeeded());
    assert_eq!(second.archive_writes, 0, "{report_again}");
    assert_eq!(second.parameter_writes, 0);
    assert_eq!(report_again["archive"], serde_json::json!([]));
    assert_eq!(report_again["parameters"], serde_json::json!([]));
    assert_eq!(
        snapshot(state.path()),
        after_first,
        "the state is the same after the second replay"
    );
    assert_eq!(
        report["records"].as_array().unwrap().len(),
        report_again["records"].as_array().unwrap().len()
    );
}

#[tokio::test]
async fn a_sign_up_replayed_twice_and_a_password_reset_leave_one_user_at_version_one() {
    let state = tempfile::tempdir().unwrap();
    let paths = [
        "cognito/post-confirmation-sign-up.json",
        "cognito/post-confirmation-sign-up.json",
        "cognito/post-confirmation-forgot-password.json",
    ];
    let (summary, report) = replay_json(&options(state.path(), &paths)).await;
    assert!(summary.succeeded());
    let triggers: Vec<_> = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["trigger"].clone())
        .collect();
    assert_eq!(
        triggers,
        [
            "sign-up: recorded",
            "sign-up: already recorded",
            "password reset: ignored"
        ]
    );

    let table: Value =
        serde_json::from_slice(&std::fs::read(state.path().join("table.json")).unwrap()).unwrap();
    let items = table["items"].as_object().unwrap();
    assert_eq!(items.len(), 1);
    let zoe = &items["7d8a3f4e-0b1c-4e6f-9a2b-3c4d5e6f7a8b"];
    assert_eq!(zoe["version"], 1);
    assert_eq!(zoe["name"], "Zoë Martin");
    // The chain ran once: one archive object and one parameter, both at version 1.
    assert_eq!(
        report["archive"],
        serde_json::json!([{"key": "users/7d8a3f4e-0b1c-4e6f-9a2b-3c4d5e6f7a8b.json", "removed": false, "version": 1}])
    );
    let names = names_in("/onboard", &reported(&report));
    let zoe = &names["7d8a3f4e-0b1c-4e6f-9a2b-3c4d5e6f7a8b"];
    assert_eq!((zoe.name.as_deref(), zoe.version), (Some("Zoë Martin"), 1));
    assert_eq!(report["parameters"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_json_report_names_each_record_its_dead_letters_and_every_write() {
    let state = tempfile::tempdir().unwrap();
    let (_, report) = replay_json(&options(state.path(), &["dynamodb"])).await;
    let records = report["records"].as_array().unwrap();
    assert_eq!(records.len(), 12);
    let linus = &records[0];
    assert_eq!(linus["user_id"], "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a80");
    assert_eq!(linus["version"], 1);
    for consumer in ["router", "archive", "publish"] {
        assert_eq!(linus[consumer]["outcome"], "applied", "{consumer}: {linus}");
    }
    let dead_letters = report["dead_letters"].as_array().unwrap();
    assert_eq!(dead_letters.len(), 4);
    assert!(
        dead_letters
            .iter()
            .all(|d| d["queue"] == "router-dlq" && d["source"] == "stream-router")
    );
    assert!(dead_letters.iter().any(|d| {
        d["reason"]
            .as_str()
            .unwrap()
            .contains("missing field `version`")
    }));

    let archive: BTreeMap<_, _> = report["archive"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_owned(),
                (o["version"].clone(), o["removed"].clone()),
            )
        })
        .collect();
    assert_eq!(
        archive["users/1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9.json"],
        (3.into(), false.into())
    );
    assert_eq!(
        archive["users/4f3e2d1c-0b9a-4877-a665-544332211000.json"],
        (1.into(), true.into())
    );
    let parameters = reported(&report);
    let ada = &names_in("/onboard", &parameters)["1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9"];
    assert_eq!((ada.name.as_deref(), ada.version), (Some("Ada King"), 3));
    assert!(
        parameters.keys().all(|name| !name.contains('@')),
        "no email in any parameter name"
    );
    assert!(
        !report.to_string().contains("@example"),
        "no email anywhere in the report"
    );
}

#[tokio::test]
async fn poison_records_end_in_the_router_dlq_with_their_reason_while_the_others_complete() {
    let state = tempfile::tempdir().unwrap();
    let (summary, report) = replay_json(&options(
        state.path(),
        &["dynamodb/batch-with-poison-records.json"],
    ))
    .await;
    assert!(
        summary.succeeded(),
        "dead letters are a designed outcome, not a failed replay"
    );
    assert_eq!(summary.router.applied, 1);
    assert_eq!(summary.router.dead_lettered, 4);
    assert_eq!(summary.archive.applied, 1);
    assert_eq!(summary.publish.applied, 1);
    let kept = std::fs::read_to_string(state.path().join("dead-letters/router-dlq.jsonl")).unwrap();
    assert_eq!(kept.lines().count(), 4);
    assert!(kept.contains("onboard.reason"));
    // The schema's own words stay whole in a reason (only input values go).
    assert!(
        kept.contains("only letters, digits, `-` and `_` are allowed"),
        "{kept}"
    );
    assert_eq!(report["dead_letters"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn sqs_batches_reach_their_consumer_and_api_requests_the_greeting() {
    let state = tempfile::tempdir().unwrap();
    let (summary, report) = replay_json(&options(
        state.path(),
        &["cognito", "dynamodb", "sqs", "apigw"],
    ))
    .await;
    assert!(summary.succeeded(), "{report}");
    assert_eq!(summary.requests, 5);
    let records = report["records"].as_array().unwrap();
    let from = |folder: &'static str| {
        records
            .iter()
            .filter(move |r| r["source"].as_str().unwrap().contains(folder))
    };
    // Each SQS message went to the consumer its eventSourceARN names (the
    // archive queue), and nothing to the router or the publisher.
    let sqs: Vec<_> = from("/sqs/").collect();
    assert_eq!(sqs.len(), 9);
    for row in &sqs {
        assert_eq!(row["input"], "sqs");
        assert!(row["archive"].is_object(), "{row}");
        assert!(row["router"].is_null() && row["publish"].is_null(), "{row}");
    }
    // The poison messages are dead-lettered with their reasons, once each.
    let poisoned = sqs
        .iter()
        .filter(|r| r["archive"]["outcome"] == "dead_lettered")
        .count();
    assert_eq!(poisoned, 3);
    // The greeting read the names the replay published a moment before.
    let answers: BTreeMap<String, (i64, String)> = from("/apigw/")
        .map(|r| {
            let name = r["source"].as_str().unwrap().rsplit('/').next().unwrap();
            let response = &r["response"];
            (
                name.to_owned(),
                (
                    response["status"].as_i64().unwrap(),
                    response["body"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(
        answers["hello-json.json"],
        (
            200,
            r#"{"message":"Hello, Zoë Martin","version":1}"#.to_owned()
        )
    );
    assert_eq!(answers["hello-without-claims.json"].0, 401);
    assert!(
        answers["hello-html-unsafe-name.json"]
            .1
            .contains("&lt;b&gt;")
    );
    assert!(answers["sign-in-page.json"].1.contains("<html"));
}

/// The SQS fixture's messages as received from the queue `queue`, in a
/// file of `dir`.
fn sqs_messages_from(dir: &Path, queue: &str) -> PathBuf {
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures("sqs/changes-out-of-order.json")).unwrap(),
    )
    .unwrap();
    for record in event["Records"].as_array_mut().unwrap() {
        record["eventSourceARN"] = format!("arn:aws:sqs:eu-west-1:123456789012:{queue}").into();
    }
    let path = dir.join("messages.json");
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

#[tokio::test]
async fn an_sqs_message_goes_to_the_publisher_when_its_queue_is_the_publish_queue() {
    let state = tempfile::tempdir().unwrap();
    let path = sqs_messages_from(state.path(), "onboard-publish");
    let mut options = options(&state.path().join("state"), &[]);
    options.paths = vec![path];
    let (summary, report) = replay_json(&options).await;
    assert!(summary.succeeded(), "{report}");
    assert_eq!(summary.publish.applied, 2, "{report}");
    assert_eq!(summary.archive.applied + summary.archive.skipped, 0);
    let name = &report["parameters"][0];
    assert!(
        name["name"]
            .as_str()
            .unwrap()
            .starts_with("/onboard/names/"),
        "{report}"
    );
}

#[tokio::test]
async fn a_stack_whose_name_holds_both_queue_words_has_its_messages_go_to_the_right_consumer() {
    // GIVEN a stack called `archive-publish`, and messages from its publish queue
    let state = tempfile::tempdir().unwrap();
    let path = sqs_messages_from(state.path(), "archive-publish-publish");
    let mut options = options(&state.path().join("state"), &[]);
    options.paths = vec![path];
    options.queues = onboard_cli::stack::Names::for_stack(
        "archive-publish",
        onboard_cli::stack::default_parameter_prefix("onboard"),
    )
    .queue_names();
    // WHEN they are replayed
    let (summary, report) = replay_json(&options).await;
    // THEN the publisher took them, by the stack's names, not by the words
    assert!(summary.succeeded(), "{report}");
    assert_eq!(summary.publish.applied, 2, "{report}");
    assert_eq!(summary.archive.applied + summary.archive.skipped, 0);
}

#[tokio::test]
async fn every_fixture_is_replayed_or_refused_with_a_reason() {
    let state = tempfile::tempdir().unwrap();
    let (summary, report) = replay_json(&options(state.path(), &[""])).await;
    assert!(
        !summary.succeeded(),
        "malformed fixtures make the replay say so"
    );
    let files: BTreeMap<_, _> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap();
            let name = path
                .rsplit_once("fixtures/")
                .map_or(path, |(_, n)| n)
                .trim_start_matches('/')
                .to_owned();
            (name, f["refused"].as_str().map(str::to_owned))
        })
        .collect();
    let every_fixture = std::fs::read_dir(fixtures(""))
        .unwrap()
        .flat_map(|dir| std::fs::read_dir(dir.unwrap().path()).unwrap())
        .count();
    assert_eq!(files.len(), every_fixture, "{files:?}");
    for (name, refused) in &files {
        let replayable =
            !name.starts_with("malformed/") || name == "malformed/cognito-without-sub.json";
        assert_eq!(refused.is_none(), replayable, "{name}: {refused:?}");
    }
    assert_eq!(summary.triggers_rejected, 1);
    let rejected = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["source"]
                .as_str()
                .unwrap()
                .ends_with("cognito-without-sub.json")
        })
        .unwrap();
    assert_eq!(
        rejected["trigger"],
        "rejected: the confirmed user cannot be recorded: the attribute `sub` is required but missing"
    );
}

#[tokio::test]
async fn a_large_json_lines_replay_is_streamed_through_every_handler() {
    let dir = tempfile::tempdir().unwrap();
    let template: Value = serde_json::from_str(include_str!(
        "../../fixtures/dynamodb/insert-modify-remove.json"
    ))
    .unwrap();
    let insert = &template["Records"][0];
    let mut lines = String::new();
    for i in 0..5_000_u64 {
        let mut record = insert.clone();
        let user = format!("user-{:05}", i % 500);
        record["eventID"] = format!("event-{i}").into();
        record["eventName"] = (if i < 500 { "INSERT" } else { "MODIFY" }).into();
        record["dynamodb"]["Keys"]["user_id"]["S"] = user.clone().into();
        record["dynamodb"]["NewImage"]["user_id"]["S"] = user.into();
        record["dynamodb"]["NewImage"]["version"]["N"] = (i / 500 + 1).to_string().into();
        record["dynamodb"]["SequenceNumber"] =
            format!("{}", 200_000_000_000_000_000_000_u128 + u128::from(i)).into();
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    let path = dir.path().join("many.jsonl");
    std::fs::write(&path, lines).unwrap();
    let mut options = options(&dir.path().join("state"), &[]);
    options.paths = vec![path];
    let (summary, report) = replay_json(&options).await;
    assert_eq!(summary.records, 5_000);
    assert_eq!(summary.router.applied, 5_000);
    assert_eq!(summary.archive.applied, 5_000);
    assert_eq!(summary.archive_writes, 500);
    // 500 users in a few parameters of names, each at its tenth version.
    assert!(
        (1..=20).contains(&summary.parameter_writes),
        "{}",
        summary.parameter_writes
    );
    assert_eq!(report["records"][4_999]["version"], 10);
    let parameters: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(dir.path().join("state/parameters.json")).unwrap())
            .unwrap();
    let names = names_in("/onboard", &parameters);
    assert_eq!(names.len(), 500);
    assert!(names.values().all(|name| name.version == 10));
}

#[tokio::test]
async fn a_path_that_does_not_exist_is_a_clear_error() {
    let state = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    let err = replay::run(&options(state.path(), &["nowhere"]), &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
}

#[tokio::test]
async fn a_second_replay_into_a_state_folder_in_use_stops_with_a_clear_error() {
    // GIVEN a replay holding a state folder (its pipeline open)
    let state = tempfile::tempdir().unwrap();
    let held = onboard_cli::engine::pipeline::LocalPipeline::open(
        state.path(),
        ParameterPrefix::parse("/onboard").unwrap(),
        Settings::default(),
    )
    .unwrap();
    // WHEN another replay starts on the same folder
    let options = options(state.path(), &["cognito"]);
    let err = replay::run(&options, &mut Vec::new()).await.unwrap_err();
    // THEN it stops before writing anything, and says why
    let chain = onboard_shared::error::error_chain(&err);
    assert!(
        chain.contains("another replay is using this state folder"),
        "{chain}"
    );
    assert!(!state.path().join("table.json").exists());
    // AND once the first one ends, the folder is free
    drop(held);
    let (summary, _) = replay_json(&options).await;
    assert!(summary.succeeded());
}

#[tokio::test]
async fn a_record_that_appears_twice_gets_a_row_each_with_its_own_fates() {
    // GIVEN a stream event that holds the same record twice
    let dir = tempfile::tempdir().unwrap();
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures("dynamodb/insert-modify-remove.json")).unwrap(),
    )
    .unwrap();
    let record = event["Records"][0].clone();
    let twice = dir.path().join("twice.json");
    std::fs::write(
        &twice,
        serde_json::json!({ "Records": [record.clone(), record] }).to_string(),
    )
    .unwrap();
    let mut options = options(&dir.path().join("state"), &[]);
    options.paths = vec![twice];
    // WHEN it is replayed
    let (summary, report) = replay_json(&options).await;
    // THEN each copy has its row, with the router's and both consumers' fates
    assert!(summary.succeeded());
    let rows = report["records"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        for column in ["router", "archive", "publish"] {
            assert!(row[column].is_object(), "{column} of {row}");
        }
    }
    let archive: Vec<_> = rows
        .iter()
        .map(|r| r["archive"]["outcome"].clone())
        .collect();
    assert_eq!(archive, ["applied", "skipped"], "{report}");
}

#[tokio::test]
async fn a_dead_letter_is_kept_once_per_record_whatever_its_reason() {
    // GIVEN the poison records replayed once: four dead letters on file
    let state = tempfile::tempdir().unwrap();
    let options = options(state.path(), &["dynamodb/batch-with-poison-records.json"]);
    replay_json(&options).await;
    let file = state.path().join("dead-letters/router-dlq.jsonl");
    let lines = |text: &str| text.lines().filter(|l| !l.trim().is_empty()).count();
    let first = std::fs::read_to_string(&file).unwrap();
    assert_eq!(lines(&first), 4);
    // AND their reasons since worded otherwise (an older version's)
    let reworded = first.replace("\"onboard.reason\":\"", "\"onboard.reason\":\"formerly: ");
    assert_eq!(reworded.matches("formerly: ").count(), 4);
    std::fs::write(&file, reworded).unwrap();
    // WHEN they are replayed again
    replay_json(&options).await;
    // THEN each record is still kept once
    assert_eq!(lines(&std::fs::read_to_string(&file).unwrap()), 4);
}

#[tokio::test]
async fn a_bad_line_in_json_lines_is_one_dead_letter_and_every_other_line_is_replayed() {
    // GIVEN a JSON Lines file with a line that is not JSON and one that is
    // not UTF-8 between good stream records
    let dir = tempfile::tempdir().unwrap();
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures("dynamodb/insert-modify-remove.json")).unwrap(),
    )
    .unwrap();
    let mut bytes = Vec::new();
    for (i, record) in event["Records"].as_array().unwrap().iter().enumerate() {
        bytes.extend(record.to_string().into_bytes());
        bytes.push(b'\n');
        if i == 1 {
            bytes.extend(b"{ not json\n");
            bytes.extend([0xc3, 0x28, b'\n']);
        }
    }
    let path = dir.path().join("records.jsonl");
    std::fs::write(&path, bytes).unwrap();
    let mut options = options(&dir.path().join("state"), &[]);
    options.paths = vec![path];
    // WHEN it is replayed
    let (summary, report) = replay_json(&options).await;
    // THEN the five records are routed, and each bad line is one dead
    // letter with its line number
    assert!(summary.succeeded(), "{report}");
    assert_eq!((summary.records, summary.files), (7, 1));
    assert_eq!(summary.router.applied, 5);
    assert_eq!(summary.router.dead_lettered, 2);
    let reasons: Vec<&str> = report["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons[0].starts_with("line 3: not a JSON event"),
        "{reasons:?}"
    );
    assert!(reasons[1].starts_with("line 4: not UTF-8"), "{reasons:?}");
    assert_eq!(summary.archive_writes, 2);
}

#[tokio::test]
async fn no_reason_carries_an_input_value_such_as_an_email() {
    // GIVEN inputs whose defects are values a parser would quote: a version,
    // a change kind and a trigger attribute that each hold an email
    let dir = tempfile::tempdir().unwrap();
    const EMAIL: &str = "ada.king@example.net";
    let mut stream: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures("dynamodb/insert-modify-remove.json")).unwrap(),
    )
    .unwrap();
    stream["Records"][0]["dynamodb"]["NewImage"]["version"] = serde_json::json!({ "S": EMAIL });
    let mut sqs: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures("sqs/changes-out-of-order.json")).unwrap(),
    )
    .unwrap();
    sqs["Records"][0]["body"] = serde_json::json!({ "kind": EMAIL }).to_string().into();
    let mut trigger: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures("cognito/post-confirmation-sign-up.json")).unwrap(),
    )
    .unwrap();
    trigger["request"]["userAttributes"] = serde_json::json!(EMAIL);
    let mut paths = Vec::new();
    for (name, value) in [("stream", &stream), ("sqs", &sqs), ("trigger", &trigger)] {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, value.to_string()).unwrap();
        paths.push(path);
    }
    let mut options = options(&dir.path().join("state"), &[]);
    options.paths = paths;
    // WHEN they are replayed
    let mut out = Vec::new();
    let summary = replay::run(&options, &mut out).await.unwrap();
    // THEN each is dead-lettered or rejected with a reason, and no reason,
    // in the report or on the dead letters kept, holds the email
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(summary.triggers_rejected, 1, "{report}");
    let reasons: Vec<String> = report["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reason"].as_str().unwrap().to_owned())
        .chain(
            report["records"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["trigger"].as_str().map(str::to_owned)),
        )
        .collect();
    assert!(reasons.len() >= 3, "{reasons:?}");
    for reason in &reasons {
        assert!(!reason.contains(EMAIL), "{reason}");
    }
    for file in std::fs::read_dir(dir.path().join("state/dead-letters")).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        for line in text.lines() {
            let letter: Value = serde_json::from_str(line).unwrap();
            let reason = letter["attributes"]["onboard.reason"].as_str().unwrap();
            assert!(!reason.contains(EMAIL), "{reason}");
        }
    }
}

/// A stream event with one user whose name is 300 KB of control
/// characters: a legal item, whose change message is over SQS's 1 MiB once
/// each becomes `\u00XX`.
fn big_record_event(dir: &Path) -> PathBuf {
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures("dynamodb/insert-modify-remove.json")).unwrap(),
    )
    .unwrap();
    let record = &mut event["Records"][0];
    record["dynamodb"]["NewImage"]["name"] = serde_json::json!({ "S": "\u{1}".repeat(300_000) });
    event["Records"] = serde_json::json!([record.clone()]);
    let path = dir.join("big.json");
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

#[tokio::test]
async fn a_record_too_big_to_queue_is_kept_apart_and_its_dead_letter_points_to_it() {
    // GIVEN a record too big for a queue, even as a dead letter
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(&dir.path().join("state"), &[]);
    options.paths = vec![big_record_event(dir.path())];
    options.json = false;
    // WHEN it is replayed
    let mut out = Vec::new();
    let summary = replay::run(&options, &mut out).await.unwrap();
    let printed = String::from_utf8(out).unwrap();
    // THEN it is dead-lettered as a pointer to the whole record, kept apart,
    // and the summary says where
    assert!(summary.succeeded(), "{printed}");
    assert_eq!(summary.router.dead_lettered, 1, "{printed}");
    let kept: Vec<_> = std::fs::read_dir(dir.path().join("state/oversized"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1);
    let record: Value = serde_json::from_slice(&std::fs::read(&kept[0]).unwrap()).unwrap();
    assert_eq!(
        record["dynamodb"]["NewImage"]["name"]["S"]
            .as_str()
            .unwrap()
            .len(),
        300_000
    );
    assert!(
        printed.contains("A record too big for a queue is kept apart"),
        "{printed}"
    );
    let letter =
        std::fs::read_to_string(dir.path().join("state/dead-letters/router-dlq.jsonl")).unwrap();
    assert!(
        letter.len() < 10_000,
        "the dead letter is a pointer, not the record"
    );
    assert!(letter.contains("onboard.oversized"));
}

#[tokio::test]
async fn a_record_that_cannot_be_kept_anywhere_fails_the_replay_and_says_so() {
    // GIVEN a record too big for a queue, and no room to keep it apart (the
    // place for it is a file, not a folder)
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/oversized"), "not a folder").unwrap();
    let mut options = options(&dir.path().join("state"), &[]);
    options.paths = vec![big_record_event(dir.path())];
    options.json = false;
    // WHEN it is replayed
    let mut out = Vec::new();
    let summary = replay::run(&options, &mut out).await.unwrap();
    let printed = String::from_utf8(out).unwrap();
    // THEN the replay does not call it a success, and the summary says why
    assert!(!summary.succeeded(), "{printed}");
    assert_eq!(summary.failed(), 1, "{printed}");
    assert!(
        printed.contains("1 record failed and could not be kept anywhere"),
        "{printed}"
    );
    assert!(
        !printed.contains("the state already held every change"),
        "{printed}"
    );
}
