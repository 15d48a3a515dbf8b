//! AWS adapters of the ports, one file each ([`user_store`], [`queue`],
//! [`archive`], [`parameters`], [`directory`]), and the one place that builds SDK clients.
//!
//! The SDK config (credentials, region, endpoint, timeouts) is loaded once at
//! start and each client is built from it once; handlers never look anything
//! up per invocation. `AWS_ENDPOINT_URL` points every client at an emulator.

pub use {aws_sdk_dynamodb as dynamodb, aws_sdk_s3 as s3, aws_sdk_sqs as sqs, aws_sdk_ssm as ssm};

mod archive;
#[cfg(feature = "local")]
mod connection;
mod directory;
mod endpoint_cache;
mod parameters;
mod queue;
#[cfg(test)]
mod tests;
mod user_store;

pub use archive::S3Archive;
#[cfg(feature = "local")]
pub use connection::{Connection, EMULATOR_REGION, config_loader};
pub use directory::CognitoDirectory;
pub use parameters::{Pacer, SsmParameters};
pub use queue::SqsQueue;
pub use user_store::DynamoUserStore;

use std::error::Error as StdError;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::config::{ConfigError, Lookup, required};
use crate::error::PortError;
use endpoint_cache::CachedEndpoints;

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

/// The HTTPS client every SDK client uses: hyper 1 and rustls on ring,
/// trusting the system's root certificates (and `SSL_CERT_FILE`'s).
///
/// Its connector, and with it the parsed root certificates, is made when the
/// first call needs it, once for every client built from one config (see
/// [`FirstCallConnector`]), not at start.
pub fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    SharedHttpClient::new(FirstCallConnector(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https(),
    ))
}

/// An HTTP client whose connector is made on the first call, not when an
/// SDK client is built.
///
/// The SDK's HTTPS client makes a throwaway connector each time a client is
/// built, to load the root certificates "at client initialization": with
/// rustls that is reading and parsing every certificate of the system's
/// store (some 290 on Debian, twice over with `/etc/ssl/certs`), per client,
/// then once more on the first call. Start-up is the one time a Lambda
/// function is sure to be waiting for itself, and most of its calls never
/// need more than the one connector this client keeps.
#[derive(Debug)]
pub struct FirstCallConnector(SharedHttpClient);

impl HttpClient for FirstCallConnector {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// An S3 client; path-style addressing when the endpoint is an emulator.
///
/// Checksums are computed and checked only where S3 requires them. The
/// SDK's default ("when supported") adds a CRC32 trailer to every
/// PutObject, which changes the body into `aws-chunked` encoding, and
/// checks one on every GetObject. The archive's objects are a few hundred
/// bytes of JSON sent over TLS, whose own integrity check covers them.
pub fn s3_client(config: &SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::endpoint::{DefaultResolver, ResolveEndpoint};
    use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
    let mut s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(force_path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    s3.set_endpoint_resolver(Some(CachedEndpoints::shared(
        DefaultResolver::new().into_shared_resolver(),
        endpoint_cache::same_s3_endpoint,
    )));
    aws_sdk_s3::Client::from_conf(s3.build())
}

/// The clients of the services whose endpoint rules read only the config:
/// built from `config`, each resolving its endpoint once.
macro_rules! client_with_cached_endpoints {
    ($(#[$doc:meta])* $name:ident, $service:ident) => {
        $(#[$doc])*
        pub fn $name(config: &SdkConfig) -> $service::Client {
            use $service::config::endpoint::{DefaultResolver, ResolveEndpoint};
            let mut builder = $service::config::Builder::from(config);
            builder.set_endpoint_resolver(Some(CachedEndpoints::shared(
                DefaultResolver::new().into_shared_resolver(),
                endpoint_cache::equal::<$service::config::endpoint::Params>,
            )));
            $service::Client::from_conf(builder.build())
        }
    };
}

client_with_cached_endpoints!(
    /// An SQS client.
    sqs_client,
    aws_sdk_sqs
);
client_with_cached_endpoints!(
    /// An SSM client.
    ssm_client,
    aws_sdk_ssm
);
client_with_cached_endpoints!(
    /// A Cognito user pools client.
    cognito_client,
    aws_sdk_cognitoidentityprovider
);
client_with_cached_endpoints!(
    /// A DynamoDB client.
    dynamodb_client,
    aws_sdk_dynamodb
);

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
