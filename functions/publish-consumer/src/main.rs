use lambda_runtime::{Error, run, service_fn};
use onboard_shared::aws::lambda_config;
use onboard_shared::catalogue::Function;
use onboard_shared::config::{PublishConfig, process_env};
use onboard_shared::telemetry::metrics::{Emitter, stack_name};
use onboard_shared::telemetry::{self, LogFormat};
use publish_consumer::writer::Writer;

// One invocation at a time: one thread, no hand-offs between threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::detect());
    let config = PublishConfig::from_env(process_env)?;
    let writer = Writer::from_config(&config, &lambda_config(&process_env, None)?);
    let metrics = Emitter::install(Function::PublishConsumer, &stack_name())?;
    let pace = config.max_writes_per_second;
    run(service_fn(|event| {
        publish_consumer::invoke(&writer, pace, &metrics, event)
    }))
    .await
}
