//! The users table in DynamoDB: a new user written only when absent; a
//! row read strongly consistent and replaced only over the version read.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::result::SdkError;

use super::classify;
use crate::domain::{User, UserId};
use crate::error::PortError;
use crate::ports::{AccountStore, Conditional, Expected, PutNew, UserReader, UserStore};

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

#[async_trait]
impl UserReader for DynamoUserStore {
    async fn get(&self, user: &UserId) -> Result<Option<User>, PortError> {
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("user_id", AttributeValue::S(user.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await;
        let item = match result {
            Ok(output) => output.item,
            Err(SdkError::ServiceError(context))
                if matches!(context.err(), GetItemError::ResourceNotFoundException(_)) =>
            {
                return Err(PortError::rejected(
                    "GetItem",
                    "the users table does not exist",
                ));
            }
            Err(err) => return Err(classify("GetItem", err)),
        };
        item.map(|mut item| {
            item.remove(crate::wire::TRACE_ROW_ATTRIBUTE);
            serde_dynamo::from_item(item).map_err(|err| {
                PortError::rejected("GetItem", format!("the row is not a user: {err}"))
            })
        })
        .transpose()
    }
}

#[async_trait]
impl AccountStore for DynamoUserStore {
    async fn replace(&self, user: &User, expected: Expected) -> Result<Conditional, PortError> {
        let item: std::collections::HashMap<String, AttributeValue> = serde_dynamo::to_item(user)
            .map_err(|err| {
            PortError::rejected("PutItem", format!("the user does not encode: {err}"))
        })?;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = match expected {
            Expected::Absent => request.condition_expression("attribute_not_exists(user_id)"),
            Expected::Version(version) => request
                .condition_expression("version = :read AND attribute_not_exists(erased_at)")
                .expression_attribute_values(":read", AttributeValue::N(version.to_string())),
        };
        match request.send().await {
            Ok(_) => Ok(Conditional::Written),
            Err(SdkError::ServiceError(context))
                if matches!(
                    context.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(Conditional::Conflict)
            }
            Err(err) => Err(classify("PutItem", err)),
        }
    }
}
