//! Fair shares of the account between the campaigns that dial together: stride scheduling
//! by `priority`. Each call a campaign makes moves its pass on by one over its weight
//! (2 to the power of its priority), and the campaign with the lowest pass goes next, so
//! over time each dials in proportion to its weight. Pure.

use std::collections::{HashMap, HashSet};

/// The campaigns' places in the schedule.
#[derive(Debug, Default)]
pub struct Shares {
    /// Each campaign's pass and weight.
    campaigns: HashMap<i64, (f64, f64)>,
}

/// A campaign's weight against the others: 2 to the power of its priority, which counts
/// from -8 to 8.
pub fn weight(priority: i32) -> f64 {
    2f64.powi(priority.clamp(-8, 8))
}

impl Shares {
    /// Adds campaign `id`, or changes its priority when it is there. A campaign that
    /// joins starts at the lowest pass of those already dialling: it neither waits for
    /// them to catch up with it nor takes the account over until it has caught up.
    pub fn set(&mut self, id: i64, priority: i32) {
        let floor = self
            .campaigns
            .values()
            .map(|(pass, _)| *pass)
            .fold(f64::INFINITY, f64::min);
        let start = if floor.is_finite() { floor } else { 0.0 };
        self.campaigns
            .entry(id)
            .and_modify(|(_, weight_now)| *weight_now = weight(priority))
            .or_insert((start, weight(priority)));
    }

    /// Keeps only the campaigns in `ids`.
    pub fn retain(&mut self, ids: &HashSet<i64>) {
        self.campaigns.retain(|id, _| ids.contains(id));
    }

    /// The campaigns in the order they get their next call: lowest pass first, then
    /// lowest id.
    pub fn order(&self) -> Vec<i64> {
        let mut order: Vec<(f64, i64)> = self
            .campaigns
            .iter()
            .map(|(id, (pass, _))| (*pass, *id))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        order.into_iter().map(|(_, id)| id).collect()
    }

    /// Counts a call of campaign `id`.
    pub fn charge(&mut self, id: i64) {
        if let Some((pass, weight)) = self.campaigns.get_mut(&id) {
            *pass += 1.0 / *weight;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The campaigns of `shares` making `calls` calls between them, each to the first in
    /// the order that `may_call` lets call; how many each made.
    fn dial(
        shares: &mut Shares,
        calls: usize,
        may_call: impl Fn(i64) -> bool,
    ) -> HashMap<i64, usize> {
        let mut made = HashMap::new();
        for _ in 0..calls {
            let Some(id) = shares.order().into_iter().find(|id| may_call(*id)) else {
                break;
            };
            shares.charge(id);
            *made.entry(id).or_default() += 1;
        }
        made
    }

    #[test]
    fn campaigns_share_the_calls_in_proportion_to_their_weights() {
        let mut shares = Shares::default();
        shares.set(1, 0);
        shares.set(2, 1);
        shares.set(3, -1);
        let made = dial(&mut shares, 700, |_| true);
        // Weights 1, 2 and 1/2: shares of 2/7, 4/7 and 1/7.
        assert_eq!((made[&1], made[&2], made[&3]), (200, 400, 100));
    }

    #[test]
    fn equal_priorities_take_turns_and_ties_go_to_the_lower_id() {
        let mut shares = Shares::default();
        shares.set(7, 0);
        shares.set(3, 0);
        let first: Vec<i64> = (0..4)
            .map(|_| {
                let id = shares.order()[0];
                shares.charge(id);
                id
            })
            .collect();
        assert_eq!(first, [3, 7, 3, 7]);
    }

    #[test]
    fn a_campaign_that_joins_late_starts_level_with_the_others() {
        let mut shares = Shares::default();
        shares.set(1, 0);
        dial(&mut shares, 1_000, |_| true);
        shares.set(2, 0);
        // Had it started at 0, campaign 2 would take the next 1,000 calls alone.
        let made = dial(&mut shares, 100, |_| true);
        assert_eq!((made[&1], made[&2]), (50, 50));
    }

    #[test]
    fn a_campaign_held_back_catches_up_on_its_share_then_shares_again() {
        let mut shares = Shares::default();
        shares.set(1, 0);
        shares.set(2, 0);
        // Campaign 2 cannot call for a while (its own rate, no ready rows).
        dial(&mut shares, 100, |id| id == 1);
        let made = dial(&mut shares, 100, |_| true);
        // It catches up on what it missed, and no further.
        assert_eq!(made.get(&1), None);
        assert_eq!(made[&2], 100);
        let made = dial(&mut shares, 100, |_| true);
        assert_eq!((made[&1], made[&2]), (50, 50));
    }

    #[test]
    fn a_new_priority_applies_from_the_next_call_and_gone_campaigns_leave() {
        let mut shares = Shares::default();
        shares.set(1, 0);
        shares.set(2, 0);
        shares.set(2, 2);
        let made = dial(&mut shares, 500, |_| true);
        assert_eq!((made[&1], made[&2]), (100, 400));
        shares.retain(&HashSet::from([2]));
        assert_eq!(shares.order(), [2]);
        assert_eq!(weight(20), weight(8));
    }
}
