//! `onboard doctor`: one screen that says whether the stack can work.
//!
//! In order: who the calls are made as (`GetCallerIdentity`), the region,
//! the stack (deployed through CloudFormation and its status, or created on
//! an emulator by `onboard dev --bootstrap`), its resources (the table and
//! its stream, the queues, the bucket, the user pool), the trigger attached
//! to the pool and each event source mapping with its last result (a
//! deployed stack's: on an emulator `onboard dev` is the poller and runs the
//! trigger), the stack's alarms in ALARM, and the depth of each DLQ.
//!
//! Each check is ok, a note (nothing wrong, something to know) or trouble;
//! any trouble makes the command exit 1.

pub mod command;

mod deployed;

use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider as cognito;
use onboard_shared::error::error_chain;
use serde::Serialize;

use crate::commands::queues as ops;
use crate::stack::{self, Names, Resolved, Stack, StackArgs, StackError};
pub use deployed::{FUNCTION_LOGICAL_IDS, Mapped};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    /// Nothing wrong; worth knowing.
    Note,
    Trouble,
}

/// One line of the screen.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub health: Health,
    pub detail: String,
}

/// Every check, in order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diagnosis {
    pub stack: String,
    pub endpoint: Option<String>,
    pub checks: Vec<Check>,
}

impl Diagnosis {
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.health != Health::Trouble)
    }

    fn add(&mut self, name: impl Into<String>, health: Health, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            health,
            detail: detail.into(),
        });
    }

    fn ok(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.add(name, Health::Ok, detail);
    }

    fn trouble(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.add(name, Health::Trouble, detail);
    }

    fn note(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.add(name, Health::Note, detail);
    }
}

/// Runs every check. Fails only when the calls cannot be made at all (no
/// credentials): everything else is a line of the diagnosis.
pub async fn diagnose(args: &StackArgs) -> Result<Diagnosis, StackError> {
    // Resolving checks the credentials first: past it, they work.
    let Resolved {
        sdk,
        names,
        deployed,
        caller,
    } = args.resolve_deployed().await?;
    let mut diagnosis = Diagnosis {
        stack: args.stack.clone(),
        endpoint: args.endpoint_url.clone(),
        checks: Vec::new(),
    };
    diagnosis.ok(
        "credentials",
        format!("account {} as {}", caller.account, caller.arn),
    );
    match stack::region(&sdk) {
        region if region.is_empty() => diagnosis.trouble(
            "region",
            "none: set AWS_REGION, --region or the profile's region",
        ),
        region => diagnosis.ok("region", region),
    }
    let resources = if deployed {
        deployed::stack_status(&sdk, &args.stack, &mut diagnosis).await
    } else {
        if args.endpoint_url.is_some() {
            diagnosis.note(
                "stack",
                "not deployed through CloudFormation here: resources found by their names (`onboard dev --bootstrap` makes them)",
            );
        } else {
            diagnosis.trouble(
                "stack",
                format!(
                    "no CloudFormation stack `{}` in this region: deploy infra/template.yaml (`sam deploy`) or name it with --stack",
                    args.stack
                ),
            );
        }
        None
    };
    let Found { stack, stream_arn } = resources_found(&sdk, &names, &mut diagnosis).await;
    let pool = pool_found(&sdk, &names, &mut diagnosis).await;
    identity_pool_found(&sdk, &names, &mut diagnosis).await;
    match &resources {
        Some(resources) => {
            deployed::trigger(&sdk, pool.as_ref(), resources, &mut diagnosis).await;
            let sources = deployed::Sources {
                stream_arn: stream_arn.as_deref(),
                stack: stack.as_ref(),
            };
            deployed::mappings(&sdk, &sources, resources, &mut diagnosis).await;
            deployed::writer(&sdk, resources, &mut diagnosis).await;
        }
        None => diagnosis.note(
            "trigger and mappings",
            "none without a deployed stack: on an emulator `onboard signup` runs the trigger and `onboard dev` polls the stream and the archive queue and runs the names' writer",
        ),
    }
    deployed::alarms(&sdk, &args.stack, &mut diagnosis).await;
    if let Some(stack) = &stack {
        dlqs(stack, &mut diagnosis).await;
    }
    Ok(diagnosis)
}

