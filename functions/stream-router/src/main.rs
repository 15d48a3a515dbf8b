use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use onboard_shared::aws::{SqsQueue, lambda_config, sqs};
use onboard_shared::config::{RouterConfig, process_env};
use onboard_shared::stream::RawStreamEvent;
use onboard_shared::telemetry::{self, LogFormat};
use stream_router::Router;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::detect());
    let config = RouterConfig::from_env(process_env)?;
    let sqs = sqs::Client::new(&lambda_config(&process_env, None)?);
    let router = Router {
        archive: Arc::new(SqsQueue::new(
            sqs.clone(),
            "archive",
            config.archive_queue_url,
        )),
        publish: Arc::new(SqsQueue::new(
            sqs.clone(),
            "publish",
            config.publish_queue_url,
        )),
        dead_letters: Arc::new(SqsQueue::new(
            sqs,
            "router-dlq",
            config.dead_letter_queue_url,
        )),
    };
    let router = &router;
    run(service_fn(
        move |event: LambdaEvent<RawStreamEvent>| async move {
            Ok::<_, Error>(
                stream_router::handle(router, &event.payload.records)
                    .await
                    .stream_response()?,
            )
        },
    ))
    .await
}
