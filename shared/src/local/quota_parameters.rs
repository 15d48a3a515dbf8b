//! A Parameter Store that keeps AWS's quotas, on a simulated clock.
//!
//! The emulator enforces none of them, so the layout of names is proved
//! against this one: 10,000 standard and 100,000 advanced parameters an
//! account and Region; 4,096 and 8,192 bytes a value (AWS says "4 KB", and
//! its error "4096 characters": bytes, never fewer than the characters,
//! are the stricter reading); 100 versions kept a parameter, the oldest
//! dropped; a deleted name not created again for 30 seconds; an advanced
//! parameter never made standard again; and the account's default rates,
//! about 3 writes and 40 reads a second, beyond which a call is throttled
//! (`ThrottlingException`), as is a call over the 10 names `GetParameters`
//! and `DeleteParameters` take. Deletes are counted against the write rate:
//! AWS publishes no rate of their own, and this is the careful reading.
//!
//! The clock moves only when told ([`SimClock::advance`]), so a run of a
//! million users takes the simulated hours it would take in AWS in seconds.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::lock;
use crate::error::PortError;
use crate::parameter_tier::Tier;
use crate::ports::NamesStore;

/// A clock that moves only when told.
#[derive(Debug, Clone, Default)]
pub struct SimClock(Arc<Mutex<Duration>>);

impl SimClock {
    pub fn now(&self) -> Duration {
        *lock(&self.0)
    }

    pub fn advance(&self, by: Duration) {
        *lock(&self.0) += by;
    }

    /// Moves the clock to `at`, if it is later.
    pub fn advance_to(&self, at: Duration) {
        let mut now = lock(&self.0);
        *now = (*now).max(at);
    }
}

/// The quotas an account and Region has, AWS's defaults unless changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quotas {
    pub standard_parameters: usize,
    pub advanced_parameters: usize,
    pub writes_per_second: f64,
    pub reads_per_second: f64,
    pub versions_kept: usize,
    pub name_reuse_after: Duration,
    pub names_per_call: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            standard_parameters: Tier::Standard.account_limit(),
            advanced_parameters: Tier::Advanced.account_limit(),
            writes_per_second: 3.0,
            reads_per_second: 40.0,
            versions_kept: 100,
            name_reuse_after: Duration::from_secs(30),
            names_per_call: 10,
        }
    }
}

/// What the store has seen, for a capacity run's report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaStats {
    pub calls: BTreeMap<&'static str, u64>,
    pub throttled: BTreeMap<&'static str, u64>,
    pub largest_value: usize,
}

#[derive(Debug)]
struct Parameter {
    tier: Tier,
    /// The newest last; at most `versions_kept`.
    versions: VecDeque<String>,
}

