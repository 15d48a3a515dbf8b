//! The input reader on the project's fixtures and on files of its own.

use super::*;

async fn read_all(path: PathBuf) -> Vec<Input> {
    let (tx, mut rx) = mpsc::channel(4);
    let queues = crate::engine::queue_roles::QueueNames::bootstrapped("onboard");
    let handle = read(path, tx, None, std::sync::Arc::new(queues));
    let mut out = Vec::new();
    while let Some(input) = rx.recv().await {
        out.push(input);
    }
    handle.join().unwrap();
    out
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path)
}

#[tokio::test]
async fn a_stream_event_is_streamed_record_by_record() {
    let inputs = read_all(fixture("dynamodb/insert-modify-remove.json")).await;
    assert!(matches!(&inputs[0], Input::StreamRecords { first: 0, records } if records.len() == 5));
    assert!(matches!(inputs[1], Input::End { records: 5 }));
}

#[tokio::test]
async fn a_cognito_event_is_read_whole() {
    let inputs = read_all(fixture("cognito/post-confirmation-sign-up.json")).await;
    assert!(
        matches!(&inputs[0], Input::Cognito { index: 0, event } if event["triggerSource"] == "PostConfirmation_ConfirmSignUp")
    );
}

#[tokio::test]
async fn other_events_and_broken_files_are_refused_with_a_reason() {
    for (path, expected) in [
        ("malformed/not-json.json", "is not a JSON event"),
        ("malformed/stream-not-an-event.json", "is not a JSON event"),
    ] {
        let inputs = read_all(fixture(path)).await;
        match inputs.last() {
            Some(Input::Refused { reason }) => {
                assert!(reason.contains(expected), "{path}: {reason}")
            }
            other => panic!("{path}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn json_lines_hold_records_events_and_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    let stream: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/dynamodb/ttl-removal.json"
    ))
    .unwrap();
    let cognito: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/cognito/post-confirmation-sign-up.json"
    ))
    .unwrap();
    let lines = [
        stream.to_string(),
        stream["Records"][0].to_string(),
        String::new(),
        cognito.to_string(),
    ];
    std::fs::write(&path, lines.join("\n")).unwrap();
    let inputs = read_all(path).await;
    assert!(matches!(&inputs[0], Input::StreamRecords { first: 0, records } if records.len() == 3));
    assert!(matches!(&inputs[1], Input::Cognito { index: 3, .. }));
    assert!(matches!(inputs[2], Input::End { records: 4 }));
}

#[test]
fn folders_are_walked_in_name_order() {
    let files = discover(&[fixture("dynamodb")]).unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "batch-with-poison-records.json",
            "insert-modify-remove.json",
            "ttl-removal.json"
        ]
    );
    assert!(discover(&[fixture("nowhere")]).is_err());
}

#[tokio::test]
async fn sqs_events_and_api_requests_are_read_as_what_they_are() {
    let inputs = read_all(fixture("sqs/changes-out-of-order.json")).await;
    assert!(
        matches!(&inputs[0], Input::SqsMessages { first: 0, consumer: crate::engine::queue_roles::Consumer::Archive, messages } if messages.len() == 5),
        "{inputs:?}"
    );
    let inputs = read_all(fixture("apigw/hello-json.json")).await;
    assert!(
        matches!(&inputs[0], Input::ApiRequest { index: 0, request } if request.path.as_deref() == Some("/hello"))
    );
}

/// Writes `text` to a file of its own and reads it.
async fn read_text(name: &str, text: &str) -> Vec<Input> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    read_all(path).await
}

#[tokio::test]
async fn records_are_told_apart_one_by_one_and_foreign_ones_refused() {
    let stream: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/dynamodb/ttl-removal.json"
    ))
    .unwrap();
    let sqs: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/sqs/changes-out-of-order.json"
    ))
    .unwrap();
    // A stream record, then an SQS message, in one `Records` array.
    let mixed = serde_json::json!({ "Records": [stream["Records"][0], sqs["Records"][0]] });
    let inputs = read_text("mixed.json", &mixed.to_string()).await;
    assert!(matches!(&inputs[0], Input::StreamRecords { first: 0, records } if records.len() == 1));
    assert!(
        matches!(&inputs[1], Input::SqsMessages { first: 1, messages, .. } if messages.len() == 1)
    );

    // A foreign record after a good one refuses the file, and sends nothing.
    let s3 = serde_json::json!({ "Records": [stream["Records"][0], {"eventSource": "aws:s3"}] });
    let inputs = read_text("s3.json", &s3.to_string()).await;
    assert!(
        matches!(&inputs[..], [Input::Refused { reason }] if reason.contains("`aws:s3` records")),
        "{inputs:?}"
    );

    // A message from a dead-letter queue, or from a queue no consumer reads.
    for (arn, expected) in [
        (
            "arn:aws:sqs:eu-west-1:1:onboard-archive-dlq",
            "dead-letter queue",
        ),
        (
            "arn:aws:sqs:eu-west-1:1:orders",
            "names no queue of the stack (its queues: onboard-archive, onboard-publish)",
        ),
    ] {
        let mut message = sqs["Records"][0].clone();
        message["eventSourceARN"] = arn.into();
        let inputs = read_text(
            "q.json",
            &serde_json::json!({ "Records": [message] }).to_string(),
        )
        .await;
        assert!(
            matches!(&inputs[..], [Input::Refused { reason }] if reason.contains(expected)),
            "{arn}: {inputs:?}"
        );
    }

    // An HTTP API request (payload 2.0), and an API request that does not parse.
    let v2 = r#"{"version":"2.0","routeKey":"GET /hello","rawPath":"/hello"}"#;
    let inputs = read_text("v2.json", v2).await;
    assert!(matches!(&inputs[..], [Input::Refused { reason }] if reason.contains("payload 2.0")));
    let broken = r#"{"httpMethod":"GET","path":"/hello","headers":"not a map"}"#;
    let inputs = read_text("broken.json", broken).await;
    assert!(
        matches!(&inputs[..], [Input::Refused { reason }] if reason.starts_with("an API Gateway request that does not parse")),
        "{inputs:?}"
    );
}

#[tokio::test]
async fn a_line_that_is_no_event_is_kept_with_its_number_and_the_others_are_read() {
    let stream: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/dynamodb/ttl-removal.json"
    ))
    .unwrap();
    let mut bytes = Vec::new();
    for line in [
        stream["Records"][0].to_string().into_bytes(),
        b"this is not json".to_vec(),
        vec![0xff, 0xfe, b'x'],
        stream["Records"][1].to_string().into_bytes(),
    ] {
        bytes.extend(line);
        bytes.push(b'\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    std::fs::write(&path, bytes).unwrap();
    let inputs = read_all(path).await;
    let reasons: Vec<&str> = inputs
        .iter()
        .filter_map(|input| match input {
            Input::Unreadable { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{inputs:?}");
    assert!(
        reasons[0].starts_with("line 2: not a JSON event"),
        "{reasons:?}"
    );
    assert!(reasons[1].starts_with("line 3: not UTF-8"), "{reasons:?}");
    let records: usize = inputs
        .iter()
        .map(|input| match input {
            Input::StreamRecords { records, .. } => records.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(records, 2, "both good lines are read");
    assert!(matches!(inputs.last(), Some(Input::End { records: 4 })));
}
