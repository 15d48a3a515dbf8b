//! The release binary's behaviour as Lambda runs it: JSON log lines with the
//! request id on top, and one metric document per invocation.

use std::path::Path;

use onboard_tests::runtime_api::invoke_once;

#[test]
fn in_lambda_each_log_line_names_the_request_and_the_invocation_writes_one_metric_document() {
    let ran = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_publish-consumer")),
        &[
            ("PARAMETER_PREFIX", "/onboard"),
            (
                "DEAD_LETTER_QUEUE_URL",
                "http://127.0.0.1:1/000000000000/onboard-publish-dlq",
            ),
        ],
        serde_json::json!({ "Records": [] }),
    );
    assert!(!ran.failed, "{:?}", ran.posted);
    assert_eq!(ran.posted["batchItemFailures"], serde_json::json!([]));
    let document = ran.assert_observable("publish-consumer");
    assert_eq!(document["Published"], 0);
    assert_eq!(document["Retried"], 0);
}
