//! The resources of one onboard stack, named in one place, and the handlers
//! wired to them over the AWS adapters.
//!
//! Every name derives from the stack name (`--stack`, `ONBOARD_STACK`,
//! default `onboard`): `onboard-users` (table and user pool),
//! `onboard-archive` (queue and bucket), `onboard-archive-dlq`,
//! `onboard-publish`, `onboard-publish-dlq`, `onboard-router-dlq` and the app
//! client `onboard-web`. A deployed stack whose names differ sets them one by
//! one (`--table`, `--bucket`, `--user-pool-id`, ...). The same command then
//! works on an emulator and on AWS.
//!
//! A stack deployed from `infra/template.yaml` names its resources in its
//! Outputs ([`OUTPUT_KEYS`]): [`StackArgs::resolve`] reads them with one
//! `DescribeStacks`, so its generated names (the bucket's) need no flag.
//! Flags given one by one still win; where no stack of that name is
//! deployed (an emulator after `onboard dev --bootstrap`), the derived names
//! hold.
//!
//! [`bootstrap`] creates the resources on an endpoint, idempotently, for
//! `onboard dev`; [`Stack::connect`] finds them (queue URLs are looked up
//! once) for every command that uses them.

use std::collections::HashMap;

use archive_consumer::Archiver;
use aws_config::SdkConfig;
use aws_sdk_cloudformation as cloudformation;
use aws_sdk_cognitoidentityprovider as cognito;
use onboard_shared::aws::{Connection, DynamoUserStore, dynamodb, s3, s3_client, sqs, ssm};
use onboard_shared::config::{ArchiveConfig, PostConfirmationConfig, PublishConfig, RouterConfig};
use onboard_shared::error::error_chain;
use onboard_shared::published::ParameterPrefix;
use publish_consumer::Publisher;
use stream_router::Router;

pub use crate::event_source::QueueSettings;

/// What a command needs to find a stack's resources.
#[derive(Debug, Clone, clap::Args)]
pub struct StackArgs {
    /// Where to send AWS calls: a local emulator (e.g. moto's server), or
    /// unset for AWS itself with the usual profile and region settings.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The AWS region (default: the profile's; us-east-1 for an emulator on
    /// this machine).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// The AWS profile to use.
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// The name every resource name starts with.
    #[arg(long, env = "ONBOARD_STACK", default_value = "onboard", value_parser = parse_stack_name)]
    pub stack: String,
    /// The users table (default: <stack>-users).
    #[arg(long, env = "USERS_TABLE")]
    pub table: Option<String>,
    /// The archive bucket (default: <stack>-archive).
    #[arg(long, env = "ARCHIVE_BUCKET")]
    pub bucket: Option<String>,
    /// The user pool's id (default: the pool named <stack>-users).
    #[arg(long, env = "ONBOARD_USER_POOL_ID")]
    pub user_pool_id: Option<String>,
    /// The app client's id (default: the client named <stack>-web).
    #[arg(long, env = "ONBOARD_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Where the users' name parameters live (default: the deployed stack's
    /// ParameterPrefix output, else /onboard).
    #[arg(long, env = "PARAMETER_PREFIX", value_parser = ParameterPrefix::parse)]
    pub parameter_prefix: Option<ParameterPrefix>,
}

/// The Outputs of a deployed stack that `onboard` reads: the contract
/// between `infra/template.yaml` and this command.
pub const OUTPUT_KEYS: &[&str] = &[
    "UsersTableName",
    "ArchiveBucketName",
    "ArchiveQueueUrl",
    "ArchiveDeadLetterQueueUrl",
    "PublishQueueUrl",
    "PublishDeadLetterQueueUrl",
    "RouterDeadLetterQueueUrl",
    "UserPoolId",
    "UserPoolClientId",
    "ParameterPrefix",
];

/// Where the users' parameters live when nothing says otherwise.
pub fn default_parameter_prefix() -> ParameterPrefix {
    ParameterPrefix::parse("/onboard").unwrap_or_else(|_| unreachable!("a valid literal"))
}

