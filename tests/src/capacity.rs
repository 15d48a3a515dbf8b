//! The layout of names grown under Parameter Store's quotas: users from the
//! realistic mix ([`crate::names_mix`]) merged a round at a time, each
//! round's plan written to a [`QuotaParameters`] at its write rate
//! ([`Paced`], on the simulated clock), and every user's name then read
//! back from what the store holds.
//!
//! This is the layout alone, without the handlers and the event-source
//! rules around it: what it proves is the packing (users per parameter,
//! every value within its tier, the tiers' counts) and the writes it costs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use onboard_shared::ports::{NAMES_PER_CALL, NamesStore};
use onboard_shared::published::ParameterPrefix;

use onboard_shared::domain::{Revision, UserId, Version};
use onboard_shared::error::PortError;
use onboard_shared::local::{QuotaParameters, Quotas, SimClock};
use onboard_shared::names::{Entry, Layout, NamesPaths, Plan, Tier, layout_of, read_value};

use crate::names_mix::NameMix;

/// What a run of the layout did.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutRun {
    pub users: usize,
    pub standard: usize,
    pub advanced: usize,
    pub users_per_parameter: f64,
    pub puts: u64,
    pub deletes: u64,
    pub throttled: u64,
    pub largest_value: usize,
    /// Simulated time the writes took at the quota's pace.
    pub elapsed: Duration,
    /// Users whose name the store does not hold as it was merged.
    pub wrong: usize,
}

/// Signs up `users` from the mix, `round` of them between writes, the
/// layout allowed `share` standard parameters.
///
/// # Panics
///
/// When the store refuses a write for a reason other than its rate.
pub fn grow(users: usize, round: usize, share: usize, seed: u64) -> LayoutRun {
    let store = Arc::new(QuotaParameters::new(Quotas::default(), SimClock::default()));
    let paced = Paced::new(store.clone(), store.quotas().writes_per_second);
    let paths =
        NamesPaths::new(&ParameterPrefix::parse("/onboard").unwrap_or_else(|_| unreachable!()));
    let mut layout = Layout::new(share);
    let mut mix = NameMix::new(seed);
    let mut expected = Vec::with_capacity(users);
    let version = Version::new(1).unwrap_or_else(|_| unreachable!());
    let mut left = users;
    while left > 0 {
        for _ in 0..round.min(left) {
            let user = UserId::parse(mix.sub()).unwrap_or_else(|err| panic!("{err}"));
            let name = mix.name();
            layout.merge(
                &user,
                Entry {
                    revision: Revision {
                        version,
                        removed: false,
                    },
                    name: Some(name.clone()),
                },
            );
            expected.push((user, name));
            left -= 1;
        }
        let now = store.clock().now().as_secs();
        let plan = layout.plan(now).unwrap_or_else(|err| panic!("{err}"));
        write(&paced, &paths, &plan);
    }
    let mut values = BTreeMap::new();
    for (name, (tier, value)) in store.snapshot() {
        if paths.leaf_id(&name).is_some() {
            let written = read_value(&value).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(written.tier, tier, "{name}: the value says its tier");
        }
        values.insert(name, value);
    }
    let read_back = layout_of(&paths, &values);
    let wrong = expected
        .iter()
        .filter(|(user, name)| {
            read_back.entry(user).and_then(|e| e.name.as_deref()) != Some(name.as_str())
        })
        .count();
    let (standard, advanced) = store.counts();
    let stats = store.stats();
    LayoutRun {
        users,
        standard,
        advanced,
        users_per_parameter: users as f64 / (standard + advanced).max(1) as f64,
        puts: stats.calls.get("PutParameter").copied().unwrap_or(0)
            - stats.throttled.get("PutParameter").copied().unwrap_or(0),
        deletes: stats.calls.get("DeleteParameters").copied().unwrap_or(0)
            - stats
                .throttled
                .get("DeleteParameters")
                .copied()
                .unwrap_or(0),
        throttled: stats.throttled.values().sum(),
        largest_value: stats.largest_value,
        elapsed: store.clock().now(),
        wrong,
    }
}

