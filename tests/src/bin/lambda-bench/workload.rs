//! What each function is given to work on: the resources it writes to,
//! made on the emulator, and its events, each about users no other event
//! names (new sign-ups, new users' changes), so every record is real work.

use onboard_shared::catalogue::Function;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::SdkConfig;
use onboard_shared::aws::{dynamodb, s3, sqs, ssm};
use onboard_tests::unique;
use serde_json::{Value, json};

/// One function's benchmark input.
#[derive(Debug, Clone)]
pub struct Workload {
    pub function: &'static str,
    /// What one record is, in the figures.
    pub unit: &'static str,
    /// Records in each invocation.
    pub per_invocation: usize,
    /// The function's environment: its resources on the emulator.
    pub env: Vec<(String, String)>,
    pub events: Vec<Value>,
    /// The most CPU one record may cost, where the project sets a target.
    pub cpu_target: Option<Duration>,
    /// The longest the function's first invocation may take.
    pub budget: Budget,
    /// Queues the function fills, emptied between invocations: moto's
    /// `SendMessageBatch` takes longer the more a queue holds (some 2 ms
    /// more per 100 messages), which SQS's does not.
    pub fills: Vec<String>,
    /// The queue a function drains itself (the publish writer), given its
    /// next invocation's messages before it.
    pub feed: Option<Feed>,
}

/// Messages put in a queue before each invocation, a batch at a time.
#[derive(Debug)]
pub struct Feed {
    pub queue: String,
    pub batches: Vec<Vec<String>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Clone for Feed {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            batches: self.batches.clone(),
            next: std::sync::atomic::AtomicUsize::new(self.next.load(Ordering::Relaxed)),
        }
    }
}

impl Workload {
    /// Readies the next invocation: empties the queues the function fills
    /// and feeds the queue it drains.
    pub async fn ready(&self, sdk: &SdkConfig) -> Result<(), String> {
        self.empty_queues(sdk).await?;
        if let Some(feed) = &self.feed {
            let next = feed.next.fetch_add(1, Ordering::Relaxed);
            let client = sqs::Client::new(sdk);
            for body in feed.batches.get(next).into_iter().flatten() {
                client
                    .send_message()
                    .queue_url(&feed.queue)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(|err| format!("feeding {}: {err}", feed.queue))?;
            }
        }
        Ok(())
    }

    /// Empties the queues the function fills, by making each anew under
    /// its name (moto allows that at once; `PurgeQueue` once a minute).
    async fn empty_queues(&self, sdk: &SdkConfig) -> Result<(), String> {
        let client = sqs::Client::new(sdk);
        for url in &self.fills {
            client
                .delete_queue()
                .queue_url(url)
                .send()
                .await
                .map_err(|err| format!("emptying {url}: {err}"))?;
            let name = url.rsplit('/').next().unwrap_or_default();
            queue(sdk, name).await?;
        }
        Ok(())
    }
}

/// What a function's cold first invocation must fit in.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub what: &'static str,
    pub limit: Duration,
}

/// The Cognito trigger: each SDK attempt is cut at 600 ms (`CallBudget::TRIGGER`),
/// and Cognito waits 5 s for the whole invocation.
pub const TRIGGER_ATTEMPT: Budget = Budget {
    what: "the trigger's per-attempt budget",
    limit: onboard_shared::aws::CallBudget::TRIGGER.attempt_timeout,
};
/// The batch functions' timeout in `infra/template.yaml`.
const BATCH_TIMEOUT: Budget = Budget {
    what: "the function's 30 s timeout",
    limit: Duration::from_secs(30),
};
/// The names' writer's timeout in `infra/template.yaml`.
const WRITER_TIMEOUT: Budget = Budget {
    what: "the writer's 60 s timeout",
    limit: Duration::from_secs(60),
};
/// The greeting's timeout in `infra/template.yaml`.
const GREETING_TIMEOUT: Budget = Budget {
    what: "the greeting's 5 s timeout",
    limit: Duration::from_secs(5),
};

/// A user id no other record of this run names.
fn user_id(n: u64) -> String {
    format!("{:08x}-0000-4000-8000-{n:012x}", std::process::id())
}

/// Numbers for users, never given twice in one run.
fn next_users(count: usize) -> std::ops::Range<u64> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let count = count as u64;
    let start = NEXT.fetch_add(count, Ordering::Relaxed);
    start..start + count
}