fn parse_stack_name(raw: &str) -> Result<String, String> {
    let valid = (1..=40).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !raw.starts_with('-')
        && !raw.ends_with('-');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("use 1 to 40 lowercase letters, digits and inner '-' (it starts bucket and queue names)".to_owned())
    }
}

impl StackArgs {
    pub fn connection(&self) -> Connection {
        Connection {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
        }
    }

    /// The stack's derived names, with the ones given one by one in place.
    pub fn names(&self) -> Names {
        self.given_over(Names::for_stack(&self.stack, default_parameter_prefix()))
    }

    /// The stack's names: those given one by one, else the deployed stack's
    /// Outputs, else the derived ones; and the SDK config that found them.
    pub async fn resolve(&self) -> Result<(SdkConfig, Names), StackError> {
        let (sdk, names, _) = self.resolve_deployed().await?;
        Ok((sdk, names))
    }

    /// [`StackArgs::resolve`], and whether a stack of that name is deployed
    /// (its Outputs gave the names).
    pub async fn resolve_deployed(&self) -> Result<(SdkConfig, Names, bool), StackError> {
        let sdk = self.connection().load().await;
        let derived = Names::for_stack(&self.stack, default_parameter_prefix());
        let (names, deployed) =
            match stack_outputs(&cloudformation::Client::new(&sdk), &self.stack).await? {
                Some(outputs) => (derived.with_outputs(&self.stack, &outputs)?, true),
                None => (derived, false),
            };
        Ok((sdk, self.given_over(names), deployed))
    }

    /// Finds the stack's resources ([`StackArgs::resolve`]) and connects.
    pub async fn connect(&self) -> Result<Stack, StackError> {
        let (sdk, names) = self.resolve().await?;
        Stack::from_config(sdk, names).await
    }

    fn given_over(&self, mut names: Names) -> Names {
        if let Some(prefix) = &self.parameter_prefix {
            names.parameter_prefix = prefix.clone();
        }
        if let Some(table) = &self.table {
            names.table.clone_from(table);
        }
        if let Some(bucket) = &self.bucket {
            names.bucket.clone_from(bucket);
        }
        if let Some(id) = &self.user_pool_id {
            names.user_pool_id = Some(id.clone());
        }
        if let Some(id) = &self.client_id {
            names.client_id = Some(id.clone());
        }
        names
    }
}

/// The names of a stack's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub table: String,
    pub bucket: String,
    pub archive_queue: String,
    pub archive_dlq: String,
    pub publish_queue: String,
    pub publish_dlq: String,
    pub router_dlq: String,
    pub user_pool: String,
    pub app_client: String,
    /// Set when the pool is known by id rather than by name.
    pub user_pool_id: Option<String>,
    pub client_id: Option<String>,
    pub parameter_prefix: ParameterPrefix,
}

impl Names {
    /// Every name derived from the stack name.
    pub fn for_stack(stack: &str, parameter_prefix: ParameterPrefix) -> Self {
        Self {
            table: format!("{stack}-users"),
            bucket: format!("{stack}-archive"),
            archive_queue: format!("{stack}-archive"),
            archive_dlq: format!("{stack}-archive-dlq"),
            publish_queue: format!("{stack}-publish"),
            publish_dlq: format!("{stack}-publish-dlq"),
            router_dlq: format!("{stack}-router-dlq"),
            user_pool: format!("{stack}-users"),
            app_client: format!("{stack}-web"),
            user_pool_id: None,
            client_id: None,
            parameter_prefix,
        }
    }
}

