//! The users table in DynamoDB: a new user written only when absent.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::result::SdkError;

use super::classify;
use crate::domain::User;
use crate::error::PortError;
use crate::ports::{PutNew, UserStore};

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
        self.put_new_traced(user, None).await
    }

    async fn put_new_traced(&self, user: &User, trace: Option<&str>) -> Result<PutNew, PortError> {
        let mut item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(user).map_err(|err| {
                PortError::rejected("PutItem", format!("the user does not encode: {err}"))
            })?;
        if let Some(trace) = trace {
            item.insert(
                crate::wire::TRACE_ROW_ATTRIBUTE.to_owned(),
                AttributeValue::S(trace.to_owned()),
            );
        }
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
