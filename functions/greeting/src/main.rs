use std::sync::Arc;

use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
use greeting::Greeter;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use onboard_shared::aws::{SsmParameters, lambda_config, ssm};
use onboard_shared::config::{GreetingConfig, process_env};
use onboard_shared::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::detect());
    let config = GreetingConfig::from_env(process_env)?;
    let ssm = ssm::Client::new(&lambda_config(&process_env, None)?);
    // The greeting never writes: the write pace does not apply.
    let parameters = Arc::new(SsmParameters::new(ssm, f64::INFINITY));
    let mut greeter = Greeter::new(parameters, config.parameter_prefix, config.cache_ttl);
    if let Some(origin) = &config.allowed_origin {
        greeter = greeter.allowing_origin(origin)?;
    }
    run(service_fn(
        |event: LambdaEvent<ApiGatewayProxyRequest>| async {
            Ok::<_, Error>(greeting::handle(&greeter, event.payload).await)
        },
    ))
    .await
}
