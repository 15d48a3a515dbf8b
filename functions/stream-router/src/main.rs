use lambda_runtime::{Error, run, service_fn};
use onboard_shared::aws::lambda_config;
use onboard_shared::catalogue::Function;
use onboard_shared::config::{RouterConfig, process_env};
use onboard_shared::telemetry::metrics::{Emitter, stack_name};
use onboard_shared::telemetry::{self, LogFormat};
use stream_router::Router;

// One invocation at a time: one thread, no hand-offs between threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::detect());
    let config = RouterConfig::from_env(process_env)?;
    let router = Router::from_config(&config, &lambda_config(&process_env, None)?);
    let metrics = Emitter::install(Function::StreamRouter, &stack_name())?;
    run(service_fn(|event| {
        stream_router::invoke(&router, &metrics, event)
    }))
    .await
}