impl Names {
    /// These names with the ones a deployed stack's Outputs give in place.
    pub fn with_outputs(
        mut self,
        stack: &str,
        outputs: &HashMap<String, String>,
    ) -> Result<Self, StackError> {
        let bad = |key: &str, reason: String| StackError::BadOutput {
            stack: stack.to_owned(),
            key: key.to_owned(),
            reason,
        };
        for (key, value) in outputs {
            let value = value.trim();
            // A queue URL ends in the queue's name.
            let queue = || {
                value
                    .rsplit('/')
                    .next()
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| bad(key, format!("`{value}` is not a queue URL")))
            };
            match key.as_str() {
                "UsersTableName" => self.table = value.to_owned(),
                "ArchiveBucketName" => self.bucket = value.to_owned(),
                "ArchiveQueueUrl" => self.archive_queue = queue()?,
                "ArchiveDeadLetterQueueUrl" => self.archive_dlq = queue()?,
                "PublishQueueUrl" => self.publish_queue = queue()?,
                "PublishDeadLetterQueueUrl" => self.publish_dlq = queue()?,
                "RouterDeadLetterQueueUrl" => self.router_dlq = queue()?,
                "UserPoolId" => self.user_pool_id = Some(value.to_owned()),
                "UserPoolClientId" => self.client_id = Some(value.to_owned()),
                "ParameterPrefix" => {
                    self.parameter_prefix =
                        ParameterPrefix::parse(value).map_err(|reason| bad(key, reason))?;
                }
                _ => {}
            }
        }
        Ok(self)
    }
}

/// A deployed stack's Outputs, or `None` when no stack of that name exists.
pub async fn stack_outputs(
    client: &cloudformation::Client,
    stack: &str,
) -> Result<Option<HashMap<String, String>>, StackError> {
    match client.describe_stacks().stack_name(stack).send().await {
        Ok(found) => Ok(found.stacks().first().map(|deployed| {
            deployed
                .outputs()
                .iter()
                .filter_map(|output| {
                    Some((
                        output.output_key()?.to_owned(),
                        output.output_value()?.to_owned(),
                    ))
                })
                .collect()
        })),
        // CloudFormation says so in a ValidationError, not in a type of its own.
        Err(err)
            if err
                .as_service_error()
                .and_then(|e| e.meta().message())
                .is_some_and(|message| message.contains("does not exist")) =>
        {
            Ok(None)
        }
        Err(err) => Err(StackError::call(format!("DescribeStacks {stack}"), &err)),
    }
}

/// A stack resource that is missing or could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{what} `{name}` was not found{hint}")]
    Missing {
        what: &'static str,
        name: String,
        hint: &'static str,
    },
    #[error("{action} failed: {reason}")]
    Call { action: String, reason: String },
    #[error("the stack `{stack}` has an unusable output {key}: {reason}")]
    BadOutput {
        stack: String,
        key: String,
        reason: String,
    },
}

const BOOTSTRAP_HINT: &str = " (on an emulator, `onboard dev --bootstrap` creates it)";

impl StackError {
    fn call(action: impl Into<String>, err: &(dyn std::error::Error + 'static)) -> Self {
        StackError::Call {
            action: action.into(),
            reason: error_chain(err),
        }
    }
}

/// A queue of the stack, found by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRef {
    /// The logical name reports use: `archive`, `archive-dlq`, ...
    pub role: &'static str,
    pub name: String,
    pub url: String,
}

/// The stack's queues.
#[derive(Debug, Clone)]
pub struct Queues {
    pub archive: QueueRef,
    pub archive_dlq: QueueRef,
    pub publish: QueueRef,
    pub publish_dlq: QueueRef,
    pub router_dlq: QueueRef,
}

impl Queues {
    pub fn all(&self) -> [&QueueRef; 5] {
        [
            &self.archive,
            &self.archive_dlq,
            &self.publish,
            &self.publish_dlq,
            &self.router_dlq,
        ]
    }
}

/// A stack whose resources were found, with the SDK config and clients
/// built once.
#[derive(Debug, Clone)]
pub struct Stack {
    pub names: Names,
    pub sdk: SdkConfig,
    pub queues: Queues,
    pub sqs: sqs::Client,
    pub s3: s3::Client,
    pub ssm: ssm::Client,
    pub dynamodb: dynamodb::Client,
}

impl Stack {
    /// Finds the stack's queues (one `GetQueueUrl` each, once).
    pub async fn connect(connection: &Connection, names: Names) -> Result<Self, StackError> {
        Self::from_config(connection.load().await, names).await
    }

