use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use onboard_shared::aws::{SqsQueue, SsmParameters, lambda_config, sqs, ssm};
use onboard_shared::config::{PublishConfig, process_env};
use onboard_shared::telemetry::{self, LogFormat};
use publish_consumer::Publisher;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::detect());
    let config = PublishConfig::from_env(process_env)?;
    let sdk = lambda_config(&process_env, None)?;
    let publisher = Publisher {
        parameters: Arc::new(SsmParameters::new(
            ssm::Client::new(&sdk),
            config.max_writes_per_second,
        )),
        prefix: config.parameter_prefix,
        dead_letters: Arc::new(SqsQueue::new(
            sqs::Client::new(&sdk),
            "publish-dlq",
            config.dead_letter_queue_url,
        )),
    };
    let publisher = &publisher;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(
            publish_consumer::handle(publisher, &event.payload)
                .await
                .sqs_response()?,
        )
    }))
    .await
}
