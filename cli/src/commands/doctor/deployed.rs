//! The checks of a stack deployed from `infra/template.yaml`: its status,
//! the trigger on its pool, its event source mappings, and its alarms.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_cloudformation as cloudformation;
use aws_sdk_cloudwatch as cloudwatch;
use aws_sdk_cognitoidentityprovider as cognito;
use aws_sdk_lambda as lambda;
use onboard_shared::error::error_chain;

use super::Diagnosis;
use crate::stack::{self, Stack, UserPool};
use onboard_shared::catalogue::QueueRole;

/// The template's logical ids of the functions doctor looks at: the
/// contract with `infra/template.yaml` (its tests check them).
pub const FUNCTION_LOGICAL_IDS: [&str; 4] = [
    "PostConfirmationFunction",
    "StreamRouterFunction",
    "ArchiveConsumerFunction",
    "PublishConsumerFunction",
];

/// What feeds each polled function: the table's stream or a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapped {
    Stream,
    Queue(QueueRole),
}

const MAPPINGS: [(&str, &str, Mapped); 2] = [
    ("StreamRouterFunction", "stream → router", Mapped::Stream),
    (
        "ArchiveConsumerFunction",
        "archive queue → archive consumer",
        Mapped::Queue(QueueRole::Archive),
    ),
];

/// The deployed stack's functions, by logical id.
#[derive(Debug, Default)]
pub struct Resources {
    functions: HashMap<String, String>,
}

/// The stack's status and its functions.
pub async fn stack_status(sdk: &SdkConfig, stack: &str, d: &mut Diagnosis) -> Option<Resources> {
    let client = cloudformation::Client::new(sdk);
    let described = match client.describe_stacks().stack_name(stack).send().await {
        Ok(described) => described,
        Err(err) => {
            d.trouble(
                "stack",
                format!("DescribeStacks {stack}: {}", error_chain(&err)),
            );
            return None;
        }
    };
    let status = described
        .stacks()
        .first()
        .and_then(|s| s.stack_status())
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let detail = format!("{stack}: {status}");
    if status.ends_with("_FAILED") || status == "ROLLBACK_COMPLETE" || status.starts_with("DELETE")
    {
        d.trouble("stack", detail);
    } else if status.ends_with("_IN_PROGRESS") || status.contains("ROLLBACK") {
        d.note(
            "stack",
            format!("{detail} (the last change did not complete)"),
        );
    } else {
        d.ok("stack", detail);
    }
    let mut resources = Resources::default();
    let mut pages = client
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .items()
        .send();
    while let Some(resource) = pages.next().await {
        match resource {
            Ok(r) if r.resource_type() == Some("AWS::Lambda::Function") => {
                if let (Some(logical), Some(physical)) =
                    (r.logical_resource_id(), r.physical_resource_id())
                {
                    resources
                        .functions
                        .insert(logical.to_owned(), physical.to_owned());
                }
            }
            Ok(_) => {}
            Err(err) => {
                d.trouble("stack resources", error_chain(&err));
                break;
            }
        }
    }
    Some(resources)
}

/// The pool's post-confirmation trigger is the stack's function.
pub async fn trigger(
    sdk: &SdkConfig,
    pool: Option<&UserPool>,
    resources: &Resources,
    d: &mut Diagnosis,
) {
    let Some(pool) = pool else { return };
    let expected = resources.functions.get("PostConfirmationFunction");
    let described = cognito::Client::new(sdk)
        .describe_user_pool()
        .user_pool_id(&pool.pool_id)
        .send()
        .await;
    let attached = match described {
        Ok(described) => described
            .user_pool()
            .and_then(|p| p.lambda_config())
            .and_then(|c| c.post_confirmation())
            .map(str::to_owned),
        Err(err) => return d.trouble("trigger", error_chain(&err)),
    };
    match (attached, expected) {
        (None, _) => d.trouble(
            "trigger",
            "no post-confirmation trigger on the pool: new sign-ups are not recorded (`onboard reconcile --fix` records them)",
        ),
        (Some(arn), Some(function)) if names_function(&arn, function) => {
            d.ok("trigger", format!("post-confirmation → {function}"));
        }
        (Some(arn), Some(function)) => d.trouble(
            "trigger",
            format!("the pool calls {arn}, not the stack's {function}"),
        ),
        (Some(arn), None) => d.note("trigger", format!("post-confirmation → {arn}")),
    }
}

/// A function ARN (possibly with a version or alias) of this function.
fn names_function(arn: &str, function: &str) -> bool {
    arn == function
        || arn.contains(&format!(":function:{function}:"))
        || arn.ends_with(&format!(":function:{function}"))
}

