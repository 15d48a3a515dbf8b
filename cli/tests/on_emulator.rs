//! The `onboard` binary on a real AWS API (moto's server), as a person runs
//! it: `dev --bootstrap` in one terminal, `signup` in another, `serve` in a
//! third, and a browser's request with the user's ID token.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider as cognito;
use onboard_cli::stack::{self, Names};
use onboard_tests::onboard::{Onboard, line_with, start, url_in};
use onboard_tests::stack::published_under;
use onboard_tests::{emulator, id_token, unique};

const ONBOARD: Onboard = Onboard::at(env!("CARGO_BIN_EXE_onboard"));

const EMAIL: &str = "zoe.logs@example.com";
const PASSWORD: &str = "Correct-Horse-9-battery";

#[tokio::test]
async fn dev_signup_and_serve_greet_a_new_user_with_no_email_in_any_log_line() {
    let stack = unique("cli");
    let logs = tempfile::tempdir().unwrap();

    // The local Lambda service, on resources it creates.
    let _dev = ONBOARD.start_dev_bootstrapped(&stack, logs.path());
    let checkpoints = logs.path().join("checkpoints.json");

    // A person signs up; the command prints their sub.
    let signup = ONBOARD
        .command(
            &stack,
            &[
                "signup",
                "--email",
                EMAIL,
                "--password",
                PASSWORD,
                "--name",
                "Zoë <b>bold</b>",
            ],
        )
        .output()
        .unwrap();
    let signup_log = String::from_utf8_lossy(&signup.stderr).into_owned();
    assert!(signup.status.success(), "{signup_log}");
    let sub = String::from_utf8(signup.stdout).unwrap().trim().to_owned();
    assert_eq!(sub.len(), 36, "{sub:?}");

    // The greeting API, with the name read afresh on every request.
    let (_serve, mut serve_out) = start(
        ONBOARD.command(
            &stack,
            &["serve", "--port", "0", "--name-cache-seconds", "0"],
        ),
        &logs.path().join("serve.log"),
    );
    let line = line_with(&mut serve_out, "serving GET /hello on ");
    let url = url_in(&line);

    // The person's real ID token, as the hosted UI would hand it over.
    let sdk = emulator().sdk_config().await;
    let client = cognito::Client::new(&sdk);
    let names = Names::for_stack(&stack, stack::default_parameter_prefix(&stack));
    let pool = stack::find_user_pool(&client, &names).await.unwrap();
    let token = id_token(&sdk, &pool, EMAIL, PASSWORD).await;

    // Within seconds the pipeline has published the name the greeting uses
    // (the token carries it too: the greeting prefers the published one).
    let ssm = onboard_shared::aws::ssm::Client::new(&sdk);
    let deadline = Instant::now() + Duration::from_secs(30);
    while published_under(&ssm, &names.parameter_prefix, &sub)
        .await
        .is_none()
    {
        assert!(Instant::now() < deadline, "{sub} was never published");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let http = reqwest::Client::new();
    let greeting = loop {
        let body = http
            .get(&url)
            .header("Authorization", &token)
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if body.contains("Zoë") {
            break body;
        }
        assert!(Instant::now() < deadline, "never greeted by name: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        greeting.contains("Hello, Zoë &lt;b&gt;bold&lt;/b&gt;"),
        "{greeting}"
    );
    let no_token = http.get(&url).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    drop(_serve);
    drop(_dev);

    // Every log line names the user by id, never by email.
    let dev_log = std::fs::read_to_string(logs.path().join("dev.log")).unwrap();
    let serve_log = std::fs::read_to_string(logs.path().join("serve.log")).unwrap();
    assert!(dev_log.contains("stream batch"), "{dev_log}");
    assert!(dev_log.contains(&sub), "{dev_log}");
    // One line per batch, naming its users: the functions' own lines (the
    // router's per batch, the consumers' per change) only with RUST_LOG.
    let batch_lines = |what: &str| dev_log.lines().filter(|l| l.contains(what)).count();
    assert_eq!(batch_lines("stream batch → router"), 1, "{dev_log}");
    // The test waits for the greeting, not for both consumers: a consumer's
    // batch may not have come when the service stops, but never twice.
    assert!(
        batch_lines("queue batch → archive-consumer") <= 1,
        "{dev_log}"
    );
    assert!(
        batch_lines("queue batch → publish-consumer") <= 1,
        "{dev_log}"
    );
    assert!(batch_lines("queue batch → ") >= 1, "{dev_log}");
    assert!(
        dev_log
            .lines()
            .filter(|l| l.contains("batch →"))
            .all(|l| l.contains(&format!("users={sub}"))),
        "{dev_log}"
    );
    assert!(!dev_log.contains("routed a stream batch"), "{dev_log}");
    assert!(!dev_log.contains("outcome=applied"), "{dev_log}");
    assert!(checkpoints.exists(), "the stream position was not saved");
    assert!(serve_log.contains("greeted"), "{serve_log}");
    for (name, log) in [
        ("dev", &dev_log),
        ("signup", &signup_log),
        ("serve", &serve_log),
    ] {
        assert!(!log.contains(EMAIL), "{name} logged the email:\n{log}");
        assert!(
            !log.contains('\u{1b}'),
            "{name} wrote colour codes to a file"
        );
    }
}

#[tokio::test]
async fn queues_and_dlq_commands_report_redrive_and_refuse_to_purge_unasked() {
    // GIVEN a stack whose archive DLQ holds three messages
    let stack = unique("ops");
    let names = Names::for_stack(&stack, stack::default_parameter_prefix(&stack));
    let sdk = emulator().sdk_config().await;
    stack::bootstrap(&sdk, &names, stack::QueueSettings::default(), true)
        .await
        .unwrap();
    let sqs = onboard_shared::aws::sqs::Client::new(&sdk);
    let dlq = sqs
        .get_queue_url()
        .queue_name(names.queue(onboard_shared::catalogue::QueueRole::ArchiveDlq))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for i in 1..=3 {
        sqs.send_message()
            .queue_url(&dlq)
            .message_body(format!("unreadable {i} from ada.king@example.net"))
            .send()
            .await
            .unwrap();
    }

    // `queues` shows them and exits 1; its JSON is JSON
    let (code, table, _) = ONBOARD.run(&stack, &["queues"]);
    assert_eq!(code, Some(1), "{table}");
    assert!(table.contains("3 dead letters"), "{table}");
    let (code, json, _) = ONBOARD.run(&stack, &["queues", "--json"]);
    assert_eq!(code, Some(1));
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(document["dead_letters"], 3);

    // `dlq peek` shows the bodies, emails masked, and leaves them there;
    // `--unmasked` shows them as they are
    let (code, peeked, err) = ONBOARD.run(&stack, &["dlq", "peek", "archive"]);
    assert_eq!(code, Some(0), "{err}");
    for i in 1..=3 {
        assert!(
            peeked.contains(&format!("body: unreadable {i} from «email»")),
            "{peeked}"
        );
    }
    assert!(!peeked.contains("ada.king"), "{peeked}");
    assert!(peeked.starts_with("3 messages in "), "{peeked}");
    assert!(peeked.contains("counts as a receive"), "{peeked}");
    let (_, json, _) = ONBOARD.run(&stack, &["dlq", "peek", "archive", "--json"]);
    assert!(!json.contains("ada.king"), "{json}");
    let (_, unmasked, _) = ONBOARD.run(&stack, &["dlq", "peek", "archive", "--unmasked"]);
    assert!(
        unmasked.contains("body: unreadable 1 from ada.king@example.net"),
        "{unmasked}"
    );

    // `dlq purge` without --yes and without a terminal refuses and deletes nothing
    let (code, _, err) = ONBOARD.run(&stack, &["dlq", "purge", "archive"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--yes"), "{err}");

    // `dlq redrive` empties the DLQ into the archive queue; again, it moves nothing
    let (code, out, err) = ONBOARD.run(&stack, &["dlq", "redrive", "archive"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("moved 3 messages"), "{out}");
    let (code, out, err) = ONBOARD.run(&stack, &["dlq", "redrive", "archive"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("moved 0 messages"), "{out}");
    let (code, table, _) = ONBOARD.run(&stack, &["queues"]);
    assert_eq!(code, Some(0), "{table}");

    // `dlq purge --yes` empties it
    sqs.send_message()
        .queue_url(&dlq)
        .message_body("one more")
        .send()
        .await
        .unwrap();
    let (code, out, err) = ONBOARD.run(&stack, &["dlq", "purge", "archive", "--yes"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("purged"), "{out}");
    // An empty DLQ says so, with no dangling colon.
    let (code, out, _) = ONBOARD.run(&stack, &["dlq", "peek", "archive"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.trim_end(), format!("no messages in {dlq}"));
}

#[tokio::test]
async fn bootstrap_on_existing_queues_says_which_settings_it_changed() {
    // GIVEN a stack bootstrapped with the stack's own queue settings
    let name = unique("boot");
    let names = Names::for_stack(&name, stack::default_parameter_prefix(&name));
    let sdk = emulator().sdk_config().await;
    let first = stack::bootstrap(&sdk, &names, stack::QueueSettings::default(), true)
        .await
        .unwrap();
    assert!(
        first.iter().all(|made| made.status == "created"),
        "{first:?}"
    );

    // WHEN it is bootstrapped again with a shorter visibility timeout and
    // fewer receives before the DLQ
    let quick = stack::QueueSettings {
        visibility_timeout: Duration::from_secs(5),
        max_receive_count: 3,
        ..stack::QueueSettings::default()
    };
    let again = stack::bootstrap(&sdk, &names, quick, true).await.unwrap();

    // THEN each source queue says it changed, from what to what; the rest exist
    let archive = names.queue(onboard_shared::catalogue::QueueRole::Archive);
    let made = again.iter().find(|made| made.name == archive).unwrap();
    assert_eq!(made.status, "changed", "{made:?}");
    assert!(
        made.detail.contains("VisibilityTimeout 180 → 5")
            && made.detail.contains("maxReceiveCount 5 → 3"),
        "{made:?}"
    );
    assert_eq!(
        again.iter().filter(|made| made.status == "changed").count(),
        2
    );
    assert!(
        again
            .iter()
            .filter(|made| made.status != "changed")
            .all(|made| made.status == "exists"),
        "{again:?}"
    );

    // AND the same settings once more change nothing
    let same = stack::bootstrap(&sdk, &names, quick, true).await.unwrap();
    assert!(same.iter().all(|made| made.status == "exists"), "{same:?}");
}
