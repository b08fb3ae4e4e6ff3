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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::Dataset;

/// How a group's samples were reclassified: votes per class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclassified {
    /// Per class, how many of the group's samples the neighbours called it.
    pub counts: Vec<usize>,
}

impl Reclassified {
    /// Samples reclassified: the group, or every n-th of a large one.
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

/// How many nearest neighbours [`Neighbours`] keeps per query: enough that
/// excluding a suspect group still leaves `k` of them in nearly every case
/// (the rest are recomputed).
pub const KEPT_NEIGHBOURS: usize = 64;

/// Queries whose neighbours are computed in one matrix product.
const QUERY_BLOCK: usize = 256;

/// Most members of a suspect group [`Neighbours::reclassify`] asks about;
/// beyond this, every n-th (by position). The group's share explained is a
/// proportion: a few hundred samples estimate it to within a few points, and
/// the cost stays flat on large classes.
pub const MAX_GROUP_QUERIES: usize = 200;

/// With [`Neighbours::ask_within`], most members of a class that groups and
/// baselines are judged by (every n-th by position): the groups of one class
/// (several clusterings, several directions) then share their queries.
pub const MAX_CLASS_QUERIES: usize = 600;

/// Fewest members of a group asked about within the class's shared sample;
/// a group with fewer there is sampled on its own.
const MIN_SHARED_QUERIES: usize = 30;

/// The nearest neighbours (squared Euclidean distance over the raw features)
/// of query samples among the samples of a dataset, computed once per query
/// (when first needed, many queries per matrix product) so that many
/// exclusions can be tried cheaply.
///
/// The reference is every sample of `data` (every ⌈n / max_reference⌉-th
/// by position when there are more than `max_reference`, which bounds the
/// cost on large sets without a random draw), never the query itself. Each
/// query keeps its [`KEPT_NEIGHBOURS`] nearest, ties in distance to the lower
/// position; when an exclusion leaves fewer than `k` of them, its neighbours
/// are recomputed over the whole reference.
///
/// The reference samples are copied into a matrix for the products (for
/// 60 000 MNIST images and 5 000 reference samples, 16 MB); indexes of one
/// dataset that exist at the same time can share it ([`SharedReferences`]).
pub struct Neighbours<'a> {
    data: &'a Dataset,
    /// The reference samples and the neighbours found among them so far,
    /// shared with the other indexes on the same reference.
    reference: Arc<Reference>,
    /// The members groups are judged by, when set ([`Neighbours::ask_within`]).
    askable: Option<Vec<bool>>,
}

/// The reference samples of a [`Neighbours`] index: their positions, their
/// squared norms and their rows as a matrix; and the kept neighbours of
/// every query indexed against them so far, by any index holding this
/// reference (a query's kept neighbours depend only on the data, the
/// reference and the query, so whichever index computes them first, the
/// others read the same list).
#[derive(Debug)]
struct Reference {
    positions: Vec<usize>,
    norms: Vec<f32>,
    /// The reference samples as the rows of a matrix, for the blocked products.
    rows: nalgebra::DMatrix<f32>,
    /// Each indexed query's [`KEPT_NEIGHBOURS`] nearest reference samples,
    /// nearest first, as positions alone (the vote needs no distance) in
    /// `u32`s: a quarter of `(distance, position)` pairs, on sets where
    /// tens of thousands of queries are indexed.
    kept: Mutex<HashMap<usize, Arc<[u32]>>>,
}

impl Reference {
    /// Every sample of `data`, or every ⌈n / max_reference⌉-th.
    fn build(data: &Dataset, max_reference: usize) -> Self {
        let n = data.len();
        let stride = n.div_ceil(max_reference.max(1)).max(1);
        let positions: Vec<usize> = (0..n).step_by(stride).collect();
        let norms = positions
            .iter()
            .map(|&j| dot(data.sample(j), data.sample(j)))
            .collect();
        let dim = data.dim();
        let rows =
            nalgebra::DMatrix::from_fn(positions.len(), dim, |r, c| data.sample(positions[r])[c]);
        Self {
            positions,
            norms,
            rows,
            kept: Mutex::default(),
        }
    }

    /// The kept neighbours, locked.
    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Arc<[u32]>>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The reference samples of the [`Neighbours`] indexes of one dataset, made
/// once for the indexes that exist at the same time (defenses inspecting
/// the same training set on several threads) and dropped with the last of
/// them: indexes built one after another each make their own, so sharing
/// never holds memory longer than an index does.
pub struct SharedReferences<'a> {
    data: &'a Dataset,
    /// By `max_reference`: the reference while some index holds it.
    made: Mutex<Vec<(usize, Weak<Reference>)>>,
}

