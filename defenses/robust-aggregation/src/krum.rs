//! Krum, Multi-Krum and Bulyan: aggregators that keep the updates closest
//! to their neighbours, scored on one pairwise squared-distance matrix.

use poisonlab_core::{
    Aggregated, BuildContext, Kind, ParamError, Rng, UpdateAggregator, UpdateRound,
};

use crate::common::{check_round, mean_of, median_of_sorted, per_coordinate, rows, weighted_mean};
use crate::pairwise::{Symmetric, squared_distances};
use crate::params::{bulyan_needed, krum_bound_of};
use crate::{AggregationError, BulyanParams, KrumParams, MultiKrumParams};

/// Krum scores of the members of `pool` (indices into `distances`): each
/// member's sum of squared distances to its k nearest other members, with
/// k = |pool| − f − 2, at least 1 while the pool has two members (Bulyan's
/// later picks shrink the pool below Krum's bound). Summed in ascending
/// order, so equal inputs give equal scores.
fn scores_in(distances: &Symmetric, pool: &[usize], f: usize) -> Vec<f64> {
    let others_count = pool.len().saturating_sub(1);
    let k = pool
        .len()
        .saturating_sub(f.saturating_add(2))
        .max(1)
        .min(others_count);
    let mut others = Vec::with_capacity(others_count);
    pool.iter()
        .map(|&i| {
            others.clear();
            others.extend(
                pool.iter()
                    .filter(|&&j| j != i)
                    .map(|&j| distances.get(i, j)),
            );
            others.sort_unstable_by(f64::total_cmp);
            others[..k].iter().sum()
        })
        .collect()
}

/// Positions 0..scores.len() from the lowest score to the highest, equal
/// scores in position order.
fn ranked(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    order
}

/// Every update's Krum score for a round of `updates` (checked) under f,
/// or the error when n ≤ 2f + 2.
fn krum_scores(
    kind: &'static str,
    updates: &[Vec<f32>],
    f: usize,
) -> Result<Vec<f64>, AggregationError> {
    let n = updates.len();
    let bound = krum_bound_of(f);
    if n <= bound {
        return Err(AggregationError::TooFewForKrum { kind, f, bound, n });
    }
    let distances = squared_distances(&rows(updates));
    let pool: Vec<usize> = (0..n).collect();
    Ok(scores_in(&distances, &pool, f))
}

/// The unweighted mean of the chosen updates, with the Krum scores as
/// suspicion and the updates left out flagged.
fn keep(updates: &[Vec<f32>], dim: usize, chosen: &[usize], scores: Vec<f64>) -> Aggregated {
    let mut weights = vec![0.0; updates.len()];
    for &i in chosen {
        weights[i] = 1.0;
    }
    let flagged = weights.iter().map(|&w| w == 0.0).collect();
    Aggregated {
        update: weighted_mean(&rows(updates), &weights, dim),
        suspicion: Some(scores),
        flagged: Some(flagged),
    }
}

// ---------------------------------------------------------------- krum

/// `krum` (Blanchard et al. 2017, "Machine Learning with Adversaries:
/// Byzantine Tolerant Gradient Descent"): with n updates of which up to f
/// may be malicious, update i's score is the sum of its squared Euclidean
/// distances to its n − f − 2 nearest other updates, and the update with
/// the lowest score is applied as it is. Needs n > 2f + 2.
///
/// Suspicion is the Krum score (higher = farther from its neighbours);
/// every update but the one selected is flagged. Unweighted by sample
/// counts, as in the paper. Equal scores are ranked by update order, so it
/// is deterministic; the `rng` is unused.
#[derive(Debug, Clone)]
pub struct Krum {
    params: KrumParams,
}

impl Krum {
    /// Every update's Krum score, in update order; fails like
    /// [`UpdateAggregator::aggregate`].
    pub fn scores(&self, round: &UpdateRound<'_>) -> Result<Vec<f64>, AggregationError> {
        check_round(round)?;
        krum_scores("krum", round.updates, self.params.f)
    }
}

impl Kind for Krum {
    type Params = KrumParams;

    fn build(params: KrumParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check(ctx)?;
        Ok(Self { params })
    }

    fn params(&self) -> &KrumParams {
        &self.params
    }

    fn describe(&self) -> String {
        format!("krum, f = {}", self.params.f)
    }
}

impl UpdateAggregator for Krum {
    type Error = AggregationError;

    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        _rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error> {
        let dim = check_round(&round)?;
        let scores = krum_scores("krum", round.updates, self.params.f)?;
        let best = ranked(&scores)[0];
        Ok(keep(round.updates, dim, &[best], scores))
    }
}

