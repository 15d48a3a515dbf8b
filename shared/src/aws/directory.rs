//! The user pool in Cognito, kept in step with the table by the account
//! function: the `name` attribute, sign-out everywhere, deletion.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::types::AttributeType;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::classify;
use crate::error::PortError;
use crate::ports::{Directory, Gone};

/// A user pool, by its id.
#[derive(Debug, Clone)]
pub struct CognitoDirectory {
    client: aws_sdk_cognitoidentityprovider::Client,
    pool_id: String,
}

impl CognitoDirectory {
    pub fn new(
        client: aws_sdk_cognitoidentityprovider::Client,
        pool_id: impl Into<String>,
    ) -> Self {
        Self {
            client,
            pool_id: pool_id.into(),
        }
    }
}

/// `UserNotFoundException` is the user already gone; any other error is
/// classified as every port's is.
fn gone_or<T, E>(
    operation: &'static str,
    result: Result<T, SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>>,
) -> Result<Gone, PortError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(Gone::No),
        Err(SdkError::ServiceError(context))
            if context.err().code() == Some("UserNotFoundException") =>
        {
            Ok(Gone::Yes)
        }
        Err(err) => Err(classify(operation, err)),
    }
}

#[async_trait]
impl Directory for CognitoDirectory {
    async fn set_name(&self, username: &str, name: &str) -> Result<Gone, PortError> {
        let attribute = AttributeType::builder()
            .name("name")
            .value(name)
            .build()
            .map_err(|err| PortError::rejected("AdminUpdateUserAttributes", err.to_string()))?;
        let result = self
            .client
            .admin_update_user_attributes()
            .user_pool_id(&self.pool_id)
            .username(username)
            .user_attributes(attribute)
            .send()
            .await;
        gone_or("AdminUpdateUserAttributes", result)
    }

    async fn name(&self, username: &str) -> Result<Option<String>, PortError> {
        let result = self
            .client
            .admin_get_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await;
        match result {
            Ok(user) => Ok(user
                .user_attributes
                .unwrap_or_default()
                .into_iter()
                .find(|attribute| attribute.name == "name")
                .and_then(|attribute| attribute.value)),
            Err(SdkError::ServiceError(context))
                if context.err().code() == Some("UserNotFoundException") =>
            {
                Ok(None)
            }
            Err(err) => Err(classify("AdminGetUser", err)),
        }
    }

    async fn sign_out_everywhere(&self, username: &str) -> Result<Gone, PortError> {
        let result = self
            .client
            .admin_user_global_sign_out()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await;
        gone_or("AdminUserGlobalSignOut", result)
    }

    async fn delete(&self, username: &str) -> Result<Gone, PortError> {
        let result = self
            .client
            .admin_delete_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await;
        gone_or("AdminDeleteUser", result)
    }
}
