//! `onboard dev --bootstrap`: the stack's resources created on an endpoint,
//! idempotently: what exists is left as it is, but for a queue whose
//! visibility timeout or redrive policy differs from the settings asked
//! for: those are set, and said (`changed`, from what to what).

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider as cognito;
use onboard_shared::aws::{dynamodb, s3, s3_client, sqs};

use super::cognito::{find_client_by_name, find_pool_by_name};
use super::{Names, QueueSettings, StackError, latest_stream_arn, queue_arn};
use onboard_shared::catalogue::QueueRole;

/// One resource `bootstrap` made or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    pub kind: &'static str,
    pub name: String,
    /// `created`, `exists`, or `changed` (a queue's settings were set).
    pub status: &'static str,
    /// The URL, ARN or id a person needs.
    pub detail: String,
}

/// Creates the stack's resources on an endpoint, leaving what exists as it
/// is but for a queue's settings that differ from `settings`, which are set
/// and said.
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
    // Each source queue after its DLQ, whose ARN its redrive policy names.
    for (source, dlq) in QueueRole::ALL
        .into_iter()
        .filter_map(|role| Some((role, role.dlq()?)))
    {
        let (dlq_made, dlq_arn) = ensure_queue(&sqs, names.queue(dlq), HashMap::new()).await?;
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
        let (source_made, _) = ensure_queue(&sqs, names.queue(source), attributes).await?;
        made.extend([source_made, dlq_made]);
    }
    made.push(
        ensure_queue(&sqs, names.queue(QueueRole::RouterDlq), HashMap::new())
            .await?
            .0,
    );
    made.push(archive_bucket(&s3_client(sdk, force_path_style), &names.bucket, sdk).await?);
    let cognito = cognito::Client::new(sdk);
    let (pool, pool_made) = user_pool(&cognito, names).await?;
    made.extend(pool_made);
    let (id, status) = super::identity_pool::ensure(
        &aws_sdk_cognitoidentity::Client::new(sdk),
        &names.identity_pool,
        &pool,
    )
    .await?;
    made.push(Made {
        kind: "identity pool",
        name: names.identity_pool.clone(),
        status,
        detail: id,
    });
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
        source: err.into(),
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
        Err(err) => return Err(StackError::call(format!("CreateTable {name}"), err)),
    };
    let stream = latest_stream_arn(client, name).await?;
    Ok(Made {
        kind: "table",
        name: name.to_owned(),
        status,
        detail: format!("stream {stream}"),
    })
}

/// Creates a queue, or sets those attributes of the one that exists that
/// differ. Returns it, with what changed in its detail, and its ARN.
async fn ensure_queue(
    client: &sqs::Client,
    name: &str,
    attributes: HashMap<sqs::types::QueueAttributeName, String>,
) -> Result<(Made, String), StackError> {
    let (url, status, changed) = match client.get_queue_url().queue_name(name).send().await {
        Ok(found) => {
            let url = found.queue_url.unwrap_or_default();
            let current = if attributes.is_empty() {
                HashMap::new()
            } else {
                client
                    .get_queue_attributes()
                    .queue_url(&url)
                    .set_attribute_names(Some(attributes.keys().cloned().collect()))
                    .send()
                    .await
                    .map_err(|err| StackError::call(format!("GetQueueAttributes {name}"), err))?
                    .attributes
                    .unwrap_or_default()
            };
            let changes = attribute_changes(&current, &attributes);
            if changes.is_empty() {
                (url, "exists", Vec::new())
            } else {
                client
                    .set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(attributes))
                    .send()
                    .await
                    .map_err(|err| StackError::call(format!("SetQueueAttributes {name}"), err))?;
                (url, "changed", changes)
            }
        }
        Err(_) => {
            let created = client
                .create_queue()
                .queue_name(name)
                .set_attributes((!attributes.is_empty()).then_some(attributes))
                .send()
                .await
                .map_err(|err| StackError::call(format!("CreateQueue {name}"), err))?;
            (created.queue_url.unwrap_or_default(), "created", Vec::new())
        }
    };
    let arn = queue_arn(client, &url).await?;
    let detail = if changed.is_empty() {
        url
    } else {
        format!("{url} ({})", changed.join(", "))
    };
    Ok((
        Made {
            kind: "queue",
            name: name.to_owned(),
            status,
            detail,
        },
        arn,
    ))
}

