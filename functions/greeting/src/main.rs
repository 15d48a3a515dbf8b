use greeting::Greeter;
use lambda_runtime::{Error, run, service_fn};
use onboard_shared::aws::lambda_config;
use onboard_shared::config::{GreetingConfig, process_env};
use onboard_shared::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::detect());
    let config = GreetingConfig::from_env(process_env)?;
    let greeter = Greeter::from_config(&config, &lambda_config(&process_env, None)?)?;
    run(service_fn(|event| greeting::invoke(&greeter, event))).await
}