// ---------------------------------------------------------------- multi-krum

/// `multi-krum` (Blanchard et al. 2017, "Machine Learning with Adversaries:
/// Byzantine Tolerant Gradient Descent"): scores every update as
/// [`Krum`] does and applies the unweighted mean of the m lowest-scored
/// (m = n − f unless set). Needs n > 2f + 2 and m ≤ n.
///
/// Suspicion is the Krum score; the n − m updates left out are flagged.
/// Equal scores are ranked by update order, so it is deterministic; the
/// `rng` is unused.
#[derive(Debug, Clone)]
pub struct MultiKrum {
    params: MultiKrumParams,
}

impl MultiKrum {
    /// How many updates it averages of a round of `n`: `m`, or n − f.
    pub fn m(&self, n: usize) -> usize {
        self.params.m.unwrap_or(n.saturating_sub(self.params.f))
    }
}

impl Kind for MultiKrum {
    type Params = MultiKrumParams;

    fn build(params: MultiKrumParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check(ctx)?;
        Ok(Self { params })
    }

    fn params(&self) -> &MultiKrumParams {
        &self.params
    }

    fn describe(&self) -> String {
        match self.params.m {
            Some(m) => format!(
                "multi-krum, f = {}, averages the m = {m} best",
                self.params.f
            ),
            None => format!(
                "multi-krum, f = {}, averages the m = n − f best",
                self.params.f
            ),
        }
    }
}

impl UpdateAggregator for MultiKrum {
    type Error = AggregationError;

    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        _rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error> {
        let dim = check_round(&round)?;
        let n = round.updates.len();
        let scores = krum_scores("multi-krum", round.updates, self.params.f)?;
        let m = self.m(n);
        if m > n {
            return Err(AggregationError::SelectTooMany { m, n });
        }
        let chosen = &ranked(&scores)[..m];
        Ok(keep(round.updates, dim, chosen, scores))
    }
}

// ---------------------------------------------------------------- bulyan

/// `bulyan` (El Mhamdi et al. 2018, "The Hidden Vulnerability of
/// Distributed Learning in Byzantium"): with n updates of which up to f may
/// be malicious, n ≥ 4f + 3,
///
/// 1. selects θ = n − 2f updates by Krum applied again and again, each time
///    taking the best-scored update out of the pool (the squared distances
///    are computed once; a pool of m scores each member on its
///    max(1, m − f − 2) nearest others, since the later pools fall below
///    Krum's own bound);
/// 2. then, per coordinate, averages the β = θ − 2f values of the selected
///    updates closest to their median (the midpoint of the two middle values
///    for even θ; of two values equally close, the lower is taken first).
///
/// Suspicion is each update's Krum score on the whole round (the first
/// pick); the 2f updates not selected are flagged. Unweighted by sample
/// counts. Deterministic; the `rng` is unused.
#[derive(Debug, Clone)]
pub struct Bulyan {
    params: BulyanParams,
}

impl Bulyan {
    /// The updates it selects (step 1), in the order picked, with every
    /// update's first-pick Krum score; fails like
    /// [`UpdateAggregator::aggregate`].
    pub fn selected(
        &self,
        round: &UpdateRound<'_>,
    ) -> Result<(Vec<usize>, Vec<f64>), AggregationError> {
        check_round(round)?;
        let n = round.updates.len();
        let f = self.params.f;
        let needed = bulyan_needed(f);
        if n < needed {
            return Err(AggregationError::TooFewForBulyan { f, needed, n });
        }
        let theta = n - 2 * f;
        let distances = squared_distances(&rows(round.updates));
        let mut pool: Vec<usize> = (0..n).collect();
        let first = scores_in(&distances, &pool, f);
        let mut scores = first.clone();
        let mut chosen = Vec::with_capacity(theta);
        while chosen.len() < theta {
            // The pool stays in update order, so ties go to the lower index.
            let best = ranked(&scores)[0];
            chosen.push(pool.remove(best));
            scores = scores_in(&distances, &pool, f);
        }
        Ok((chosen, first))
    }
}

/// The mean of the `beta` values of `sorted` (ascending, finite, at least
/// `beta` ≥ 1 of them) closest to their median.
fn mean_closest_to_median(sorted: &[f32], beta: usize) -> f32 {
    let median = median_of_sorted(sorted);
    // Take a window [low, high) outwards from the median.
    let mut high = sorted.partition_point(|&v| f64::from(v) < median);
    let mut low = high;
    while high - low < beta {
        let below = low.checked_sub(1).map(|i| median - f64::from(sorted[i]));
        let above = sorted.get(high).map(|&v| f64::from(v) - median);
        match (below, above) {
            (Some(b), Some(a)) if b <= a => low -= 1,
            (Some(_), None) => low -= 1,
            (_, Some(_)) => high += 1,
            (None, None) => break,
        }
    }
    mean_of(&sorted[low..high])
}

