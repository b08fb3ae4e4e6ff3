//! Reclassifying a suspect group of training samples by their nearest
//! neighbours in input space, outside the group.
//!
//! Activation clustering's exclusionary reclassification (Chen et al. 2018)
//! asks of a suspect cluster: without it, what would the rest of the data call
//! these samples? Dirty-label poison is made of inputs that belong to other
//! classes, so the answer is "not their label". The paper answers with a
//! retrained model; here a k-nearest-neighbour vote over the raw inputs of the
//! samples outside the group answers, which needs no training and reads the
//! inputs the way a person would (a digit 3 with a sticker is still closest to
//! other 3s).
//!
//! What the answer means depends on the data. Real and synthetic digit
//! classes are written in several styles, and a cluster that holds one style
//! is also often called another class once it is excluded (a closed 4 looks
//! like a 9). The two differ in where their samples come from: a style cluster
//! goes mostly to its own label or to one look-alike class, while the poison
//! of an all-to-one backdoor or of label flipping comes from many classes at
//! once. [`Reclassified::explained`] measures exactly that.

use crate::Dataset;

/// How a group's samples were reclassified: votes per class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclassified {
    /// Per class, how many of the group's samples the neighbours called it.
    pub counts: Vec<usize>,
}

impl Reclassified {
    /// Samples in the group.
    pub fn size(&self) -> usize {
        self.counts.iter().sum()
    }

    /// The share of the group called `class`; 0 for an empty group.
    pub fn share(&self, class: usize) -> f64 {
        let n = self.size();
        if n == 0 {
            return 0.0;
        }
        self.counts.get(class).copied().unwrap_or(0) as f64 / n as f64
    }

    /// The share called `own` or the single most common other class: near 1
    /// for a group drawn from its own class or from one other class, small for
    /// one assembled from many classes. 1 for an empty group.
    pub fn explained(&self, own: usize) -> f64 {
        if self.size() == 0 {
            return 1.0;
        }
        let other = (0..self.counts.len())
            .filter(|&c| c != own)
            .map(|c| self.share(c))
            .fold(0.0, f64::max);
        self.share(own) + other
    }
}

/// Reclassify the training samples at `group` by their nearest neighbours
/// outside the group: [`neighbour_labels`] with the group excluded, counted
/// per class.
///
/// # Panics
/// When a position in `group` is out of range (a programming error).
pub fn reclassify_by_neighbours(
    data: &Dataset,
    group: &[usize],
    k: usize,
    max_reference: usize,
) -> Reclassified {
    let mut excluded = vec![false; data.len()];
    for &i in group {
        excluded[i] = true;
    }
    let mut counts = vec![0; data.n_classes()];
    for c in neighbour_labels(data, group, &excluded, k, max_reference)
        .into_iter()
        .flatten()
    {
        counts[c] += 1;
    }
    Reclassified { counts }
}

