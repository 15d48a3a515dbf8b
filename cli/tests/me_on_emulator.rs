//! `onboard me` on a real AWS API (moto's server), as a person runs it
//! beside `onboard dev`: shown, renamed, exported, erased, with nothing of
//! them in the local Lambda service's log.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use onboard_tests::onboard::Onboard;
use onboard_tests::unique;

const ONBOARD: Onboard = Onboard::at(env!("CARGO_BIN_EXE_onboard"));
const EMAIL: &str = "ines@example.com";
const PASSWORD: &str = "Correct-Horse-9-battery";

/// Runs `onboard me` with `args` until its output says `wanted`, for up to
/// 20 s (the pipeline catches up in the background).
fn me_until(stack: &str, args: &[&str], wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut all = vec!["me", "--email", EMAIL, "--password", PASSWORD];
        all.extend_from_slice(args);
        let (code, out, err) = ONBOARD.run(stack, &all);
        assert_eq!(code, Some(0), "{out}{err}");
        if out.contains(wanted) {
            return out;
        }
        assert!(Instant::now() < deadline, "never said {wanted:?}: {out}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_person_shows_renames_exports_and_deletes_their_account_with_onboard_me() {
    // GIVEN the local Lambda service on a stack, and Inés signed up
    let stack = unique("me");
    let dir = tempfile::tempdir().unwrap();
    let dev = ONBOARD.start_dev_bootstrapped(&stack, dir.path());
    ONBOARD.sign_up(&stack, EMAIL, PASSWORD, "Inés");

    // WHEN she looks at her account, THEN every copy shows her name
    let shown = me_until(&stack, &[], "published: Inés (version 1");
    assert!(
        shown.contains("greeting:  Hello, Inés (version 1)"),
        "{shown}"
    );

    // WHEN she renames herself and exports her data
    let export = dir.path().join("mine.json");
    let (code, out, err) = ONBOARD.run(
        &stack,
        &[
            "me",
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--rename",
            "Inés Sá",
            "--export",
            export.to_str().unwrap(),
        ],
    );
    // THEN the greeting shows the new name at once, and the file holds her row
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("renamed (version 2)"), "{out}");
    assert!(
        out.contains("greeting:  Hello, Inés Sá (version 2)"),
        "{out}"
    );
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    assert_eq!(data["table"]["row"]["name"], "Inés Sá");
    assert_eq!(data["table"]["row"]["email"], EMAIL);
    // AND the archive and the published names follow
    me_until(&stack, &[], "published: Inés Sá (version 2");

    // WHEN a bad name is asked for, THEN the API's reason, exit 2
    let (code, _, err) = ONBOARD.run(
        &stack,
        &[
            "me",
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--rename",
            " padded",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("Invalid request body"), "{err}");

    // WHEN she deletes without confirming, THEN nothing happens
    let mut unconfirmed = ONBOARD
        .command(
            &stack,
            &["me", "--email", EMAIL, "--password", PASSWORD, "--delete"],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    unconfirmed
        .stdin
        .take()
        .unwrap()
        .write_all(b"someone@else.com\n")
        .unwrap();
    let output = unconfirmed.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not confirmed"));

    // WHEN she deletes with --yes, THEN she is erased and cannot sign in
    let (code, out, err) = ONBOARD.run(
        &stack,
        &[
            "me",
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--delete",
            "--yes",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("erased everywhere (version 3)"), "{out}");
    let (code, _, err) = ONBOARD.run(&stack, &["me", "--email", EMAIL, "--password", PASSWORD]);
    assert_eq!(code, Some(2));
    assert!(err.contains("refused the sign-in"), "{err}");

    // AND the local Lambda service logged neither her email nor her names
    drop(dev);
    let log = std::fs::read_to_string(dir.path().join("dev.log")).unwrap();
    for personal in [EMAIL, "Inés"] {
        assert!(!log.contains(personal), "{personal} in the dev log:\n{log}");
    }
}