/// A Parameter Store under AWS's quotas that waits, as the SDK's pacing
/// and retries do, instead of being throttled: each write waits for its
/// turn at `writes_per_second`, each read at the read rate, on the
/// simulated clock.
#[derive(Debug)]
pub struct Paced {
    pub store: Arc<QuotaParameters>,
    write_gap: Duration,
    read_gap: Duration,
    next: std::sync::Mutex<(Duration, Duration)>,
}

impl Paced {
    pub fn new(store: Arc<QuotaParameters>, writes_per_second: f64) -> Self {
        let reads = store.quotas().reads_per_second;
        Self {
            store,
            write_gap: Duration::from_secs_f64(1.0 / writes_per_second),
            read_gap: Duration::from_secs_f64(1.0 / reads),
            next: std::sync::Mutex::new((Duration::ZERO, Duration::ZERO)),
        }
    }

    /// Waits for the next write's (or read's) turn.
    fn turn(&self, write: bool) {
        let clock = self.store.clock();
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (slot, gap) = if write {
            (&mut next.0, self.write_gap)
        } else {
            (&mut next.1, self.read_gap)
        };
        let at = clock.now().max(*slot);
        clock.advance_to(at);
        *slot = at + gap;
    }

    /// `PutParameter`, at its turn.
    pub fn put(&self, name: &str, value: &str, tier: Tier) -> Result<(), PortError> {
        self.paced(true, || self.store.put(name, value, tier))
    }

    /// `DeleteParameters`, at its turn.
    pub fn delete(&self, names: &[String]) -> Result<(), PortError> {
        self.paced(true, || self.store.delete_many(names))
    }

    /// A call, again after a pause while the store throttles it.
    fn paced<T>(
        &self,
        write: bool,
        call: impl Fn() -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        loop {
            self.turn(write);
            match call() {
                Err(PortError::Throttled { .. }) => {}
                other => return other,
            }
        }
    }
}

#[async_trait]
impl NamesStore for Paced {
    async fn get_many(
        &self,
        names: &[String],
    ) -> Result<std::collections::BTreeMap<String, String>, PortError> {
        self.paced(false, || self.store.get_many(names))
    }

    async fn put_tiered(&self, name: &str, value: &str, tier: Tier) -> Result<(), PortError> {
        self.put(name, value, tier)
    }

    async fn delete_many(&self, names: &[String]) -> Result<(), PortError> {
        self.delete(names)
    }
}

/// Writes a plan in the writer's order (the summary, the puts, the
/// deletes), each call at its turn.
fn write(paced: &Paced, paths: &NamesPaths, plan: &Plan) {
    let written = |call: Result<(), PortError>| call.unwrap_or_else(|err| panic!("{err}"));
    if let Some(summary) = &plan.summary {
        let value = serde_json::to_string(summary).unwrap_or_default();
        written(paced.put(&paths.summary(), &value, Tier::Standard));
    }
    for put in &plan.puts {
        written(paced.put(&paths.leaf(put.id, put.side), &put.value, put.tier));
    }
    for chunk in plan.deletes.chunks(NAMES_PER_CALL) {
        let names: Vec<String> = chunk
            .iter()
            .map(|(id, side)| paths.leaf(*id, *side))
            .collect();
        written(paced.delete(&names));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_thousand_users_average_fifty_a_parameter_and_all_read_back() {
        let run = grow(20_000, 500, 5_000, 1);
        assert_eq!(run.wrong, 0, "{run:?}");
        assert!(run.users_per_parameter >= 50.0, "{run:?}");
        assert!(
            run.largest_value <= Tier::Standard.max_value_bytes(),
            "{run:?}"
        );
        assert_eq!(run.advanced, 0, "{run:?}");
    }

    #[test]
    fn past_the_share_the_layout_grows_into_the_advanced_tier_and_loses_no_one() {
        let run = grow(20_000, 500, 100, 2);
        assert_eq!(run.wrong, 0, "{run:?}");
        assert!(run.standard <= 101, "{run:?}"); // + the summary parameter
        assert!(run.advanced > 0, "{run:?}");
    }
}