/// Each wanted attribute that differs from the queue's, as `name from → to`.
/// A redrive policy is compared by what it says (its DLQ and its
/// `maxReceiveCount`, a number or a string), not by its spelling.
fn attribute_changes(
    current: &HashMap<sqs::types::QueueAttributeName, String>,
    wanted: &HashMap<sqs::types::QueueAttributeName, String>,
) -> Vec<String> {
    use sqs::types::QueueAttributeName;
    let policy = |text: &str| {
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let count = match &value["maxReceiveCount"] {
            serde_json::Value::String(count) => count.clone(),
            serde_json::Value::Null => "none".to_owned(),
            other => other.to_string(),
        };
        let dlq = value["deadLetterTargetArn"].as_str().unwrap_or("none");
        (dlq.to_owned(), count)
    };
    let mut changes = Vec::new();
    let mut names: Vec<_> = wanted.keys().collect();
    names.sort_by_key(|name| name.as_str());
    for name in names {
        let to = &wanted[name];
        let from = current.get(name).map(String::as_str).unwrap_or("none");
        if *name == QueueAttributeName::RedrivePolicy {
            let ((from_dlq, from_count), (to_dlq, to_count)) = (policy(from), policy(to));
            if from_count != to_count {
                changes.push(format!("maxReceiveCount {from_count} → {to_count}"));
            }
            if from_dlq != to_dlq {
                changes.push(format!("dead-letter queue {from_dlq} → {to_dlq}"));
            }
        } else if from != to {
            changes.push(format!("{} {from} → {to}", name.as_str()));
        }
    }
    changes
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
    // In us-east-1 CreateBucket answers 200 for a bucket its caller already
    // owns, as for a new one: ask first, so an existing bucket says so.
    let status = if client.head_bucket().bucket(name).send().await.is_ok() {
        "exists"
    } else {
        match request.send().await {
            Ok(_) => "created",
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
            {
                "exists"
            }
            Err(err) => return Err(StackError::call(format!("CreateBucket {name}"), err)),
        }
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
        .map_err(|err| StackError::call(format!("PutBucketVersioning {name}"), err))?;
    Ok(Made {
        kind: "bucket",
        name: name.to_owned(),
        status,
        detail: format!("s3://{name}"),
    })
}

/// The user pool and its two app clients, made where missing: their ids,
/// and what was made.
async fn user_pool(
    client: &cognito::Client,
    names: &Names,
) -> Result<(super::UserPool, Vec<Made>), StackError> {
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
                .map_err(|err| StackError::call("CreateUserPool", err))?;
            let id =
                created
                    .user_pool
                    .and_then(|pool| pool.id)
                    .ok_or_else(|| StackError::Call {
                        action: "CreateUserPool".to_owned(),
                        source: "the answer has no pool id".to_owned().into(),
                    })?;
            (id, "created")
        }
    };
    // The two clients of infra/template.yaml, with the flows and attributes
    // it gives them (an emulator enforces neither: cognito.rs says why they
    // differ).
    let web = app_client(
        client,
        &pool_id,
        &names.web_client,
        &[ExplicitAuthFlowsType::AllowRefreshTokenAuth],
    )
    .await?;
    let cli = app_client(
        client,
        &pool_id,
        &names.cli_client,
        &[
            ExplicitAuthFlowsType::AllowAdminUserPasswordAuth,
            ExplicitAuthFlowsType::AllowRefreshTokenAuth,
        ],
    )
    .await?;
    let pool = super::UserPool {
        pool_id: pool_id.clone(),
        web_client_id: web.detail.clone(),
        cli_client_id: cli.detail.clone(),
    };
    let made = vec![
        Made {
            kind: "user pool",
            name: names.user_pool.clone(),
            status: pool_status,
            detail: pool_id,
        },
        web,
        cli,
    ];
    Ok((pool, made))
}

/// The app client so named, made with these flows when it is missing.
async fn app_client(
    client: &cognito::Client,
    pool_id: &str,
    name: &str,
    flows: &[cognito::types::ExplicitAuthFlowsType],
) -> Result<Made, StackError> {
    let (id, status) = match find_client_by_name(client, pool_id, name).await? {
        Some(id) => (id, "exists"),
        None => {
            let created = client
                .create_user_pool_client()
                .user_pool_id(pool_id)
                .client_name(name)
                .set_explicit_auth_flows(Some(flows.to_vec()))
                // The claims Cognito puts in the ID token for the `profile`
                // and `email` scopes (an emulator puts in only what the
                // client may read).
                .read_attributes("email")
                .read_attributes("email_verified")
                .read_attributes("name")
                // The attributes the pool requires, which sign-up writes.
                .write_attributes("email")
                .write_attributes("name")
                .send()
                .await
                .map_err(|err| StackError::call("CreateUserPoolClient", err))?;
            let id = created
                .user_pool_client
                .and_then(|c| c.client_id)
                .ok_or_else(|| StackError::Call {
                    action: "CreateUserPoolClient".to_owned(),
                    source: "the answer has no client id".to_owned().into(),
                })?;
            (id, "created")
        }
    };
    Ok(Made {
        kind: "app client",
        name: name.to_owned(),
        status,
        detail: id,
    })
}
