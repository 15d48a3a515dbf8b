//! The release binary's behaviour as Lambda runs it: JSON log lines with the
//! request id on top, and one metric document per invocation, which names
//! the kind of failure when the invocation fails.

use std::path::Path;

use onboard_tests::runtime_api::invoke_once;

#[test]
fn in_lambda_each_log_line_names_the_request_and_a_failed_run_says_its_kind() {
    // A scheduled invocation whose queue cannot be reached.
    let ran = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_publish-consumer")),
        &[
            ("PARAMETER_PREFIX", "/onboard"),
            (
                "PUBLISH_QUEUE_URL",
                "http://127.0.0.1:1/000000000000/onboard-publish",
            ),
            (
                "DEAD_LETTER_QUEUE_URL",
                "http://127.0.0.1:1/000000000000/onboard-publish-dlq",
            ),
        ],
        serde_json::json!({ "source": "aws.scheduler", "detail-type": "Scheduled Event" }),
    );
    assert!(ran.failed, "{:?}", ran.posted);
    assert_eq!(ran.posted["errorType"], "Transient", "{:?}", ran.posted);
    let document = ran.assert_observable("publish-consumer");
    assert_eq!(document["Published"], 0);
}
