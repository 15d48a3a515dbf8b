//! The greeting as Lambda runs it: built once from its config and the SDK
//! config (by `main.rs` and by `onboard serve` alike), then invoked with each
//! API Gateway request.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use std::convert::Infallible;

use lambda_runtime::LambdaEvent;
use onboard_shared::aws::{
    DynamoUserStore, S3Archive, SsmParameters, dynamodb_client, s3_client, ssm_client,
};
use onboard_shared::config::GreetingConfig;
use onboard_shared::telemetry::metrics::{Emitter, Invocation};

use crate::{Greeter, NotAnOrigin};

impl Greeter {
    /// The greeter over Parameter Store, with its config's cache and origin.
    /// An origin that cannot be a header value is refused.
    pub fn from_config(config: &GreetingConfig, sdk: &SdkConfig) -> Result<Self, NotAnOrigin> {
        // The greeting never writes: the write pace does not apply.
        let parameters = Arc::new(SsmParameters::new(ssm_client(sdk), f64::INFINITY));
        let mut greeter = Greeter::new(
            parameters.clone(),
            parameters,
            config.parameter_prefix.clone(),
            config.cache_ttl,
        );
        if let Some(accounts) = &config.accounts {
            greeter = greeter.reading_accounts(
                Arc::new(DynamoUserStore::new(
                    dynamodb_client(sdk),
                    &accounts.users_table,
                )),
                Arc::new(S3Archive::new(
                    s3_client(sdk, accounts.force_path_style),
                    &accounts.archive_bucket,
                )),
            );
        }
        match &config.allowed_origin {
            Some(origin) => greeter.allowing_origin(origin),
            None => Ok(greeter),
        }
    }
}

/// One invocation: the request answered.
pub async fn invoke(
    greeter: &Greeter,
    metrics: &Emitter,
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Infallible> {
    let answered = crate::answer(greeter, event.payload).await;
    let context = &event.context;
    metrics.record(answered.counts, Invocation::of(context));
    // Every request gets an answer: the greeting never fails an invocation.
    Ok(answered.response)
}