/// Where the polled functions' events come from, as the checks before
/// found them.
#[derive(Debug)]
pub struct Sources<'a> {
    pub stream_arn: Option<&'a str>,
    pub stack: Option<&'a Stack>,
}

/// Each polled function has its mapping, enabled, and its last result.
pub async fn mappings(
    sdk: &SdkConfig,
    sources: &Sources<'_>,
    resources: &Resources,
    d: &mut Diagnosis,
) {
    let client = lambda::Client::new(sdk);
    for (logical, label, mapped) in MAPPINGS {
        let name = format!("mapping {label}");
        let Some(function) = resources.functions.get(logical) else {
            d.trouble(name, format!("the stack has no {logical}"));
            continue;
        };
        let source = match (mapped, sources.stack) {
            (Mapped::Stream, _) => sources.stream_arn.map(str::to_owned),
            (Mapped::Queue(role), Some(stack)) => {
                stack::queue_arn(&stack.sqs, &stack.queues.get(role).url)
                    .await
                    .ok()
            }
            (Mapped::Queue(_), None) => None,
        };
        let found = client
            .list_event_source_mappings()
            .function_name(function)
            .send()
            .await;
        let mappings = match found {
            Ok(found) => found.event_source_mappings.unwrap_or_default(),
            Err(err) => {
                d.trouble(name, error_chain(&err));
                continue;
            }
        };
        let mapping = mappings.iter().find(|m| {
            source
                .as_deref()
                .is_none_or(|source| m.event_source_arn() == Some(source))
        });
        let Some(mapping) = mapping else {
            d.trouble(
                name,
                format!("missing: nothing delivers to {function} (deploy the stack again)"),
            );
            continue;
        };
        let state = mapping.state().unwrap_or("unknown");
        let last = mapping.last_processing_result().unwrap_or("none yet");
        if state != "Enabled" {
            d.trouble(name, format!("{state}, not Enabled (last result: {last})"));
        } else if last.starts_with("PROBLEM") {
            d.trouble(name, format!("enabled; last result: {last}"));
        } else {
            d.ok(name, format!("enabled; last result: {last}"));
        }
    }
}

/// The names' writer drains the publish queue on its schedule, one
/// invocation at a time (no mapping delivers to it): its reserved
/// concurrency must be one, or two writers could lose each other's writes.
pub async fn writer(sdk: &SdkConfig, resources: &Resources, d: &mut Diagnosis) {
    let name = "names' writer";
    let Some(function) = resources.functions.get("PublishConsumerFunction") else {
        d.trouble(name, "the stack has no PublishConsumerFunction");
        return;
    };
    let found = lambda::Client::new(sdk)
        .get_function_concurrency()
        .function_name(function)
        .send()
        .await;
    match found.map(|found| found.reserved_concurrent_executions) {
        Ok(Some(1)) => d.ok(
            name,
            "one invocation at a time (reserved concurrency 1), run by its schedule",
        ),
        Ok(other) => d.trouble(
            name,
            format!(
                "its reserved concurrency is {}, not 1: two writers could lose each other's writes (deploy the stack again)",
                other.map_or_else(|| "unset".to_owned(), |n| n.to_string())
            ),
        ),
        Err(err) => d.trouble(name, error_chain(&err)),
    }
}

/// The stack's alarms in ALARM (named `<stack>-...`).
pub async fn alarms(sdk: &SdkConfig, stack: &str, d: &mut Diagnosis) {
    let mut pages = cloudwatch::Client::new(sdk)
        .describe_alarms()
        .alarm_name_prefix(format!("{stack}-"))
        .state_value(cloudwatch::types::StateValue::Alarm)
        .into_paginator()
        .send();
    let mut firing = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => firing.extend(
                page.metric_alarms()
                    .iter()
                    .filter_map(|a| a.alarm_name().map(str::to_owned)),
            ),
            // moto answers CloudWatch in XML, where the SDK speaks CBOR: on
            // an emulator the alarms cannot be read, which is no trouble of
            // the stack's.
            Err(err) if sdk.endpoint_url().is_some() => {
                return d.note(
                    "alarms",
                    format!(
                        "not checked: the endpoint did not answer DescribeAlarms ({})",
                        error_chain(&err)
                    ),
                );
            }
            Err(err) => return d.trouble("alarms", error_chain(&err)),
        }
    }
    if firing.is_empty() {
        d.ok("alarms", "none in ALARM");
    } else {
        d.trouble(
            "alarms",
            format!("{} in ALARM: {}", firing.len(), firing.join(", ")),
        );
    }
}
