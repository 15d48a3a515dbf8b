//! Operating a stack on a real AWS API (moto's server): queue depths, and
//! dead letters peeked, redriven (also after an interruption) and purged.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use onboard_cli::commands::dlq::{self as ops, Decoded, RedriveOptions, Source};
use onboard_cli::commands::queues;
use onboard_cli::engine::event_source::Invoked;
use onboard_cli::engine::event_source::stream::StreamFunction;
use onboard_cli::stack::Stack;
use onboard_shared::published::ParameterPrefix;
use onboard_tests::eventually;
use onboard_tests::receive_all;
use onboard_tests::stack::{Service, depth, fresh_stack, send};

const UNREADABLE: [&str; 3] = ["unreadable 1", "unreadable 2", "unreadable 3"];
const INSERT: &str = include_str!("../../fixtures/dynamodb/insert-modify-remove.json");

fn no_progress(_: u64, _: u64) {}

fn all() -> RedriveOptions {
    RedriveOptions::default()
}

async fn cloudwatch(stack: &Stack) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&stack.sdk)
}

/// Three unreadable messages sent to the archive queue, dead-lettered by the
/// archive consumer under the local Lambda service.
async fn three_dead_letters_under_dev() -> Stack {
    let stack = fresh_stack().await;
    let service = Service::start(&stack);
    send(&stack, &stack.queues.archive.url, &UNREADABLE).await;
    eventually("three dead letters", || async {
        (depth(&stack, &stack.queues.archive_dlq.url).await.0 == 3).then_some(())
    })
    .await;
    service.stop().await;
    stack
}

#[tokio::test]
async fn poison_under_dev_shows_in_queues_and_peek_and_comes_back_with_redrive() {
    // GIVEN three poison messages that went to the archive DLQ under dev
    let stack = three_dead_letters_under_dev().await;

    // THEN the queues show them, at the DLQ and beside its source
    let statuses = queues::statuses(&stack, &cloudwatch(&stack).await)
        .await
        .unwrap();
    let dlq = statuses.iter().find(|s| s.queue == "archive-dlq").unwrap();
    assert_eq!(dlq.visible, 3);
    assert_eq!(dlq.status, "3 dead letters");
    assert_eq!(dlq.age_from, Some("messages"));
    let archive = statuses.iter().find(|s| s.queue == "archive").unwrap();
    assert_eq!(archive.dlq_depth, Some(3));
    assert_eq!(archive.status, "3 in its DLQ");
    assert!(
        statuses
            .iter()
            .filter(|s| s.queue != "archive-dlq" && s.is_dlq)
            .all(|s| s.visible == 0)
    );

    // AND peek shows the three bodies with the reason, and leaves them visible
    let peeked = ops::peek(&stack.sqs, &stack.queues.archive_dlq.url, 10)
        .await
        .unwrap();
    let mut bodies: Vec<_> = peeked.iter().map(|m| m.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, UNREADABLE);
    assert!(peeked.iter().all(|m| {
        m.decoded == Decoded::Raw
            && m.reason
                .as_deref()
                .is_some_and(|r| r.contains("not a change message"))
            && m.dead_lettered_by.as_deref() == Some("archive-consumer")
            && m.sent.is_some()
    }));
    assert_eq!(depth(&stack, &stack.queues.archive_dlq.url).await, (3, 0));

    // WHEN the DLQ is redriven
    let dlq = ops::find_dlq(&stack, "archive").unwrap();
    assert_eq!(dlq.source, Source::Queue(stack.queues.archive.clone()));
    let done = ops::redrive(&stack, &dlq, &all(), &no_progress)
        .await
        .unwrap();

    // THEN every message is back in the archive queue and the DLQ is empty
    assert_eq!((done.moved, done.left), (3, 0));
    assert_eq!(depth(&stack, &stack.queues.archive_dlq.url).await, (0, 0));
    let mut back: Vec<_> = receive_all(&stack.sqs, &stack.queues.archive.url)
        .await
        .into_iter()
        .map(|(body, _)| body)
        .collect();
    back.sort();
    assert_eq!(back, UNREADABLE);

    // AND a second redrive moves nothing and succeeds
    let again = ops::redrive(&stack, &dlq, &all(), &no_progress)
        .await
        .unwrap();
    assert_eq!(again.moved, 0);
}

