//! AWS adapters of the ports, and the one place that builds SDK clients.
//!
//! The SDK config (credentials, region, endpoint, timeouts) is loaded once at
//! start and each client is built from it once; handlers never look anything
//! up per invocation. `AWS_ENDPOINT_URL` points every client at an emulator.

pub use {aws_sdk_dynamodb as dynamodb, aws_sdk_s3 as s3, aws_sdk_sqs as sqs, aws_sdk_ssm as ssm};

use std::collections::HashMap;
use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::sync::Mutex as AsyncMutex;
use tokio::time::Instant;

use crate::config::{ConfigError, Lookup, required};
use crate::domain::{Revision, User, UserId, Version};
use crate::error::PortError;
use crate::ports::{
    ArchiveHead, ArchiveStore, Conditional, MessageQueue, OutgoingMessage, ParameterStore, PutNew,
    SendFailure, UserStore, WriteCondition, archive_key,
};

/// How long the SDK may spend on one call: per attempt, in all, and how many
/// attempts. A budget keeps a caller with a deadline (Cognito's 5 s for a
/// trigger) inside it whatever the network does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    pub max_attempts: u32,
    /// The cap on the whole call, retries and back-off included.
    pub operation_timeout: Duration,
}

impl CallBudget {
    /// The Cognito trigger's budget: well inside Cognito's 5 s, leaving room
    /// for the function's own start and work.
    pub const TRIGGER: CallBudget = CallBudget {
        connect_timeout: Duration::from_millis(200),
        attempt_timeout: Duration::from_millis(600),
        max_attempts: 3,
        operation_timeout: Duration::from_millis(1800),
    };

    /// The longest one call can take under this budget.
    pub fn worst_case(&self) -> Duration {
        self.operation_timeout
            .min(self.attempt_timeout * self.max_attempts)
    }

    fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    fn retries(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts)
    }
}

/// The SDK's own connect timeout, which the default loader also sets.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The SDK config of a function in Lambda, built once at init from what
/// Lambda puts in the environment: `AWS_REGION` and the execution role's
/// credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, fixed for the life of the environment), plus
/// `AWS_ENDPOINT_URL` where one is set (a local emulator).
///
/// Nothing else is looked up. The default chain's profile files, SSO, web
/// identity, STS and instance metadata serve other machines; a function
/// that never calls the default loader does not link them, which keeps
/// each binary smaller and its start faster. The `onboard` command and the
/// tests use [`Connection::load`], with the whole chain.
pub fn lambda_config(
    env: &impl Lookup,
    budget: Option<CallBudget>,
) -> Result<SdkConfig, ConfigError> {
    let var = |var, what| required(env, var, what);
    let region = var("AWS_REGION", "the region Lambda runs in")?;
    // The execution role's credentials, which Lambda sets for the life of
    // the execution environment.
    let credentials = aws_credential_types::Credentials::new(
        var("AWS_ACCESS_KEY_ID", "the execution role's access key")?,
        var("AWS_SECRET_ACCESS_KEY", "the execution role's secret key")?,
        env.get("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let (timeouts, retries) = match budget {
        Some(budget) => (budget.timeouts(), budget.retries()),
        None => (
            TimeoutConfig::builder()
                .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
                .build(),
            RetryConfig::standard(),
        ),
    };
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
        .http_client(https_client())
        .time_source(SharedTimeSource::default())
        .timeout_config(timeouts)
        .retry_config(retries);
    config.set_sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep());
    config.set_endpoint_url(env.get("AWS_ENDPOINT_URL"));
    Ok(config.build())
}

/// The HTTPS client every SDK client uses: hyper 1 and rustls on ring.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The SDK config loader with the default chain (environment, profile,
/// instance role) and the HTTPS client.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}

/// Where the `onboard` command and the tests send their calls: real AWS
/// through the usual profile and region settings, or an endpoint such as a
/// local emulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// Every service at this URL (`AWS_ENDPOINT_URL`), else AWS itself.
    pub endpoint_url: Option<String>,
    /// Else the default chain (`AWS_REGION`, the profile); for an emulator
    /// on loopback, `AWS_REGION` or [`EMULATOR_REGION`].
    pub region: Option<String>,
    /// A named profile, else the default chain.
    pub profile: Option<String>,
}

/// The region an emulator on loopback gets when nothing names one.
pub const EMULATOR_REGION: &str = "us-east-1";

