//! Section 2: start-up, from exec to the first poll of the Runtime API,
//! each function in turn with the hello-world floor.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use onboard_tests::release::HELLO;
use onboard_tests::runtime_api::RuntimeApi;

use crate::stats::{median, millis, spread};
use crate::{spawn, stop, verdict};

/// The start-up target: each function within this ratio of hello-world.
const RATIO_TARGET: f64 = 1.3;

/// A binary to start, with the environment its init reads.
#[derive(Debug, Clone)]
pub struct Contender {
    pub name: String,
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
}

/// Each contender's start-up times, each measured once a round, in turn.
pub fn measure(contenders: &[Contender], rounds: usize) -> Result<Vec<Vec<Duration>>, String> {
    let mut all = vec![Vec::new(); contenders.len()];
    for _ in 0..rounds {
        for (contender, times) in contenders.iter().zip(&mut all) {
            let api = RuntimeApi::start();
            let started = Instant::now();
            // No call is made at init: the endpoint is never reached.
            let child = spawn(
                &api,
                &contender.binary,
                &contender.env,
                "http://127.0.0.1:9",
                None,
                None,
            )?;
            let polled = api.first_poll(Duration::from_secs(10));
            stop(child);
            let polled =
                polled.ok_or_else(|| format!("{} never polled the Runtime API", contender.name))?;
            times.push(polled.saturating_duration_since(started));
        }
    }
    Ok(all)
}

/// Prints each contender's median against the first's (the floor), and
/// each binary's size against the budget.
pub fn report(contenders: &[Contender], times: &[Vec<Duration>]) {
    let rounds = times.first().map_or(0, Vec::len);
    println!("{rounds} rounds, each binary once a round, in turn; median (lowest to highest).");
    let ms = |times: &[Duration]| times.iter().map(|t| millis(*t)).collect::<Vec<_>>();
    let floor = median(&ms(&times[0]));
    for (contender, times) in contenders.iter().zip(times) {
        let size = std::fs::metadata(&contender.binary).map_or(0, |m| m.len());
        let ratio = median(&ms(times)) / floor;
        let note = if contender.name == HELLO {
            "the floor".to_owned()
        } else {
            format!(
                "{ratio:.2}× hello-world, target ≤ {RATIO_TARGET}×: {}",
                verdict(ratio <= RATIO_TARGET)
            )
        };
        // "greeting (this)" when two builds are compared.
        let function = contender.name.split(' ').next().unwrap_or_default();
        let budget = onboard_tests::release::budget(function);
        #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
        let over = if size > budget {
            format!(" OVER the {} MiB budget", budget as f64 / 1_048_576.0)
        } else {
            String::new()
        };
        println!(
            "  {:<30} {:<26} {note:<42} {:.2} MiB{over}",
            contender.name,
            format!("{} ms", spread(&ms(times), 2)),
            size as f64 / 1_048_576.0,
        );
    }
}