    /// The same, with an SDK config already loaded.
    pub async fn from_config(sdk: SdkConfig, names: Names) -> Result<Self, StackError> {
        let sqs = sqs::Client::new(&sdk);
        let queues = Queues {
            archive: queue_ref(&sqs, "archive", &names.archive_queue).await?,
            archive_dlq: queue_ref(&sqs, "archive-dlq", &names.archive_dlq).await?,
            publish: queue_ref(&sqs, "publish", &names.publish_queue).await?,
            publish_dlq: queue_ref(&sqs, "publish-dlq", &names.publish_dlq).await?,
            router_dlq: queue_ref(&sqs, "router-dlq", &names.router_dlq).await?,
        };
        let s3 = s3_client(&sdk, path_style(&sdk));
        Ok(Self {
            ssm: ssm::Client::new(&sdk),
            dynamodb: dynamodb::Client::new(&sdk),
            s3,
            sqs,
            queues,
            names,
            sdk,
        })
    }

    /// The region the stack's calls go to (empty when none was resolved).
    pub fn region(&self) -> String {
        region(&self.sdk)
    }

    /// The router, sending to the stack's queues.
    pub fn router(&self) -> Router {
        let config = RouterConfig {
            archive_queue_url: self.queues.archive.url.clone(),
            publish_queue_url: self.queues.publish.url.clone(),
            dead_letter_queue_url: self.queues.router_dlq.url.clone(),
        };
        Router::from_config(&config, &self.sdk)
    }

    /// The archive consumer, writing to the stack's bucket.
    pub fn archiver(&self) -> Archiver {
        let config = ArchiveConfig {
            bucket: self.names.bucket.clone(),
            dead_letter_queue_url: self.queues.archive_dlq.url.clone(),
            force_path_style: path_style(&self.sdk),
        };
        Archiver::from_config(&config, &self.sdk)
    }

    /// The publish consumer, at `max_writes_per_second`.
    pub fn publisher(&self, max_writes_per_second: f64) -> Publisher {
        let config = PublishConfig {
            parameter_prefix: self.names.parameter_prefix.clone(),
            dead_letter_queue_url: self.queues.publish_dlq.url.clone(),
            max_writes_per_second,
        };
        Publisher::from_config(&config, &self.sdk)
    }

    /// The post-confirmation trigger's users table.
    pub fn users(&self) -> DynamoUserStore {
        users(&self.sdk, &self.names)
    }
}

/// The post-confirmation trigger's users table, without the queues a
/// [`Stack`] looks up.
pub fn users(sdk: &SdkConfig, names: &Names) -> DynamoUserStore {
    let config = PostConfirmationConfig {
        users_table: names.table.clone(),
    };
    post_confirmation::users(&config, sdk)
}

/// The region an SDK config's calls go to (empty when none was resolved).
pub fn region(sdk: &SdkConfig) -> String {
    sdk.region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default()
}

/// Emulators need path-style S3 addressing.
fn path_style(sdk: &SdkConfig) -> bool {
    sdk.endpoint_url().is_some()
}

async fn queue_ref(
    client: &sqs::Client,
    role: &'static str,
    name: &str,
) -> Result<QueueRef, StackError> {
    match client.get_queue_url().queue_name(name).send().await {
        Ok(output) => Ok(QueueRef {
            role,
            name: name.to_owned(),
            url: output.queue_url.unwrap_or_default(),
        }),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_queue_does_not_exist()) =>
        {
            Err(StackError::Missing {
                what: "the queue",
                name: name.to_owned(),
                hint: BOOTSTRAP_HINT,
            })
        }
        Err(err) => Err(StackError::call(format!("GetQueueUrl {name}"), &err)),
    }
}

/// The user pool and its app client, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPool {
    pub pool_id: String,
    pub client_id: String,
}

impl UserPool {
    /// The region a pool lives in: the prefix of its id (`eu-west-1_AbC`).
    pub fn region(&self) -> &str {
        self.pool_id.split('_').next().unwrap_or_default()
    }

    /// The `iss` of the pool's tokens. Emulators sign with this same issuer.
    pub fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            self.region(),
            self.pool_id
        )
    }

    /// Where the pool's signing keys are published: the issuer's, or the
    /// emulator's own copy.
    pub fn jwks_url(&self, endpoint_url: Option<&str>) -> String {
        match endpoint_url {
            Some(endpoint) => format!(
                "{}/{}/.well-known/jwks.json",
                endpoint.trim_end_matches('/'),
                self.pool_id
            ),
            None => format!("{}/.well-known/jwks.json", self.issuer()),
        }
    }
}