/// The resources the checks after them need.
struct Found {
    stack: Option<Stack>,
    stream_arn: Option<String>,
}

/// The table with its stream, the bucket and every queue.
async fn resources_found(sdk: &SdkConfig, names: &Names, d: &mut Diagnosis) -> Found {
    let dynamodb = onboard_shared::aws::dynamodb::Client::new(sdk);
    let stream_arn = match stack::latest_stream_arn(&dynamodb, &names.table).await {
        Ok(arn) => {
            d.ok(
                "users table",
                format!("{} with its NEW_AND_OLD_IMAGES stream", names.table),
            );
            Some(arn)
        }
        Err(err) => {
            d.trouble("users table", error_chain(&err));
            None
        }
    };
    let s3 = onboard_shared::aws::s3_client(sdk, stack::path_style(sdk));
    match s3.head_bucket().bucket(&names.bucket).send().await {
        Ok(_) => d.ok("archive bucket", names.bucket.clone()),
        Err(err) => d.trouble(
            "archive bucket",
            format!("{}: {}", names.bucket, error_chain(&err)),
        ),
    }
    let stack = match Stack::from_config(sdk.clone(), names.clone()).await {
        Ok(stack) => {
            d.ok("queues", format!("{} found", stack.queues.all().len()));
            Some(stack)
        }
        Err(err) => {
            d.trouble("queues", error_chain(&err));
            None
        }
    };
    Found { stack, stream_arn }
}

async fn pool_found(sdk: &SdkConfig, names: &Names, d: &mut Diagnosis) -> Option<stack::UserPool> {
    match stack::find_user_pool(&cognito::Client::new(sdk), names).await {
        Ok(pool) => {
            d.ok(
                "user pool",
                format!(
                    "{} with app clients {} (web) and {} (CLI)",
                    pool.pool_id, pool.web_client_id, pool.cli_client_id
                ),
            );
            Some(pool)
        }
        Err(err) => {
            d.trouble("user pool", error_chain(&err));
            None
        }
    }
}

/// The identity pool behind `onboard credentials`: the pipeline works
/// without it, so a missing one is a note.
async fn identity_pool_found(sdk: &SdkConfig, names: &Names, d: &mut Diagnosis) {
    let client = aws_sdk_cognitoidentity::Client::new(sdk);
    match stack::find_identity_pool(&client, names).await {
        Ok(id) => d.ok("identity pool", format!("{id}, for a person's own credentials")),
        Err(StackError::Missing { name, .. }) => d.note(
            "identity pool",
            format!(
                "`{name}` not found: `onboard credentials` needs it (deploy the template again, or `onboard dev --bootstrap`)"
            ),
        ),
        Err(err) => d.trouble("identity pool", error_chain(&err)),
    }
}

/// Each DLQ: empty, or how many wait and what to run.
async fn dlqs(stack: &Stack, d: &mut Diagnosis) {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&stack.sdk);
    let statuses = match ops::statuses(stack, &cloudwatch).await {
        Ok(statuses) => statuses,
        Err(err) => return d.trouble("dead-letter queues", error_chain(&err)),
    };
    for status in statuses.iter().filter(|s| s.is_dlq) {
        let waiting = status.visible + status.in_flight + status.delayed;
        let name = status.queue.to_owned();
        if waiting == 0 {
            d.ok(name, "empty");
        } else {
            let source = status.queue.trim_end_matches("-dlq");
            d.trouble(
                name,
                format!(
                    "{} waiting: `onboard dlq peek {source}` shows why",
                    crate::plural(usize::try_from(waiting).unwrap_or(usize::MAX), "message")
                ),
            );
        }
    }
}
