use account::Account;
use lambda_runtime::{Error, run, service_fn};
use onboard_shared::aws::lambda_config;
use onboard_shared::catalogue::Function;
use onboard_shared::config::{AccountConfig, process_env};
use onboard_shared::telemetry::metrics::{Emitter, stack_name};
use onboard_shared::telemetry::{self, LogFormat};

// One invocation at a time: one thread, no hand-offs between threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::detect());
    let config = AccountConfig::from_env(process_env)?;
    let account = Account::from_config(&config, &lambda_config(&process_env, None)?)?;
    let metrics = Emitter::install(Function::Account, &stack_name())?;
    run(service_fn(|event| {
        account::invoke(&account, &metrics, event)
    }))
    .await
}