impl<'a> SharedReferences<'a> {
    /// Nothing made yet, for indexes of `data`.
    pub fn new(data: &'a Dataset) -> Self {
        Self {
            data,
            made: Mutex::new(Vec::new()),
        }
    }

    /// The dataset the references are of.
    pub fn data(&self) -> &'a Dataset {
        self.data
    }

    /// The reference for `max_reference`: the one an index still holds, or
    /// a new one.
    fn get(&self, max_reference: usize) -> Arc<Reference> {
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(reference) = made
            .iter()
            .filter(|(m, _)| *m == max_reference)
            .find_map(|(_, r)| r.upgrade())
        {
            return reference;
        }
        let reference = Arc::new(Reference::build(self.data, max_reference));
        made.retain(|(_, r)| r.strong_count() > 0);
        made.push((max_reference, Arc::downgrade(&reference)));
        reference
    }
}

impl<'a> Neighbours<'a> {
    /// Index the nearest neighbours of the samples at `queries` now; other
    /// samples are indexed when first asked about.
    ///
    /// # Panics
    /// When a query is out of range (a programming error), or `data` holds
    /// more than `u32::MAX` samples.
    pub fn new(data: &'a Dataset, queries: &[usize], max_reference: usize) -> Self {
        Self::with_reference(
            data,
            Arc::new(Reference::build(data, max_reference)),
            queries,
        )
    }

    /// [`Neighbours::new`] for the dataset of `shared`, with the reference
    /// samples of the other indexes of it that exist now (the same samples
    /// [`Neighbours::new`] takes, so the same neighbours).
    ///
    /// # Panics
    /// As [`Neighbours::new`].
    pub fn shared(shared: &SharedReferences<'a>, queries: &[usize], max_reference: usize) -> Self {
        Self::with_reference(shared.data, shared.get(max_reference), queries)
    }

    fn with_reference(data: &'a Dataset, reference: Arc<Reference>, queries: &[usize]) -> Self {
        let n = data.len();
        assert!(
            u32::try_from(n).is_ok(),
            "{n} samples: positions beyond u32"
        );
        let index = Self {
            data,
            reference,
            askable: None,
        };
        index.ensure(queries);
        index
    }

    /// From now on, judge groups and baselines by at most
    /// [`MAX_CLASS_QUERIES`] of `members` (one class, every n-th by position)
    /// wherever a group has at least a few of them, so that the many
    /// overlapping groups of one class ask about the same samples instead of
    /// each its own. One index serves every class: call this per class.
    pub fn ask_within(&mut self, members: &[usize]) {
        let stride = members.len().div_ceil(MAX_CLASS_QUERIES).max(1);
        let mut mask = vec![false; self.data.len()];
        for &i in members.iter().step_by(stride) {
            mask[i] = true;
        }
        self.askable = Some(mask);
    }

    /// The members of `group` to ask about: those in the shared sample when
    /// it holds enough of them, else the group itself; at most `cap`, every
    /// n-th by position.
    fn asked(&self, group: &[usize], cap: usize) -> Vec<usize> {
        let shared: Vec<usize> = match &self.askable {
            Some(mask) => group.iter().copied().filter(|&i| mask[i]).collect(),
            None => Vec::new(),
        };
        let from = if shared.len() >= MIN_SHARED_QUERIES.min(group.len()) && !shared.is_empty() {
            &shared[..]
        } else {
            group
        };
        let stride = from.len().div_ceil(cap).max(1);
        from.iter().copied().step_by(stride).collect()
    }

    /// Compute the kept neighbours of every sample at `queries` not yet
    /// indexed (by this index or another on the same reference). Two indexes
    /// on two threads may compute the same query at once; both find the
    /// same list.
    fn ensure(&self, queries: &[usize]) {
        let missing: Vec<usize> = {
            let kept = self.reference.kept();
            let mut seen = std::collections::HashSet::new();
            queries
                .iter()
                .copied()
                .filter(|i| !kept.contains_key(i) && seen.insert(*i))
                .collect()
        };
        let mut scratch = Vec::with_capacity(self.reference.positions.len());
        for block in missing.chunks(QUERY_BLOCK) {
            let dots = self.dots(block);
            let found: Vec<(usize, Arc<[u32]>)> = block
                .iter()
                .enumerate()
                .map(|(b, &i)| {
                    let near = self.nearest(i, &dots, b, &|_| false, KEPT_NEIGHBOURS, &mut scratch);
                    // Positions are below `data.len()`, checked to fit a u32 in `new`.
                    (i, near.iter().map(|&(_, j)| j as u32).collect())
                })
                .collect();
            let mut kept = self.reference.kept();
            for (i, near) in found {
                kept.entry(i).or_insert(near);
            }
        }
    }

