//! The publish consumer as Lambda runs it: built once from its config and
//! the SDK config (by `main.rs` and by `onboard`'s stack wiring alike), then
//! invoked with each queue batch.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Diagnostic, LambdaEvent};
use onboard_shared::aws::{SqsQueue, SsmParameters, sqs_client, ssm_client};
use onboard_shared::config::PublishConfig;
use onboard_shared::error::{Failure, diagnostic};
use onboard_shared::telemetry::metrics::{Emitter, Invocation};

use crate::Publisher;

impl Publisher {
    /// The publisher over Parameter Store, at its config's pace, and the DLQ
    /// its config names.
    pub fn from_config(config: &PublishConfig, sdk: &SdkConfig) -> Self {
        Self {
            parameters: Arc::new(SsmParameters::new(
                ssm_client(sdk),
                config.max_writes_per_second,
            )),
            prefix: config.parameter_prefix.clone(),
            dead_letters: Arc::new(SqsQueue::new(
                sqs_client(sdk),
                "publish-dlq",
                &config.dead_letter_queue_url,
            )),
        }
    }
}

/// One invocation: the batch published, the partial failure reported.
pub async fn invoke(
    publisher: &Publisher,
    metrics: &Emitter,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Diagnostic> {
    let report = crate::handle(publisher, &event.payload).await;
    let response = report.sqs_response();
    let failed = response.as_ref().err().map(Failure::kind);
    let invocation = Invocation::of(&event.context).failed(failed);
    metrics.record(report.counts(metrics.function()), invocation);
    response.map_err(|err| diagnostic(&err))
}