#[tokio::test]
async fn an_interrupted_redrive_loses_nothing_and_a_second_run_finishes_it() {
    // GIVEN three dead letters and a redrive paced to two a second
    let stack = fresh_stack().await;
    send(&stack, &stack.queues.archive_dlq.url, &UNREADABLE).await;
    let dlq = ops::find_dlq(&stack, "archive-dlq").unwrap();
    let paced = RedriveOptions {
        max_per_second: Some(2.0),
        ..RedriveOptions::default()
    };

    // WHEN it is stopped in the middle of its first batch
    let interrupted = tokio::time::timeout(
        Duration::from_millis(700),
        ops::redrive(&stack, &dlq, &paced, &no_progress),
    )
    .await;
    assert!(
        interrupted.is_err(),
        "the redrive ended before it was stopped"
    );
    let (visible, in_flight) = depth(&stack, &stack.queues.archive_dlq.url).await;
    assert_eq!(
        visible + in_flight,
        3,
        "nothing left the DLQ before its copy was sent"
    );

    // THEN a second run waits for the hidden batch and moves every message
    let done = ops::redrive(&stack, &dlq, &all(), &no_progress)
        .await
        .unwrap();
    assert_eq!(done.moved, 3);
    assert_eq!(depth(&stack, &stack.queues.archive_dlq.url).await, (0, 0));
    let mut back: Vec<_> = receive_all(&stack.sqs, &stack.queues.archive.url)
        .await
        .into_iter()
        .map(|(body, _)| body)
        .collect();
    back.sort();
    assert_eq!(back, UNREADABLE);
}

#[tokio::test]
async fn a_redrive_of_at_most_n_moves_n_and_leaves_the_rest() {
    let stack = fresh_stack().await;
    send(&stack, &stack.queues.publish_dlq.url, &UNREADABLE).await;
    let dlq = ops::find_dlq(&stack, "publish").unwrap();
    let two = RedriveOptions {
        max_messages: Some(2),
        ..RedriveOptions::default()
    };
    let done = ops::redrive(&stack, &dlq, &two, &no_progress)
        .await
        .unwrap();
    assert_eq!((done.moved, done.left), (2, 1));
    assert_eq!(depth(&stack, &stack.queues.publish.url).await.0, 2);
}

#[tokio::test]
async fn the_routers_dead_letters_go_through_the_router_again() {
    // GIVEN the router's DLQ holding a record that routes now and one that
    // still cannot be routed
    let stack = fresh_stack().await;
    let event: serde_json::Value = serde_json::from_str(INSERT).unwrap();
    let good = event["Records"][0].to_string();
    let mut broken = event["Records"][1].clone();
    broken["dynamodb"]["NewImage"]
        .as_object_mut()
        .unwrap()
        .remove("version");
    let broken = broken.to_string();
    send(&stack, &stack.queues.router_dlq.url, &[&good, &broken]).await;
    let peeked = ops::peek(&stack.sqs, &stack.queues.router_dlq.url, 10)
        .await
        .unwrap();
    assert!(
        peeked
            .iter()
            .all(|m| matches!(m.decoded, Decoded::StreamRecord { .. }))
    );

    // WHEN the router's DLQ is redriven
    let dlq = ops::find_dlq(&stack, "router").unwrap();
    let done = ops::redrive(&stack, &dlq, &all(), &no_progress)
        .await
        .unwrap();

    // THEN the good record reached both queues, and the broken one is back
    // in the DLQ, once, with its new reason
    assert_eq!((done.moved, done.dead_lettered_again), (1, 1));
    assert_eq!(done.left, 1, "the one that failed again is in the DLQ");
    assert_eq!(depth(&stack, &stack.queues.archive.url).await.0, 1);
    assert_eq!(depth(&stack, &stack.queues.publish.url).await.0, 1);
    let left = receive_all(&stack.sqs, &stack.queues.router_dlq.url).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].1.contains("version"), "{}", left[0].1);
}

