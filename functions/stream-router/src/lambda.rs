//! The router as Lambda runs it: built once from its config and the SDK
//! config (by `main.rs` and by `onboard`'s stack wiring alike), then invoked
//! with each stream batch.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::{Diagnostic, LambdaEvent};
use onboard_shared::aws::{SqsQueue, sqs_client};
use onboard_shared::config::RouterConfig;
use onboard_shared::error::{Failure, diagnostic};
use onboard_shared::stream::RawStreamEvent;
use onboard_shared::telemetry::metrics::{Emitter, Invocation};

use crate::Router;

impl Router {
    /// The router over the queues its config names.
    pub fn from_config(config: &RouterConfig, sdk: &SdkConfig) -> Self {
        let sqs = sqs_client(sdk);
        let queue = |role: &str, url: &str| Arc::new(SqsQueue::new(sqs.clone(), role, url));
        Self {
            archive: queue("archive", &config.archive_queue_url),
            publish: queue("publish", &config.publish_queue_url),
            dead_letters: queue("router-dlq", &config.dead_letter_queue_url),
        }
    }
}

/// One invocation: the batch routed, the partial failure reported.
pub async fn invoke(
    router: &Router,
    metrics: &Emitter,
    event: LambdaEvent<RawStreamEvent>,
) -> Result<DynamoDbEventResponse, Diagnostic> {
    let context = &event.context;
    let report = crate::handle(
        router,
        &event.payload.records,
        context.xray_trace_id.as_deref(),
    )
    .await;
    let response = report.stream_response();
    let failed = response.as_ref().err().map(Failure::kind);
    let invocation = Invocation::of(context).failed(failed);
    metrics.record(report.counts(metrics.function()), invocation);
    response.map_err(|err| diagnostic(&err))
}