/// Calls allowed at a rate, with a burst of one second's worth.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    at: Duration,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        Self {
            rate,
            tokens: rate,
            at: Duration::ZERO,
        }
    }

    fn take(&mut self, now: Duration) -> bool {
        let elapsed = now.saturating_sub(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct State {
    parameters: HashMap<String, Parameter>,
    deleted_at: HashMap<String, Duration>,
    standard: usize,
    advanced: usize,
    writes: Bucket,
    reads: Bucket,
    stats: QuotaStats,
}

/// Parameter Store with AWS's quotas, on a [`SimClock`].
#[derive(Debug)]
pub struct QuotaParameters {
    quotas: Quotas,
    clock: SimClock,
    state: Mutex<State>,
}

impl QuotaParameters {
    pub fn new(quotas: Quotas, clock: SimClock) -> Self {
        Self {
            quotas,
            clock,
            state: Mutex::new(State {
                parameters: HashMap::new(),
                deleted_at: HashMap::new(),
                standard: 0,
                advanced: 0,
                writes: Bucket::new(quotas.writes_per_second),
                reads: Bucket::new(quotas.reads_per_second),
                stats: QuotaStats::default(),
            }),
        }
    }

    pub fn clock(&self) -> &SimClock {
        &self.clock
    }

    pub fn quotas(&self) -> Quotas {
        self.quotas
    }

    /// `PutParameter` with `Overwrite`, in a tier.
    pub fn put(&self, name: &str, value: &str, tier: Tier) -> Result<(), PortError> {
        const OPERATION: &str = "PutParameter";
        let now = self.clock.now();
        let mut state = lock(&self.state);
        state.call(OPERATION, now, Rate::Write)?;
        if value.is_empty() {
            return Err(PortError::rejected(OPERATION, "the value is empty"));
        }
        if value.len() > tier.max_value_bytes() {
            return Err(PortError::rejected(
                OPERATION,
                format!(
                    "ValidationException: the value has {} bytes, over the {} of a {} parameter",
                    value.len(),
                    tier.max_value_bytes(),
                    tier.as_str()
                ),
            ));
        }
        if let Some(deleted) = state.deleted_at.get(name)
            && now < *deleted + self.quotas.name_reuse_after
        {
            return Err(PortError::rejected(
                OPERATION,
                "the name was deleted less than 30 seconds ago",
            ));
        }
        let held = state.parameters.get(name).map(|p| p.tier);
        match (held, tier) {
            (Some(Tier::Advanced), Tier::Standard) => {
                return Err(PortError::rejected(
                    OPERATION,
                    "ValidationException: an advanced parameter cannot be made standard",
                ));
            }
            (Some(Tier::Standard) | None, Tier::Advanced)
                if state.advanced >= self.quotas.advanced_parameters =>
            {
                return Err(limit_exceeded(Tier::Advanced));
            }
            (None, Tier::Standard) if state.standard >= self.quotas.standard_parameters => {
                return Err(limit_exceeded(Tier::Standard));
            }
            _ => {}
        }
        match held {
            Some(Tier::Standard) if tier == Tier::Advanced => {
                state.standard -= 1;
                state.advanced += 1;
            }
            None if tier == Tier::Standard => state.standard += 1,
            None => state.advanced += 1,
            _ => {}
        }
        state.stats.largest_value = state.stats.largest_value.max(value.len());
        state.deleted_at.remove(name);
        let kept = self.quotas.versions_kept;
        let parameter = state
            .parameters
            .entry(name.to_owned())
            .or_insert_with(|| Parameter {
                tier,
                versions: VecDeque::new(),
            });
        parameter.tier = tier;
        parameter.versions.push_back(value.to_owned());
        if parameter.versions.len() > kept {
            parameter.versions.pop_front();
        }
        Ok(())
    }

    /// `GetParameters`: the values of the names that exist.
    pub fn get_many(&self, names: &[String]) -> Result<BTreeMap<String, String>, PortError> {
        const OPERATION: &str = "GetParameters";
        let now = self.clock.now();
        let mut state = lock(&self.state);
        self.within_call(OPERATION, names.len())?;
        state.call(OPERATION, now, Rate::Read)?;
        Ok(names
            .iter()
            .filter_map(|name| {
                let value = state.parameters.get(name)?.versions.back()?;
                Some((name.clone(), value.clone()))
            })
            .collect())
    }

    /// `DeleteParameters`: names that do not exist are left out.
    pub fn delete_many(&self, names: &[String]) -> Result<(), PortError> {
        const OPERATION: &str = "DeleteParameters";
        let now = self.clock.now();
        let mut state = lock(&self.state);
        self.within_call(OPERATION, names.len())?;
        state.call(OPERATION, now, Rate::Write)?;
        for name in names {
            if let Some(parameter) = state.parameters.remove(name) {
                match parameter.tier {
                    Tier::Standard => state.standard -= 1,
                    Tier::Advanced => state.advanced -= 1,
                }
                state.deleted_at.insert(name.clone(), now);
            }
        }
        Ok(())
    }

    /// `GetParameterHistory`: every version kept, oldest first (not
    /// counted against the rates: it is how a test looks, not a reader).
    pub fn history(&self, name: &str) -> Vec<String> {
        lock(&self.state)
            .parameters
            .get(name)
            .map(|p| p.versions.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every parameter's newest value and tier, not counted.
    pub fn snapshot(&self) -> BTreeMap<String, (Tier, String)> {
        lock(&self.state)
            .parameters
            .iter()
            .filter_map(|(name, p)| Some((name.clone(), (p.tier, p.versions.back()?.clone()))))
            .collect()
    }

    /// Every parameter's newest value, not counted (as
    /// [`super::FileParameters::values`]).
    pub fn values(&self) -> BTreeMap<String, String> {
        self.snapshot()
            .into_iter()
            .map(|(name, (_, value))| (name, value))
            .collect()
    }

    /// How many parameters of each tier exist.
    pub fn counts(&self) -> (usize, usize) {
        let state = lock(&self.state);
        (state.standard, state.advanced)
    }

    pub fn stats(&self) -> QuotaStats {
        lock(&self.state).stats.clone()
    }

    fn within_call(&self, operation: &'static str, names: usize) -> Result<(), PortError> {
        if names == 0 || names > self.quotas.names_per_call {
            return Err(PortError::rejected(
                operation,
                format!(
                    "ValidationException: {names} names, where a call takes 1 to {}",
                    self.quotas.names_per_call
                ),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl NamesStore for QuotaParameters {
    async fn get_many(&self, names: &[String]) -> Result<BTreeMap<String, String>, PortError> {
        QuotaParameters::get_many(self, names)
    }

    async fn put_tiered(&self, name: &str, value: &str, tier: Tier) -> Result<(), PortError> {
        self.put(name, value, tier)
    }

    async fn delete_many(&self, names: &[String]) -> Result<(), PortError> {
        QuotaParameters::delete_many(self, names)
    }
}

#[derive(Debug, Clone, Copy)]
enum Rate {
    Read,
    Write,
}

impl State {
    /// Counts a call, or throttles it when its rate is spent.
    fn call(
        &mut self,
        operation: &'static str,
        now: Duration,
        rate: Rate,
    ) -> Result<(), PortError> {
        *self.stats.calls.entry(operation).or_default() += 1;
        let bucket = match rate {
            Rate::Read => &mut self.reads,
            Rate::Write => &mut self.writes,
        };
        if bucket.take(now) {
            return Ok(());
        }
        *self.stats.throttled.entry(operation).or_default() += 1;
        Err(PortError::Throttled {
            operation,
            source: "ThrottlingException: Rate exceeded".into(),
        })
    }
}

fn limit_exceeded(tier: Tier) -> PortError {
    PortError::rejected(
        "PutParameter",
        format!(
            "ParameterLimitExceeded: the account and Region hold the {} {} parameters they may",
            tier.account_limit(),
            tier.as_str()
        ),
    )
}
