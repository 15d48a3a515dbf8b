//! The SAM template, `infra/template.yaml`, checked offline: by cfn-lint and
//! checkov as the AWS world runs them, and by the rules its numbers keep
//! with each other and with the code, so that a later edit cannot break them
//! silently.
//!
//! The template is read as cfn-lint reads it (short-form intrinsics in their
//! long form, SAM's Globals merged into each function): see
//! `tests/infra/template_json.py`.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use onboard_shared::config::{
    AccountConfig, ArchiveConfig, ConfigError, GreetingConfig, PostConfirmationConfig,
    PublishConfig, RouterConfig,
};
use onboard_shared::telemetry::metrics;
use onboard_tests::template::{TEMPLATE, number, property, resource, resources, template};
use onboard_tests::{Venv, workspace};
use serde_json::Value;

/// Runs a tool of a venv on the template; its exit status and output.
fn check(venv: Venv, tool: &str, args: &[&str]) -> (bool, String) {
    let program = venv
        .tool(tool)
        .unwrap_or_else(|err| panic!("the {tool} venv: {err}"));
    let output = Command::new(&program)
        .args(args)
        .current_dir(workspace())
        // The SAM CLI would otherwise try to send usage data.
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap_or_else(|err| panic!("{} did not run: {err}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn cfn_lint_finds_no_error_and_no_warning() {
    let (clean, output) = check(Venv::INFRA, "cfn-lint", &[TEMPLATE]);
    assert!(clean, "cfn-lint {TEMPLATE}:\n{output}");
}

#[test]
fn sam_validate_with_lint_finds_nothing() {
    let (clean, output) = check(
        Venv::SAM,
        "sam",
        &[
            "validate",
            "--lint",
            "--region",
            "us-east-1",
            "--template",
            TEMPLATE,
        ],
    );
    assert!(
        clean && output.contains("is a valid SAM Template"),
        "sam validate --lint {TEMPLATE}:\n{output}"
    );
}

#[test]
fn checkov_finds_no_failure_that_is_not_suppressed_with_a_reason() {
    let (clean, output) = check(
        Venv::INFRA,
        "checkov",
        &["-f", TEMPLATE, "--skip-download", "--compact", "--quiet"],
    );
    assert!(clean, "checkov -f {TEMPLATE}:\n{output}");
}

#[test]
fn every_checkov_suppression_says_why() {
    for (name, resource) in resources() {
        let skips = resource
            .pointer("/Metadata/checkov/skip")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for skip in skips {
            let id = skip["id"].as_str().unwrap_or_default();
            let comment = skip["comment"].as_str().unwrap_or_default();
            assert!(
                id.starts_with("CKV") && comment.split_whitespace().count() >= 5,
                "{name} suppresses {skip} without a written reason"
            );
        }
    }
}

// ------------------------------------------------------------ the template

fn of_type(kind: &str) -> Vec<(&'static str, &'static Value)> {
    resources()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(name, r)| (name.as_str(), r))
        .collect()
}

/// The resource a `Ref` or `Fn::GetAtt` points at.
fn target(value: &Value) -> Option<&str> {
    value["Ref"]
        .as_str()
        .or_else(|| value["Fn::GetAtt"][0].as_str())
}

/// SQS keeps a message 4 days unless told otherwise.
fn retention(queue: &Value) -> f64 {
    number(&queue["Properties"]["MessageRetentionPeriod"]).unwrap_or(345_600.0)
}

fn functions() -> Vec<(&'static str, &'static Value)> {
    of_type("AWS::Serverless::Function")
}

/// The function whose code is the workspace binary `name`, with its logical id.
fn function_built_from(name: &str) -> (&'static str, &'static Value) {
    functions()
        .into_iter()
        .find(|(_, f)| binary(f) == name)
        .unwrap_or_else(|| panic!("no {name} function"))
}

fn events<'a>(function: &'a Value, kind: &str) -> Vec<&'a Value> {
    function["Properties"]["Events"]
        .as_object()
        .into_iter()
        .flat_map(|events| events.values())
        .filter(|event| event["Type"] == kind)
        .map(|event| &event["Properties"])
        .collect()
}