impl Connection {
    /// An emulator on this machine: any credentials do, and no region needs
    /// to be configured.
    pub fn is_loopback(&self) -> bool {
        let Some(url) = &self.endpoint_url else {
            return false;
        };
        let host = url
            .split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .split(['/', '?'])
            .next()
            .unwrap_or_default();
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host, |(host, _)| host),
        };
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Loads the SDK config once. On a loopback endpoint with no credentials
    /// in the environment or a profile, placeholder credentials are used, so
    /// a fresh machine can talk to a local emulator with no set-up.
    pub async fn load(&self) -> SdkConfig {
        let mut loader = config_loader();
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        let loopback = self.is_loopback();
        // An emulator needs a region but has no instance metadata to ask.
        let region = self.region.clone().or_else(|| {
            loopback.then(|| {
                ["AWS_REGION", "AWS_DEFAULT_REGION"]
                    .into_iter()
                    .find_map(|var| std::env::var(var).ok().filter(|r| !r.is_empty()))
                    .unwrap_or_else(|| EMULATOR_REGION.to_owned())
            })
        });
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region));
        }
        let configured = self.profile.is_some()
            || std::env::var_os("AWS_ACCESS_KEY_ID").is_some()
            || std::env::var_os("AWS_PROFILE").is_some();
        if loopback && !configured {
            loader = loader.credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "onboard-local",
                "onboard-local",
                None,
                None,
                "onboard-emulator",
            ));
        }
        loader.load().await
    }
}

/// An S3 client; path-style addressing when the endpoint is an emulator.
pub fn s3_client(config: &SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// Error codes that mean "slow down" across the services used here.
const THROTTLING_CODES: [&str; 9] = [
    "ThrottlingException",
    "Throttling",
    "TooManyUpdates",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "TooManyRequestsException",
];

/// Sorts an SDK error into throttled, transient or rejected.
pub fn classify<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let err = context.into_err();
            let code = err.code().unwrap_or("Unknown").to_owned();
            if THROTTLING_CODES.contains(&code.as_str()) || status == 429 {
                PortError::Throttled {
                    operation,
                    source: Box::new(err),
                }
            } else if status >= 500 {
                PortError::transient(operation, err)
            } else {
                let message = err.message().unwrap_or("no message").to_owned();
                PortError::Rejected {
                    operation,
                    reason: format!("{code} (HTTP {status}): {message}"),
                    source: Some(Box::new(err)),
                }
            }
        }
        // Timeouts, connection failures and unreadable responses can pass.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            PortError::transient(operation, err)
        }
        other => PortError::Rejected {
            operation,
            reason: "the request could not be built".to_owned(),
            source: Some(Box::new(other)),
        },
    }
}

/// The users table in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoUserStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoUserStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn put_new(&self, user: &User) -> Result<PutNew, PortError> {
        let item = serde_dynamo::to_item(user).map_err(|err| {
            PortError::rejected("PutItem", format!("the user does not encode: {err}"))
        })?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(user_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutNew::Created),
            Err(SdkError::ServiceError(context))
                if matches!(
                    context.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(PutNew::AlreadyExists)
            }
            Err(err) => Err(classify("PutItem", err)),
        }
    }
}

/// An SQS queue, by URL (resolved once, at start).
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    name: String,
}

impl SqsQueue {
    pub fn new(
        client: aws_sdk_sqs::Client,
        name: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            url: url.into(),
            name: name.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl MessageQueue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, entries: &[OutgoingMessage]) -> Result<Vec<SendFailure>, PortError> {
        let entries = entries
            .iter()
            .map(|entry| {
                let attributes = entry
                    .attributes
                    .iter()
                    .map(|a| {
                        let value = MessageAttributeValue::builder()
                            .data_type("String")
                            .string_value(&a.value)
                            .build()
                            .map_err(|err| {
                                PortError::rejected("SendMessageBatch", err.to_string())
                            })?;
                        Ok((a.name.clone(), value))
                    })
                    .collect::<Result<HashMap<_, _>, PortError>>()?;
                SendMessageBatchRequestEntry::builder()
                    .id(&entry.id)
                    .message_body(&entry.body)
                    .set_message_attributes((!attributes.is_empty()).then_some(attributes))
                    .build()
                    .map_err(|err| PortError::rejected("SendMessageBatch", err.to_string()))
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| classify("SendMessageBatch", err))?;
        Ok(send_failures(output.failed))
    }
}

/// The entries SQS did not take: the ones it blamed on the sender will fail
/// the same way again; the others (its own fault) are worth retrying.
fn send_failures(failed: Vec<aws_sdk_sqs::types::BatchResultErrorEntry>) -> Vec<SendFailure> {
    failed
        .into_iter()
        .map(|failed| SendFailure {
            retryable: !failed.sender_fault,
            reason: format!("{}: {}", failed.code, failed.message.unwrap_or_default()),
            id: failed.id,
        })
        .collect()
}

/// Object metadata that carries the archived revision.
const VERSION_METADATA: &str = "onboard-version";
const REMOVED_METADATA: &str = "onboard-removed";

/// The archive bucket in S3: one JSON object per user, its revision in the
/// object's metadata, writes guarded by `If-None-Match` / `If-Match`.
#[derive(Debug, Clone)]
pub struct S3Archive {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Archive {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl ArchiveStore for S3Archive {
    async fn head(&self, user: &UserId) -> Result<Option<ArchiveHead>, PortError> {
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(archive_key(user))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(SdkError::ServiceError(context)) if context.raw().status().as_u16() == 404 => {
                return Ok(None);
            }
            Err(err) => return Err(classify("HeadObject", err)),
        };
        let metadata = output.metadata.unwrap_or_default();
        // An object without our metadata was not written by the archive
        // consumer: it is treated as older than any change.
        let version = metadata
            .get(VERSION_METADATA)
            .and_then(|v| v.parse::<u64>().ok())
            .and_then(|v| Version::new(v).ok());
        let etag = output.e_tag.unwrap_or_default();
        Ok(Some(match version {
            Some(version) => ArchiveHead {
                revision: Revision {
                    version,
                    removed: metadata.get(REMOVED_METADATA).is_some_and(|v| v == "true"),
                },
                etag,
            },
            None => ArchiveHead {
                revision: Revision {
                    version: Version::FIRST,
                    removed: false,
                },
                etag,
            },
        }))
    }