impl Kind for Bulyan {
    type Params = BulyanParams;

    fn build(params: BulyanParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check(ctx)?;
        Ok(Self { params })
    }

    fn params(&self) -> &BulyanParams {
        &self.params
    }

    fn describe(&self) -> String {
        format!("bulyan, f = {}", self.params.f)
    }
}

impl UpdateAggregator for Bulyan {
    type Error = AggregationError;

    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        _rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error> {
        let dim = check_round(&round)?;
        let (chosen, scores) = self.selected(&round)?;
        let beta = chosen.len() - 2 * self.params.f;
        let picked: Vec<&[f32]> = chosen
            .iter()
            .map(|&i| round.updates[i].as_slice())
            .collect();
        let update = per_coordinate(&picked, dim, |column| {
            column.sort_unstable_by(f32::total_cmp);
            mean_closest_to_median(column, beta)
        });
        let mut flagged = vec![true; round.updates.len()];
        for &i in &chosen {
            flagged[i] = false;
        }
        Ok(Aggregated {
            update,
            suspicion: Some(scores),
            flagged: Some(flagged),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{column, ctx, rng, round};

    fn krum(f: usize) -> Krum {
        Krum::build(KrumParams { f }, &ctx()).unwrap()
    }

    fn multi(f: usize, m: Option<usize>) -> MultiKrum {
        MultiKrum::build(MultiKrumParams { f, m }, &ctx()).unwrap()
    }

    fn bulyan(f: usize) -> Bulyan {
        Bulyan::build(BulyanParams { f }, &ctx()).unwrap()
    }

    /// An honest cluster of four near the origin and one update far away.
    /// Squared distances: a–b 1, a–c 4, a–d 2, b–c 5, b–d 1, c–d 2, and e is
    /// 19602 from d, 19604 from c, 19801 from b, 20000 from a. With f = 1
    /// each update is scored on its n − f − 2 = 2 nearest others:
    /// a 1 + 2 = 3, b 1 + 1 = 2, c 2 + 4 = 6, d 1 + 2 = 3, e 19602 + 19604.
    fn cluster_and_outlier() -> Vec<Vec<f32>> {
        vec![
            vec![0.0, 0.0],
            vec![1.0, 0.0],
            vec![0.0, 2.0],
            vec![1.0, 1.0],
            vec![100.0, 100.0],
        ]
    }

    // ------------------------------------------------------------ krum

    #[test]
    fn krum_scores_each_update_on_its_nearest_others() {
        let r = round(&cluster_and_outlier());
        assert_eq!(
            krum(1).scores(&r.view()).unwrap(),
            [3.0, 2.0, 6.0, 3.0, 39206.0]
        );
    }

    #[test]
    fn krum_picks_the_honest_update_with_the_closest_neighbours() {
        let r = round(&cluster_and_outlier());
        let got = krum(1).aggregate(r.view(), &mut rng()).unwrap();
        assert_eq!(got.update, [1.0, 0.0]);
        assert_eq!(got.suspicion.unwrap(), [3.0, 2.0, 6.0, 3.0, 39206.0]);
        assert_eq!(got.flagged.unwrap(), [true, false, true, true, true]);
    }

    #[test]
    fn krum_breaks_ties_by_lower_index() {
        // The unit square's corners all score 1 + 1 = 2 (f = 1).
        let mut updates = vec![
            vec![0.0, 0.0],
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![1.0, 1.0],
            vec![100.0, 100.0],
        ];
        let got = krum(1)
            .aggregate(round(&updates).view(), &mut rng())
            .unwrap();
        assert_eq!(got.update, [0.0, 0.0]);
        updates.rotate_right(1);
        let got = krum(1)
            .aggregate(round(&updates).view(), &mut rng())
            .unwrap();
        assert_eq!(got.update, [0.0, 0.0]);
        assert_eq!(got.flagged.unwrap(), [true, false, true, true, true]);
    }

    #[test]
    fn krum_refuses_a_round_of_at_most_2f_plus_2_updates() {
        let four = column(&[1.0, 2.0, 3.0, 4.0]);
        let e = krum(1)
            .aggregate(round(&four).view(), &mut rng())
            .unwrap_err();
        assert_eq!(
            e,
            AggregationError::TooFewForKrum {
                kind: "krum",
                f: 1,
                bound: 4,
                n: 4
            }
        );
        assert_eq!(
            e.to_string(),
            "krum with f = 1 needs more than 2f + 2 = 4 updates in a round, got 4"
        );
        // f = 0 needs 3; with n = 4 each update is scored on its 2 nearest
        // others: 1 → 1 + 4 = 5, 2 → 1 + 1 = 2, 3 → 1 + 1 = 2, 4 → 1 + 4 = 5;
        // updates 1 and 2 tie and the lower index wins.
        let got = krum(0).aggregate(round(&four).view(), &mut rng()).unwrap();
        assert_eq!(got.suspicion.unwrap(), [5.0, 2.0, 2.0, 5.0]);
        assert_eq!(got.update, [2.0]);
        // A huge f saturates instead of overflowing.
        let e = krum(usize::MAX)
            .aggregate(round(&four).view(), &mut rng())
            .unwrap_err();
        assert!(matches!(
            e,
            AggregationError::TooFewForKrum {
                bound: usize::MAX,
                ..
            }
        ));
    }

    // ------------------------------------------------------------ multi-krum

    #[test]
    fn multi_krum_averages_the_m_best_with_equal_scores_in_update_order() {
        let updates = cluster_and_outlier();
        let r = round(&updates);
        // Scores b 2, then a and d 3 (a first: lower index), c 6, e.
        let got = multi(1, Some(2)).aggregate(r.view(), &mut rng()).unwrap();
        // mean(b, a) = (0.5, 0).
        assert_eq!(got.update, [0.5, 0.0]);
        assert_eq!(got.flagged.unwrap(), [false, false, true, true, true]);
        let got = multi(1, Some(3)).aggregate(r.view(), &mut rng()).unwrap();
        // mean(b, a, d) = (2 / 3, 1 / 3).
        let want = [(2.0f64 / 3.0) as f32, (1.0f64 / 3.0) as f32];
        assert_eq!(got.update, want);
        // The default m = n − f = 4 leaves out only e: mean(a, b, c, d) = (0.5, 0.75).
        let got = multi(1, None).aggregate(r.view(), &mut rng()).unwrap();
        assert_eq!(got.update, [0.5, 0.75]);
        assert_eq!(got.flagged.unwrap(), [false, false, false, false, true]);
        assert_eq!(got.suspicion.unwrap(), [3.0, 2.0, 6.0, 3.0, 39206.0]);
        // All five: the mean.
        let got = multi(1, Some(5)).aggregate(r.view(), &mut rng()).unwrap();
        assert_eq!(got.update, [20.4, 20.6]);
    }

    #[test]
    fn multi_krum_cannot_average_more_than_the_round_holds() {
        let r = round(&cluster_and_outlier());
        let e = multi(1, Some(6))
            .aggregate(r.view(), &mut rng())
            .unwrap_err();
        assert_eq!(e, AggregationError::SelectTooMany { m: 6, n: 5 });
        assert_eq!(
            e.to_string(),
            "multi-krum averages m = 6 updates but the round has only 5; m must be at most n"
        );
        let e = multi(2, None).aggregate(r.view(), &mut rng()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "multi-krum with f = 2 needs more than 2f + 2 = 6 updates in a round, got 5"
        );
    }

    // ------------------------------------------------------------ bulyan

    #[test]
    fn bulyan_selects_by_repeated_krum_then_averages_around_the_median() {
        // f = 1, n = 7 = 4f + 3: θ = 5 selected, β = 3 averaged per coordinate.
        // Five honest updates on a line and two far ones.
        let updates = vec![
            vec![0.0, 10.0],
            vec![1.0, 14.0],
            vec![2.0, 11.0],
            vec![3.0, 13.0],
            vec![4.0, 12.0],
            vec![100.0, -100.0],
            vec![-90.0, 90.0],
        ];
        let r = round(&updates);
        let (chosen, first) = bulyan(1).selected(&r.view()).unwrap();
        // First pick over all 7, each scored on its 7 − 3 = 4 nearest others.
        // Squared distances among the five (x gap², y gap²):
        //   0–1 1+16=17, 0–2 4+1=5, 0–3 9+9=18, 0–4 16+4=20,
        //   1–2 1+9=10, 1–3 4+1=5, 1–4 9+4=13, 2–3 1+4=5, 2–4 4+1=5, 3–4 1+1=2.
        // Scores: 0: 5+17+18+20 = 60, 1: 5+10+13+17 = 45, 2: 5+5+5+10 = 25,
        // 3: 2+5+5+18 = 30, 4: 2+5+13+20 = 40; 5 and 6 are thousands away.
        assert_eq!(&first[..5], [60.0, 45.0, 25.0, 30.0, 40.0]);
        assert!(first[5] > 1e4 && first[6] > 1e4);
        // Pick 2. Pool {0,1,3,4,5,6} (6 members, k = 3): 0: 17+18+20 = 55,
        // 1: 5+13+17 = 35, 3: 2+5+18 = 25, 4: 2+13+20 = 35 → 3.
        // Pool {0,1,4,5,6} (k = 2): 0: 17+20 = 37, 1: 13+17 = 30, 4: 13+20 = 33 → 1.
        // Pool {0,4,5,6} (k = max(0, 1) = 1): 0: 20, 4: 20 → 0 (lower index).
        // Pool {4,5,6} (k = 1): 4 and 6 are each other's nearest
        // (94² + 78² = 14920), closer than 5 to anyone; the lower index wins.
        assert_eq!(chosen, [2, 3, 1, 0, 4]);
        let got = bulyan(1).aggregate(r.view(), &mut rng()).unwrap();
        // x: 0 1 2 3 4, median 2, the 3 closest 1 2 3 → 2.
        // y: 10 11 12 13 14, median 12, the 3 closest 11 12 13 → 12.
        assert_eq!(got.update, [2.0, 12.0]);
        assert_eq!(
            got.flagged.unwrap(),
            [false, false, false, false, false, true, true]
        );
    }

    #[test]
    fn bulyan_takes_the_values_closest_to_the_median_not_the_middle_ranks() {
        // Sorted 0, 9, 10, 11, 30 (median 10, β = 3): 9, 10, 11 → 10. And
        // 0, 1, 2, 10, 11, 12 (median 6): distances 6 5 4 4 5 6 → 2 and 10
        // (tie) then 1 (the lower of 1 and 11 at distance 5): mean 13 / 3.
        assert_eq!(
            mean_closest_to_median(&[0.0, 9.0, 10.0, 11.0, 30.0], 3),
            10.0
        );
        assert_eq!(
            mean_closest_to_median(&[0.0, 1.0, 2.0, 10.0, 11.0, 12.0], 3),
            (13.0f64 / 3.0) as f32
        );
        // A skewed column: 0, 0, 1, 5, 6 (median 1): 1, 0, 0 → 1 / 3.
        assert_eq!(
            mean_closest_to_median(&[0.0, 0.0, 1.0, 5.0, 6.0], 3),
            (1.0f64 / 3.0) as f32
        );
    }

    #[test]
    fn bulyan_needs_4f_plus_3_updates() {
        let six = column(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let e = bulyan(1)
            .aggregate(round(&six).view(), &mut rng())
            .unwrap_err();
        assert_eq!(
            e,
            AggregationError::TooFewForBulyan {
                f: 1,
                needed: 7,
                n: 6
            }
        );
        assert_eq!(
            e.to_string(),
            "bulyan with f = 1 needs at least 4f + 3 = 7 updates in a round, got 6"
        );
        // f = 0 keeps everything and averages all values: the mean.
        let got = bulyan(0).aggregate(round(&six).view(), &mut rng()).unwrap();
        assert_eq!(got.update, [3.5]);
        assert_eq!(got.flagged.unwrap(), [false; 6]);
    }

    #[test]
    fn describes_itself_and_checks_the_bound_at_build_time() {
        assert_eq!(krum(1).describe(), "krum, f = 1");
        assert_eq!(
            multi(1, None).describe(),
            "multi-krum, f = 1, averages the m = n − f best"
        );
        assert_eq!(
            multi(2, Some(4)).describe(),
            "multi-krum, f = 2, averages the m = 4 best"
        );
        assert_eq!(bulyan(2).describe(), "bulyan, f = 2");
        let five = ctx().with_per_round(Some(5));
        let e = Krum::build(KrumParams { f: 2 }, &five).unwrap_err();
        assert_eq!(e[0].key, "f");
        assert_eq!(
            e[0].message,
            "krum needs per-round > 2f + 2: with per-round = 5, f must be at most 1, got 2"
        );
        assert!(MultiKrum::build(MultiKrumParams { f: 2, m: None }, &five).is_err());
        assert!(Bulyan::build(BulyanParams { f: 1 }, &five).is_err());
        assert!(Bulyan::build(BulyanParams { f: 0 }, &five).is_ok());
    }
}
