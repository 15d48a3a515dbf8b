//! End to end on a real AWS API (moto's server): a sign-up goes through the
//! user pool, the trigger, the table, its stream, the local Lambda service,
//! both queues and both consumers, and comes back as a greeting from the
//! API behind a Cognito authorizer, with the pool's real tokens.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cognito;
use aws_sdk_dynamodbstreams as streams;
use onboard_cli::commands::serve::{AuthError, Authorizer};
use onboard_cli::commands::signup;
use onboard_cli::stack::table_stream::ShardReader;
use onboard_cli::stack::{self, Stack, UserPool};
use onboard_shared::aws::{SsmParameters, dynamodb};
use onboard_shared::domain::ChangeKind;
use onboard_shared::ports::UserStore;
use onboard_shared::stream::decode_raw;
use onboard_tests::eventually;
use onboard_tests::stack::{Published, Service, fresh_stack, published, serve_api};
use onboard_tests::{emulator, id_token, receive_all};

const PASSWORD: &str = "Correct-Horse-9-battery";
const EMAIL: &str = "zoe@example.com";
const NAME: &str = "Zoë <b>bold</b>";

async fn archived_version(stack: &Stack, user: &str) -> Option<(String, String)> {
    let head = stack
        .s3
        .head_object()
        .bucket(&stack.names.bucket)
        .key(format!("users/{user}.json"))
        .send()
        .await
        .ok()?;
    Some((
        head.metadata?.get("onboard-version")?.clone(),
        head.version_id.unwrap_or_default(),
    ))
}

async fn parameter(stack: &Stack, user: &str) -> Option<Published> {
    published(stack, user).await
}

async fn dead_letters(stack: &Stack, url: &str) -> Vec<(String, String)> {
    receive_all(&stack.sqs, url).await
}

/// `onboard serve` in-process on a free port; returns its base URL.
async fn serve(stack: &Stack, pool: &UserPool) -> (String, Authorizer) {
    let url = serve_api(stack, pool, Duration::from_secs(1)).await;
    let authorizer = Authorizer::new(
        pool.jwks_url(Some(emulator().url())),
        pool.issuer(),
        &pool.audiences(),
    )
    .await
    .unwrap();
    (url, authorizer)
}

