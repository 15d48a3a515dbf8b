//! The capacity model of every stage a sign-up passes, at AWS's default
//! quotas: each stage's ceiling in sign-ups a second, where the number
//! comes from, and what raises it. `docs/capacity-model.md` holds the table
//! [`table`] renders, and `tests/tests/capacity_model.rs` keeps both the
//! page and the template's numbers consistent with this model.
//!
//! Two kinds of numbers are here: AWS's quotas ([`Quota`], each with its
//! source), and onboard's own assumptions about time in AWS ([`Assumed`]),
//! which no emulator can measure and are said as such.

use std::fmt::Write as _;

/// A default quota of AWS, with where it is written.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub value: f64,
    pub source: &'static str,
}

const fn quota(value: f64, source: &'static str) -> Quota {
    Quota { value, source }
}

const COGNITO_QUOTAS: &str =
    "https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html";

/// Emails Cognito's own sender sends a day, for the account.
pub const COGNITO_EMAILS_A_DAY: Quota = quota(50.0, COGNITO_QUOTAS);
/// Emails a second SES sends from its sandbox (200 a day, to verified
/// addresses only); out of it the rate is set per account.
pub const SES_SANDBOX_A_SECOND: Quota = quota(
    1.0,
    "https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html",
);
/// `UserCreation` requests a second (`SignUp`, `ConfirmSignUp`,
/// `AdminCreateUser`, `AdminConfirmSignUp` together), per account.
pub const COGNITO_USER_CREATION: Quota = quota(50.0, COGNITO_QUOTAS);
/// `UserAuthentication` requests a second (sign-ins, the hosted UI's too).
pub const COGNITO_USER_AUTHENTICATION: Quota = quota(120.0, COGNITO_QUOTAS);
/// Concurrent executions of every function of the account and Region.
pub const LAMBDA_CONCURRENCY: Quota = quota(
    1_000.0,
    "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
);
/// Write request units a second a new on-demand table takes at once.
pub const DYNAMODB_ON_DEMAND_WRITES: Quota = quota(
    4_000.0,
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html",
);
/// The most batches a stream mapping processes from one shard at once.
pub const MAX_PARALLELIZATION_FACTOR: Quota = quota(
    10.0,
    "https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html",
);
/// The most concurrent batches an SQS mapping runs (`MaximumConcurrency`).
pub const SQS_MAPPING_CONCURRENCY: Quota = quota(
    1_000.0,
    "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
);
/// Messages in flight in a standard queue.
pub const SQS_IN_FLIGHT: Quota = quota(
    120_000.0,
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
);
/// `PUT` requests a second S3 takes under one prefix (`users/`).
pub const S3_PUTS_PER_PREFIX: Quota = quota(
    3_500.0,
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html",
);
/// `PutParameter` calls a second, for the account and Region.
pub const SSM_WRITES: Quota = quota(
    3.0,
    "https://docs.aws.amazon.com/general/latest/gr/ssm.html",
);
/// `GetParameter(s)` calls a second, for the account and Region (3,000
/// with the higher-throughput setting).
pub const SSM_READS: Quota = quota(
    40.0,
    "https://docs.aws.amazon.com/general/latest/gr/ssm.html",
);
/// Requests a second API Gateway serves an account and Region.
pub const API_GATEWAY_REQUESTS: Quota = quota(
    10_000.0,
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
);

/// A time in AWS onboard assumes (no emulator measures it), said as such.
#[derive(Debug, Clone, Copy)]
pub struct Assumed {
    pub seconds: f64,
    pub why: &'static str,
}

/// A router batch of 100 records: two `SendMessageBatch` calls per ten
/// records, one after the other, at about 10 ms each, and its CPU.
pub const ROUTER_BATCH: Assumed = Assumed {
    seconds: 0.25,
    why: "20 SendMessageBatch calls at ~10 ms, and ~11 ms of CPU as lambda-bench measures it",
};
/// An archive invocation of 10 messages: a `HeadObject` and a `PutObject`
/// a message, at about 10 ms each.
pub const ARCHIVE_BATCH: Assumed = Assumed {
    seconds: 0.2,
    why: "a HeadObject and a PutObject a message at ~10 ms",
};
/// The post-confirmation trigger: one conditional `PutItem`.
pub const TRIGGER: Assumed = Assumed {
    seconds: 0.05,
    why: "one conditional PutItem and the function's start",
};

