//! The release binary's behaviour as Lambda runs it: JSON log lines with the
//! request id on top, and one metric document per invocation.

use std::path::Path;

use onboard_tests::runtime_api::invoke_once;

#[test]
fn in_lambda_each_log_line_names_the_request_and_the_invocation_writes_one_metric_document() {
    // No authorizer claims: answered 401 without a call.
    let event: serde_json::Value = serde_json::from_str(include_str!(
        "../../../fixtures/apigw/hello-without-claims.json"
    ))
    .expect("the fixture is JSON");
    let ran = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_greeting")),
        &[
            ("PARAMETER_PREFIX", "/onboard"),
            ("USERS_TABLE", "users"),
            ("ARCHIVE_BUCKET", "archive"),
        ],
        event,
    );
    assert!(!ran.failed, "{:?}", ran.posted);
    assert_eq!(ran.posted["statusCode"], 401);
    let document = ran.assert_observable("greeting");
    assert_eq!(document["Unanswered"], 1);
    assert_eq!(document["Greeted"], 0);
}
