//! The one place the real handlers are plugged into the event-source rules:
//! each function, invoked as Lambda invokes it, says what Lambda would get
//! back. The rules themselves (`event_source`) know no function.

use archive_consumer::Archiver;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use onboard_shared::reason::Reason;
use serde_json::value::RawValue;
use stream_router::Router;

use super::event_source::Invoked;
use super::event_source::queue::QueueFunction;
use super::event_source::stream::StreamFunction;

impl StreamFunction for Router {
    async fn invoke(&self, records: &[Box<RawValue>]) -> Invoked<DynamoDbEventResponse> {
        // Outside Lambda there is no invocation trace of the router's own.
        let report = stream_router::handle(self, records, None).await;
        Invoked {
            response: report
                .stream_response()
                .map_err(|err| Reason::of_error(&err)),
            report,
        }
    }
}

impl QueueFunction for Archiver {
    async fn invoke(&self, event: &SqsEvent) -> Invoked<SqsBatchResponse> {
        let report = archive_consumer::handle(self, event).await;
        Invoked {
            response: report.sqs_response().map_err(|err| Reason::of_error(&err)),
            report,
        }
    }
}