/// The token with one character of its payload changed: the signature no
/// longer matches.
fn forged(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    // A character in the middle always changes the decoded bytes (the last
    // one may only change padding bits).
    let payload = &mut parts[1];
    let middle = payload.len() / 2;
    let flipped = if &payload[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    payload.replace_range(middle..=middle, flipped);
    parts.join(".")
}

#[tokio::test]
async fn a_sign_up_ends_archived_published_and_greeted_by_name() {
    // GIVEN a stack on the emulator and the local Lambda service running
    let stack = fresh_stack().await;
    let service = Service::start(&stack);

    // WHEN a person signs up and is confirmed
    let signed = signup::sign_up(&stack, EMAIL, PASSWORD, Some(NAME))
        .await
        .unwrap();
    let user = signed.sub.clone();
    assert!(signed.new_in_pool);

    // THEN the user is archived in S3 and published in Parameter Store
    let (version, _) = eventually("the archive object", || archived_version(&stack, &user)).await;
    assert_eq!(version, "1");
    let published = eventually("the published name", || parameter(&stack, &user)).await;
    assert_eq!(published.name.as_deref(), Some("Zoë <b>bold</b>"));
    assert_eq!(published.version, 1);
    service.stop().await;

    // AND the greeting, behind the pool's authorizer, greets them by name
    let pool = stack::find_user_pool(&cognito::Client::new(&stack.sdk), &stack.names)
        .await
        .unwrap();
    let (url, authorizer) = serve(&stack, &pool).await;
    let token = id_token(&stack.sdk, &pool, EMAIL, PASSWORD).await;
    let http = reqwest::Client::new();
    let hello = format!("{url}/hello");
    let json = http
        .get(&hello)
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 200);
    assert_eq!(
        json.text().await.unwrap(),
        r#"{"message":"Hello, Zoë <b>bold</b>","version":1}"#
    );
    let html = http
        .get(&hello)
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<h1>Hello, Zoë &lt;b&gt;bold&lt;/b&gt;</h1>"),
        "{html}"
    );
    assert!(!html.contains(EMAIL) && !html.contains("<b>bold"), "{html}");

    // AND a forged token, a token of another kind and no token get 401
    for authorization in [Some(forged(&token)), Some("not-a-jwt".to_owned()), None] {
        let mut request = http.get(&hello);
        if let Some(value) = &authorization {
            request = request.header("Authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"message":"Unauthorized"}"#
        );
    }
    // AND two Authorization headers are refused, one valid and one not, or
    // both the same valid token: which one API Gateway checks is not
    // documented, so the local server takes neither
    for second in [forged(&token), token.clone()] {
        let response = http
            .get(&hello)
            .header("Authorization", &token)
            .header("Authorization", &second)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    // AND the same real token, once past its expiry, is refused
    let claims = authorizer.verify(&token, 0).await.unwrap();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(matches!(
        authorizer.verify(&token, exp).await,
        Err(AuthError::Expired)
    ));
}

/// Tokens made from a real one's claims, each wrong in one way
/// (`tests/moto/forge_tokens.py`), by name.
fn forged_tokens(claims: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    use std::io::Write;
    let python = onboard_tests::Venv::EMULATOR.python().unwrap();
    let mut child = std::process::Command::new(python)
        .arg(onboard_tests::workspace().join("tests/moto/forge_tokens.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(claims.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn every_token_wrong_in_one_way_gets_401_even_signed_with_the_pool_s_key() {
    // GIVEN a confirmed user, the greeting behind the pool's authorizer, and
    // that user's real ID token
    let stack = fresh_stack().await;
    signup::sign_up(&stack, EMAIL, PASSWORD, Some(NAME))
        .await
        .unwrap();
    let pool = stack::find_user_pool(&cognito::Client::new(&stack.sdk), &stack.names)
        .await
        .unwrap();
    let (url, authorizer) = serve(&stack, &pool).await;
    let token = id_token(&stack.sdk, &pool, EMAIL, PASSWORD).await;
    let claims = serde_json::Value::Object(authorizer.verify(&token, 0).await.unwrap());

    // WHEN tokens made from its claims, each wrong in one way, are presented
    let http = reqwest::Client::new();
    let mut refused = 0;
    for (what, forged) in forged_tokens(&claims) {
        let response = http
            .get(format!("{url}/hello"))
            .header("Authorization", &forged)
            .send()
            .await
            .unwrap();
        // THEN each is refused with 401; the control, rightly signed, passes
        if what.starts_with("still valid") {
            assert_eq!(response.status(), 200, "{what}");
        } else {
            assert_eq!(response.status(), 401, "{what}");
            refused += 1;
        }
    }
    assert_eq!(refused, 7);
}

#[tokio::test]
async fn signing_up_again_records_nothing_new() {
    let stack = fresh_stack().await;
    let first = signup::sign_up(&stack, EMAIL, PASSWORD, Some(NAME))
        .await
        .unwrap();
    let again = signup::sign_up(&stack, EMAIL, PASSWORD, Some(NAME))
        .await
        .unwrap();
    assert_eq!(first.sub, again.sub);
    assert!(!again.new_in_pool);
    assert!(matches!(
        again.outcome,
        post_confirmation::Outcome::AlreadyRecorded(_)
    ));
    let items = stack
        .dynamodb
        .scan()
        .table_name(&stack.names.table)
        .send()
        .await
        .unwrap();
    assert_eq!(items.count, 1);
}

#[tokio::test]
async fn poison_ends_in_the_right_dlq_with_its_reason_while_the_rest_completes() {
    // GIVEN a stack, a good user, an item the router cannot decode, and an
    // unreadable message on the archive queue
    let stack = fresh_stack().await;
    let good = signup::sign_up(&stack, EMAIL, PASSWORD, Some(NAME))
        .await
        .unwrap()
        .sub;
    stack
        .dynamodb
        .put_item()
        .table_name(&stack.names.table)
        .item(
            "user_id",
            dynamodb::types::AttributeValue::S("broken-1".into()),
        )
        .item(
            "created_at",
            dynamodb::types::AttributeValue::S("2026-01-01T00:00:00.000Z".into()),
        )
        .send()
        .await
        .unwrap();
    stack
        .sqs
        .send_message()
        .queue_url(&stack.queues.archive.url)
        .message_body("this is not a change message")
        .send()
        .await
        .unwrap();

    // WHEN the local Lambda service runs
    let service = Service::start(&stack);
    eventually("the good user's parameter", || parameter(&stack, &good)).await;
    eventually("the good user's archive", || {
        archived_version(&stack, &good)
    })
    .await;
    service.stop().await;

    // THEN each poison record sits in its own DLQ with the reason
    let router = dead_letters(&stack, &stack.queues.router_dlq.url).await;
    assert_eq!(router.len(), 1, "{router:?}");
    assert!(router[0].0.contains("broken-1"));
    assert!(router[0].1.contains("version"), "{}", router[0].1);
    let archive = dead_letters(&stack, &stack.queues.archive_dlq.url).await;
    assert_eq!(archive.len(), 1, "{archive:?}");
    assert_eq!(archive[0].0, "this is not a change message");
    assert!(
        archive[0].1.contains("not a change message"),
        "{}",
        archive[0].1
    );
    assert!(
        dead_letters(&stack, &stack.queues.publish_dlq.url)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_stream_read_twice_changes_nothing_the_second_time() {
    // GIVEN a user that went through the whole pipeline
    let stack = fresh_stack().await;
    let user = signup::sign_up(&stack, EMAIL, PASSWORD, Some(NAME))
        .await
        .unwrap()
        .sub;
    let service = Service::start(&stack);
    let archived = eventually("the archive", || archived_version(&stack, &user)).await;
    let published = eventually("the parameter", || parameter(&stack, &user)).await;
    service.stop().await;

    // WHEN the service starts again and reads the whole stream once more,
    // as Lambda does when it redelivers
    let service = Service::start(&stack);
    tokio::time::sleep(Duration::from_secs(3)).await;
    service.stop().await;

    // THEN no object version and no parameter version was added
    assert_eq!(archived_version(&stack, &user).await, Some(archived));
    assert_eq!(parameter(&stack, &user).await, Some(published));
    let versions = stack
        .s3
        .list_object_versions()
        .bucket(&stack.names.bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 1);
}

#[tokio::test]
async fn stream_records_from_get_records_decode_like_lambdas() {
    // GIVEN a user created, changed and removed in the table
    let stack = fresh_stack().await;
    let users = stack.users();
    let mut user = onboard_shared::domain::User::from_cognito(
        &[("sub", "s-1"), ("email", EMAIL), ("name", "Zoë")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        chrono::Utc::now(),
    )
    .unwrap();
    users.put_new(&user).await.unwrap();
    user.name = Some("Zoë M.".into());
    user.version = user.version.next();
    stack
        .dynamodb
        .put_item()
        .table_name(&stack.names.table)
        .set_item(Some(serde_dynamo::to_item(&user).unwrap()))
        .send()
        .await
        .unwrap();
    stack
        .dynamodb
        .delete_item()
        .table_name(&stack.names.table)
        .key("user_id", dynamodb::types::AttributeValue::S("s-1".into()))
        .send()
        .await
        .unwrap();

    // WHEN the stream is read with GetRecords
    let arn = stack::latest_stream_arn(&stack.dynamodb, &stack.names.table)
        .await
        .unwrap();
    let mut reader = ShardReader::new(streams::Client::new(&stack.sdk), arn);
    let (_, records) = reader.next_batch(100).await.unwrap();

    // THEN the records decode as Lambda's would, in order
    let messages: Vec<_> = records.iter().map(|r| decode_raw(r).unwrap()).collect();
    let seen: Vec<_> = messages
        .iter()
        .map(|m| (m.kind, m.version.get(), m.user.name.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (ChangeKind::Created, 1, Some("Zoë".to_owned())),
            (ChangeKind::Updated, 2, Some("Zoë M.".to_owned())),
            (ChangeKind::Removed, 2, Some("Zoë M.".to_owned())),
        ]
    );
    assert!(messages.iter().all(|m| m.user.user_id.as_str() == "s-1"));
    assert!(reader.next_batch(100).await.unwrap().1.is_empty());
}

#[tokio::test]
async fn a_replay_into_a_stack_sends_records_and_messages_to_its_queues_and_sign_ups_to_its_table()
{
    use onboard_cli::commands::replay::{self, Options, StackTarget};
    use onboard_cli::engine::event_source::Settings;
    use onboard_shared::catalogue::QueueRole;

    // GIVEN a stack on the emulator, with no consumer running, and SQS
    // messages recorded from its archive queue (the fixture's, renamed to it)
    let stack = fresh_stack().await;
    let fixtures = onboard_tests::workspace().join("fixtures");
    let recorded = tempfile::tempdir().unwrap();
    let sqs = recorded.path().join("changes-out-of-order.json");
    let archive_queue = stack.names.queue(QueueRole::Archive);
    std::fs::write(
        &sqs,
        std::fs::read_to_string(fixtures.join("sqs/changes-out-of-order.json"))
            .unwrap()
            .replace(":onboard-archive\"", &format!(":{archive_queue}\"")),
    )
    .unwrap();
    let options = Options {
        paths: vec![
            fixtures.join("dynamodb/insert-modify-remove.json"),
            fixtures.join("dynamodb/batch-with-poison-records.json"),
            fixtures.join("cognito/post-confirmation-sign-up.json"),
            sqs,
            fixtures.join("apigw/hello-without-claims.json"),
        ],
        state: tempfile::tempdir().unwrap().path().to_owned(),
        prefix: stack.names.parameter_prefix.clone(),
        settings: Settings::default(),
        json: true,
        progress: false,
        fit: onboard_cli::output::Fit::WIDE,
        queues: stack.names.queue_names(),
        stack: Some(StackTarget {
            sdk: stack.sdk.clone(),
            names: stack.names.clone(),
        }),
    };

    // WHEN the fixtures are replayed into it
    let mut out = Vec::new();
    let summary = replay::run(&options, &mut out).await.unwrap();

    // THEN every routable stream record waits in both queues (and the SQS
    // messages in the archive queue their ARN names), the poison records in
    // the router's DLQ, the sign-up is in the table, and the greeting answered
    assert!(summary.succeeded(), "{}", String::from_utf8_lossy(&out));
    let routable: u64 = 5 + 1;
    let sqs_messages = 5;
    assert_eq!(
        onboard_tests::stack::depth(&stack, &stack.queues.archive.url)
            .await
            .0,
        routable + sqs_messages
    );
    assert_eq!(
        onboard_tests::stack::depth(&stack, &stack.queues.publish.url)
            .await
            .0,
        routable
    );
    assert_eq!(
        onboard_tests::stack::depth(&stack, &stack.queues.router_dlq.url)
            .await
            .0,
        4
    );
    let items = stack
        .dynamodb
        .scan()
        .table_name(&stack.names.table)
        .send()
        .await
        .unwrap();
    assert_eq!(items.count, 1);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["summary"]["router"]["applied"], routable);
    assert_eq!(report["summary"]["router"]["dead_lettered"], 4);
    assert_eq!(report["summary"]["requests"], 1);
    let answered = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["input"] == "api")
        .unwrap();
    assert_eq!(answered["response"]["status"], 401);
}

#[tokio::test]
async fn a_restarted_service_goes_on_after_the_last_routed_record() {
    // GIVEN a poison record in the table, routed once by a service that
    // keeps its stream position in a file
    let stack = fresh_stack().await;
    stack
        .dynamodb
        .put_item()
        .table_name(&stack.names.table)
        .item(
            "user_id",
            dynamodb::types::AttributeValue::S("broken-1".into()),
        )
        .send()
        .await
        .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let checkpoints = folder.path().join("checkpoints.json");
    let service = Service::start_with_checkpoints(&stack, &checkpoints);
    eventually("the dead letter", || async {
        (onboard_tests::stack::depth(&stack, &stack.queues.router_dlq.url)
            .await
            .0
            == 1)
            .then_some(())
    })
    .await;
    service.stop().await;

    // WHEN it starts again and a new user signs up
    let service = Service::start_with_checkpoints(&stack, &checkpoints);
    let user = signup::sign_up(&stack, EMAIL, PASSWORD, Some(NAME))
        .await
        .unwrap()
        .sub;
    eventually("the new user's parameter", || parameter(&stack, &user)).await;
    service.stop().await;

    // THEN the poison record was not routed (nor dead-lettered) again
    assert_eq!(
        onboard_tests::stack::depth(&stack, &stack.queues.router_dlq.url).await,
        (1, 0)
    );
}

#[tokio::test]
async fn thirty_users_through_the_local_service_are_greeted_by_name_from_fewer_parameters() {
    // GIVEN thirty users recorded by the trigger's store
    let stack = fresh_stack().await;
    let users = stack.users();
    let mut subs = Vec::new();
    for n in 0..30 {
        let sub = format!("{n:08x}-1111-4222-8333-{n:012x}");
        let user = onboard_shared::domain::User::from_cognito(
            &[
                ("sub", sub.clone()),
                ("email", format!("user{n}@example.com")),
                ("name", format!("User Number {n}")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            chrono::Utc::now(),
        )
        .unwrap();
        users.put_new(&user).await.unwrap();
        subs.push(sub);
    }
    // WHEN the local Lambda service runs the pipeline
    let service = Service::start(&stack);
    for sub in &subs {
        eventually("every name published", || parameter(&stack, sub)).await;
    }
    service.stop().await;
    // THEN they share fewer than thirty parameters of names (one, here)
    let parameters =
        onboard_tests::stack::names_parameters(&stack.ssm, &stack.names.parameter_prefix).await;
    let leaves = parameters
        .keys()
        .filter(|name| !name.ends_with("/summary"))
        .count();
    assert!(leaves < 30, "{leaves} parameters for thirty users");
    // AND the greeting names each of them from those parameters
    let parameters = Arc::new(SsmParameters::new(stack.ssm.clone(), f64::INFINITY));
    let reader = onboard_shared::names::NamesReader::new(
        parameters.clone(),
        parameters,
        stack.names.parameter_prefix.clone(),
        Duration::from_secs(60),
    );
    for (n, sub) in subs.iter().enumerate() {
        let name = reader
            .name(&onboard_shared::domain::UserId::parse(sub.as_str()).unwrap())
            .await
            .unwrap();
        assert_eq!(name, Some(format!("User Number {n}")), "{sub}");
    }
}