#[tokio::test]
async fn purge_empties_a_dlq_and_peek_of_an_empty_one_is_empty() {
    let stack = fresh_stack().await;
    send(&stack, &stack.queues.router_dlq.url, &UNREADABLE).await;
    let dlq = ops::find_dlq(&stack, &stack.queues.router_dlq.url).unwrap();
    ops::purge(&stack.sqs, &dlq.queue).await.unwrap();
    assert_eq!(depth(&stack, &stack.queues.router_dlq.url).await, (0, 0));
    assert!(
        ops::peek(&stack.sqs, &stack.queues.router_dlq.url, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(ops::find_dlq(&stack, "elsewhere").is_err());
}

/// Lambda's on-failure record for a stream batch, as AWS documents it.
fn on_failure(stream_arn: &str, shard: &str, start: &str, end: &str, size: u64) -> String {
    serde_json::json!({
        "requestContext": {
            "requestId": "c9b8fa9f-5a7f-4e5c-8b5a-0d7e1f2a3b4c",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:stream-router",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-23T10:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "approximateArrivalOfFirstRecord": "2026-11-23T09:59:58Z",
            "approximateArrivalOfLastRecord": "2026-11-23T09:59:59Z",
            "batchSize": size,
            "streamArn": stream_arn
        }
    })
    .to_string()
}

/// A router whose every invocation fails.
struct AlwaysFails;

impl StreamFunction for AlwaysFails {
    async fn invoke(
        &self,
        _: &[Box<serde_json::value::RawValue>],
    ) -> Invoked<aws_lambda_events::event::streams::DynamoDbEventResponse> {
        Invoked {
            response: Err(onboard_shared::reason::Reason::fixed("Unhandled")),
            report: onboard_shared::batch::BatchReport::default(),
        }
    }
}

#[tokio::test]
async fn a_batch_lambda_gave_up_on_is_fetched_from_the_stream_saved_and_routed() {
    use onboard_cli::commands::replay::{self, Options};
    use onboard_cli::engine::event_source::StreamSettings;
    use onboard_cli::engine::event_source::on_failure::InvocationRecords;
    use onboard_cli::engine::event_source::stream::{Clock, StreamPoller};
    use onboard_shared::batch::Fate;
    use onboard_shared::ports::UserStore;

    // GIVEN two users in the table, and the router's DLQ holding Lambda's
    // on-failure metadata for the batch of their two stream records, as the
    // local Lambda service sends it when a batch spends its retries
    let stack = fresh_stack().await;
    for id in ["r-1", "r-2"] {
        let user = onboard_shared::domain::User::from_cognito(
            &[("sub", id), ("name", "Zoë")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            chrono::Utc::now(),
        )
        .unwrap();
        stack.users().put_new(&user).await.unwrap();
    }
    let arn = onboard_cli::stack::latest_stream_arn(&stack.dynamodb, &stack.names.table)
        .await
        .unwrap();
    let streams = aws_sdk_dynamodbstreams::Client::new(&stack.sdk);
    let shard = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap()
        .shards()[0]
        .shard_id()
        .unwrap()
        .to_owned();
    let mut reader = onboard_cli::stack::table_stream::ShardReader::new(streams, arn.clone());
    let (read_from, records) = reader.next_batch(10).await.unwrap();
    assert_eq!((read_from.as_str(), records.len()), (shard.as_str(), 2));
    let poller = StreamPoller {
        settings: StreamSettings {
            maximum_retry_attempts: 1,
            ..StreamSettings::default()
        },
        clock: Clock::Wall,
        retry_delay: std::time::Duration::ZERO,
    };
    let destination = InvocationRecords {
        queue: stack.router().dead_letters,
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:stream-router".to_owned(),
        stream_arn: arn.clone(),
        shard_id: shard.clone(),
    };
    let fates = poller.deliver(&records, &AlwaysFails, &destination).await;
    assert!(
        fates
            .iter()
            .all(|f| matches!(f.fate, Fate::DeadLettered { .. }))
    );
    let trimmed = on_failure(&arn, &shard, "1", "2", 2);
    send(&stack, &stack.queues.router_dlq.url, &[&trimmed]).await;

    // WHEN the router's DLQ is redriven
    let folder = tempfile::tempdir().unwrap();
    let options = RedriveOptions {
        recovered: Some(folder.path().to_owned()),
        ..RedriveOptions::default()
    };
    let dlq = ops::find_dlq(&stack, "router").unwrap();
    let done = ops::redrive(&stack, &dlq, &options, &no_progress)
        .await
        .unwrap();

    // THEN both records were fetched, saved as a fixture and routed; the
    // metadata naming records the stream no longer has stays in the DLQ
    assert_eq!((done.moved, done.unrecoverable), (2, 1), "{done:?}");
    assert_eq!(depth(&stack, &stack.queues.archive.url).await.0, 2);
    assert_eq!(depth(&stack, &stack.queues.publish.url).await.0, 2);
    let left = receive_all(&stack.sqs, &stack.queues.router_dlq.url).await;
    assert_eq!(left.len(), 1);
    assert!(
        left[0].0.contains(r#""startSequenceNumber":"1""#),
        "{}",
        left[0].0
    );

    // AND the saved fixtures replay locally: one a record, since the failed
    // batch was bisected and each half gave up on alone, as in Lambda
    assert_eq!(done.recovered.len(), 2);
    let state = tempfile::tempdir().unwrap();
    let options = Options {
        paths: done.recovered.clone(),
        state: state.path().to_owned(),
        prefix: stack.names.parameter_prefix.clone(),
        settings: onboard_cli::engine::event_source::Settings::default(),
        json: true,
        progress: false,
        fit: onboard_cli::output::Fit::WIDE,
        queues: stack.names.queue_names(),
        stack: None,
    };
    let mut out = Vec::new();
    let summary = replay::run(&options, &mut out).await.unwrap();
    assert!(summary.succeeded());
    assert_eq!((summary.records, summary.router.applied), (2, 2));
}

/// A stack deployed by CloudFormation, as `infra/template.yaml` would be,
/// with generated names that only its Outputs tell.
async fn deploy_with_outputs(stack_name: &str) -> std::collections::HashMap<String, String> {
    use aws_sdk_cloudformation as cloudformation;
    let sdk = onboard_tests::emulator().sdk_config().await;
    let client = cloudformation::Client::new(&sdk);
    let queue = |suffix: &str| {
        serde_json::json!({
            "Type": "AWS::SQS::Queue",
            "Properties": { "QueueName": format!("{stack_name}-generated-{suffix}") }
        })
    };
    let template = serde_json::json!({
        "Resources": {
            "Archive": queue("a"),
            "ArchiveDlq": queue("ad"),
            "Publish": queue("p"),
            "PublishDlq": queue("pd"),
            "RouterDlq": queue("rd"),
            "Bucket": { "Type": "AWS::S3::Bucket" },
        },
        "Outputs": {
            "UsersTableName": { "Value": format!("{stack_name}-generated-table") },
            "ArchiveBucketName": { "Value": { "Ref": "Bucket" } },
            "ArchiveQueueUrl": { "Value": { "Ref": "Archive" } },
            "ArchiveDeadLetterQueueUrl": { "Value": { "Ref": "ArchiveDlq" } },
            "PublishQueueUrl": { "Value": { "Ref": "Publish" } },
            "PublishDeadLetterQueueUrl": { "Value": { "Ref": "PublishDlq" } },
            "RouterDeadLetterQueueUrl": { "Value": { "Ref": "RouterDlq" } },
            "UserPoolId": { "Value": "us-east-1_Deployed1" },
            "UserPoolClientId": { "Value": "deployedclient" },
            "CliClientId": { "Value": "deployedcli" },
            "ParameterPrefix": { "Value": "/deployed" },
        }
    });
    client
        .create_stack()
        .stack_name(stack_name)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();
    onboard_cli::stack::stack_outputs(&client, stack_name)
        .await
        .unwrap()
        .unwrap()
}

fn stack_args(stack: &str) -> onboard_cli::stack::StackArgs {
    let connection = onboard_tests::emulator().connection();
    onboard_cli::stack::StackArgs {
        endpoint_url: connection.endpoint_url,
        region: connection.region,
        profile: None,
        stack: stack.to_owned(),
        table: None,
        bucket: None,
        user_pool_id: None,
        web_client_id: None,
        cli_client_id: None,
        identity_pool_id: None,
        parameter_prefix: None,
    }
}

#[tokio::test]
async fn a_deployed_stack_is_found_by_its_outputs() {
    // GIVEN a stack deployed with generated names
    let name = onboard_tests::unique("deployed");
    let outputs = deploy_with_outputs(&name).await;

    // WHEN onboard connects to it by its name alone
    let stack = stack_args(&name).connect().await.unwrap();

    // THEN every resource is the one its Outputs name (a queue by the name
    // its URL ends in: the emulator's URLs differ from the ones it outputs)
    let named = |key: &str| outputs[key].rsplit('/').next().unwrap().to_owned();
    assert_eq!(stack.queues.archive.name, named("ArchiveQueueUrl"));
    assert_eq!(
        stack.queues.archive_dlq.name,
        named("ArchiveDeadLetterQueueUrl")
    );
    assert_eq!(stack.queues.publish.name, named("PublishQueueUrl"));
    assert_eq!(
        stack.queues.publish_dlq.name,
        named("PublishDeadLetterQueueUrl")
    );
    assert_eq!(
        stack.queues.router_dlq.name,
        named("RouterDeadLetterQueueUrl")
    );
    assert!(stack.queues.archive.name.ends_with("-generated-a"));
    assert_eq!(stack.names.bucket, outputs["ArchiveBucketName"]);
    assert_eq!(stack.names.table, format!("{name}-generated-table"));
    assert_eq!(
        stack.names.user_pool_id.as_deref(),
        Some("us-east-1_Deployed1")
    );
    assert_eq!(stack.names.web_client_id.as_deref(), Some("deployedclient"));
    assert_eq!(stack.names.cli_client_id.as_deref(), Some("deployedcli"));
    assert_eq!(
        stack.names.parameter_prefix,
        ParameterPrefix::parse("/deployed").unwrap()
    );
}

#[tokio::test]
async fn names_given_one_by_one_win_over_the_outputs() {
    let name = onboard_tests::unique("deployed");
    deploy_with_outputs(&name).await;
    let mut args = stack_args(&name);
    args.bucket = Some("given-bucket".to_owned());
    args.parameter_prefix = Some(ParameterPrefix::parse("/given").unwrap());

    let (_, names) = args.resolve().await.unwrap();

    assert_eq!(names.bucket, "given-bucket");
    assert_eq!(
        names.parameter_prefix,
        ParameterPrefix::parse("/given").unwrap()
    );
    assert_eq!(names.table, format!("{name}-generated-table"));
}

#[tokio::test]
async fn without_a_deployed_stack_the_names_derive_from_the_stack_name() {
    let name = onboard_tests::unique("undeployed");
    let (_, names) = stack_args(&name).resolve().await.unwrap();
    assert_eq!(names, stack_args(&name).names());
    assert_eq!(names.table, format!("{name}-users"));
    assert_eq!(
        names.queue(onboard_shared::catalogue::QueueRole::Archive),
        format!("{name}-archive")
    );
}