    /// Dot products of the samples at `block` with every reference sample, in
    /// one matrix product: `[references, block]`.
    fn dots(&self, block: &[usize]) -> nalgebra::DMatrix<f32> {
        let dim = self.data.dim();
        // Column-major dim × block: each column one query sample.
        let mut columns = Vec::with_capacity(dim * block.len());
        for &i in block {
            columns.extend_from_slice(self.data.sample(i));
        }
        &self.reference.rows * nalgebra::DMatrix::from_column_slice(dim, block.len(), &columns)
    }

    /// The `m` nearest reference samples to sample `i` (not `i`, none
    /// `excluded`), nearest first, from column `b` of `dots`: squared distances
    /// `‖x‖² + ‖r‖² − 2 x·r`.
    fn nearest(
        &self,
        i: usize,
        dots: &nalgebra::DMatrix<f32>,
        b: usize,
        excluded: &dyn Fn(usize) -> bool,
        m: usize,
        scratch: &mut Vec<(f32, usize)>,
    ) -> Vec<(f32, usize)> {
        let x = self.data.sample(i);
        let own = dot(x, x);
        scratch.clear();
        scratch.extend(
            self.reference
                .positions
                .iter()
                .zip(&self.reference.norms)
                .zip(dots.column(b).iter())
                .filter(|&((&j, _), _)| j != i && !excluded(j))
                .map(|((&j, &nj), &g)| ((own + nj - 2.0 * g).max(0.0), j)),
        );
        let m = m.min(scratch.len());
        if m > 0 && m < scratch.len() {
            scratch.select_nth_unstable_by(m - 1, order);
        }
        let mut near = scratch[..m].to_vec();
        near.sort_by(order);
        near
    }

    /// The label a `k`-nearest-neighbour majority vote gives sample `i`
    /// among the reference samples not `excluded` (and not `i`); ties in the
    /// vote go to the class of the nearest voter among the tied classes.
    /// `None` when no sample is left to vote.
    pub fn label(&self, i: usize, excluded: &[bool], k: usize) -> Option<usize> {
        self.labels(&[i], excluded, k)[0]
    }

    /// [`Neighbours::label`] of each sample at `queries`. Queries whose kept
    /// neighbours the exclusion thins below `k` are recomputed over the whole
    /// reference, a block per matrix product.
    pub fn labels(&self, queries: &[usize], excluded: &[bool], k: usize) -> Vec<Option<usize>> {
        let k = k.max(1);
        self.ensure(queries);
        let mut out = vec![None; queries.len()];
        let mut recompute = Vec::new();
        {
            let lists: Vec<Arc<[u32]>> = {
                let kept = self.reference.kept();
                queries.iter().map(|i| Arc::clone(&kept[i])).collect()
            };
            for (q, list) in lists.iter().enumerate() {
                let voters: Vec<usize> = list
                    .iter()
                    .map(|&j| j as usize)
                    .filter(|&j| !excluded[j])
                    .take(k)
                    .collect();
                if voters.len() == k {
                    out[q] = self.vote(&voters);
                } else {
                    recompute.push(q);
                }
            }
        }
        let mut scratch = Vec::with_capacity(self.reference.positions.len());
        for block in recompute.chunks(QUERY_BLOCK) {
            let samples: Vec<usize> = block.iter().map(|&q| queries[q]).collect();
            let dots = self.dots(&samples);
            for (b, &q) in block.iter().enumerate() {
                let voters = self.nearest(queries[q], &dots, b, &|j| excluded[j], k, &mut scratch);
                let voters: Vec<usize> = voters.iter().map(|&(_, j)| j).collect();
                out[q] = self.vote(&voters);
            }
        }
        out
    }