/// The label a `k`-nearest-neighbour majority vote (squared Euclidean
/// distance over the raw features) gives each sample at `queries`, among the
/// samples of `data` not `excluded` (and never the query itself); `None` for
/// every query when no sample is left to vote. When more than `max_reference`
/// samples are eligible, every ⌈n / max_reference⌉-th of them (by position) is
/// the reference, which bounds the cost on large sets without a random draw.
/// Ties in distance go to the lower position; ties in the vote to the class of
/// the nearest voter among the tied classes.
///
/// # Panics
/// When `excluded` is not one flag per sample or a query is out of range (a
/// programming error).
pub fn neighbour_labels(
    data: &Dataset,
    queries: &[usize],
    excluded: &[bool],
    k: usize,
    max_reference: usize,
) -> Vec<Option<usize>> {
    assert_eq!(excluded.len(), data.len(), "one exclusion flag per sample");
    let eligible: Vec<usize> = (0..data.len()).filter(|&i| !excluded[i]).collect();
    let stride = eligible.len().div_ceil(max_reference.max(1)).max(1);
    let reference: Vec<usize> = eligible.into_iter().step_by(stride).collect();
    let norms: Vec<f32> = reference
        .iter()
        .map(|&j| data.sample(j).iter().map(|x| x * x).sum())
        .collect();
    let labels = data.labels();
    let mut nearest: Vec<(f32, usize)> = Vec::with_capacity(reference.len());
    let mut votes = vec![0usize; data.n_classes()];
    queries
        .iter()
        .map(|&i| {
            let x = data.sample(i);
            let own: f32 = x.iter().map(|v| v * v).sum();
            nearest.clear();
            nearest.extend(
                reference
                    .iter()
                    .zip(&norms)
                    .enumerate()
                    .filter(|&(_, (&j, _))| j != i)
                    .map(|(r, (&j, &nj))| {
                        let dot: f32 = x.iter().zip(data.sample(j)).map(|(a, b)| a * b).sum();
                        ((own + nj - 2.0 * dot).max(0.0), r)
                    }),
            );
            let k = k.max(1).min(nearest.len());
            if k == 0 {
                return None;
            }
            let order =
                |a: &(f32, usize), b: &(f32, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            nearest.select_nth_unstable_by(k - 1, order);
            let voters = &mut nearest[..k];
            voters.sort_by(order);
            votes.fill(0);
            for &(_, r) in voters.iter() {
                votes[labels[reference[r]]] += 1;
            }
            let top = votes.iter().copied().max().unwrap_or(0);
            voters
                .iter()
                .map(|&(_, r)| labels[reference[r]])
                .find(|&c| votes[c] == top)
        })
        .collect()
}

/// Most samples of the rest of a class reclassified for the baseline of
/// [`judge_group`]; beyond this, every n-th (by position).
pub const MAX_BASELINE_QUERIES: usize = 200;

/// What [`judge_group`] found out about a suspect group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupJudgement {
    /// [`Reclassified::explained`] of the suspect group.
    pub explained: f64,
    /// The same share for the rest of the class (reclassified with the
    /// suspects excluded, each sample without itself); computed only when the
    /// suspects' share is below the threshold.
    pub baseline: Option<f64>,
    /// True when the group counts as poison: `explained < threshold ×
    /// baseline`.
    pub poison: bool,
}

/// Judge a suspect group of class `class`: poison when its nearest
/// neighbours outside it explain less than `threshold` times as much of it
/// (by its own label or one other, [`Reclassified::explained`]) as they
/// explain of the rest of the class. Comparing with the rest of the class
/// keeps data on which nearest neighbours cannot tell the classes apart at
/// all (raw pixels of natural images) from making every group look
/// assembled from many classes. Groups of fewer than two samples are never
/// poison.
pub fn judge_group(
    data: &Dataset,
    class: usize,
    suspects: &[usize],
    rest: &[usize],
    k: usize,
    max_reference: usize,
    threshold: f64,
) -> GroupJudgement {
    let explained = reclassify_by_neighbours(data, suspects, k, max_reference).explained(class);
    if suspects.len() < 2 || explained >= threshold {
        return GroupJudgement {
            explained,
            baseline: None,
            poison: false,
        };
    }
    let mut excluded = vec![false; data.len()];
    for &i in suspects {
        excluded[i] = true;
    }
    let stride = rest.len().div_ceil(MAX_BASELINE_QUERIES).max(1);
    let queries: Vec<usize> = rest.iter().copied().step_by(stride).collect();
    let mut counts = vec![0; data.n_classes()];
    for c in neighbour_labels(data, &queries, &excluded, k, max_reference)
        .into_iter()
        .flatten()
    {
        counts[c] += 1;
    }
    let baseline = Reclassified { counts }.explained(class);
    GroupJudgement {
        explained,
        baseline: Some(baseline),
        poison: explained < threshold * baseline,
    }
}