/// Calls to Cognito's `UserCreation` category a sign-up makes (`SignUp`,
/// then `ConfirmSignUp` with the emailed code).
pub const USER_CREATION_CALLS_PER_SIGN_UP: f64 = 2.0;

/// The users a parameter of names holds on average (the capacity run at
/// 100,000 users measured 54: leaves split under a burst start half full).
pub const USERS_PER_LEAF: f64 = 54.0;

/// The numbers of the template the model reads and sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemplateNumbers {
    /// Whether the template's default sends email through Cognito's own
    /// sender (no `EmailSourceArn`).
    pub cognito_sender: bool,
    pub router_batch_size: f64,
    pub router_parallelization_factor: f64,
    pub archive_batch_size: f64,
    pub archive_maximum_concurrency: f64,
    pub parameter_writes_per_second: f64,
    /// Messages the names' writer receives a run, and its schedule.
    pub writer_messages_per_run: f64,
    pub writer_period_seconds: f64,
    pub api_rate_limit: f64,
}

/// One stage: its ceiling in sign-ups a second at the template's numbers
/// and AWS's default quotas.
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: &'static str,
    pub ceiling: f64,
    pub how: String,
    pub raise: &'static str,
    pub source: &'static str,
}

/// Every stage a sign-up passes, in order.
pub fn stages(t: &TemplateNumbers) -> Vec<Stage> {
    let email = if t.cognito_sender {
        COGNITO_EMAILS_A_DAY.value / 86_400.0
    } else {
        SES_SANDBOX_A_SECOND.value
    };
    let per_shard = t.router_parallelization_factor * t.router_batch_size / ROUTER_BATCH.seconds;
    let archive_instances = t.archive_batch_size / ARCHIVE_BATCH.seconds;
    vec![
        Stage {
            name: "email (the sign-up code)",
            ceiling: email,
            how: if t.cognito_sender {
                format!("Cognito's sender: {} a day", COGNITO_EMAILS_A_DAY.value)
            } else {
                format!(
                    "SES sandbox: {} a second, 200 a day",
                    SES_SANDBOX_A_SECOND.value
                )
            },
            raise: "EmailSourceArn (an SES identity), then SES production access and its sending rate",
            source: if t.cognito_sender {
                COGNITO_EMAILS_A_DAY.source
            } else {
                SES_SANDBOX_A_SECOND.source
            },
        },
        Stage {
            name: "Cognito sign-up",
            ceiling: COGNITO_USER_CREATION.value / USER_CREATION_CALLS_PER_SIGN_UP,
            how: format!(
                "UserCreation {} RPS / {} calls (SignUp, ConfirmSignUp)",
                COGNITO_USER_CREATION.value, USER_CREATION_CALLS_PER_SIGN_UP
            ),
            raise: "a Service Quotas increase of UserCreation",
            source: COGNITO_USER_CREATION.source,
        },
        Stage {
            name: "Cognito sign-in",
            ceiling: COGNITO_USER_AUTHENTICATION.value,
            how: format!(
                "UserAuthentication {} RPS, one a sign-up",
                COGNITO_USER_AUTHENTICATION.value
            ),
            raise: "a Service Quotas increase of UserAuthentication",
            source: COGNITO_USER_AUTHENTICATION.source,
        },
        Stage {
            name: "post-confirmation trigger",
            ceiling: LAMBDA_CONCURRENCY.value / TRIGGER.seconds,
            how: format!(
                "{} concurrent executions / {} s ({})",
                rate(LAMBDA_CONCURRENCY.value),
                TRIGGER.seconds,
                TRIGGER.why
            ),
            raise: "a Lambda concurrency increase",
            source: LAMBDA_CONCURRENCY.source,
        },
        Stage {
            name: "DynamoDB write",
            ceiling: DYNAMODB_ON_DEMAND_WRITES.value,
            how: format!(
                "on demand, {} WRU/s at once, 1 a sign-up",
                rate(DYNAMODB_ON_DEMAND_WRITES.value)
            ),
            raise: "nothing: on demand doubles with the traffic it saw",
            source: DYNAMODB_ON_DEMAND_WRITES.source,
        },
        Stage {
            name: "stream router (one shard)",
            ceiling: per_shard,
            how: format!(
                "ParallelizationFactor {} x BatchSize {} / {} s ({})",
                t.router_parallelization_factor,
                t.router_batch_size,
                ROUTER_BATCH.seconds,
                ROUTER_BATCH.why
            ),
            raise: "ParallelizationFactor (up to 10); a table with more partitions has more shards",
            source: MAX_PARALLELIZATION_FACTOR.source,
        },
        Stage {
            name: "SQS queues",
            ceiling: SQS_IN_FLIGHT.value,
            how: format!(
                "standard queues: no rate quota; {} in flight",
                rate(SQS_IN_FLIGHT.value)
            ),
            raise: "nothing",
            source: SQS_IN_FLIGHT.source,
        },
        Stage {
            name: "archive consumer and S3",
            ceiling: (t.archive_maximum_concurrency * archive_instances)
                .min(S3_PUTS_PER_PREFIX.value),
            how: format!(
                "MaximumConcurrency {} x {} / {} s ({}); S3 {} PUT/s a prefix",
                t.archive_maximum_concurrency,
                t.archive_batch_size,
                ARCHIVE_BATCH.seconds,
                ARCHIVE_BATCH.why,
                rate(S3_PUTS_PER_PREFIX.value)
            ),
            raise: "MaximumConcurrency, while under S3's 3,500 PUT/s of the users/ prefix",
            source: S3_PUTS_PER_PREFIX.source,
        },
        Stage {
            name: "names' writer (receive)",
            ceiling: t.writer_messages_per_run / t.writer_period_seconds,
            how: format!(
                "{} messages a run, a run every {} s (its writes carry all a leaf waits for)",
                rate(t.writer_messages_per_run),
                t.writer_period_seconds
            ),
            raise: "MESSAGES_PER_RUN in functions/publish-consumer (its memory grows with it)",
            source: "../functions/publish-consumer/src/lambda.rs",
        },
    ]
}

