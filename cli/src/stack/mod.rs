//! The resources of one onboard stack, named in one place, and the handlers
//! wired to them over the AWS adapters.
//!
//! Every name derives from the stack name (`--stack`, `ONBOARD_STACK`,
//! default `onboard`): `onboard-users` (table and user pool),
//! `onboard-archive` (queue and bucket), `onboard-archive-dlq`,
//! `onboard-publish`, `onboard-publish-dlq`, `onboard-router-dlq`, the app
//! clients `onboard-web` and `onboard-cli`, and the identity pool
//! `onboard-identities`. A deployed stack whose names differ sets them one by
//! one (`--table`, `--bucket`, `--user-pool-id`, ...). The same command then
//! works on an emulator and on AWS.
//!
//! A stack deployed from `infra/template.yaml` names its resources in its
//! Outputs ([`output_keys`]): [`StackArgs::resolve`] reads them with one
//! `DescribeStacks`, so its generated names (the bucket's) need no flag.
//! Flags given one by one still win; where no stack of that name is
//! deployed (an emulator after `onboard dev --bootstrap`), the derived names
//! hold.
//!
//! [`names`] says what they are called, [`cognito`] finds the user pool,
//! [`identity_pool`] the identity pool,
//! [`bootstrap`] creates the resources on an endpoint, idempotently, for
//! `onboard dev`; [`Stack::connect`] finds them (queue URLs are looked up
//! once) for every command that uses them.

mod bootstrap;
mod cognito;
mod identity;
mod identity_pool;
mod local;
mod names;
pub mod sqs_calls;
pub mod ssm_calls;
pub mod table_stream;

use archive_consumer::Archiver;
use aws_config::SdkConfig;
use onboard_shared::aws::{
    Connection, DynamoUserStore, SqsQueue, dynamodb, s3, s3_client, sqs, ssm,
};
use onboard_shared::config::{ArchiveConfig, PostConfirmationConfig, PublishConfig, RouterConfig};
use onboard_shared::error::BoxError;
use publish_consumer::writer::Writer;
use stream_router::Router;

pub use crate::engine::event_source::QueueSettings;
pub use bootstrap::{Made, bootstrap, users_table};
pub use cognito::{UserPool, WEB_CLIENT_SCOPES, find_user_pool};
pub use identity::{Caller, caller};
pub use identity_pool::find_identity_pool;
pub use names::{Names, Resolved, StackArgs, default_parameter_prefix, output_keys, stack_outputs};
use onboard_shared::catalogue::QueueRole;

/// A stack resource that is missing or could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{what} `{name}` was not found{hint}")]
    Missing {
        what: &'static str,
        name: String,
        hint: &'static str,
    },
    #[error("{action} failed")]
    Call {
        action: String,
        #[source]
        source: BoxError,
    },
    /// No credentials, an expired session, or credentials AWS does not
    /// know: what to do, in one line.
    #[error("{0}")]
    Credentials(String),
    #[error("the stack `{stack}` has an unusable output {key}: {reason}")]
    BadOutput {
        stack: String,
        key: String,
        reason: String,
    },
}

pub(crate) const BOOTSTRAP_HINT: &str = " (on an emulator, `onboard dev --bootstrap` creates it)";

impl StackError {
    pub(crate) fn call(action: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StackError::Call {
            action: action.into(),
            source: source.into(),
        }
    }
}

/// A queue of the stack, found by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRef {
    pub role: QueueRole,
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
    /// The queue with this role.
    pub fn get(&self, role: QueueRole) -> &QueueRef {
        match role {
            QueueRole::Archive => &self.archive,
            QueueRole::ArchiveDlq => &self.archive_dlq,
            QueueRole::Publish => &self.publish,
            QueueRole::PublishDlq => &self.publish_dlq,
            QueueRole::RouterDlq => &self.router_dlq,
        }
    }

    /// Every queue, in the catalogue's order.
    pub fn all(&self) -> [&QueueRef; 5] {
        QueueRole::ALL.map(|role| self.get(role))
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
        let queue = |role| queue_ref(&sqs, role, names.queue(role));
        let queues = Queues {
            archive: queue(QueueRole::Archive).await?,
            archive_dlq: queue(QueueRole::ArchiveDlq).await?,
            publish: queue(QueueRole::Publish).await?,
            publish_dlq: queue(QueueRole::PublishDlq).await?,
            router_dlq: queue(QueueRole::RouterDlq).await?,
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

    /// The publish queue, which the names' writer drains.
    pub fn publish_queue(&self) -> SqsQueue {
        SqsQueue::new(self.sqs.clone(), "publish", &self.queues.publish.url)
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

    /// The publish writer, at `max_writes_per_second`, its names within
    /// `standard_share` standard parameters.
    pub fn writer(&self, max_writes_per_second: f64, standard_share: usize) -> Writer {
        let config = PublishConfig {
            parameter_prefix: self.names.parameter_prefix.clone(),
            publish_queue_url: self.queues.publish.url.clone(),
            dead_letter_queue_url: self.queues.publish_dlq.url.clone(),
            max_writes_per_second,
            standard_share,
        };
        Writer::from_config(&config, &self.sdk)
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
pub fn path_style(sdk: &SdkConfig) -> bool {
    sdk.endpoint_url().is_some()
}

async fn queue_ref(
    client: &sqs::Client,
    role: QueueRole,
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
        Err(err) => Err(StackError::call(format!("GetQueueUrl {name}"), err)),
    }
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
                StackError::call(format!("DescribeTable {table}"), err)
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

/// A queue's ARN, by its URL.
pub async fn queue_arn(client: &sqs::Client, url: &str) -> Result<String, StackError> {
    use sqs::types::QueueAttributeName::QueueArn;
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueArn)
        .send()
        .await
        .map_err(|err| StackError::call(format!("GetQueueAttributes {url}"), err))?
        .attributes
        .and_then(|mut a| a.remove(&QueueArn))
        .ok_or_else(|| StackError::Call {
            action: format!("GetQueueAttributes {url}"),
            source: "the queue has no ARN".to_owned().into(),
        })
}