/// Finds the user pool and app client: by the ids given, else by name.
pub async fn find_user_pool(
    client: &cognito::Client,
    names: &Names,
) -> Result<UserPool, StackError> {
    let pool_id = match &names.user_pool_id {
        Some(id) => id.clone(),
        None => find_pool_by_name(client, &names.user_pool)
            .await?
            .ok_or_else(|| StackError::Missing {
                what: "the user pool",
                name: names.user_pool.clone(),
                hint: BOOTSTRAP_HINT,
            })?,
    };
    let client_id = match &names.client_id {
        Some(id) => id.clone(),
        None => find_client_by_name(client, &pool_id, &names.app_client)
            .await?
            .ok_or_else(|| StackError::Missing {
                what: "the app client",
                name: names.app_client.clone(),
                hint: BOOTSTRAP_HINT,
            })?,
    };
    Ok(UserPool { pool_id, client_id })
}

async fn find_pool_by_name(
    client: &cognito::Client,
    name: &str,
) -> Result<Option<String>, StackError> {
    let mut next = None;
    loop {
        let page = client
            .list_user_pools()
            .max_results(60)
            .set_next_token(next)
            .send()
            .await
            .map_err(|err| StackError::call("ListUserPools", &err))?;
        if let Some(pool) = page
            .user_pools()
            .iter()
            .find(|pool| pool.name() == Some(name))
        {
            return Ok(pool.id().map(str::to_owned));
        }
        next = page.next_token;
        if next.is_none() {
            return Ok(None);
        }
    }
}

async fn find_client_by_name(
    client: &cognito::Client,
    pool_id: &str,
    name: &str,
) -> Result<Option<String>, StackError> {
    let mut next = None;
    loop {
        let page = client
            .list_user_pool_clients()
            .user_pool_id(pool_id)
            .max_results(60)
            .set_next_token(next)
            .send()
            .await
            .map_err(|err| StackError::call("ListUserPoolClients", &err))?;
        if let Some(found) = page
            .user_pool_clients()
            .iter()
            .find(|c| c.client_name() == Some(name))
        {
            return Ok(found.client_id().map(str::to_owned));
        }
        next = page.next_token;
        if next.is_none() {
            return Ok(None);
        }
    }
}

/// One resource `bootstrap` made or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    pub kind: &'static str,
    pub name: String,
    /// `created` or `exists`.
    pub status: &'static str,
    /// The URL, ARN or id a person needs.
    pub detail: String,
}

/// Creates the stack's resources on an endpoint, leaving what exists as it
/// is (queue attributes are set again, so the redrive policy always holds).
/// The queues take the visibility timeout and `maxReceiveCount` of
/// `settings` (the stack's own by default).
pub async fn bootstrap(
    sdk: &SdkConfig,
    names: &Names,
    settings: QueueSettings,
    force_path_style: bool,
) -> Result<Vec<Made>, StackError> {
    let mut made = vec![users_table(&dynamodb::Client::new(sdk), &names.table).await?];
    let sqs = sqs::Client::new(sdk);
    for (source, dlq) in [
        (&names.archive_queue, &names.archive_dlq),
        (&names.publish_queue, &names.publish_dlq),
    ] {
        let (dlq_made, dlq_arn) = ensure_queue(&sqs, dlq, HashMap::new()).await?;
        let redrive = format!(
            r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{}"}}"#,
            settings.max_receive_count
        );
        let attributes = HashMap::from([
            (
                sqs::types::QueueAttributeName::VisibilityTimeout,
                settings.visibility_timeout.as_secs().to_string(),
            ),
            (sqs::types::QueueAttributeName::RedrivePolicy, redrive),
        ]);
        let (source_made, _) = ensure_queue(&sqs, source, attributes).await?;
        made.extend([source_made, dlq_made]);
    }
    made.push(
        ensure_queue(&sqs, &names.router_dlq, HashMap::new())
            .await?
            .0,
    );
    made.push(archive_bucket(&s3_client(sdk, force_path_style), &names.bucket, sdk).await?);
    made.extend(user_pool(&cognito::Client::new(sdk), names).await?);
    Ok(made)
}