/// The stages that cannot carry `rate` sign-ups a second, lowest ceiling first.
pub fn bottlenecks(t: &TemplateNumbers, rate: f64) -> Vec<Stage> {
    let mut under: Vec<Stage> = stages(t).into_iter().filter(|s| s.ceiling < rate).collect();
    under.sort_by(|a, b| a.ceiling.total_cmp(&b.ceiling));
    under
}

/// How long a change waits for its parameter of names at a steady state
/// where every leaf has a change waiting: each leaf is written in turn, at
/// the writer's pace.
pub fn names_delay_seconds(users: f64, t: &TemplateNumbers) -> f64 {
    (users / USERS_PER_LEAF).ceil() / t.parameter_writes_per_second
}

/// The most users whose names wait at most `delay` seconds at the steady state.
pub fn users_within_delay(delay: f64, t: &TemplateNumbers) -> f64 {
    delay * t.parameter_writes_per_second * USERS_PER_LEAF
}

/// The seconds a burst of `sign_ups` takes to leave the archive queue.
pub fn archive_drain_seconds(sign_ups: f64, t: &TemplateNumbers) -> f64 {
    let ceiling = stages(t)
        .into_iter()
        .find(|s| s.name.starts_with("archive"))
        .map_or(1.0, |s| s.ceiling);
    sign_ups / ceiling
}

/// The seconds until the writer has received every message of a burst of
/// `sign_ups` (it receives a run's worth a period).
pub fn publish_receive_seconds(sign_ups: f64, t: &TemplateNumbers) -> f64 {
    (sign_ups / t.writer_messages_per_run).ceil() * t.writer_period_seconds
}

/// The table of `docs/capacity-model.md`.
pub fn table(t: &TemplateNumbers) -> String {
    let mut out = String::from(
        "| stage | ceiling (sign-ups/s) | from | 10/s | 100/s | 1,000/s | what raises it |\n|---|---:|---|:-:|:-:|:-:|---|\n",
    );
    for stage in stages(t) {
        let passes = |rate: f64| {
            if stage.ceiling >= rate {
                "yes"
            } else {
                "**no**"
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | [{}]({}) | {} | {} | {} | {} |",
            stage.name,
            rate(stage.ceiling),
            stage.how,
            stage.source,
            passes(10.0),
            passes(100.0),
            passes(1_000.0),
            stage.raise
        );
    }
    out
}

fn rate(value: f64) -> String {
    if value < 1.0 {
        format!("{value:.4}")
    } else {
        let whole = value.round() as u64;
        let digits = whole.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}
