//! The greeting page that ships, in a real headless browser (Debian's
//! Chromium, driven by Playwright): `onboard dev --bootstrap` and
//! `onboard serve` on the emulator, as a person runs them, then
//! `tests/browser/sign-up.test.mjs` signs up through the local hosted UI
//! and uses the page as their own app (its archived data downloaded with
//! their own credentials too), `hosted-ui.test.mjs` walks the hosted UI's
//! ways out of a stuck sign-in, and `presign.test.mjs` holds the page's
//! SigV4 presigner to AWS's documented example.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use onboard_tests::browser::{browser_tests, chromium, node_with_playwright};
use onboard_tests::onboard::{Onboard, Running, url_in};
use onboard_tests::unique;

const ONBOARD: Onboard = Onboard::at(env!("CARGO_BIN_EXE_onboard"));

/// Waits until `file` holds a line with `needle`, and returns it.
fn line_in_file(file: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if let Some(line) = text.lines().find(|line| line.contains(needle)) {
            return line.to_owned();
        }
        assert!(Instant::now() < deadline, "no `{needle}` in:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_person_signs_up_through_the_hosted_ui_and_the_page_greets_them() {
    let chromium = chromium().unwrap_or_else(|err| panic!("Chromium: {err}"));
    let node = node_with_playwright().unwrap_or_else(|err| panic!("Playwright: {err}"));
    let stack = unique("browser");
    let logs = tempfile::tempdir().unwrap();

    let _dev = ONBOARD.start_dev_bootstrapped(&stack, logs.path());

    // `serve` prints the confirmation codes: the test reads them as a
    // person reads their terminal.
    let serve_out = logs.path().join("serve.out");
    let _serve = Running(
        ONBOARD
            .command(&stack, &["serve", "--port", "0"])
            .stdout(std::fs::File::create(&serve_out).unwrap())
            .stderr(std::fs::File::create(logs.path().join("serve.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let page_url = url_in(&line_in_file(&serve_out, "serving the sign-in page on "));

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("signed-in.png");
    let output = Command::new(node)
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .current_dir(browser_tests())
        .env("PAGE_URL", &page_url)
        .env("SERVE_LOG", &serve_out)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOT", &screenshot)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    let serve_log = std::fs::read_to_string(logs.path().join("serve.log")).unwrap();
    assert!(
        output.status.success(),
        "the browser test failed:\n{report}\nonboard serve:\n{serve_log}"
    );
    assert!(report.contains("pass 19"), "{report}");
    assert!(screenshot.exists(), "no screenshot of the signed-in page");
    // The sign-up reached the pipeline, and no log line names the email.
    assert!(
        serve_log.contains("hosted UI: confirmed a sign-up"),
        "{serve_log}"
    );
    let dev_log = std::fs::read_to_string(logs.path().join("dev.log")).unwrap();
    for log in [&serve_log, &dev_log] {
        assert!(!log.contains("@example.com"), "an email was logged:\n{log}");
        // Nor a name the people gave or chose.
        for name in ["Zoë", "Ana Lima", "Eva"] {
            assert!(!log.contains(name), "the name {name} was logged:\n{log}");
        }
    }
}