    /// The majority label of `voters` (positions, nearest first); ties go to
    /// the class of the nearest voter among the tied classes. `None` without
    /// voters.
    fn vote(&self, voters: &[usize]) -> Option<usize> {
        let labels = self.data.labels();
        let mut votes = vec![0usize; self.data.n_classes()];
        for &j in voters {
            votes[labels[j]] += 1;
        }
        let top = votes.iter().copied().max().unwrap_or(0);
        voters.iter().map(|&j| labels[j]).find(|&c| votes[c] == top)
    }

    /// How the samples at `group` are reclassified with the group excluded:
    /// votes per class, from at most [`MAX_GROUP_QUERIES`] of its members
    /// (every n-th by position; within the class's shared sample when
    /// [`Neighbours::ask_within`] set one and it holds enough of the group).
    pub fn reclassify(&self, group: &[usize], k: usize) -> Reclassified {
        let excluded = mask(self.data.len(), group);
        let asked = self.asked(group, MAX_GROUP_QUERIES);
        let mut counts = vec![0; self.data.n_classes()];
        for c in self.labels(&asked, &excluded, k).into_iter().flatten() {
            counts[c] += 1;
        }
        Reclassified { counts }
    }
}

/// Distance order: nearer first, then lower position.
fn order(a: &(f32, usize), b: &(f32, usize)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// One flag per sample, set at `positions`.
fn mask(n: usize, positions: &[usize]) -> Vec<bool> {
    let mut m = vec![false; n];
    for &i in positions {
        m[i] = true;
    }
    m
}

/// The dot product in eight independent lanes, which the compiler turns into
/// vector instructions (a single running sum must stay in order and cannot).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Most samples of the rest of a class reclassified for the baseline of
/// [`judge_group`]; beyond this, every n-th (by position).
pub const MAX_BASELINE_QUERIES: usize = 200;

/// What [`judge_group`] found out about a suspect group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupJudgement {
    /// [`Reclassified::explained`] of the suspect group.
    pub explained: f64,
    /// The same share for the rest of the class, each sample reclassified by
    /// all the others (nothing excluded): how well neighbours explain this
    /// class at all. Computed only when the suspects' share is below the
    /// threshold.
    pub baseline: Option<f64>,
    /// True when the group counts as poison: `explained < threshold ×
    /// baseline`.
    pub poison: bool,
}

/// Judge a suspect group of class `class`: poison when its nearest
/// neighbours outside it explain less than `threshold` times as much of it
/// (by its own label or one other, [`Reclassified::explained`]) as all the
/// other samples explain of the rest of the class. Comparing with the rest
/// of the class
/// keeps data on which nearest neighbours cannot tell the classes apart at
/// all (raw pixels of natural images) from making every group look
/// assembled from many classes. Groups of fewer than two samples are never
/// poison. `index` must hold the group's and the rest's samples as queries.
pub fn judge_group(
    index: &Neighbours<'_>,
    class: usize,
    suspects: &[usize],
    rest: &[usize],
    k: usize,
    threshold: f64,
) -> GroupJudgement {
    let votes = index.reclassify(suspects, k);
    let explained = votes.explained(class);
    let none = GroupJudgement {
        explained,
        baseline: None,
        poison: false,
    };
    // The baseline is at most 1, so a group explained this well is clean.
    if suspects.len() < 2 || explained >= threshold {
        return none;
    }
    let excluded = vec![false; index.data.len()];
    let asked = index.asked(rest, MAX_BASELINE_QUERIES);
    let mut counts = vec![0; index.data.n_classes()];
    for c in index.labels(&asked, &excluded, k).into_iter().flatten() {
        counts[c] += 1;
    }
    let rest_votes = Reclassified { counts };
    let baseline = rest_votes.explained(class);
    let poison = explained < threshold * baseline;
    GroupJudgement {
        explained,
        baseline: Some(baseline),
        poison,
    }
}

/// Least share of the rest of a class called its own label for
/// [`resolve_single_source`] to judge a group of the class against it: the
/// neighbours must recognise the class (digits: 0.9–1.0). Where they cannot
/// (overlapping classes, raw pixels of natural images), leaving a group out
/// lowers its own label's share of the votes by the base rate alone, and
/// the evidence says nothing.
pub const MIN_SINGLE_SOURCE_BASELINE: f64 = 0.8;

/// A suspect group of one class, for [`resolve_single_source`].
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The class (training label) of the group.
    pub class: usize,
    /// The group's samples.
    pub members: Vec<usize>,
    /// The rest of the class.
    pub rest: Vec<usize>,
}