/// Per member of class `class` (in `members`' order): true when its nearest
/// neighbours, outside `suspects` and other than itself, call it another
/// label. Used in a class judged poisoned to flag the poisons a clustering
/// left on the clean side and spare the genuine samples it put on the
/// suspect side.
pub fn called_elsewhere(
    data: &Dataset,
    class: usize,
    members: &[usize],
    suspects: &[usize],
    k: usize,
    max_reference: usize,
) -> Vec<bool> {
    let mut excluded = vec![false; data.len()];
    for &i in suspects {
        excluded[i] = true;
    }
    neighbour_labels(data, members, &excluded, k, max_reference)
        .into_iter()
        .map(|c| c.is_some_and(|c| c != class))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Class 0 near 0, class 1 near 10, class 2 near 20 (one feature, ten
    /// samples each), then three "poisons" labelled 0 that sit at 10, 20, 21.
    fn data() -> Dataset {
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for c in 0..3 {
            for k in 0..10 {
                features.push(10.0 * c as f32 + 0.1 * k as f32);
                labels.push(c);
            }
        }
        features.extend([10.05, 20.05, 21.0]);
        labels.extend([0, 0, 0]);
        Dataset::new(features, vec![1], labels, 3, None).unwrap()
    }

    #[test]
    fn a_group_from_other_classes_is_called_by_them() {
        let r = reclassify_by_neighbours(&data(), &[30, 31, 32], 3, 1000);
        assert_eq!(r.counts, [0, 1, 2]);
        assert_eq!(r.size(), 3);
        assert!((r.share(2) - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.explained(0) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_group_from_its_own_class_keeps_its_label() {
        let r = reclassify_by_neighbours(&data(), &[0, 1, 2], 3, 1000);
        assert_eq!(r.counts, [3, 0, 0]);
        assert_eq!(r.explained(0), 1.0);
    }

    #[test]
    fn the_reference_is_thinned_by_stride() {
        // 33 samples outside an empty group, at most 11 as reference: every
        // third, i.e. positions 0, 3, …, 30 — still enough to call sample 15
        // (class 1) correctly with one neighbour.
        let r = reclassify_by_neighbours(&data(), &[15], 1, 11);
        assert_eq!(r.counts, [0, 1, 0]);
    }

    #[test]
    fn a_scattered_group_is_poison_only_against_a_well_explained_class() {
        let d = data();
        let rest: Vec<usize> = (0..10).collect();
        let j = judge_group(&d, 0, &[30, 31, 32], &rest, 3, 1000, 0.9);
        // The suspects are called 1, 2, 2: explained 2/3; the rest of class 0
        // is all called 0: baseline 1.
        assert_eq!(j.baseline, Some(1.0));
        assert!(j.poison && (j.explained - 2.0 / 3.0).abs() < 1e-12);
        assert!(!judge_group(&d, 0, &[30, 31, 32], &rest, 3, 1000, 0.5).poison);
        // Too few suspects.
        assert!(!judge_group(&d, 0, &[30], &rest, 3, 1000, 0.9).poison);
        let called = called_elsewhere(&d, 0, &[0, 1, 30, 31, 32], &[30, 31, 32], 3, 1000);
        assert_eq!(called, [false, false, true, true, true]);
    }

    #[test]
    fn queries_never_vote_for_themselves() {
        // Sample 30 sits at 10.05 among class 1; with nothing excluded its
        // single nearest neighbour is a class-1 sample, not itself.
        let labels = neighbour_labels(&data(), &[30, 0], &[false; 33], 1, 1000);
        assert_eq!(labels, [Some(1), Some(0)]);
    }

    #[test]
    fn empty_group_and_empty_reference() {
        let r = reclassify_by_neighbours(&data(), &[], 3, 1000);
        assert_eq!((r.size(), r.explained(0), r.share(0)), (0, 1.0, 0.0));
        let all: Vec<usize> = (0..33).collect();
        let r = reclassify_by_neighbours(&data(), &all, 3, 1000);
        assert_eq!(r.size(), 0);
    }
}
