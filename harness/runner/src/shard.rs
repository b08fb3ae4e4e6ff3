//! Cutting a sweep into shards (`run --shard I/N`) and the scenario's
//! fingerprint, which keys resuming and merging.
//!
//! A shard is a contiguous slice of the plan (sweep point × repeat, in plan
//! order). Slices are balanced by each run's estimated cost
//! ([`crate::estimate::run_seconds`]): where every run costs the same they
//! hold ⌊n/N⌋ or ⌈n/N⌉ runs; where the plan mixes models (a CNN run costs
//! thirty MLP runs) a slice holds fewer of the dear runs. The cut is a pure
//! function of the scenario, so every task of a job array computes the same
//! slices.

use std::fmt;
use std::ops::Range;

use poisonlab_integrity::dataset_root;
use poisonlab_results::RECORD_SCHEMA;
use poisonlab_scenario::Scenario;
use sha2::{Digest, Sha256};

use crate::data::LoadedData;

/// Shard `index` of `count` (1 ≤ index ≤ count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// From 1.
    pub index: usize,
    /// How many shards the sweep is cut into.
    pub count: usize,
}

impl Shard {
    /// Read `I/N`: both whole numbers, 1 ≤ I ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = |why: &str| format!("--shard {text:?}: {why}");
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| bad("expected I/N, e.g. 3/8"))?;
        let number = |s: &str| s.trim().parse::<usize>().ok();
        let (Some(index), Some(count)) = (number(i), number(n)) else {
            return Err(bad("I and N must be whole numbers, e.g. 3/8"));
        };
        Shard::new(index, count).map_err(|why| bad(&why))
    }

    /// Shard `index` of `count`, checked.
    pub fn new(index: usize, count: usize) -> Result<Shard, String> {
        if count == 0 {
            return Err("N must be at least 1".into());
        }
        if index == 0 || index > count {
            return Err(format!("I must be from 1 to N = {count}, got {index}"));
        }
        Ok(Shard { index, count })
    }

    /// The folder name of this shard inside a scenario's results folder.
    pub fn folder_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }

    /// This shard's slice of a plan whose runs cost `costs` (in plan order).
    pub fn slice(&self, costs: &[f64]) -> Range<usize> {
        let bounds = bounds(costs, self.count);
        bounds[self.index - 1]..bounds[self.index]
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The `count + 1` slice bounds of a plan: bound k is the plan position
/// whose cost so far is nearest to k/count of the total (ties to the
/// earlier position), never before bound k−1.
fn bounds(costs: &[f64], count: usize) -> Vec<usize> {
    let mut prefix = Vec::with_capacity(costs.len() + 1);
    prefix.push(0.0);
    for c in costs {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + c.max(0.0));
    }
    let total = prefix.last().copied().unwrap_or(0.0);
    let mut out = vec![0usize; count + 1];
    out[count] = costs.len();
    let mut at = 0;
    for (k, bound) in out.iter_mut().enumerate().take(count).skip(1) {
        let target = total * k as f64 / count as f64;
        while at < costs.len() && (prefix[at + 1] - target).abs() < (prefix[at] - target).abs() {
            at += 1;
        }
        *bound = at;
    }
    out
}

/// The scenario's fingerprint: SHA-256 (hex) of the record schema and the
/// resolved scenario with its data identified by content — the Merkle roots
/// of the loaded training, test and trusted sets instead of file paths
/// ([`Scenario::fingerprint_text`]) — so the same scenario on the same data
/// has the same fingerprint from any checkout or mount point, and another
/// scenario, data set or poisonlab version has another.
pub fn fingerprint(scenario: &Scenario, data: &LoadedData) -> String {
    let mut content = vec![
        ("train", data.train_root.clone()),
        ("test", dataset_root(&data.test)),
    ];
    if let Some(t) = &data.trusted {
        content.push(("trusted", dataset_root(t)));
    }
    let text = scenario.fingerprint_text(&data.loaded(), &content);
    let mut hasher = Sha256::new();
    hasher.update(format!("poisonlab fingerprint\nrecord-schema = {RECORD_SCHEMA}\n").as_bytes());
    hasher.update(text.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_arguments_are_checked() {
        assert_eq!(Shard::parse("3/8"), Ok(Shard { index: 3, count: 8 }));
        assert_eq!(Shard::parse("1/1"), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/4", "5/4", "a/b", "3", "1/0", "-1/4", "2/4/1", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(Shard::parse("5/4").unwrap_err().contains("from 1 to N = 4"));
    }

    #[test]
    fn equal_costs_cut_into_slices_of_floor_or_ceil_and_cover_the_plan_once() {
        for n_runs in 0..20 {
            let costs = vec![1.0; n_runs];
            for count in 1..=7 {
                let mut covered = Vec::new();
                for index in 1..=count {
                    let s = Shard { index, count }.slice(&costs);
                    assert!(
                        s.len() == n_runs / count || s.len() == n_runs.div_ceil(count),
                        "{n_runs} runs, shard {index}/{count}: {s:?}"
                    );
                    covered.extend(s);
                }
                assert_eq!(covered, (0..n_runs).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn mixed_costs_balance_by_cost_not_by_count() {
        // Two dear runs (a CNN) then eight cheap ones (an MLP): two shards
        // split the cost, not the count.
        let mut costs = vec![4.0, 4.0];
        costs.extend([1.0; 8]);
        let a = Shard { index: 1, count: 2 }.slice(&costs);
        let b = Shard { index: 2, count: 2 }.slice(&costs);
        assert_eq!((a, b), (0..2, 2..10));
        let cost = |r: Range<usize>| costs[r].iter().sum::<f64>();
        assert_eq!(cost(0..2), cost(2..10));
    }
}
