//! The release binary's behaviour as Lambda runs it: JSON log lines with the
//! request id on top, and one metric document per invocation.

use std::path::Path;

use onboard_tests::runtime_api::invoke_once;

#[test]
fn in_lambda_each_log_line_names_the_request_and_the_invocation_writes_one_metric_document() {
    // A confirmed password reset: nothing to record, so no AWS call.
    let event: serde_json::Value = serde_json::from_str(include_str!(
        "../../../fixtures/cognito/post-confirmation-forgot-password.json"
    ))
    .expect("the fixture is JSON");
    let ran = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_post-confirmation")),
        &[("USERS_TABLE", "onboard-users")],
        event.clone(),
    );
    assert!(!ran.failed, "{:?}", ran.posted);
    assert_eq!(ran.posted, event, "the trigger hands the event back");
    let document = ran.assert_observable("post-confirmation");
    assert_eq!(document["Skipped"], 1);
    assert_eq!(document["UsersRecorded"], 0);
}

#[test]
fn in_lambda_a_failed_invocation_says_its_kind_to_lambda_in_its_log_and_in_its_metrics() {
    // An event whose user has no sub: the trigger refuses it, with no AWS call.
    let event: serde_json::Value = serde_json::from_str(include_str!(
        "../../../fixtures/malformed/cognito-without-sub.json"
    ))
    .expect("the fixture is JSON");
    let ran = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_post-confirmation")),
        &[("USERS_TABLE", "onboard-users")],
        event,
    );
    assert!(ran.failed, "{:?}", ran.posted);
    assert_eq!(ran.posted["errorType"], "InvalidUser", "{:?}", ran.posted);
    assert!(
        ran.posted["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("the attribute `sub` is required but missing")),
        "{:?}",
        ran.posted
    );
    let document = ran.assert_observable("post-confirmation");
    assert_eq!(document["errorType"], "InvalidUser");
    assert!(
        ran.log_lines()
            .iter()
            .any(|line| line["error_type"] == "InvalidUser"),
        "{:#?}",
        ran.stderr
    );
}