    async fn put(
        &self,
        user: &UserId,
        revision: Revision,
        body: &[u8],
        condition: WriteCondition,
    ) -> Result<Conditional, PortError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(archive_key(user))
            .content_type("application/json")
            .metadata(VERSION_METADATA, revision.version.to_string())
            .metadata(REMOVED_METADATA, revision.removed.to_string())
            .body(ByteStream::from(body.to_vec()));
        let request = match condition {
            WriteCondition::Absent => request.if_none_match("*"),
            WriteCondition::Matches(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(_) => Ok(Conditional::Written),
            // 412: the condition failed; 409: a concurrent conditional write won.
            Err(SdkError::ServiceError(context))
                if matches!(context.raw().status().as_u16(), 409 | 412) =>
            {
                Ok(Conditional::Conflict)
            }
            Err(err) => Err(classify("PutObject", err)),
        }
    }
}

/// Spaces calls evenly: at most one per interval, the first at once.
#[derive(Debug)]
pub struct Pacer {
    /// The earliest time the next call may start.
    next: AsyncMutex<Option<Instant>>,
    interval: Duration,
}

impl Pacer {
    pub fn per_second(rate: f64) -> Self {
        let interval = if rate > 0.0 {
            Duration::from_secs_f64(1.0 / rate)
        } else {
            Duration::ZERO
        };
        Self {
            next: AsyncMutex::new(None),
            interval,
        }
    }

    /// Waits for this call's turn.
    pub async fn wait(&self) {
        let mut next = self.next.lock().await;
        if let Some(at) = *next {
            tokio::time::sleep_until(at).await;
        }
        *next = Some(Instant::now() + self.interval);
    }
}

/// SSM Parameter Store, with writes paced to stay under its write rate.
#[derive(Debug)]
pub struct SsmParameters {
    client: aws_sdk_ssm::Client,
    pacer: Pacer,
}

impl SsmParameters {
    /// `max_writes_per_second` paces `PutParameter` calls of this instance.
    pub fn new(client: aws_sdk_ssm::Client, max_writes_per_second: f64) -> Self {
        Self {
            client,
            pacer: Pacer::per_second(max_writes_per_second),
        }
    }
}

#[async_trait]
impl ParameterStore for SsmParameters {
    async fn get(&self, name: &str) -> Result<Option<String>, PortError> {
        match self.client.get_parameter().name(name).send().await {
            Ok(output) => Ok(output.parameter.and_then(|p| p.value)),
            Err(SdkError::ServiceError(context)) if context.err().is_parameter_not_found() => {
                Ok(None)
            }
            Err(err) => Err(classify("GetParameter", err)),
        }
    }

