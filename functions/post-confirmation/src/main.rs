use lambda_runtime::{Error, run, service_fn};
use onboard_shared::aws::{CallBudget, lambda_config};
use onboard_shared::catalogue::Function;
use onboard_shared::config::{PostConfirmationConfig, process_env};
use onboard_shared::telemetry::metrics::{Emitter, stack_name};
use onboard_shared::telemetry::{self, LogFormat};

// One invocation at a time: one thread, no hand-offs between threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::detect());
    let config = PostConfirmationConfig::from_env(process_env)?;
    // Cognito waits 5 s for a trigger: every call gets a budget well inside it.
    let sdk = lambda_config(&process_env, Some(CallBudget::TRIGGER))?;
    let users = post_confirmation::users(&config, &sdk);
    let metrics = Emitter::install(Function::PostConfirmation, &stack_name())?;
    run(service_fn(|event| {
        post_confirmation::invoke(&users, &metrics, event)
    }))
    .await
}