/// The change message the router sends for a new user.
fn created(n: u64) -> String {
    json!({
        "kind": "created",
        "user": {
            "user_id": user_id(n),
            "email": format!("user-{n}@example.com"),
            "created_at": "2026-01-01T09:00:00.000Z",
            "version": 1,
            "name": format!("User {n}"),
        },
        "version": 1,
        "event_id": format!("{n:032x}"),
        "sequence_number": (100_000_000_000_000_000_000_u128 + u128::from(n)).to_string(),
    })
    .to_string()
}

fn sqs_event(queue: &str, users: std::ops::Range<u64>) -> Value {
    let records: Vec<Value> = users
        .map(|n| {
            json!({
                "messageId": format!("00000000-0000-4000-8000-{n:012x}"),
                "receiptHandle": format!("handle-{n}"),
                "body": created(n),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1767258000000",
                    "SenderId": "AROAEXAMPLE:stream-router",
                    "ApproximateFirstReceiveTimestamp": "1767258000100",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

fn stream_event(users: std::ops::Range<u64>) -> Value {
    let records: Vec<Value> = users
        .map(|n| {
            let id = user_id(n);
            json!({
                "eventID": format!("{n:032x}"),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_767_258_000,
                    "Keys": { "user_id": { "S": id } },
                    "NewImage": {
                        "user_id": { "S": id },
                        "email": { "S": format!("user-{n}@example.com") },
                        "created_at": { "S": "2026-01-01T09:00:00.000Z" },
                        "version": { "N": "1" },
                        "name": { "S": format!("User {n}") },
                    },
                    "SequenceNumber": (100_000_000_000_000_000_000_u128 + u128::from(n)).to_string(),
                    "SizeBytes": 180,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/onboard-users/stream/2026-01-01T00:00:00.000",
            })
        })
        .collect();
    json!({ "Records": records })
}

fn sign_up(n: u64) -> Value {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/cognito/post-confirmation-sign-up.json"
    ))
    .unwrap_or_default();
    let id = user_id(n);
    event["userName"] = id.clone().into();
    event["request"]["userAttributes"]["sub"] = id.into();
    event["request"]["userAttributes"]["email"] = format!("user-{n}@example.com").into();
    event
}

fn greeting_request(n: u64) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../../../../fixtures/apigw/hello-json.json"))
            .unwrap_or_default();
    let id = user_id(n);
    event["requestContext"]["authorizer"]["claims"]["sub"] = id.clone().into();
    event["requestContext"]["authorizer"]["claims"]["cognito:username"] = id.into();
    event
}

async fn queue(sdk: &SdkConfig, name: &str) -> Result<String, String> {
    sqs::Client::new(sdk)
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|err| format!("creating the queue {name}: {err}"))?
        .queue_url
        .ok_or_else(|| format!("no URL for the queue {name}"))
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The users a publish workload published, for the greeting to read.
#[derive(Debug, Clone)]
pub struct Published {
    pub prefix: String,
    pub users: std::ops::Range<u64>,
}

/// The floor: an invocation that answers at once and calls nothing, so its
/// CPU is the Runtime API's round trip (the poll, the answer) alone.
pub fn hello(invocations: usize) -> Workload {
    Workload {
        function: onboard_tests::release::HELLO,
        unit: "invocation",
        per_invocation: 1,
        env: Vec::new(),
        events: (0..invocations).map(|n| json!({ "n": n })).collect(),
        cpu_target: None,
        budget: GREETING_TIMEOUT,
        fills: Vec::new(),
        feed: None,
    }
}

/// The trigger: one sign-up an invocation.
pub async fn post_confirmation(sdk: &SdkConfig, invocations: usize) -> Result<Workload, String> {
    let table = unique("bench-users");
    dynamodb::Client::new(sdk)
        .create_table()
        .table_name(&table)
        .key_schema(
            dynamodb::types::KeySchemaElement::builder()
                .attribute_name("user_id")
                .key_type(dynamodb::types::KeyType::Hash)
                .build()
                .map_err(|err| err.to_string())?,
        )
        .attribute_definitions(
            dynamodb::types::AttributeDefinition::builder()
                .attribute_name("user_id")
                .attribute_type(dynamodb::types::ScalarAttributeType::S)
                .build()
                .map_err(|err| err.to_string())?,
        )
        .billing_mode(dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|err| format!("creating the table: {err}"))?;
    Ok(Workload {
        function: Function::PostConfirmation.name(),
        unit: "sign-up",
        per_invocation: 1,
        env: env(&[("USERS_TABLE", &table)]),
        events: next_users(invocations).map(sign_up).collect(),
        cpu_target: None,
        budget: TRIGGER_ATTEMPT,
        fills: Vec::new(),
        feed: None,
    })
}

/// The router: batches of 100 new users' INSERT records.
pub async fn stream_router(sdk: &SdkConfig, invocations: usize) -> Result<Workload, String> {
    let archive = queue(sdk, &unique("bench-archive")).await?;
    let publish = queue(sdk, &unique("bench-publish")).await?;
    let dead_letters = queue(sdk, &unique("bench-router-dlq")).await?;
    let events = (0..invocations)
        .map(|_| stream_event(next_users(100)))
        .collect();
    Ok(Workload {
        function: Function::StreamRouter.name(),
        unit: "record",
        per_invocation: 100,
        env: env(&[
            ("ARCHIVE_QUEUE_URL", &archive.clone()),
            ("PUBLISH_QUEUE_URL", &publish.clone()),
            ("DEAD_LETTER_QUEUE_URL", &dead_letters),
        ]),
        events,
        cpu_target: Some(Duration::from_micros(25)),
        budget: BATCH_TIMEOUT,
        fills: vec![archive, publish],
        feed: None,
    })
}

/// The archive consumer: batches of 10 new users' changes.
pub async fn archive_consumer(sdk: &SdkConfig, invocations: usize) -> Result<Workload, String> {
    let bucket = unique("bench-archive");
    s3::Client::new(sdk)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .map_err(|err| format!("creating the bucket: {err}"))?;
    let dead_letters = queue(sdk, &unique("bench-archive-dlq")).await?;
    let events = (0..invocations)
        .map(|_| sqs_event("onboard-archive", next_users(10)))
        .collect();
    Ok(Workload {
        function: Function::ArchiveConsumer.name(),
        unit: "message",
        per_invocation: 10,
        env: env(&[
            ("ARCHIVE_BUCKET", &bucket),
            ("DEAD_LETTER_QUEUE_URL", &dead_letters),
        ]),
        events,
        cpu_target: Some(Duration::from_micros(100)),
        budget: BATCH_TIMEOUT,
        fills: Vec::new(),
        feed: None,
    })
}

/// The publish writer: an invocation as its schedule makes it, with 10
/// new users' changes put in its queue before each, its pacing lifted so
/// that only its CPU is measured. Returns the users it will publish, for
/// the greeting.
pub async fn publish_consumer(
    sdk: &SdkConfig,
    invocations: usize,
) -> Result<(Workload, Published), String> {
    let prefix = format!("/{}", unique("bench"));
    let inbox = queue(sdk, &unique("bench-publish")).await?;
    let dead_letters = queue(sdk, &unique("bench-publish-dlq")).await?;
    // moto sets its Parameter Store up (AWS's public parameters) on the
    // first SSM call it serves, which takes most of a second: here, not in
    // a measured invocation. The parameter does not exist.
    let _ = ssm::Client::new(sdk)
        .get_parameter()
        .name(format!("{prefix}/not-there"))
        .send()
        .await;
    let users = next_users(invocations * 10);
    let batches = users
        .clone()
        .step_by(10)
        .map(|first| (first..first + 10).map(created).collect())
        .collect();
    let scheduled = json!({ "source": "aws.scheduler", "detail-type": "Scheduled Event" });
    Ok((
        Workload {
            function: Function::PublishConsumer.name(),
            unit: "message",
            per_invocation: 10,
            env: env(&[
                ("PARAMETER_PREFIX", &prefix),
                ("PUBLISH_QUEUE_URL", &inbox),
                ("DEAD_LETTER_QUEUE_URL", &dead_letters),
                ("MAX_WRITES_PER_SECOND", "1000000"),
            ]),
            events: vec![scheduled; invocations],
            cpu_target: None,
            budget: WRITER_TIMEOUT,
            fills: Vec::new(),
            feed: Some(Feed {
                queue: inbox,
                batches,
                next: std::sync::atomic::AtomicUsize::new(0),
            }),
        },
        Published { prefix, users },
    ))
}

/// The greeting: one request an invocation, each for a user the publish
/// consumer published (a different one each time: no cached name).
pub fn greeting(published: &Published, invocations: usize) -> Workload {
    let events = published
        .users
        .clone()
        .cycle()
        .take(invocations)
        .map(greeting_request)
        .collect();
    Workload {
        function: Function::Greeting.name(),
        unit: "request",
        per_invocation: 1,
        env: env(&[
            ("PARAMETER_PREFIX", &published.prefix),
            // Read only for a caller ahead of the names, which the workload never is.
            ("USERS_TABLE", "users"),
            ("ARCHIVE_BUCKET", "archive"),
        ]),
        events,
        cpu_target: None,
        budget: GREETING_TIMEOUT,
        fills: Vec::new(),
        feed: None,
    }
}
