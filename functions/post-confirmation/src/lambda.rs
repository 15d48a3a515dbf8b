//! The trigger as Lambda runs it: its users table built once from its config
//! and the SDK config (by `main.rs` and by `onboard`'s stack wiring alike),
//! then invoked with each Cognito event.

use aws_config::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent};
use onboard_shared::aws::{DynamoUserStore, dynamodb_client};
use onboard_shared::config::PostConfirmationConfig;
use onboard_shared::error::{Failure, diagnostic};
use onboard_shared::ports::UserStore;
use onboard_shared::telemetry::metrics::{Counts, Emitter, Invocation, Metric};
use serde_json::Value;

/// The users table the config names.
pub fn users(config: &PostConfirmationConfig, sdk: &SdkConfig) -> DynamoUserStore {
    DynamoUserStore::new(dynamodb_client(sdk), &config.users_table)
}

/// One invocation: the user recorded, the event handed back to Cognito.
pub async fn invoke(
    users: &dyn UserStore,
    metrics: &Emitter,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let context = &event.context;
    let trace_header = context.xray_trace_id.as_deref();
    let result = crate::handle(users, event.payload, chrono::Utc::now(), trace_header).await;
    let counts = match &result {
        Ok((_, outcome)) => Counts::one(outcome.metric()),
        Err(err) if err.is_throttled() => Counts::one(Metric::Throttles),
        Err(_) => Counts::default(),
    };
    let failed = result.as_ref().err().map(Failure::kind);
    metrics.record(counts, Invocation::of(context).failed(failed));
    result
        .map(|(event, _)| event)
        .map_err(|err| diagnostic(&err))
}