fn binary(function: &Value) -> &str {
    function["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .unwrap_or_default()
}

// -------------------------------------------------------------- the rules

#[test]
fn the_template_holds_the_whole_stack() {
    for (kind, at_least) in [
        ("AWS::Cognito::UserPool", 1),
        ("AWS::Cognito::UserPoolDomain", 1),
        ("AWS::Cognito::UserPoolClient", 1),
        ("AWS::DynamoDB::Table", 1),
        ("AWS::SQS::Queue", 4),
        ("AWS::S3::Bucket", 1),
        ("AWS::Serverless::Function", 5),
        ("AWS::Serverless::Api", 1),
        ("AWS::CloudWatch::Alarm", 5),
        ("AWS::CloudWatch::Dashboard", 1),
    ] {
        let found = of_type(kind).len();
        assert!(
            found >= at_least,
            "{kind}: {found}, want at least {at_least}"
        );
    }
    let (_, table) = of_type("AWS::DynamoDB::Table")[0];
    assert_eq!(
        table["Properties"]["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
    assert_eq!(
        table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
}

#[test]
fn every_function_is_one_of_the_workspace_s_binaries_built_for_arm64() {
    let built: HashSet<&str> = functions().iter().map(|(_, f)| binary(f)).collect();
    let expected = HashSet::from([
        "post-confirmation",
        "stream-router",
        "archive-consumer",
        "publish-consumer",
        "greeting",
        "account",
    ]);
    assert_eq!(built, expected);
    let mut roles = HashSet::new();
    for (name, function) in functions() {
        let properties = &function["Properties"];
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        assert!(
            workspace()
                .join("functions")
                .join(binary(function))
                .join("src/main.rs")
                .exists(),
            "{name} builds {}, which is not in functions/",
            binary(function)
        );
        assert_eq!(properties["Runtime"], "provided.al2023", "{name}");
        assert_eq!(
            properties["Architectures"],
            serde_json::json!(["arm64"]),
            "{name}"
        );
        assert_eq!(properties["LoggingConfig"]["LogFormat"], "JSON", "{name}");
        let role = target(&properties["Role"]).unwrap_or_else(|| panic!("{name} has no role"));
        assert!(roles.insert(role), "{name} shares the role {role}");
    }
}

/// Each function's environment, with references to the stack's resources
/// and parameters as they will be at deploy time.
fn environment(function: &Value) -> HashMap<String, String> {
    let parameters = &template()["Parameters"];
    function["Properties"]["Environment"]["Variables"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(var, value)| {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                reference => match target(reference) {
                    Some(name) => match &parameters[name]["Default"] {
                        Value::String(default) => default.clone(),
                        Value::Number(default) => default.to_string(),
                        _ => format!("resolved-{name}"),
                    },
                    None => panic!("{var} = {reference}: not a value this test can resolve"),
                },
            };
            (var.clone(), value)
        })
        .collect()
}

#[test]
fn each_function_s_environment_is_the_config_its_binary_reads() {
    for (name, function) in functions() {
        let env = environment(function);
        let lookup = |var: &str| env.get(var).cloned();
        let parsed: Result<(), ConfigError> = match binary(function) {
            "post-confirmation" => PostConfirmationConfig::from_env(lookup).map(drop),
            "stream-router" => RouterConfig::from_env(lookup).map(drop),
            "archive-consumer" => ArchiveConfig::from_env(lookup).map(|config| {
                // Path-style addressing is for emulators only.
                assert!(!config.force_path_style, "{name}");
            }),
            "publish-consumer" => PublishConfig::from_env(lookup).map(drop),
            "greeting" => GreetingConfig::from_env(lookup).map(drop),
            "account" => AccountConfig::from_env(lookup).map(drop),
            other => panic!("{name} builds {other}"),
        };
        if let Err(err) = parsed {
            panic!("{name}'s environment {env:?} is not its config: {err}");
        }
    }
}

#[test]
fn the_post_confirmation_trigger_answers_within_cognito_s_five_seconds() {
    let (pool_name, pool) = of_type("AWS::Cognito::UserPool")[0];
    let trigger = target(&pool["Properties"]["LambdaConfig"]["PostConfirmation"])
        .unwrap_or_else(|| panic!("{pool_name} has no post-confirmation trigger"));
    let function = resource(trigger);
    assert_eq!(binary(function), "post-confirmation");
    let timeout = property(function, "Timeout");
    assert!(timeout <= 5.0, "{trigger} times out after {timeout} s");

    // Cognito may invoke it, and only for this pool of this account.
    let permitted = of_type("AWS::Lambda::Permission").iter().any(|(_, p)| {
        let p = &p["Properties"];
        target(&p["FunctionName"]) == Some(trigger)
            && p["Principal"] == "cognito-idp.amazonaws.com"
            && target(&p["SourceArn"]) == Some(pool_name)
            && p["SourceAccount"]["Ref"] == "AWS::AccountId"
    });
    assert!(permitted, "no invoke permission scoped to {pool_name}");
}

#[test]
fn sqs_consumers_have_time_to_fail_retry_and_dead_letter() {
    let mut consumed = 0;
    for (name, function) in functions() {
        let timeout = property(function, "Timeout");
        for event in events(function, "SQS") {
            consumed += 1;
            let queue_name = target(&event["Queue"]).unwrap_or_default();
            let queue = resource(queue_name);
            let window = number(&event["MaximumBatchingWindowInSeconds"]).unwrap_or(0.0);
            let visibility = property(queue, "VisibilityTimeout");
            assert!(
                visibility >= 6.0 * timeout + window,
                "{queue_name}: visibility {visibility} s < 6 x {name}'s timeout {timeout} s + window {window} s"
            );
            assert_eq!(
                event["FunctionResponseTypes"],
                serde_json::json!(["ReportBatchItemFailures"]),
                "{name}"
            );

            let redrive = &queue["Properties"]["RedrivePolicy"];
            let receives = number(&redrive["maxReceiveCount"]).unwrap_or(0.0);
            assert!(receives >= 5.0, "{queue_name}: maxReceiveCount {receives}");
            let dlq_name = target(&redrive["deadLetterTargetArn"])
                .unwrap_or_else(|| panic!("{queue_name} has no DLQ"));
            let (kept, source_kept) = (retention(resource(dlq_name)), retention(queue));
            assert!(
                kept > source_kept,
                "{dlq_name} keeps messages {kept} s, not longer than {queue_name}'s {source_kept} s"
            );
        }
    }
    assert_eq!(
        consumed, 1,
        "the archive consumer (the names' writer drains its queue itself)"
    );
}

#[test]
fn stream_retries_are_bounded_and_end_in_the_router_dlq() {
    let (name, router) = function_built_from("stream-router");
    let streams = events(router, "DynamoDB");
    assert_eq!(streams.len(), 1, "{name} reads one stream");
    let stream = streams[0];
    let retries = number(&stream["MaximumRetryAttempts"]).unwrap_or(-1.0);
    assert!(
        (0.0..=10.0).contains(&retries),
        "MaximumRetryAttempts {retries}"
    );
    // A stream keeps records 24 h: an older one is gone before it is retried.
    let age = number(&stream["MaximumRecordAgeInSeconds"]).unwrap_or(-1.0);
    assert!(
        (60.0..=86_400.0).contains(&age),
        "MaximumRecordAgeInSeconds {age}"
    );
    assert_eq!(stream["BisectBatchOnFunctionError"], true);
    assert_eq!(
        stream["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    let on_failure = target(&stream["DestinationConfig"]["OnFailure"]["Destination"])
        .unwrap_or_else(|| panic!("{name}'s stream has no on-failure destination"));
    let dead_letters = environment(router)
        .remove("DEAD_LETTER_QUEUE_URL")
        .unwrap_or_default();
    assert_eq!(
        dead_letters,
        format!("resolved-{on_failure}"),
        "unroutable records and spent retries land in one queue"
    );
}

#[test]
fn the_local_event_source_defaults_are_the_template_s() {
    // `onboard replay` and `onboard dev` run with these unless told
    // otherwise; they must be the stack's.
    let defaults = onboard_cli::engine::event_source::Settings::default();
    let as_number = |n: u64| Some(n as f64);
    let (name, router) = function_built_from("stream-router");
    let stream = events(router, "DynamoDB")[0];
    let expected_stream = [
        ("BatchSize", as_number(defaults.stream.batch_size as u64)),
        (
            "MaximumRetryAttempts",
            as_number(u64::from(defaults.stream.maximum_retry_attempts)),
        ),
        (
            "MaximumRecordAgeInSeconds",
            as_number(defaults.stream.maximum_record_age.as_secs()),
        ),
    ];
    for (property, expected) in expected_stream {
        assert_eq!(
            number(&stream[property]),
            expected,
            "{name}'s stream {property}"
        );
    }
    assert_eq!(
        stream["BisectBatchOnFunctionError"], defaults.stream.bisect_batch_on_function_error,
        "{name}'s stream BisectBatchOnFunctionError"
    );
    // The archive consumer's mapping (the names' writer has none).
    let (name, function) = function_built_from("archive-consumer");
    let source = events(function, "SQS")[0];
    assert_eq!(
        number(&source["BatchSize"]),
        as_number(defaults.queue.batch_size as u64),
        "{name}'s queue BatchSize"
    );
    let queue = resource(target(&source["Queue"]).unwrap_or_default());
    assert_eq!(
        property(queue, "VisibilityTimeout"),
        defaults.queue.visibility_timeout.as_secs() as f64,
        "{name}'s queue VisibilityTimeout"
    );
    assert_eq!(
        number(&queue["Properties"]["RedrivePolicy"]["maxReceiveCount"]),
        as_number(u64::from(defaults.queue.max_receive_count)),
        "{name}'s queue maxReceiveCount"
    );
}

/// Parameter Store accepts about 3 PutParameter calls a second per account
/// and region by default; past that it throttles.
const PARAMETER_STORE_WRITES_PER_SECOND: f64 = 3.0;

#[test]
fn the_names_have_one_writer_under_parameter_store_s_write_rate() {
    let (name, writer) = function_built_from("publish-consumer");
    // One writer by construction: Parameter Store has no conditional write.
    assert_eq!(
        property(writer, "ReservedConcurrentExecutions"),
        1.0,
        "{name} runs one invocation at a time"
    );
    assert!(
        events(writer, "SQS").is_empty(),
        "{name} drains its queue itself"
    );
    let schedules = events(writer, "Schedule");
    assert_eq!(schedules.len(), 1, "{name} runs on a schedule");
    assert_eq!(schedules[0]["Schedule"], "rate(1 minute)");
    // A run ends before the next begins: its timeout is the schedule's period.
    assert!(property(writer, "Timeout") <= 60.0, "{name}'s timeout");
    let rate = environment(writer)
        .get("MAX_WRITES_PER_SECOND")
        .and_then(|rate| rate.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{name} sets no MAX_WRITES_PER_SECOND"));
    assert!(
        rate <= PARAMETER_STORE_WRITES_PER_SECOND,
        "{rate} writes/s by default"
    );
    // The queue it drains keeps a message in flight longer than a run, so a
    // run's messages are not received again while it holds them.
    let queue = resource("PublishQueue");
    assert!(property(queue, "VisibilityTimeout") > property(writer, "Timeout"));
}

#[test]
fn every_role_grants_named_actions_on_named_resources_only() {
    for (name, role) in of_type("AWS::IAM::Role") {
        let statements = role["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|policy| {
                policy["PolicyDocument"]["Statement"]
                    .as_array()
                    .into_iter()
                    .flatten()
            });
        for statement in statements {
            let actions: Vec<&Value> = match &statement["Action"] {
                Value::Array(all) => all.iter().collect(),
                one => vec![one],
            };
            for action in &actions {
                let action = action.as_str().unwrap_or_default();
                assert!(!action.contains('*'), "{name} allows {action}");
            }
            // X-Ray's two writes are the only actions here that name no
            // resource (the functions' active tracing sends them).
            let resourceless = actions.iter().all(|action| {
                matches!(
                    action.as_str(),
                    Some("xray:PutTraceSegments" | "xray:PutTelemetryRecords")
                )
            });
            if !resourceless {
                assert_ne!(statement["Resource"], "*", "{name}: {statement}");
            }
        }
        assert!(
            role["Properties"]["ManagedPolicyArns"].is_null(),
            "{name} attaches a managed policy"
        );
    }
}

#[test]
fn alarms_watch_every_dlq_queue_age_the_stream_and_each_function() {
    let alarms = of_type("AWS::CloudWatch::Alarm");
    let watched = |metric: &str, dimension: &str, subject: &str| {
        alarms.iter().any(|(_, alarm)| {
            let p = &alarm["Properties"];
            p["MetricName"] == metric
                && p["Dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|d| d["Name"] == dimension && target(&d["Value"]) == Some(subject))
        })
    };
    let mut dead_letter_queues: HashSet<&str> = HashSet::new();
    for (name, queue) in of_type("AWS::SQS::Queue") {
        match target(&queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]) {
            Some(dlq) => {
                dead_letter_queues.insert(dlq);
                assert!(
                    watched("ApproximateAgeOfOldestMessage", "QueueName", name),
                    "{name}'s oldest message"
                );
            }
            None => {
                dead_letter_queues.insert(name);
            }
        }
    }
    for dlq in dead_letter_queues {
        let any_message = alarms.iter().any(|(_, alarm)| {
            let p = &alarm["Properties"];
            p["MetricName"] == "ApproximateNumberOfMessagesVisible"
                && number(&p["Threshold"]) == Some(1.0)
                && p["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
                && target(&p["Dimensions"][0]["Value"]) == Some(dlq)
        });
        assert!(any_message, "no alarm on any message in {dlq}");
    }
    for (name, function) in functions() {
        for metric in ["Errors", "Throttles"] {
            assert!(watched(metric, "FunctionName", name), "{name}'s {metric}");
        }
        if !events(function, "DynamoDB").is_empty() {
            assert!(watched("IteratorAge", "FunctionName", name), "{name}");
        }
    }
}

#[test]
fn the_archive_bucket_is_private_encrypted_versioned_and_tls_only() {
    let (name, bucket) = of_type("AWS::S3::Bucket")[0];
    let p = &bucket["Properties"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            p["PublicAccessBlockConfiguration"][setting], true,
            "{setting}"
        );
    }
    assert!(p["BucketEncryption"].is_object());
    assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
    let expires_old = p["LifecycleConfiguration"]["Rules"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|rule| rule["NoncurrentVersionExpiration"].is_object());
    assert!(expires_old, "old versions of {name} never expire");
    let denies_plain_http = of_type("AWS::S3::BucketPolicy").iter().any(|(_, policy)| {
        target(&policy["Properties"]["Bucket"]) == Some(name)
            && policy["Properties"]["PolicyDocument"]["Statement"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| {
                    s["Effect"] == "Deny"
                        && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                })
    });
    assert!(denies_plain_http, "{name} accepts requests without TLS");
}

#[test]
fn outputs_name_everything_onboard_reads_from_a_deployed_stack() {
    let outputs = template()["Outputs"]
        .as_object()
        .unwrap_or_else(|| panic!("{TEMPLATE} has no Outputs"));
    for key in onboard_cli::stack::output_keys() {
        assert!(outputs.contains_key(key), "Outputs lack {key}");
    }
    assert!(outputs.contains_key("SignUpUrl"));
}

#[test]
fn a_failed_first_create_cleans_up_and_later_deletes_keep_the_data() {
    for (name, resource) in resources() {
        if resource.get("DeletionPolicy").is_some() || resource.get("UpdateReplacePolicy").is_some()
        {
            assert_eq!(resource["DeletionPolicy"], "RetainExceptOnCreate", "{name}");
            assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{name}");
        }
    }
    for kind in [
        "AWS::Cognito::UserPool",
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
    ] {
        for (name, resource) in of_type(kind) {
            assert_eq!(resource["DeletionPolicy"], "RetainExceptOnCreate", "{name}");
        }
    }
    // Deletion protection would stop that clean-up: off unless asked for.
    assert_eq!(
        template()["Parameters"]["DeletionProtection"]["Default"],
        "INACTIVE"
    );
    let (_, pool) = of_type("AWS::Cognito::UserPool")[0];
    assert_eq!(
        pool["Properties"]["DeletionProtection"]["Ref"],
        "DeletionProtection"
    );
}

#[test]
fn the_first_deploy_needs_no_account_setting_and_makes_only_the_named_stage() {
    let (_, api) = of_type("AWS::Serverless::Api")[0];
    let p = &api["Properties"];
    // Access logs need the account's API Gateway CloudWatch role: off by default.
    assert_eq!(
        template()["Parameters"]["ApiAccessLogs"]["Default"],
        "Disabled"
    );
    assert_eq!(p["AccessLogSetting"]["Fn::If"][0], "HasApiAccessLogs");
    assert!(
        of_type("AWS::ApiGateway::Account").is_empty(),
        "the stack must not own the account-wide API Gateway setting"
    );
    // Without an OpenAPI version SAM adds a stage called "Stage".
    assert!(p["OpenApiVersion"].is_string());
}

#[test]
fn the_user_pool_s_tier_login_pages_and_email_sender_are_chosen() {
    let (_, pool) = of_type("AWS::Cognito::UserPool")[0];
    let p = &pool["Properties"];
    assert_eq!(p["UserPoolTier"], "LITE");
    let email = &p["EmailConfiguration"]["Fn::If"];
    assert_eq!(email[0], "HasEmailIdentity");
    assert_eq!(email[1]["EmailSendingAccount"], "DEVELOPER");
    assert_eq!(email[1]["SourceArn"]["Ref"], "EmailSourceArn");
    assert_eq!(email[2]["EmailSendingAccount"], "COGNITO_DEFAULT");
    let (_, domain) = of_type("AWS::Cognito::UserPoolDomain")[0];
    assert_eq!(
        number(&domain["Properties"]["ManagedLoginVersion"]),
        Some(1.0)
    );
}

#[test]
fn every_function_is_traced() {
    for (name, function) in functions() {
        assert_eq!(function["Properties"]["Tracing"], "Active", "{name}");
    }
}

#[test]
fn alarms_watch_records_the_stream_loses_and_the_api_s_server_errors() {
    let alarms = of_type("AWS::CloudWatch::Alarm");
    let (router, _) = function_built_from("stream-router");
    assert!(alarms.iter().any(|(_, alarm)| {
        let p = &alarm["Properties"];
        p["MetricName"] == "DestinationDeliveryFailures"
            && target(&p["Dimensions"][0]["Value"]) == Some(router)
    }));
    assert!(alarms.iter().any(|(_, alarm)| {
        let p = &alarm["Properties"];
        p["Namespace"] == "AWS/ApiGateway" && p["MetricName"] == "5XXError"
    }));
}

/// The dimensions each metric the template reads is published with, from
/// the AWS documentation of each namespace's metrics: a series drawn or
/// watched with other dimensions stays empty.
fn published_dimensions(namespace: &str, metric: &str) -> Option<&'static [&'static str]> {
    Some(match (namespace, metric) {
        ("AWS/Lambda", _) => &["FunctionName"],
        ("AWS/SQS", _) => &["QueueName"],
        ("AWS/ApiGateway", _) => &["ApiName", "Stage"],
        ("AWS/DynamoDB", "ReturnedRecordsCount") => &["Operation", "StreamLabel", "TableName"],
        ("Onboard", _) => &["Function", "Stack"],
        _ => return None,
    })
}

/// An onboard metric is one the function its `Function` dimension names
/// emits (`shared::telemetry::metrics`).
fn assert_emitted(namespace: &str, metric: &str, function: Option<&str>, whose: &str) {
    if namespace != metrics::NAMESPACE {
        return;
    }
    let function = onboard_shared::catalogue::Function::ALL
        .into_iter()
        .find(|f| Some(f.name()) == function)
        .unwrap_or_else(|| panic!("{whose}: {metric} names no function of onboard's"));
    assert!(
        function.metrics().iter().any(|m| m.name() == metric),
        "{whose}: {} emits no {metric}",
        function.name()
    );
}

/// The metrics an alarm watches: its one metric, or each of its metric
/// math's (namespace, name, dimensions).
fn dimensions(d: &Value) -> Vec<(&str, &str)> {
    d.as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| Some((d["Name"].as_str()?, d["Value"].as_str().unwrap_or_default())))
        .collect()
}

/// A metric an alarm watches: namespace, name, and its (name, value)
/// dimensions.
type Watched<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

fn alarm_metrics(p: &Value) -> Vec<Watched<'_>> {
    match p["Metrics"].as_array() {
        Some(queries) => queries
            .iter()
            .filter_map(|q| q.get("MetricStat"))
            .map(|stat| {
                let m = &stat["Metric"];
                (
                    m["Namespace"].as_str().unwrap_or_default(),
                    m["MetricName"].as_str().unwrap_or_default(),
                    dimensions(&m["Dimensions"]),
                )
            })
            .collect(),
        None => vec![(
            p["Namespace"].as_str().unwrap_or_default(),
            p["MetricName"].as_str().unwrap_or_default(),
            dimensions(&p["Dimensions"]),
        )],
    }
}

#[test]
fn every_alarm_and_dashboard_series_names_its_metric_s_published_dimensions() {
    for (name, alarm) in of_type("AWS::CloudWatch::Alarm") {
        for (namespace, metric, dimensions) in alarm_metrics(&alarm["Properties"]) {
            let mut given: Vec<&str> = dimensions.iter().map(|(n, _)| *n).collect();
            given.sort_unstable();
            assert_eq!(
                Some(given.as_slice()),
                published_dimensions(namespace, metric),
                "{name}: {namespace} {metric}"
            );
            let function = dimensions.iter().find(|(n, _)| *n == "Function");
            assert_emitted(namespace, metric, function.map(|(_, v)| *v), name);
        }
    }
    let (_, dashboard) = of_type("AWS::CloudWatch::Dashboard")[0];
    let body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"][0]
        .as_str()
        .unwrap_or_else(|| panic!("the dashboard's body is not a Fn::Sub with variables"));
    let body: Value = serde_json::from_str(body)
        .unwrap_or_else(|err| panic!("the dashboard's body is not JSON: {err}"));
    let mut series = 0;
    for widget in body["widgets"].as_array().into_iter().flatten() {
        for line in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let fields: Vec<&str> = line
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let (namespace, metric) = (fields[0], fields[1]);
            let function = fields[2..]
                .chunks(2)
                .find(|pair| pair[0] == "Function")
                .and_then(|pair| pair.get(1).copied());
            assert_emitted(namespace, metric, function, "dashboard");
            let mut names: Vec<&str> = fields[2..].iter().step_by(2).copied().collect();
            names.sort_unstable();
            assert_eq!(
                Some(names.as_slice()),
                published_dimensions(namespace, metric),
                "dashboard: {namespace} {metric}"
            );
            series += 1;
        }
    }
    assert!(series >= 20, "the dashboard draws {series} series");
}

#[test]
fn the_catalogue_of_functions_and_queues_is_the_template_s() {
    use onboard_shared::catalogue::{Function, QueueRole};
    let get_att = |logical: &str| serde_json::json!({ "Fn::GetAtt": [logical, "Arn"] });
    let reference = |logical: &str| serde_json::json!({ "Ref": logical });
    for function in Function::ALL {
        let resource = &resources()[function.logical_id()];
        assert_eq!(
            resource["Type"], "AWS::Serverless::Function",
            "{function:?}"
        );
        assert_eq!(
            resource["Metadata"]["BuildProperties"]["Binary"],
            function.name(),
            "{function:?} builds another binary"
        );
        let variables = &resource["Properties"]["Environment"]["Variables"];
        match function.dead_letters() {
            Some(queue) => assert_eq!(
                variables["DEAD_LETTER_QUEUE_URL"],
                reference(queue.logical_id()),
                "{function:?} dead-letters elsewhere"
            ),
            None => assert!(variables.get("DEAD_LETTER_QUEUE_URL").is_none()),
        }
        let queues_read: Vec<&serde_json::Value> = resource["Properties"]["Events"]
            .as_object()
            .map(|events| {
                events
                    .values()
                    .filter(|event| event["Type"] == "SQS")
                    .map(|event| &event["Properties"]["Queue"])
                    .collect()
            })
            .unwrap_or_default();
        // The names' writer drains its queue itself (no mapping): the
        // queue is in its environment.
        match (function.reads(), function) {
            (Some(queue), Function::PublishConsumer) => assert_eq!(
                variables["PUBLISH_QUEUE_URL"],
                reference(queue.logical_id()),
                "{function:?}"
            ),
            (Some(queue), _) => {
                assert_eq!(queues_read, [&get_att(queue.logical_id())], "{function:?}")
            }
            (None, _) => assert!(queues_read.is_empty(), "{function:?}"),
        }
    }
    let outputs = &template()["Outputs"];
    for role in QueueRole::ALL {
        let resource = &resources()[role.logical_id()];
        assert_eq!(resource["Type"], "AWS::SQS::Queue", "{role:?}");
        assert_eq!(
            outputs[role.output_key()]["Value"],
            reference(role.logical_id()),
            "{role:?}"
        );
        let redrive = &resource["Properties"]["RedrivePolicy"]["deadLetterTargetArn"];
        match role.dlq() {
            Some(dlq) => assert_eq!(redrive, &get_att(dlq.logical_id()), "{role:?}"),
            None => assert!(redrive.is_null(), "{role:?} has a DLQ of its own"),
        }
    }
}
