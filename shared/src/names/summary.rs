//! What readers need to find a user's leaf without listing the leaves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parameter_tier::Tier;

/// What readers need to find a user's leaf without listing them: how many
/// leaves there are at each depth, and how many of each tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub depths: BTreeMap<u8, usize>,
    pub standard: usize,
    pub advanced: usize,
}

impl Summary {
    pub(crate) fn tier_count(&mut self, tier: Tier) -> &mut usize {
        match tier {
            Tier::Standard => &mut self.standard,
            Tier::Advanced => &mut self.advanced,
        }
    }

    /// The depths a user's leaf may be at, shallowest first (the root's
    /// when there are no leaves yet).
    pub fn depth_range(&self) -> std::ops::RangeInclusive<u8> {
        let low = self.depths.keys().next().copied().unwrap_or(0);
        let high = self.depths.keys().next_back().copied().unwrap_or(0);
        low..=high
    }
}