/// The share of `group` that its `k` nearest neighbours, outside the group
/// and outside `excluded`, call `class`.
fn own_support(
    index: &Neighbours<'_>,
    class: usize,
    group: &[usize],
    excluded: &[bool],
    k: usize,
) -> f64 {
    let mut out = excluded.to_vec();
    for &i in group {
        out[i] = true;
    }
    let asked = index.asked(group, MAX_GROUP_QUERIES);
    let labels = index.labels(&asked, &out, k);
    let n = labels.iter().flatten().count();
    if n == 0 {
        return 1.0;
    }
    labels.iter().flatten().filter(|&&c| c == class).count() as f64 / n as f64
}

/// Single-source evidence over every class at once: a group is poison when
/// the share of it its neighbours outside it call its own label is below
/// `threshold` times the share of the rest of its class called so (nothing
/// excluded). Poison taken from one source class (all-to-all or
/// source-specific backdoors, targeted flips) is called its source's label
/// by its neighbours and is explained by "own label plus one other", which
/// [`judge_group`] asks; here only the own label counts, so it is caught.
///
/// The source class's clean samples sit next to the poisons taken from
/// them, which carry the target's label, so the source class looks poisoned
/// too. The candidates are therefore judged greedily, most suspicious first,
/// each with `excluded` (poison found otherwise) and the groups already
/// accepted left out of the neighbours: once the poison is out of the
/// reference, its source class is called by its own label again. A group
/// is judged only while the rest of its class outside what is left out
/// holds at least half as many samples as it (the reference its own label
/// needs), and only against a baseline of at least
/// [`MIN_SINGLE_SOURCE_BASELINE`]. Most
/// suspicious is the largest contrast `baseline − own` (ties by class, then
/// first member): the poison's class is otherwise healthy (the rest of it
/// is called its own label), while the whole source class is contaminated
/// (its baseline is low too), so the poison group comes first.
///
/// Returns, per candidate (in the given order), the ratio it was judged by
/// (`own / baseline`, in [0, 1]; 1 when not suspicious at first sight) and
/// whether it was accepted as poison.
pub fn resolve_single_source(
    index: &Neighbours<'_>,
    candidates: &[Candidate],
    excluded: &[bool],
    k: usize,
    threshold: f64,
) -> Vec<(f64, bool)> {
    let n = index.data.len();
    let none = vec![false; n];
    let mut out: Vec<(f64, bool)> = vec![(1.0, false); candidates.len()];
    let mut baselines = vec![1.0; candidates.len()];
    let mut contrast = vec![0.0; candidates.len()];
    for (c, cand) in candidates.iter().enumerate() {
        if cand.members.len() < 2 {
            continue;
        }
        let own = own_support(index, cand.class, &cand.members, &none, k);
        if own >= threshold {
            continue; // the baseline is at most 1
        }
        let asked = index.asked(&cand.rest, MAX_BASELINE_QUERIES);
        let labels = index.labels(&asked, &none, k);
        let m = labels.iter().flatten().count();
        let baseline = if m == 0 {
            1.0
        } else {
            labels
                .iter()
                .flatten()
                .filter(|&&l| l == cand.class)
                .count() as f64
                / m as f64
        };
        baselines[c] = baseline;
        contrast[c] = baseline - own;
        out[c].0 = if baseline > 0.0 {
            (own / baseline).min(1.0)
        } else {
            1.0
        };
    }
    // A class whose rest its neighbours do not call its own label gives no
    // reference to measure a group against.
    let mut order: Vec<usize> = (0..candidates.len())
        .filter(|&c| out[c].0 < threshold && baselines[c] >= MIN_SINGLE_SOURCE_BASELINE)
        .collect();
    order.sort_by(|&a, &b| {
        contrast[b]
            .total_cmp(&contrast[a])
            .then(candidates[a].class.cmp(&candidates[b].class))
            .then(
                candidates[a]
                    .members
                    .first()
                    .cmp(&candidates[b].members.first()),
            )
    });
    let mut excluded = excluded.to_vec();
    for c in order {
        let cand = &candidates[c];
        // Its own label can only call a group whose class keeps a reference
        // outside it: at least half as many samples not yet left out.
        let left = cand.rest.iter().filter(|&&i| !excluded[i]).count();
        if 2 * left < cand.members.len() {
            continue;
        }
        let own = own_support(index, cand.class, &cand.members, &excluded, k);
        if own < threshold * baselines[c] {
            out[c].1 = true;
            for &i in &cand.members {
                excluded[i] = true;
            }
        }
    }
    out
}

