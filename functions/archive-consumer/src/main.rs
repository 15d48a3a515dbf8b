use std::sync::Arc;

use archive_consumer::Archiver;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use onboard_shared::aws::{S3Archive, SqsQueue, lambda_config, s3_client, sqs};
use onboard_shared::config::{ArchiveConfig, process_env};
use onboard_shared::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::detect());
    let config = ArchiveConfig::from_env(process_env)?;
    let sdk = lambda_config(&process_env, None)?;
    let archiver = Archiver {
        archive: Arc::new(S3Archive::new(
            s3_client(&sdk, config.force_path_style),
            config.bucket,
        )),
        dead_letters: Arc::new(SqsQueue::new(
            sqs::Client::new(&sdk),
            "archive-dlq",
            config.dead_letter_queue_url,
        )),
    };
    let archiver = &archiver;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(
            archive_consumer::handle(archiver, &event.payload)
                .await
                .sqs_response()?,
        )
    }))
    .await
}
