//! Tests that generate their cases: a seeded [`proptest`] runner that says
//! how many cases it ran, and on failure the seed that replays them.
//!
//! The seed is `ONBOARD_PROPERTY_SEED` when set (a failure prints it), else
//! a fixed one, so a run is the same on every machine; the case count is
//! written to standard error directly, past the test harness's capture, so
//! `cargo test` shows it for passing tests too.

use std::io::Write;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// The seed when none is given: any fixed value does.
const DEFAULT_SEED: u64 = 0x0b0a_2d5e_ed00_0011;

/// Runs `test` over `cases` values of `strategy`; panics with the seed and
/// the smallest failing value when one fails.
pub fn check<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let seed = std::env::var("ONBOARD_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    match runner.run(&strategy, test) {
        Ok(()) => {
            // Straight to the process's standard error: not captured.
            let _ = writeln!(
                std::io::stderr(),
                "property `{name}`: {cases} cases passed (seed {seed})"
            );
        }
        Err(TestError::Fail(reason, value)) => panic!(
            "property `{name}` failed (ONBOARD_PROPERTY_SEED={seed} replays it): {reason}\nsmallest failing case: {value:#?}"
        ),
        Err(TestError::Abort(reason)) => {
            panic!("property `{name}` gave up (ONBOARD_PROPERTY_SEED={seed}): {reason}")
        }
    }
}
