//! Seeing into a running stack and mending it, on a real AWS API (moto's
//! server), as an operator would: `reconcile` finds the users Cognito never
//! ran the trigger for and records them, `token` signs users in (an
//! administrator-created one through the new-password challenge) for
//! `serve`, and `doctor` says whether the stack can work.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider as cognito;
use onboard_cli::stack::{self, Names};
use onboard_shared::aws::{s3_client, sqs, ssm};
use onboard_shared::domain::UserId;
use onboard_tests::onboard::{Onboard, line_with, start, url_in};
use onboard_tests::stack::published_under;
use onboard_tests::{deploy_template, emulator, unique};
use serde_json::Value;

const ONBOARD: Onboard = Onboard::at(env!("CARGO_BIN_EXE_onboard"));

const PASSWORD: &str = "Correct-Horse-9-battery";
const TEMPORARY: &str = "Temporary-Pass-7-given";
const CHOSEN: &str = "Chosen-Pass-8-by-ada";

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|err| panic!("not JSON ({err}): {out}"))
}

/// The user ids of the report's entries with this finding.
fn with_finding(report: &Value, finding: &str) -> Vec<String> {
    let mut ids: Vec<String> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["finding"] == finding)
        .map(|e| e["user_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn sub_of(client: &cognito::Client, pool: &str, username: &str) -> String {
    client
        .admin_get_user()
        .user_pool_id(pool)
        .username(username)
        .send()
        .await
        .unwrap()
        .user_attributes()
        .iter()
        .find(|a| a.name() == "sub")
        .and_then(|a| a.value())
        .unwrap()
        .to_owned()
}

fn attribute(name: &str, value: &str) -> cognito::types::AttributeType {
    onboard_cli::commands::signup::attribute(name, value).unwrap()
}

/// A user an administrator creates (no trigger runs), with a temporary
/// password and no invitation sent.
async fn admin_created(client: &cognito::Client, pool_id: &str, email: &str, name: Option<&str>) {
    let mut request = client
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(email)
        .temporary_password(TEMPORARY)
        .user_attributes(attribute("email", email))
        .message_action(cognito::types::MessageActionType::Suppress);
    if let Some(name) = name {
        request = request.user_attributes(attribute("name", name));
    }
    request.send().await.unwrap();
}

#[tokio::test]
async fn reconcile_records_the_users_the_trigger_never_saw_and_token_signs_them_in_for_serve() {
    let stack = unique("ops");
    let logs = tempfile::tempdir().unwrap();
    let _dev = ONBOARD.start_dev_bootstrapped(&stack, logs.path());
    let sdk = emulator().sdk_config().await;
    let client = cognito::Client::new(&sdk);
    let names = Names::for_stack(&stack, stack::default_parameter_prefix(&stack));
    let pool = stack::find_user_pool(&client, &names).await.unwrap();

    // GIVEN a user who signed up (the trigger ran), one an administrator
    // created (Cognito runs no trigger), and one confirmed whose trigger
    // never ran (as after three failed attempts)
    let (code, zoe, err) = ONBOARD.run(
        &stack,
        &[
            "signup",
            "--email",
            "zoe@example.com",
            "--password",
            PASSWORD,
            "--name",
            "Zoë",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let zoe = zoe.trim().to_owned();
    admin_created(&client, &pool.pool_id, "ada@example.com", Some("Ada")).await;
    client
        .sign_up()
        .client_id(&pool.web_client_id)
        .username("bob@example.com")
        .password(PASSWORD)
        .user_attributes(attribute("email", "bob@example.com"))
        .user_attributes(attribute("name", "Bob"))
        .send()
        .await
        .unwrap();
    client
        .admin_confirm_sign_up()
        .user_pool_id(&pool.pool_id)
        .username("bob@example.com")
        .send()
        .await
        .unwrap();
    let ada = sub_of(&client, &pool.pool_id, "ada@example.com").await;
    let bob = sub_of(&client, &pool.pool_id, "bob@example.com").await;

    // WHEN reconcile looks: both are missing, each with its reason; exit 1
    let (code, out, err) = ONBOARD.run(&stack, &["reconcile", "--json"]);
    assert_eq!(code, Some(1), "{err}");
    let report = json(&out);
    let mut missing = vec![ada.clone(), bob.clone()];
    missing.sort();
    assert_eq!(with_finding(&report, "missing"), missing, "{report:#}");
    let why = |id: &str| {
        report["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["user_id"] == id)
            .map(|e| e["why"].clone())
            .unwrap()
    };
    assert_eq!(why(&ada), "admin_created");
    assert_eq!(why(&bob), "trigger_never_recorded");
    assert_eq!(report["in_step"], 1, "zoe's row matches the pool");
    assert!(
        !out.contains("@example.com"),
        "no email in the report: {out}"
    );

    // THEN --fix records both through the trigger's code path; exit 0
    let (code, out, err) = ONBOARD.run(&stack, &["reconcile", "--fix", "--json"]);
    assert_eq!(code, Some(0), "{err}\n{out}");
    let report = json(&out);
    assert_eq!(report["recorded"], 2, "{report:#}");

    // AND they flow through `dev` to the archive and the parameter
    let s3 = s3_client(&sdk, true);
    let parameters = ssm::Client::new(&sdk);
    let deadline = Instant::now() + Duration::from_secs(30);
    for (sub, name) in [(&ada, "Ada"), (&bob, "Bob")] {
        let user = UserId::parse(sub.clone()).unwrap();
        let key = onboard_shared::ports::archive_key(&user);
        loop {
            let archived = s3
                .get_object()
                .bucket(&names.bucket)
                .key(&key)
                .send()
                .await
                .is_ok();
            let published = published_under(&parameters, &names.parameter_prefix, sub)
                .await
                .and_then(|published| published.name);
            if archived && published.as_deref() == Some(name) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{sub} never reached the archive and the published names"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // AND a second --fix records nothing
    let (code, out, err) = ONBOARD.run(&stack, &["reconcile", "--fix", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let report = json(&out);
    assert_eq!(report["recorded"], 0);
    assert_eq!(report["entries"], serde_json::json!([]));
    assert_eq!(report["in_step"], 3);

    // `token` gives each user a token `serve` accepts: a normal user's, and
    // the administrator-created one's after the new-password challenge
    let (_serve, mut serve_out) = start(
        ONBOARD.command(
            &stack,
            &["serve", "--port", "0", "--name-cache-seconds", "0"],
        ),
        &logs.path().join("serve.log"),
    );
    let url = url_in(&line_with(&mut serve_out, "serving GET /hello on "));
    let http = reqwest::Client::new();
    let greet = async |token: &str| {
        let response = http
            .get(&url)
            .header("Authorization", token)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let (code, token, err) = ONBOARD.run(
        &stack,
        &[
            "token",
            "--email",
            "zoe@example.com",
            "--password",
            PASSWORD,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(token.lines().count(), 1, "one line: the token");
    assert_eq!(
        greet(token.trim()).await,
        (200, r#"{"message":"Hello, Zoë","version":1}"#.to_owned())
    );

    let (code, _, err) = ONBOARD.run(
        &stack,
        &[
            "token",
            "--email",
            "ada@example.com",
            "--password",
            TEMPORARY,
        ],
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("must choose a new password"), "{err}");
    let (code, token, err) = ONBOARD.run(
        &stack,
        &[
            "token",
            "--email",
            "ada@example.com",
            "--password",
            TEMPORARY,
            "--new-password",
            CHOSEN,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        greet(token.trim()).await,
        (200, r#"{"message":"Hello, Ada","version":1}"#.to_owned())
    );
    // the new password is hers from now on
    let (code, token, err) = ONBOARD.run(
        &stack,
        &["token", "--email", "ada@example.com", "--password", CHOSEN],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(greet(token.trim()).await.0, 200);

    // A wrong password or an unknown user: one line, exit 2
    for email in ["zoe@example.com", "nobody@example.com"] {
        let (code, out, err) = ONBOARD.run(
            &stack,
            &["token", "--email", email, "--password", "Wrong-1-pass"],
        );
        assert_eq!(code, Some(2), "{err}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("onboard token: the user pool refused the sign-in"),
            "{err}"
        );
    }

    // A user deleted straight through Cognito is an erasure: reconcile --fix
    // makes the row a tombstone, and the next reconcile finds all in step
    client
        .admin_delete_user()
        .user_pool_id(&pool.pool_id)
        .username("zoe@example.com")
        .send()
        .await
        .unwrap();
    let (code, out, err) = ONBOARD.run(&stack, &["reconcile", "--fix", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let report = json(&out);
    assert_eq!(with_finding(&report, "gone"), vec![zoe.clone()]);
    assert!(
        report["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["user_id"] == zoe.as_str() && e["fixed"] == "erased"),
        "{report:#}"
    );
    let (code, out, err) = ONBOARD.run(&stack, &["reconcile", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(json(&out)["entries"], serde_json::json!([]), "{out}");
}

#[tokio::test]
async fn doctor_passes_a_healthy_bootstrapped_stack_and_names_a_waiting_dead_letter() {
    let stack = unique("doctor");
    let logs = tempfile::tempdir().unwrap();
    let dev = ONBOARD.start_dev_bootstrapped(&stack, logs.path());
    drop(dev);

    let (code, out, err) = ONBOARD.run(&stack, &["doctor"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Healthy: the stack can work."), "{out}");
    assert!(out.contains("account 123456789012"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(" ok") && l.contains("identity pool")),
        "{out}"
    );
    let (code, out, _) = ONBOARD.run(&stack, &["doctor", "--json"]);
    assert_eq!(code, Some(0));
    let report = json(&out);
    assert_eq!(report["healthy"], true);
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["health"] != "trouble")
    );

    // A message waits in the archive's DLQ: trouble, and what to run
    let sdk = emulator().sdk_config().await;
    let sqs = sqs::Client::new(&sdk);
    let url = sqs
        .get_queue_url()
        .queue_name(format!("{stack}-archive-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&url)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let (code, out, err) = ONBOARD.run(&stack, &["doctor"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let line = out.lines().find(|l| l.contains("archive-dlq")).unwrap();
    assert!(
        line.contains("TROUBLE") && line.contains("1 message waiting"),
        "{line}"
    );
    assert!(line.contains("onboard dlq peek archive"), "{line}");
    let (code, out, _) = ONBOARD.run(&stack, &["doctor", "--json"]);
    assert_eq!(code, Some(1));
    assert_eq!(json(&out)["healthy"], false);
}

#[tokio::test]
async fn doctor_names_a_deployed_stack_s_missing_mapping_and_unattached_trigger_then_passes_it_mended()
 {
    // GIVEN the template deployed on the emulator, whose CloudFormation
    // makes no event source mapping; and one mapping made by hand
    let stack = unique("docdep");
    let report = deploy_template(&stack, &[("HostedUiDomainPrefix", &stack)]);
    assert_eq!(report["status"], "CREATE_COMPLETE");
    let sdk = emulator().sdk_config().await;
    let archive_consumer = report["resources"]["ArchiveConsumerFunction"]["physical_id"]
        .as_str()
        .map(str::to_owned);
    let sqs = sqs::Client::new(&sdk);
    let archive_queue = report["outputs"]["ArchiveQueueUrl"].as_str().unwrap();
    let archive_arn = stack::queue_arn(&sqs, archive_queue).await.unwrap();
    aws_sdk_lambda::Client::new(&sdk)
        .create_event_source_mapping()
        .set_function_name(archive_consumer)
        .event_source_arn(&archive_arn)
        .batch_size(10)
        .send()
        .await
        .unwrap();

    // WHEN doctor looks
    let (code, out, err) = ONBOARD.run(&stack, &["doctor"]);

    // THEN it exits 1, naming the stream's missing mapping and the pool's
    // missing trigger, and the mapping that is there as enabled
    assert_eq!(code, Some(1), "{out}{err}");
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}: {out}"))
    };
    assert!(line("stack  ").contains("CREATE_COMPLETE"), "{out}");
    let router = line("mapping stream → router");
    assert!(
        router.contains("TROUBLE") && router.contains("missing"),
        "{router}"
    );
    let archive = line("mapping archive queue → archive consumer");
    assert!(
        archive.starts_with(" ok") && archive.contains("enabled"),
        "{archive}"
    );
    let trigger = line("trigger");
    assert!(
        trigger.contains("TROUBLE") && trigger.contains("no post-confirmation trigger"),
        "{trigger}"
    );
    // The names' writer has no mapping: it is one, by its reserved concurrency.
    let writer = line("names' writer");
    assert!(
        writer.starts_with(" ok") && writer.contains("reserved concurrency 1"),
        "{writer}"
    );

    // WHEN the other mappings are made and the stack's function attached
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let function = |logical: &str| {
        report["resources"][logical]["physical_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let stream_arn = report["outputs"]["UsersTableStreamArn"].as_str().unwrap();
    for (logical, source) in [("StreamRouterFunction", stream_arn.to_owned())] {
        lambda
            .create_event_source_mapping()
            .function_name(function(logical))
            .event_source_arn(source)
            .starting_position(aws_sdk_lambda::types::EventSourcePosition::TrimHorizon)
            .send()
            .await
            .unwrap();
    }
    let trigger_arn = lambda
        .get_function()
        .function_name(function("PostConfirmationFunction"))
        .send()
        .await
        .unwrap()
        .configuration
        .and_then(|c| c.function_arn)
        .unwrap();
    cognito::Client::new(&sdk)
        .update_user_pool()
        .user_pool_id(report["outputs"]["UserPoolId"].as_str().unwrap())
        .lambda_config(
            cognito::types::LambdaConfigType::builder()
                .post_confirmation(trigger_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();

    // THEN doctor finds the stack healthy
    let (code, out, err) = ONBOARD.run(&stack, &["doctor"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Healthy: the stack can work."), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("trigger") && l.starts_with(" ok")),
        "{out}"
    );
}

#[tokio::test]
async fn a_reconcile_cut_short_and_run_again_records_every_user_of_a_pool_of_several_pages() {
    // GIVEN 65 administrator-created users: more than one ListUsers page
    let stack = unique("recpages");
    let logs = tempfile::tempdir().unwrap();
    drop(ONBOARD.start_dev_bootstrapped(&stack, logs.path()));
    let sdk = emulator().sdk_config().await;
    let client = cognito::Client::new(&sdk);
    let names = Names::for_stack(&stack, stack::default_parameter_prefix(&stack));
    let pool = stack::find_user_pool(&client, &names).await.unwrap();
    const USERS: usize = 65;
    for n in 0..USERS {
        let email = format!("user{n}@example.com");
        admin_created(&client, &pool.pool_id, &email, None).await;
    }
    let rows = async || {
        onboard_shared::aws::dynamodb::Client::new(&sdk)
            .scan()
            .table_name(&names.table)
            .select(onboard_shared::aws::dynamodb::types::Select::Count)
            .send()
            .await
            .unwrap()
            .count as usize
    };

    // WHEN a paced --fix is stopped part of the way through
    let mut cut = ONBOARD
        .command(&stack, &["reconcile", "--fix", "--rate", "20", "--json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows().await < 10 {
        assert!(Instant::now() < deadline, "the fix never started recording");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cut.kill().unwrap();
    cut.wait().unwrap();
    // A write the emulator had in hand when the process died lands first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let recorded_before = rows().await;
    assert!(
        recorded_before < USERS,
        "stopped part of the way: {recorded_before}"
    );

    // THEN a second run records the rest, and a third finds nothing to do
    let (code, out, err) = ONBOARD.run(&stack, &["reconcile", "--fix", "--rate", "1000", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let report = json(&out);
    assert_eq!(report["pool_users"], USERS);
    assert_eq!(report["recorded"], USERS - recorded_before, "{report:#}");
    assert_eq!(rows().await, USERS);
    let (code, out, _) = ONBOARD.run(&stack, &["reconcile", "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(json(&out)["in_step"], USERS);
}

#[tokio::test]
async fn names_migrate_moves_the_old_layout_into_the_packed_names_through_the_writer() {
    // GIVEN a stack whose names are in the one-parameter-a-user layout,
    // one old parameter that is no name onboard wrote, and `dev` running
    let stack = unique("migrate");
    let logs = tempfile::tempdir().unwrap();
    let _dev = ONBOARD.start_dev_bootstrapped(&stack, logs.path());
    let sdk = emulator().sdk_config().await;
    let client = ssm::Client::new(&sdk);
    let prefix = stack::default_parameter_prefix(&stack);
    let subs: Vec<String> = (0..12)
        .map(|n| format!("{n:08x}-2222-4333-8444-{n:012x}"))
        .collect();
    for (n, sub) in subs.iter().enumerate() {
        client
            .put_parameter()
            .name(prefix.name_parameter(&UserId::parse(sub.as_str()).unwrap()))
            .value(format!(r#"{{"name":"Old {n}","version":2}}"#))
            .r#type(ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    }
    let foreign = format!("{}/not-a-name", prefix.users_path());
    client
        .put_parameter()
        .name(&foreign)
        .value("hello")
        .r#type(ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();

    // WHEN a dry run looks: it says what it would do and changes nothing
    let (code, out, err) = ONBOARD.run(&stack, &["names", "migrate", "--dry-run"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("12 names in the one-parameter-a-user layout: 0 packed already, 12 to send"),
        "{out}"
    );
    assert!(
        out.contains("1 parameter under the old path is not a name"),
        "{out}"
    );
    assert!(out.contains("nothing was changed"), "{out}");
    assert!(published_under(&client, &prefix, &subs[0]).await.is_none());

    // WHEN it migrates
    let (code, out, err) = ONBOARD.run(&stack, &["names", "migrate", "--wait", "60"]);

    // THEN every name is packed, at its version, and the old parameters are
    // gone but the one that was no name
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("Packed and removed: 12 old parameters."),
        "{out}"
    );
    for (n, sub) in subs.iter().enumerate() {
        let packed = published_under(&client, &prefix, sub).await.unwrap();
        assert_eq!(
            (packed.name, packed.version),
            (Some(format!("Old {n}")), 2),
            "{sub}"
        );
        let old = client
            .get_parameter()
            .name(prefix.name_parameter(&UserId::parse(sub.as_str()).unwrap()))
            .send()
            .await;
        assert!(old.is_err(), "{sub}'s old parameter is gone");
    }
    assert!(client.get_parameter().name(&foreign).send().await.is_ok());

    // AND run again, it finds nothing left to do
    let (code, out, err) = ONBOARD.run(&stack, &["names", "migrate", "--wait", "5"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("0 names in the one-parameter-a-user layout"),
        "{out}"
    );
}
