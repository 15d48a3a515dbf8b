//! The account function as Lambda runs it: built once from its config and
//! the SDK config (by `main.rs` and by `onboard serve` alike), then invoked
//! with each API Gateway request.

use std::convert::Infallible;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_runtime::LambdaEvent;
use onboard_shared::aws::{CognitoDirectory, DynamoUserStore, cognito_client, dynamodb_client};
use onboard_shared::config::AccountConfig;
use onboard_shared::telemetry::metrics::{Emitter, Invocation};

use crate::{Account, NotAnOrigin};

impl Account {
    /// The account function over the stack's table and pool.
    pub fn from_config(config: &AccountConfig, sdk: &SdkConfig) -> Result<Self, NotAnOrigin> {
        let account = Account::new(
            Arc::new(DynamoUserStore::new(
                dynamodb_client(sdk),
                &config.users_table,
            )),
            Arc::new(CognitoDirectory::new(
                cognito_client(sdk),
                &config.user_pool_id,
            )),
        );
        match &config.allowed_origin {
            Some(origin) => account.allowing_origin(origin),
            None => Ok(account),
        }
    }
}

/// One invocation: the request answered.
pub async fn invoke(
    account: &Account,
    metrics: &Emitter,
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Infallible> {
    let answered = crate::answer(account, event.payload).await;
    metrics.record(answered.counts, Invocation::of(&event.context));
    // Every request gets an answer: a failure is a 5xx the caller can retry.
    Ok(answered.response)
}
