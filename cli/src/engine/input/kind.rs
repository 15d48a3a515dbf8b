//! What an input is, told by the fields AWS puts in each kind of event.

use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
use serde_json::Value;
use serde_json::value::RawValue;

use onboard_shared::reason::{shown_name, without_input_values};

use crate::engine::queue_roles::{Consumer, NotAConsumersQueue, QueueNames};

/// Why an event or a record is not one replay takes.
#[derive(Debug, thiserror::Error)]
pub enum NotAKind {
    #[error("a Cognito `{0}` trigger: replay takes post-confirmation triggers")]
    OtherTrigger(String),
    #[error(
        "a Cognito trigger that is not a post-confirmation: replay takes post-confirmation triggers"
    )]
    UnnamedTrigger,
    #[error(
        "an HTTP API (payload 2.0) request: the greeting is behind a REST API, whose requests (payload 1.0) carry `httpMethod` and `path`"
    )]
    HttpApi,
    #[error("not an event replay knows: {KNOWN}")]
    Unknown,
    /// Said without the values the parser quoted.
    #[error(
        "an API Gateway request that does not parse: {}",
        without_input_values(&.0.to_string())
    )]
    ApiRequest(serde_json::Error),
    #[error("holds `{0}` records: {KNOWN}")]
    Source(String),
    #[error("holds records of an unknown eventSource: {KNOWN}")]
    UnknownSource,
    #[error(transparent)]
    Queue(#[from] NotAConsumersQueue),
}

/// A whole event that replay takes.
#[derive(Debug)]
pub enum Kind {
    /// A Cognito post-confirmation trigger.
    Cognito,
    /// One record of a DynamoDB stream event.
    StreamRecord,
    /// One record of an SQS event, for the consumer its queue feeds.
    SqsMessage(Consumer),
    /// An API Gateway (REST API, payload 1.0) proxy request.
    ApiRequest,
}

/// The kind of one record of a `Records` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Stream,
    /// An SQS message, for the consumer its queue feeds.
    Sqs(Consumer),
}

/// What kind of event a JSON object is.
pub fn classify(
    object: &serde_json::Map<String, Value>,
    queues: &QueueNames,
) -> Result<Kind, NotAKind> {
    if let Some(source) = object.get("triggerSource").and_then(Value::as_str) {
        return if source.starts_with("PostConfirmation_") {
            Ok(Kind::Cognito)
        } else {
            Err(
                shown_name(source).map_or(NotAKind::UnnamedTrigger, |source| {
                    NotAKind::OtherTrigger(source.to_owned())
                }),
            )
        };
    }
    if object.contains_key("dynamodb") && object.contains_key("eventName") {
        return Ok(Kind::StreamRecord);
    }
    if object.get("eventSource").and_then(Value::as_str) == Some("aws:sqs") {
        let arn = object.get("eventSourceARN").and_then(Value::as_str);
        return Ok(Kind::SqsMessage(queues.consumer_of(arn)?));
    }
    if object.contains_key("routeKey") || object.contains_key("rawPath") {
        return Err(NotAKind::HttpApi);
    }
    if object.contains_key("httpMethod") {
        return Ok(Kind::ApiRequest);
    }
    Err(NotAKind::Unknown)
}

/// What replay takes, for refusals.
pub const KNOWN: &str = "it takes DynamoDB stream events, SQS events, API Gateway (REST) \
                         requests and Cognito post-confirmation triggers";

/// Reads an API Gateway request, saying what is wrong with one that does
/// not parse.
pub fn api_request(value: Value) -> Result<Box<ApiGatewayProxyRequest>, NotAKind> {
    serde_json::from_value(value)
        .map(Box::new)
        .map_err(NotAKind::ApiRequest)
}

/// The kind of one record of a `Records` array, by its `eventSource`: a
/// DynamoDB stream record (also when it names no source) or an SQS message
/// from a queue that feeds a consumer; any other source (S3, SNS, ...) or
/// queue is refused.
pub fn record_kind(record: &RawValue, queues: &QueueNames) -> Result<RecordKind, NotAKind> {
    #[derive(Default, serde::Deserialize)]
    struct Source {
        #[serde(rename = "eventSource", alias = "EventSource")]
        event_source: Option<String>,
        #[serde(rename = "eventSourceARN")]
        event_source_arn: Option<String>,
    }
    let source = serde_json::from_str::<Source>(record.get()).unwrap_or_default();
    match source.event_source.as_deref() {
        None | Some("aws:dynamodb") => Ok(RecordKind::Stream),
        Some("aws:sqs") => Ok(RecordKind::Sqs(
            queues.consumer_of(source.event_source_arn.as_deref())?,
        )),
        Some(other) => Err(shown_name(other).map_or(NotAKind::UnknownSource, |other| {
            NotAKind::Source(other.to_owned())
        })),
    }
}
