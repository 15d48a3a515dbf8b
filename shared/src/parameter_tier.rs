//! Parameter Store's two tiers: what a parameter may hold, how many an
//! account and Region may have.

/// A parameter's tier: what it may hold and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Free; 10,000 an account and Region; 4 KB a value.
    Standard,
    /// Priced per parameter-month; 100,000 an account and Region; 8 KB a
    /// value; it goes back to standard only by being deleted.
    Advanced,
}

impl Tier {
    /// The most a value may hold, in bytes of UTF-8. AWS's documents say
    /// "4 KB" and its error says "4096 characters": counting bytes, never
    /// fewer than the characters, keeps within either reading.
    pub const fn max_value_bytes(self) -> usize {
        match self {
            Tier::Standard => 4096,
            Tier::Advanced => 8192,
        }
    }

    /// How many parameters of the tier an account and Region may hold.
    pub const fn account_limit(self) -> usize {
        match self {
            Tier::Standard => 10_000,
            Tier::Advanced => 100_000,
        }
    }

    /// The name Parameter Store gives the tier.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "Standard",
            Tier::Advanced => "Advanced",
        }
    }
}
