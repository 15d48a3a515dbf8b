//! `onboard credentials` on a real AWS API (moto's server), beside `onboard
//! dev`: the whole flow with real clients (the ID token, `GetId`,
//! `GetCredentialsForIdentity`), then the person's own archive object read
//! with the credentials it printed. The emulator checks neither the token
//! nor the role nor the session's tag: what the credentials may do is
//! proved on the shipped role in `tests/tests/own_credentials_policy.rs`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use onboard_tests::onboard::Onboard;
use onboard_tests::{emulator, unique};

const ONBOARD: Onboard = Onboard::at(env!("CARGO_BIN_EXE_onboard"));
const EMAIL: &str = "olu@example.com";
const PASSWORD: &str = "Correct-Horse-9-battery";

/// The values of `export NAME='value'` lines, by name.
fn exported(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .map(|line| {
            let (name, value) = line
                .strip_prefix("export ")
                .and_then(|rest| rest.split_once('='))
                .unwrap_or_else(|| panic!("not an export line: {line}"));
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or_else(|| panic!("not single-quoted: {line}"));
            (name.to_owned(), value.replace(r"'\''", "'"))
        })
        .collect()
}

/// An SDK config for the emulator that signs with these credentials.
async fn signing_with(access_key: &str, secret: &str, token: &str) -> aws_config::SdkConfig {
    emulator()
        .sdk_config()
        .await
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            access_key,
            secret,
            Some(token.to_owned()),
            None,
            "onboard credentials",
        )))
        .build()
}

/// The object's body, once `dev` has archived it (up to 20 s).
async fn archived(s3: &onboard_shared::aws::s3::Client, bucket: &str, key: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match s3.get_object().bucket(bucket).key(key).send().await {
            Ok(object) => {
                let bytes = object.body.collect().await.unwrap().into_bytes();
                return String::from_utf8(bytes.to_vec()).unwrap();
            }
            Err(err) => assert!(
                Instant::now() < deadline,
                "{key} never archived: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            ),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_person_reads_their_own_archived_data_with_their_own_credentials() {
    // GIVEN the local Lambda service on a stack, and Olu signed up
    let stack = unique("creds");
    let dir = tempfile::tempdir().unwrap();
    let _dev = ONBOARD.start_dev_bootstrapped(&stack, dir.path());
    let olu = ONBOARD.sign_up(&stack, EMAIL, PASSWORD, "Olu");

    // WHEN he asks for his credentials
    let (code, out, err) = ONBOARD.run(
        &stack,
        &["credentials", "--email", EMAIL, "--password", PASSWORD],
    );
    assert_eq!(code, Some(0), "{err}");

    // THEN they are three export lines, and the note names the identity
    let values = exported(&out);
    assert_eq!(
        values.keys().collect::<Vec<_>>(),
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN"
        ]
    );
    assert!(
        err.contains("onboard credentials: identity us-east-1:"),
        "{err}"
    );
    assert!(!err.contains(EMAIL) && !out.contains(EMAIL));

    // AND with them he reads his own archive object, as `aws s3 cp` would
    let config = signing_with(
        &values["AWS_ACCESS_KEY_ID"],
        &values["AWS_SECRET_ACCESS_KEY"],
        &values["AWS_SESSION_TOKEN"],
    )
    .await;
    let s3 = onboard_shared::aws::s3_client(&config, true);
    let body = archived(
        &s3,
        &format!("{stack}-archive"),
        &format!("users/{olu}.json"),
    )
    .await;
    assert!(body.contains("\"Olu\""), "{body}");
    // AND STS answers for them, as `aws sts get-caller-identity` would
    let caller = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert!(caller.arn().is_some());

    // WHEN he asks for the credential_process document instead
    let (code, out, err) = ONBOARD.run(
        &stack,
        &[
            "credentials",
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let document: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(document["Version"], 1);
    for key in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ] {
        assert!(document[key].is_string(), "{key} in {document}");
    }

    // AND a wrong password gets one line and exit 2, no credentials
    let (code, out, err) = ONBOARD.run(
        &stack,
        &[
            "credentials",
            "--email",
            EMAIL,
            "--password",
            "Wrong-1-pass",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("onboard credentials: the user pool refused the sign-in"),
        "{err}"
    );
}
