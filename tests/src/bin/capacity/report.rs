//! The figures a capacity run prints.

use std::time::Duration;

use onboard_shared::names::Tier;
use publish_consumer::writer::RunReport;

use super::{Options, PERIOD, Sim};

/// AWS's list price of an advanced parameter, a month.
const ADVANCED_MONTHLY_USD: f64 = 0.05;

pub(crate) fn report(
    options: &Options,
    sim: &Sim,
    burst: &RunReport,
    burst_took: Duration,
    steady: &RunReport,
    worst_wait: u64,
) {
    let (standard, advanced) = sim.quota.counts();
    let stats = sim.quota.stats();
    // The summary is a parameter, and no leaf.
    let leaves = (standard + advanced).saturating_sub(1);
    println!(
        "  parameters: {standard} standard (incl. the summary), {advanced} advanced; {:.1} users a parameter of names; largest value {} of {} bytes",
        options.users as f64 / leaves.max(1) as f64,
        stats.largest_value,
        Tier::Advanced.max_value_bytes()
    );
    let calls = |op: &str| stats.calls.get(op).copied().unwrap_or(0);
    println!(
        "  calls: {} PutParameter, {} DeleteParameters, {} GetParameters; throttled {} (the writer paces itself under the quota)",
        calls("PutParameter"),
        calls("DeleteParameters"),
        calls("GetParameters"),
        stats.throttled.values().sum::<u64>()
    );
    let target = if burst_took <= Duration::from_secs(3_600) {
        "met"
    } else {
        "NOT MET"
    };
    println!(
        "  burst: {} sign-ups published in {} min of simulated time ({} runs a minute apart, {} writes; target within an hour: {target})",
        options.users,
        burst_took.as_secs().div_ceil(60),
        burst_took.as_secs().div_ceil(60),
        burst.puts + burst.deletes,
    );
    println!(
        "  steady: {} renames a second for {} min: a change waits at most {} s carried, plus up to {} s for its run ({} writes, {} renames)",
        options.steady_per_second,
        options.steady_minutes,
        worst_wait,
        PERIOD.as_secs(),
        steady.puts + steady.deletes,
        options.steady_per_second * 60 * options.steady_minutes
    );
    // The greeting: a few greetings a user a day, a peak of ten times the
    // mean; each environment (at ~20 ms a request) keeps a leaf a minute.
    let mean = options.users as f64 * 3.0 / 86_400.0;
    let peak = mean * 10.0;
    let environments = (peak * 0.020).ceil().max(1.0);
    let per_environment = peak / environments * 60.0;
    let reads = environments * per_environment.min(leaves as f64) / 60.0 + environments / 60.0;
    let way_out = if reads > 40.0 {
        "over the default 40: turn on the higher-throughput setting, or read the table (docs/capacity.md)"
    } else {
        "within the default 40"
    };
    println!(
        "  greeting: at 3 greetings a user a day and a peak of 10x, {peak:.1} requests/s over {environments:.0} environments need about {reads:.1} GetParameters/s, {way_out}"
    );
    println!(
        "  price: {advanced} advanced parameters at ${ADVANCED_MONTHLY_USD:.2} a month: ${:.2} a month",
        advanced as f64 * ADVANCED_MONTHLY_USD
    );
}