/// Creates the users table (keyed by `user_id`, on demand, with a
/// `NEW_AND_OLD_IMAGES` stream) unless it exists.
pub async fn users_table(client: &dynamodb::Client, name: &str) -> Result<Made, StackError> {
    use dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        StreamSpecification, StreamViewType,
    };
    let build = |err: aws_smithy_types::error::operation::BuildError| StackError::Call {
        action: "CreateTable".to_owned(),
        reason: err.to_string(),
    };
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("user_id")
                .key_type(KeyType::Hash)
                .build()
                .map_err(build)?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("user_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build)?,
        )
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(build)?,
        )
        .send()
        .await;
    let status = match created {
        Ok(_) => "created",
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            "exists"
        }
        Err(err) => return Err(StackError::call(format!("CreateTable {name}"), &err)),
    };
    let stream = latest_stream_arn(client, name).await?;
    Ok(Made {
        kind: "table",
        name: name.to_owned(),
        status,
        detail: format!("stream {stream}"),
    })
}

/// The table's current stream, which must carry both images.
pub async fn latest_stream_arn(
    client: &dynamodb::Client,
    table: &str,
) -> Result<String, StackError> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|err| {
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception())
            {
                StackError::Missing {
                    what: "the users table",
                    name: table.to_owned(),
                    hint: BOOTSTRAP_HINT,
                }
            } else {
                StackError::call(format!("DescribeTable {table}"), &err)
            }
        })?;
    let table_description = described.table;
    let view = table_description
        .as_ref()
        .and_then(|t| t.stream_specification.as_ref())
        .and_then(|s| s.stream_view_type.clone());
    let arn = table_description.and_then(|t| t.latest_stream_arn);
    match (arn, view) {
        (Some(arn), Some(dynamodb::types::StreamViewType::NewAndOldImages)) => Ok(arn),
        _ => Err(StackError::Missing {
            what: "a NEW_AND_OLD_IMAGES stream on the table",
            name: table.to_owned(),
            hint: "",
        }),
    }
}

/// Creates a queue, or sets the attributes of the one that exists. Returns
/// it and its ARN.
async fn ensure_queue(
    client: &sqs::Client,
    name: &str,
    attributes: HashMap<sqs::types::QueueAttributeName, String>,
) -> Result<(Made, String), StackError> {
    let (url, status) = match client.get_queue_url().queue_name(name).send().await {
        Ok(found) => {
            let url = found.queue_url.unwrap_or_default();
            if !attributes.is_empty() {
                client
                    .set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(attributes))
                    .send()
                    .await
                    .map_err(|err| StackError::call(format!("SetQueueAttributes {name}"), &err))?;
            }
            (url, "exists")
        }
        Err(_) => {
            let created = client
                .create_queue()
                .queue_name(name)
                .set_attributes((!attributes.is_empty()).then_some(attributes))
                .send()
                .await
                .map_err(|err| StackError::call(format!("CreateQueue {name}"), &err))?;
            (created.queue_url.unwrap_or_default(), "created")
        }
    };
    let arn = queue_arn(client, &url).await?;
    Ok((
        Made {
            kind: "queue",
            name: name.to_owned(),
            status,
            detail: url,
        },
        arn,
    ))
}

/// A queue's ARN, by its URL.
pub async fn queue_arn(client: &sqs::Client, url: &str) -> Result<String, StackError> {
    use sqs::types::QueueAttributeName::QueueArn;
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueArn)
        .send()
        .await
        .map_err(|err| StackError::call(format!("GetQueueAttributes {url}"), &err))?
        .attributes
        .and_then(|mut a| a.remove(&QueueArn))
        .ok_or_else(|| StackError::Call {
            action: format!("GetQueueAttributes {url}"),
            reason: "the queue has no ARN".to_owned(),
        })
}

