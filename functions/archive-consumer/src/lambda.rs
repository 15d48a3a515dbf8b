//! The archive consumer as Lambda runs it: built once from its config and
//! the SDK config (by `main.rs` and by `onboard`'s stack wiring alike), then
//! invoked with each queue batch.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Diagnostic, LambdaEvent};
use onboard_shared::aws::{S3Archive, SqsQueue, s3_client, sqs_client};
use onboard_shared::config::ArchiveConfig;
use onboard_shared::error::{Failure, diagnostic};
use onboard_shared::telemetry::metrics::{Emitter, Invocation};

use crate::Archiver;

impl Archiver {
    /// The archiver over the bucket and DLQ its config names.
    pub fn from_config(config: &ArchiveConfig, sdk: &SdkConfig) -> Self {
        Self {
            archive: Arc::new(S3Archive::new(
                s3_client(sdk, config.force_path_style),
                &config.bucket,
            )),
            dead_letters: Arc::new(SqsQueue::new(
                sqs_client(sdk),
                "archive-dlq",
                &config.dead_letter_queue_url,
            )),
        }
    }
}

/// One invocation: the batch archived, the partial failure reported.
pub async fn invoke(
    archiver: &Archiver,
    metrics: &Emitter,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Diagnostic> {
    let report = crate::handle(archiver, &event.payload).await;
    let response = report.sqs_response();
    let failed = response.as_ref().err().map(Failure::kind);
    let invocation = Invocation::of(&event.context).failed(failed);
    metrics.record(report.counts(metrics.function()), invocation);
    response.map_err(|err| diagnostic(&err))
}
