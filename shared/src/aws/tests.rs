//! The AWS adapters' own rules, without a network.

use super::queue::{batch_entry, send_failures};
use super::*;
use crate::ports::SendFailure;
use crate::reason::Reason;
use aws_config::Region;
use tokio::time::Instant;

#[tokio::test]
async fn the_trigger_budget_keeps_every_call_under_two_seconds() {
    let budget = CallBudget::TRIGGER;
    assert!(budget.worst_case() <= Duration::from_secs(2));
    assert!(budget.attempt_timeout * budget.max_attempts <= Duration::from_secs(2));

    // The budget is what the SDK is actually given, in Lambda.
    let config = lambda_config(&lambda_env(&[]), Some(budget)).unwrap();
    let timeouts = config.timeout_config().unwrap();
    assert_eq!(
        timeouts.operation_attempt_timeout(),
        Some(budget.attempt_timeout)
    );
    assert_eq!(timeouts.operation_timeout(), Some(budget.operation_timeout));
    assert_eq!(timeouts.connect_timeout(), Some(budget.connect_timeout));
    assert_eq!(
        config.retry_config().unwrap().max_attempts(),
        budget.max_attempts
    );
    // Three attempts of 600 ms fit in Cognito's 5 s with room to spare.
    assert!(timeouts.operation_timeout().unwrap() < Duration::from_secs(5) / 2);
}

/// What Lambda sets, and more.
fn lambda_env(more: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let mut vars = vec![
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];
    vars.extend_from_slice(more);
    move |var| {
        vars.iter()
            .rev()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[tokio::test]
async fn in_lambda_the_config_comes_from_the_environment_lambda_sets() {
    let config = lambda_config(&lambda_env(&[]), None).unwrap();
    assert_eq!(config.region(), Some(&Region::new("eu-west-1")));
    assert_eq!(config.endpoint_url(), None);
    assert!(config.credentials_provider().is_some());
    assert_eq!(
        config.timeout_config().unwrap().connect_timeout(),
        Some(DEFAULT_CONNECT_TIMEOUT)
    );

    let local = lambda_env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]);
    let config = lambda_config(&local, None).unwrap();
    assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));

    for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        let without = lambda_env(&[(missing, " ")]);
        let err = lambda_config(&without, None).unwrap_err();
        assert!(err.to_string().contains(missing), "{err}");
    }
}

fn service_error(
    code: &str,
    status: u16,
) -> SdkError<aws_sdk_ssm::operation::put_parameter::PutParameterError, HttpResponse> {
    use aws_sdk_ssm::operation::put_parameter::PutParameterError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;
    let err = PutParameterError::generic(
        ErrorMetadata::builder()
            .code(code)
            .message("details")
            .build(),
    );
    let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
    SdkError::service_error(err, raw)
}

#[test]
fn throttling_and_server_errors_are_retryable_and_bad_requests_are_not() {
    for (code, status) in [
        ("ThrottlingException", 400),
        ("TooManyUpdates", 400),
        ("InternalServerError", 500),
    ] {
        let err = classify("PutParameter", service_error(code, status));
        assert!(err.is_retryable(), "{code}: {err}");
    }
    assert!(matches!(
        classify("PutParameter", service_error("TooManyUpdates", 400)),
        PortError::Throttled { .. }
    ));
    let err = classify("PutParameter", service_error("ValidationException", 400));
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "PutParameter was rejected: ValidationException (HTTP 400): details"
    );
}

#[test]
fn entries_sqs_blames_on_the_sender_are_not_retried() {
    use aws_sdk_sqs::types::BatchResultErrorEntry;
    let entry = |id: &str, sender_fault: bool, code: &str| {
        BatchResultErrorEntry::builder()
            .id(id)
            .sender_fault(sender_fault)
            .code(code)
            .message("details")
            .build()
            .unwrap()
    };
    let failures = send_failures(vec![
        entry("0", true, "InvalidParameterValue"),
        entry("1", false, "InternalError"),
    ]);
    assert_eq!(
        failures,
        [
            SendFailure {
                id: "0".into(),
                retryable: false,
                throttled: false,
                reason: Reason::fixed("InvalidParameterValue: details")
            },
            SendFailure {
                id: "1".into(),
                retryable: true,
                throttled: false,
                reason: Reason::fixed("InternalError: details")
            }
        ]
    );
}

#[cfg(feature = "local")]
#[test]
fn only_endpoints_on_this_machine_count_as_loopback() {
    let connection = |url: &str| Connection {
        endpoint_url: Some(url.to_owned()),
        ..Connection::default()
    };
    for local in [
        "http://127.0.0.1:5000",
        "http://localhost:4566/",
        "http://[::1]:5000",
        "http://127.0.0.2",
    ] {
        assert!(connection(local).is_loopback(), "{local}");
    }
    for remote in [
        "https://sqs.eu-west-1.amazonaws.com",
        "http://10.0.0.1:5000",
        "http://localhost.example.com",
    ] {
        assert!(!connection(remote).is_loopback(), "{remote}");
    }
    assert!(!Connection::default().is_loopback());
}

#[tokio::test(start_paused = true)]
async fn writes_are_paced_to_the_configured_rate() {
    let pacer = Pacer::per_second(4.0);
    let start = Instant::now();
    for _ in 0..5 {
        pacer.wait().await;
    }
    // Five writes at four a second: the fifth starts a second after the first.
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
}

#[test]
fn a_message_s_trace_goes_out_as_its_aws_trace_header_system_attribute() {
    use aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader;
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let traced = crate::ports::OutgoingMessage {
        id: "0".into(),
        body: "{}".into(),
        attributes: Vec::new(),
        trace_header: Some(header.into()),
    };
    let entry = batch_entry(&traced).unwrap();
    let system = entry.message_system_attributes().unwrap();
    assert_eq!(system[&AwsTraceHeader].string_value(), Some(header));
    assert_eq!(system[&AwsTraceHeader].data_type(), "String");
    assert!(
        entry.message_attributes().is_none(),
        "not a message attribute"
    );
    let untraced = crate::ports::OutgoingMessage {
        trace_header: None,
        ..traced
    };
    assert!(
        batch_entry(&untraced)
            .unwrap()
            .message_system_attributes()
            .is_none()
    );
}