async fn archive_bucket(
    client: &s3::Client,
    name: &str,
    sdk: &SdkConfig,
) -> Result<Made, StackError> {
    let mut request = client.create_bucket().bucket(name);
    let region = sdk.region().map(|r| r.as_ref().to_owned());
    if let Some(region) = region.filter(|r| r != "us-east-1") {
        request = request.create_bucket_configuration(
            s3::types::CreateBucketConfiguration::builder()
                .location_constraint(s3::types::BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    let status = match request.send().await {
        Ok(_) => "created",
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
        {
            "exists"
        }
        Err(err) => return Err(StackError::call(format!("CreateBucket {name}"), &err)),
    };
    // Every archived change stays retrievable, as in the deployed stack.
    client
        .put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(
            s3::types::VersioningConfiguration::builder()
                .status(s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|err| StackError::call(format!("PutBucketVersioning {name}"), &err))?;
    Ok(Made {
        kind: "bucket",
        name: name.to_owned(),
        status,
        detail: format!("s3://{name}"),
    })
}

async fn user_pool(client: &cognito::Client, names: &Names) -> Result<Vec<Made>, StackError> {
    use cognito::types::{
        ExplicitAuthFlowsType, PasswordPolicyType, UserPoolPolicyType, UsernameAttributeType,
        VerifiedAttributeType,
    };
    let (pool_id, pool_status) = match find_pool_by_name(client, &names.user_pool).await? {
        Some(id) => (id, "exists"),
        None => {
            let created = client
                .create_user_pool()
                .pool_name(&names.user_pool)
                .username_attributes(UsernameAttributeType::Email)
                .auto_verified_attributes(VerifiedAttributeType::Email)
                .policies(
                    UserPoolPolicyType::builder()
                        .password_policy(
                            PasswordPolicyType::builder()
                                .minimum_length(12)
                                .require_lowercase(true)
                                .require_uppercase(true)
                                .require_numbers(true)
                                .require_symbols(true)
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await
                .map_err(|err| StackError::call("CreateUserPool", &err))?;
            let id =
                created
                    .user_pool
                    .and_then(|pool| pool.id)
                    .ok_or_else(|| StackError::Call {
                        action: "CreateUserPool".to_owned(),
                        reason: "the answer has no pool id".to_owned(),
                    })?;
            (id, "created")
        }
    };
    let (client_id, client_status) =
        match find_client_by_name(client, &pool_id, &names.app_client).await? {
            Some(id) => (id, "exists"),
            None => {
                let created = client
                    .create_user_pool_client()
                    .user_pool_id(&pool_id)
                    .client_name(&names.app_client)
                    .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
                    .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
                    // The claims Cognito puts in the ID token for the
                    // `profile` and `email` scopes (an emulator puts in only
                    // what the client may read).
                    .read_attributes("email")
                    .read_attributes("email_verified")
                    .read_attributes("name")
                    .send()
                    .await
                    .map_err(|err| StackError::call("CreateUserPoolClient", &err))?;
                let id = created
                    .user_pool_client
                    .and_then(|c| c.client_id)
                    .ok_or_else(|| StackError::Call {
                        action: "CreateUserPoolClient".to_owned(),
                        reason: "the answer has no client id".to_owned(),
                    })?;
                (id, "created")
            }
        };
    Ok(vec![
        Made {
            kind: "user pool",
            name: names.user_pool.clone(),
            status: pool_status,
            detail: pool_id,
        },
        Made {
            kind: "app client",
            name: names.app_client.clone(),
            status: client_status,
            detail: client_id,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_must_fit_bucket_and_queue_names() {
        for good in ["onboard", "dev-2", "a"] {
            assert!(parse_stack_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Onboard", "-x", "x-", "a_b", &"x".repeat(41)] {
            assert!(parse_stack_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_pools_tokens_are_issued_by_cognito_and_its_keys_found_at_the_endpoint() {
        let pool = UserPool {
            pool_id: "eu-west-1_AbC".into(),
            client_id: "c".into(),
        };
        assert_eq!(
            pool.issuer(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
        );
        assert_eq!(
            pool.jwks_url(None),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json"
        );
        assert_eq!(
            pool.jwks_url(Some("http://127.0.0.1:5000/")),
            "http://127.0.0.1:5000/eu-west-1_AbC/.well-known/jwks.json"
        );
    }
}