    async fn put(&self, name: &str, value: &str) -> Result<(), PortError> {
        self.pacer.wait().await;
        self.client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| classify("PutParameter", err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::Region;

    #[tokio::test]
    async fn the_trigger_budget_keeps_every_call_under_two_seconds() {
        let budget = CallBudget::TRIGGER;
        assert!(budget.worst_case() <= Duration::from_secs(2));
        assert!(budget.attempt_timeout * budget.max_attempts <= Duration::from_secs(2));

        // The budget is what the SDK is actually given, in Lambda.
        let config = lambda_config(&lambda_env(&[]), Some(budget)).unwrap();
        let timeouts = config.timeout_config().unwrap();
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(budget.attempt_timeout)
        );
        assert_eq!(timeouts.operation_timeout(), Some(budget.operation_timeout));
        assert_eq!(timeouts.connect_timeout(), Some(budget.connect_timeout));
        assert_eq!(
            config.retry_config().unwrap().max_attempts(),
            budget.max_attempts
        );
        // Three attempts of 600 ms fit in Cognito's 5 s with room to spare.
        assert!(timeouts.operation_timeout().unwrap() < Duration::from_secs(5) / 2);
    }

    /// What Lambda sets, and more.
    fn lambda_env(
        more: &[(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> + use<> {
        let mut vars = vec![
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        vars.extend_from_slice(more);
        move |var| {
            vars.iter()
                .rev()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[tokio::test]
    async fn in_lambda_the_config_comes_from_the_environment_lambda_sets() {
        let config = lambda_config(&lambda_env(&[]), None).unwrap();
        assert_eq!(config.region(), Some(&Region::new("eu-west-1")));
        assert_eq!(config.endpoint_url(), None);
        assert!(config.credentials_provider().is_some());
        assert_eq!(
            config.timeout_config().unwrap().connect_timeout(),
            Some(DEFAULT_CONNECT_TIMEOUT)
        );

        let local = lambda_env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]);
        let config = lambda_config(&local, None).unwrap();
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));

        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let without = lambda_env(&[(missing, " ")]);
            let err = lambda_config(&without, None).unwrap_err();
            assert!(err.to_string().contains(missing), "{err}");
        }
    }

    fn service_error(
        code: &str,
        status: u16,
    ) -> SdkError<aws_sdk_ssm::operation::put_parameter::PutParameterError, HttpResponse> {
        use aws_sdk_ssm::operation::put_parameter::PutParameterError;
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let err = PutParameterError::generic(
            ErrorMetadata::builder()
                .code(code)
                .message("details")
                .build(),
        );
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn throttling_and_server_errors_are_retryable_and_bad_requests_are_not() {
        for (code, status) in [
            ("ThrottlingException", 400),
            ("TooManyUpdates", 400),
            ("InternalServerError", 500),
        ] {
            let err = classify("PutParameter", service_error(code, status));
            assert!(err.is_retryable(), "{code}: {err}");
        }
        assert!(matches!(
            classify("PutParameter", service_error("TooManyUpdates", 400)),
            PortError::Throttled { .. }
        ));
        let err = classify("PutParameter", service_error("ValidationException", 400));
        assert!(!err.is_retryable());
        assert_eq!(
            err.to_string(),
            "PutParameter was rejected: ValidationException (HTTP 400): details"
        );
    }

    #[test]
    fn entries_sqs_blames_on_the_sender_are_not_retried() {
        use aws_sdk_sqs::types::BatchResultErrorEntry;
        let entry = |id: &str, sender_fault: bool, code: &str| {
            BatchResultErrorEntry::builder()
                .id(id)
                .sender_fault(sender_fault)
                .code(code)
                .message("details")
                .build()
                .unwrap()
        };
        let failures = send_failures(vec![
            entry("0", true, "InvalidParameterValue"),
            entry("1", false, "InternalError"),
        ]);
        assert_eq!(
            failures,
            [
                SendFailure {
                    id: "0".into(),
                    retryable: false,
                    reason: "InvalidParameterValue: details".into()
                },
                SendFailure {
                    id: "1".into(),
                    retryable: true,
                    reason: "InternalError: details".into()
                }
            ]
        );
    }

    #[test]
    fn only_endpoints_on_this_machine_count_as_loopback() {
        let connection = |url: &str| Connection {
            endpoint_url: Some(url.to_owned()),
            ..Connection::default()
        };
        for local in [
            "http://127.0.0.1:5000",
            "http://localhost:4566/",
            "http://[::1]:5000",
            "http://127.0.0.2",
        ] {
            assert!(connection(local).is_loopback(), "{local}");
        }
        for remote in [
            "https://sqs.eu-west-1.amazonaws.com",
            "http://10.0.0.1:5000",
            "http://localhost.example.com",
        ] {
            assert!(!connection(remote).is_loopback(), "{remote}");
        }
        assert!(!Connection::default().is_loopback());
    }

    #[tokio::test(start_paused = true)]
    async fn writes_are_paced_to_the_configured_rate() {
        let pacer = Pacer::per_second(4.0);
        let start = Instant::now();
        for _ in 0..5 {
            pacer.wait().await;
        }
        // Five writes at four a second: the fifth starts a second after the first.
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
    }
}
