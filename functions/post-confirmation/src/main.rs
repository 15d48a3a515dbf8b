use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use onboard_shared::aws::{CallBudget, DynamoUserStore, dynamodb, lambda_config};
use onboard_shared::config::{PostConfirmationConfig, process_env};
use onboard_shared::telemetry::{self, LogFormat};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::detect());
    let config = PostConfirmationConfig::from_env(process_env)?;
    // Cognito waits 5 s for a trigger: every call gets a budget well inside it.
    let sdk = lambda_config(&process_env, Some(CallBudget::TRIGGER))?;
    let users = DynamoUserStore::new(dynamodb::Client::new(&sdk), config.users_table);
    run(service_fn(|event: LambdaEvent<Value>| async {
        let (event, _) =
            post_confirmation::handle(&users, event.payload, chrono::Utc::now()).await?;
        Ok::<_, Error>(event)
    }))
    .await
}