/// Per member of class `class` (in `members`' order): true when its nearest
/// neighbours, outside `suspects` and other than itself, call it another
/// label. Used in a class judged poisoned to flag the poisons a clustering
/// left on the clean side and spare the genuine samples it put on the
/// suspect side.
pub fn called_elsewhere(
    index: &Neighbours<'_>,
    class: usize,
    members: &[usize],
    suspects: &[usize],
    k: usize,
) -> Vec<bool> {
    let excluded = mask(index.data.len(), suspects);
    index
        .labels(members, &excluded, k)
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

    /// Class 0 at 0.0..2.0 (20 samples), class 1 at 10.0..10.4 and 12.0..12.4
    /// (ten each), class 2 at 20..22 (20), then ten poisons labelled 0 from
    /// the first ten of class 1 (at 10.05..10.45): a single-source backdoor.
    fn single_source() -> Dataset {
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for k in 0..20 {
            features.push(0.1 * k as f32);
            labels.push(0);
        }
        for k in 0..10 {
            features.push(10.0 + 0.04 * k as f32);
            labels.push(1);
        }
        for k in 0..10 {
            features.push(12.0 + 0.04 * k as f32);
            labels.push(1);
        }
        for k in 0..20 {
            features.push(20.0 + 0.1 * k as f32);
            labels.push(2);
        }
        for k in 0..10 {
            features.push(10.02 + 0.04 * k as f32);
            labels.push(0);
        }
        Dataset::new(features, vec![1], labels, 3, None).unwrap()
    }

    #[test]
    fn single_source_poison_is_found_and_its_source_spared() {
        let d = single_source();
        let all: Vec<usize> = (0..d.len()).collect();
        let index = Neighbours::new(&d, &all, 1000);
        let range = |a: usize, b: usize| (a..b).collect::<Vec<usize>>();
        let cat = |a: Vec<usize>, b: Vec<usize>| [a, b].concat();
        let candidates = [
            // The source class's samples next to the poison: called 0 by them.
            Candidate {
                class: 1,
                members: range(20, 30),
                rest: range(30, 40),
            },
            // The poison: called 1 by its neighbours outside it.
            Candidate {
                class: 0,
                members: range(60, 70),
                rest: range(0, 20),
            },
            // Half of the clean class 0: called 0 by the other half.
            Candidate {
                class: 0,
                members: range(0, 10),
                rest: cat(range(10, 20), range(60, 70)),
            },
        ];
        let judged = resolve_single_source(&index, &candidates, &vec![false; d.len()], 3, 0.1);
        let poison: Vec<bool> = judged.iter().map(|j| j.1).collect();
        assert_eq!(poison, [false, true, false], "{judged:?}");
        // The poison is fully called another label; the clean half is not suspicious.
        assert_eq!(judged[1].0, 0.0);
        assert_eq!(judged[2].0, 1.0);
        // Without the greedy order (the poison left out first) the source
        // class's group looks as poisoned as the poison itself.
        assert!(judged[0].0 < 0.1, "{judged:?}");
        // Turned off: nothing is poison.
        let off = resolve_single_source(&index, &candidates, &vec![false; d.len()], 3, 0.0);
        assert!(off.iter().all(|j| !j.1));
    }

    fn reclassify(d: &Dataset, group: &[usize], k: usize, max_reference: usize) -> Reclassified {
        Neighbours::new(d, group, max_reference).reclassify(group, k)
    }

    #[test]
    fn a_group_from_other_classes_is_called_by_them() {
        let r = reclassify(&data(), &[30, 31, 32], 3, 1000);
        assert_eq!(r.counts, [0, 1, 2]);
        assert_eq!(r.size(), 3);
        assert!((r.share(2) - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.explained(0) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_group_from_its_own_class_keeps_its_label() {
        let r = reclassify(&data(), &[0, 1, 2], 3, 1000);
        assert_eq!(r.counts, [3, 0, 0]);
        assert_eq!(r.explained(0), 1.0);
    }

    #[test]
    fn the_reference_is_thinned_by_stride() {
        // 33 samples, at most 11 as reference: every third, i.e. positions
        // 0, 3, …, 30 — still enough to call sample 15 (class 1) correctly
        // with one neighbour.
        let r = reclassify(&data(), &[15], 1, 11);
        assert_eq!(r.counts, [0, 1, 0]);
    }

    #[test]
    fn a_scattered_group_is_poison_only_against_a_well_explained_class() {
        let d = data();
        let rest: Vec<usize> = (0..10).collect();
        let queries: Vec<usize> = (0..10).chain(30..33).collect();
        let index = Neighbours::new(&d, &queries, 1000);
        let j = judge_group(&index, 0, &[30, 31, 32], &rest, 3, 0.9);
        // The suspects are called 1, 2, 2: explained 2/3; the rest of class 0
        // is all called 0: baseline 1.
        assert_eq!(j.baseline, Some(1.0));
        assert!(j.poison && (j.explained - 2.0 / 3.0).abs() < 1e-12);
        assert!(!judge_group(&index, 0, &[30, 31, 32], &rest, 3, 0.5).poison);
        // Too few suspects.
        assert!(!judge_group(&index, 0, &[30], &rest, 3, 0.9).poison);
        let called = called_elsewhere(&index, 0, &[0, 1, 30, 31, 32], &[30, 31, 32], 3);
        assert_eq!(called, [false, false, true, true, true]);
    }

    /// Indexes on one shared reference hold one matrix and one set of kept
    /// neighbours, whoever asked first, and vote exactly as an index of
    /// their own: with and without exclusions, for a thinned reference too.
    #[test]
    fn shared_indexes_share_the_reference_and_the_kept_neighbours() {
        let d = data();
        let all: Vec<usize> = (0..d.len()).collect();
        // One sharing for both reference sizes, the first size's indexes
        // still alive while the second's work: each keeps its own neighbours.
        let shared = SharedReferences::new(&d);
        let mut alive = Vec::new();
        for max_reference in [1000, 11] {
            let first = Neighbours::shared(&shared, &all[..20], max_reference);
            let second = Neighbours::shared(&shared, &[], max_reference);
            assert!(Arc::ptr_eq(&first.reference, &second.reference));
            // The second index asks nothing new for what the first indexed.
            assert_eq!(second.reference.kept().len(), 20);
            let own = Neighbours::new(&d, &[], max_reference);
            let mut excluded = vec![false; d.len()];
            for k in [1, 3, 5] {
                assert_eq!(
                    second.labels(&all, &excluded, k),
                    own.labels(&all, &excluded, k)
                );
                excluded[30 + k % 3] = true;
                excluded[k] = true;
                assert_eq!(
                    first.labels(&all, &excluded, k),
                    own.labels(&all, &excluded, k)
                );
            }
            assert_eq!(first.reference.kept().len(), d.len());
            alive.push((first, second));
        }
    }

    #[test]
    fn queries_never_vote_for_themselves() {
        // Sample 30 sits at 10.05 among class 1; with nothing excluded its
        // single nearest neighbour is a class-1 sample, not itself.
        let d = data();
        let index = Neighbours::new(&d, &[30, 0], 1000);
        let labels = [
            index.label(30, &[false; 33], 1),
            index.label(0, &[false; 33], 1),
        ];
        assert_eq!(labels, [Some(1), Some(0)]);
    }

    #[test]
    fn empty_group_and_empty_reference() {
        let r = reclassify(&data(), &[], 3, 1000);
        assert_eq!((r.size(), r.explained(0), r.share(0)), (0, 1.0, 0.0));
        let all: Vec<usize> = (0..33).collect();
        let r = reclassify(&data(), &all, 3, 1000);
        assert_eq!(r.size(), 0);
    }

    #[test]
    fn exclusions_beyond_the_kept_neighbours_are_recomputed() {
        // 100 samples of class 0 at 0.0..0.99 and one of class 1 at 50: with
        // the 99 nearest to sample 0 excluded, only the far one is left.
        let mut features: Vec<f32> = (0..100).map(|k| k as f32 / 100.0).collect();
        features.push(50.0);
        let mut labels = vec![0; 100];
        labels.push(1);
        let d = Dataset::new(features, vec![1], labels, 2, None).unwrap();
        let index = Neighbours::new(&d, &[0], 1000);
        let mut excluded = vec![true; 101];
        excluded[0] = false;
        excluded[100] = false;
        assert_eq!(index.label(0, &excluded, 3), Some(1));
        assert_eq!(index.label(0, &[false; 101], 3), Some(0));
    }

    #[test]
    fn eight_lane_dot_matches_the_plain_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
    }
}
