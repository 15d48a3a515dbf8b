//! `infra/template.yaml` deployed into the emulator's CloudFormation, then
//! operated by its stack name alone, as after `sam deploy`: every command
//! finds the table, the generated bucket name, the queues and the user pool
//! through the stack's Outputs, with no per-resource flag.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use onboard_shared::aws::{s3_client, sqs, ssm};
use onboard_shared::published::ParameterPrefix;
use onboard_tests::onboard::{Onboard, start};
use onboard_tests::stack::published_under;
use onboard_tests::{deploy_template, emulator, unique};
use serde_json::Value;

const ONBOARD: Onboard = Onboard::at(env!("CARGO_BIN_EXE_onboard"));

/// Prints how each resource was made, grouped, and returns the groups.
fn made(report: &Value) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, resource) in report["resources"].as_object().unwrap() {
        let how = resource["made"].as_str().unwrap().to_owned();
        let why = resource["why"]
            .as_str()
            .map(|why| format!(": {why}"))
            .unwrap_or_default();
        groups.entry(how).or_default().push(format!(
            "{name} ({}){why}",
            resource["type"].as_str().unwrap()
        ));
    }
    for (how, names) in &groups {
        println!("{how} ({}):", names.len());
        for name in names {
            println!("  {name}");
        }
    }
    groups
}

fn types_made(report: &Value, how: &str) -> Vec<String> {
    let mut types: Vec<String> = report["resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["made"] == how)
        .map(|r| r["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    types.dedup();
    types
}

#[tokio::test]
async fn the_deployed_template_is_operated_by_its_stack_name_alone() {
    // GIVEN the template deployed on the emulator
    let stack = unique("deployed");
    let report = deploy_template(&stack, &[("HostedUiDomainPrefix", &stack)]);
    assert_eq!(report["status"], "CREATE_COMPLETE");
    let groups = made(&report);
    let by_cloudformation = types_made(&report, "by CloudFormation");
    for kind in [
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::S3::Bucket",
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
        "AWS::SNS::Topic",
        "AWS::CloudWatch::Dashboard",
        "AWS::ApiGateway::RestApi",
    ] {
        assert!(by_cloudformation.iter().any(|t| t == kind), "{kind}");
    }
    assert_eq!(
        types_made(&report, "through its own API"),
        [
            "AWS::CloudWatch::Alarm",
            "AWS::Cognito::IdentityPool",
            "AWS::Cognito::UserPool",
            "AWS::Cognito::UserPoolClient",
            "AWS::Cognito::UserPoolDomain",
        ]
    );
    // What is left out is only what the emulator cannot run, each with why.
    for line in groups.get("not covered").into_iter().flatten() {
        assert!(line.contains(": "), "{line} without a reason");
    }
    let outputs = &report["outputs"];
    let bucket = outputs["ArchiveBucketName"].as_str().unwrap();
    assert_ne!(
        bucket,
        format!("{stack}-archive"),
        "the bucket's name is generated, so only the Outputs can find it"
    );

    // `queues` finds every queue through the Outputs
    let (code, table, err) = ONBOARD.run(&stack, &["queues"]);
    assert_eq!(code, Some(0), "{table}{err}");
    for queue in [
        "archive",
        "archive-dlq",
        "publish",
        "publish-dlq",
        "router-dlq",
    ] {
        assert!(table.contains(&format!("{stack}-{queue} ")), "{table}");
    }

    // `dev --bootstrap` refuses to reshape a deployed stack's queues
    let (code, _, err) = ONBOARD.run(&stack, &["dev", "--bootstrap"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is deployed"), "{err}");

    // A sign-up flows through `dev` to the archive and the parameter
    let (code, sub, err) = ONBOARD.run(
        &stack,
        &[
            "signup",
            "--email",
            "ada@example.com",
            "--password",
            "Correct-Horse-9-battery",
            "--name",
            "Ada",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let sub = sub.trim().to_owned();
    let logs = tempfile::tempdir().unwrap();
    let checkpoints = logs.path().join("checkpoints.json");
    let (dev, _) = start(
        ONBOARD.command(
            &stack,
            &["dev", "--checkpoints", checkpoints.to_str().unwrap()],
        ),
        &logs.path().join("dev.log"),
    );
    let sdk = emulator().sdk_config().await;
    let s3 = s3_client(&sdk, true);
    let ssm = ssm::Client::new(&sdk);
    let prefix = ParameterPrefix::parse("/onboard").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let archived = s3
            .head_object()
            .bucket(bucket)
            .key(format!("users/{sub}.json"))
            .send()
            .await
            .is_ok();
        let published = published_under(&ssm, &prefix, &sub).await;
        if archived && let Some(published) = &published {
            assert_eq!(
                (published.name.as_deref(), published.version),
                (Some("Ada"), 1)
            );
            break;
        }
        let log = std::fs::read_to_string(logs.path().join("dev.log")).unwrap();
        assert!(
            Instant::now() < deadline,
            "archived {archived}, published {}:\n{log}",
            published.is_some()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(dev);

    // `dlq peek` and `dlq redrive` find the deployed DLQ by the Outputs
    let sqs = sqs::Client::new(&sdk);
    let dlq = sqs
        .get_queue_url()
        .queue_name(format!("{stack}-archive-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&dlq)
        .message_body("not a change")
        .send()
        .await
        .unwrap();
    let (code, peeked, err) = ONBOARD.run(&stack, &["dlq", "peek", "archive"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(peeked.contains("body: not a change"), "{peeked}");
    let (code, moved, err) = ONBOARD.run(&stack, &["dlq", "redrive", "archive"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        moved.contains(&format!(
            "moved 1 message from {stack}-archive-dlq to {stack}-archive"
        )),
        "{moved}"
    );
}
