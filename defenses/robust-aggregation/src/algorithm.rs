use poisonlab_core::{BuildContext, Kind, ParamError, Rng, UpdateAggregator};

use crate::{AggregationError, KrumParams, MeanParams, MedianParams, TrimmedMeanParams};

/// Check what every aggregator needs of `updates`: at least one, all of one
/// length, every value finite. Returns the length.
fn check_updates(updates: &[Vec<f32>]) -> Result<usize, AggregationError> {
    let dim = updates.first().ok_or(AggregationError::NoUpdates)?.len();
    for (update, u) in updates.iter().enumerate() {
        if u.len() != dim {
            return Err(AggregationError::LengthMismatch {
                index: update,
                len: u.len(),
                expected: dim,
            });
        }
        if let Some((coordinate, &value)) = u.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(AggregationError::NonFinite {
                update,
                coordinate,
                value,
            });
        }
    }
    Ok(dim)
}

/// The mean of `values` (finite, at least one), summed in `f64` and rounded to
/// `f32` once. Kept within the values' range, so that rounding can never
/// leave it (the mean of n equal values is that value exactly).
fn mean_of(values: impl IntoIterator<Item = f32>) -> f32 {
    let (mut sum, mut count) = (0.0f64, 0usize);
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        let v = f64::from(v);
        sum += v;
        count += 1;
        low = low.min(v);
        high = high.max(v);
    }
    debug_assert!(count > 0, "the mean of no values");
    (sum / count as f64).clamp(low, high) as f32
}

/// Apply `f` to every coordinate's values, sorted ascending (the updates are
/// checked: finite, one length `dim`).
fn per_sorted_coordinate(
    updates: &[Vec<f32>],
    dim: usize,
    mut f: impl FnMut(&[f32]) -> f32,
) -> Vec<f32> {
    let mut column = vec![0.0f32; updates.len()];
    (0..dim)
        .map(|j| {
            for (c, u) in column.iter_mut().zip(updates) {
                *c = u[j];
            }
            column.sort_unstable_by(f32::total_cmp);
            f(&column)
        })
        .collect()
}

// ---------------------------------------------------------------- mean

/// The coordinate-wise mean of the updates: the server step of FedAvg
/// (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks
/// from Decentralized Data"), unweighted. Not robust: one update can move it
/// anywhere. Deterministic; the `rng` is unused.
#[derive(Debug, Clone, Default)]
pub struct Mean {
    params: MeanParams,
}

impl Mean {
    /// The mean aggregator (it has no parameters to check).
    pub fn new(params: MeanParams) -> Self {
        Self { params }
    }
}

impl Kind for Mean {
    type Params = MeanParams;

    fn build(params: MeanParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Ok(Self::new(params))
    }

    fn params(&self) -> &MeanParams {
        &self.params
    }

    fn describe(&self) -> String {
        "mean (FedAvg), coordinate-wise".into()
    }
}

impl UpdateAggregator for Mean {
    type Error = AggregationError;

    fn aggregate(&self, updates: &[Vec<f32>], _rng: &mut Rng) -> Result<Vec<f32>, Self::Error> {
        let dim = check_updates(updates)?;
        Ok((0..dim)
            .map(|j| mean_of(updates.iter().map(|u| u[j])))
            .collect())
    }
}

// ---------------------------------------------------------------- median

/// The coordinate-wise median of the updates (Yin et al. 2018,
/// "Byzantine-Robust Distributed Learning: Towards Optimal Statistical
/// Rates"); with an even count, the mean of the two middle values.
/// Deterministic; the `rng` is unused.
#[derive(Debug, Clone, Default)]
pub struct Median {
    params: MedianParams,
}

impl Median {
    /// The median aggregator (it has no parameters to check).
    pub fn new(params: MedianParams) -> Self {
        Self { params }
    }
}

impl Kind for Median {
    type Params = MedianParams;

    fn build(params: MedianParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Ok(Self::new(params))
    }

    fn params(&self) -> &MedianParams {
        &self.params
    }

    fn describe(&self) -> String {
        "median, coordinate-wise".into()
    }
}

impl UpdateAggregator for Median {
    type Error = AggregationError;

    fn aggregate(&self, updates: &[Vec<f32>], _rng: &mut Rng) -> Result<Vec<f32>, Self::Error> {
        let dim = check_updates(updates)?;
        let n = updates.len();
        Ok(per_sorted_coordinate(updates, dim, |sorted| {
            if n % 2 == 1 {
                sorted[n / 2]
            } else {
                // Exact in f64; one rounding to f32, which stays between the two.
                ((f64::from(sorted[n / 2 - 1]) + f64::from(sorted[n / 2])) / 2.0) as f32
            }
        }))
    }
}

// ---------------------------------------------------------------- trimmed mean

/// The coordinate-wise trimmed mean of the updates (Yin et al. 2018,
/// "Byzantine-Robust Distributed Learning: Towards Optimal Statistical
/// Rates"): for every coordinate, the ⌊trim · n⌋ smallest and as many largest
/// of the n values are removed and the rest averaged. Deterministic; the
/// `rng` is unused. Parameters are checked.
#[derive(Debug, Clone)]
pub struct TrimmedMean {
    params: TrimmedMeanParams,
}

impl TrimmedMean {
    /// The aggregator for `params`, or every problem
    /// [`TrimmedMeanParams::check`] finds with them.
    pub fn new(params: TrimmedMeanParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// How many values it removes from each end of a coordinate with `n`
    /// updates: ⌊trim · n⌋, where a product within 1e-9 of a whole number
    /// counts as that number (0.29 · 100 is 28.999999999999996 in f64 and
    /// removes 29).
    pub fn removed(&self, n: usize) -> usize {
        let x = self.params.trim * n as f64;
        let whole = x.round();
        let k = if (x - whole).abs() < 1e-9 {
            whole
        } else {
            x.floor()
        };
        k as usize
    }
}

impl Kind for TrimmedMean {
    type Params = TrimmedMeanParams;

    fn build(params: TrimmedMeanParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &TrimmedMeanParams {
        &self.params
    }

    fn describe(&self) -> String {
        // Percent, without the float noise of the product (0.07 · 100 = 7.000000000000001).
        let percent = (self.params.trim * 100.0 * 1e9).round() / 1e9;
        format!("trimmed-mean, removes {percent} % from each end per coordinate")
    }
}

impl UpdateAggregator for TrimmedMean {
    type Error = AggregationError;

    fn aggregate(&self, updates: &[Vec<f32>], _rng: &mut Rng) -> Result<Vec<f32>, Self::Error> {
        let dim = check_updates(updates)?;
        let n = updates.len();
        let k = self.removed(n);
        if 2 * k >= n {
            return Err(AggregationError::NothingLeft {
                trim: self.params.trim,
                n,
                removed: k,
            });
        }
        Ok(per_sorted_coordinate(updates, dim, |sorted| {
            mean_of(sorted[k..n - k].iter().copied())
        }))
    }
}

// ---------------------------------------------------------------- krum

/// Krum and Multi-Krum (Blanchard et al. 2017, "Machine Learning with
/// Adversaries: Byzantine Tolerant Gradient Descent"). With n updates of
/// which up to f = `byzantine` may be malicious, update i's score is the sum
/// of its squared Euclidean distances to its n − f − 2 nearest other updates;
/// Krum (`select` = 1) returns the update with the lowest score, Multi-Krum
/// (`select` = m > 1) the coordinate-wise mean of the m lowest-scored.
/// Needs n ≥ 2f + 3. Equal scores are ranked by update order (lower index
/// first), so it is deterministic; the `rng` is unused. Parameters are
/// checked.
#[derive(Debug, Clone)]
pub struct Krum {
    params: KrumParams,
}

impl Krum {
    /// The aggregator for `params`, or every problem [`KrumParams::check`]
    /// finds with them.
    pub fn new(params: KrumParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// Every update's Krum score (sum of squared distances to its n − f − 2
    /// nearest other updates, accumulated in f64), in update order; fails
    /// like [`UpdateAggregator::aggregate`] on unusable updates or when
    /// n < 2f + 3.
    pub fn scores(&self, updates: &[Vec<f32>]) -> Result<Vec<f64>, AggregationError> {
        check_updates(updates)?;
        let n = updates.len();
        let f = self.params.byzantine;
        let needed = f.saturating_mul(2).saturating_add(3);
        if n < needed {
            return Err(AggregationError::TooFewForKrum {
                n,
                byzantine: f,
                needed,
            });
        }
        let nearest = n - f - 2;
        let mut distance = vec![0.0f64; n * n];
        for i in 0..n {
            for j in i + 1..n {
                let d: f64 = updates[i]
                    .iter()
                    .zip(&updates[j])
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum();
                distance[i * n + j] = d;
                distance[j * n + i] = d;
            }
        }
        let mut others = Vec::with_capacity(n - 1);
        Ok((0..n)
            .map(|i| {
                others.clear();
                others.extend((0..n).filter(|&j| j != i).map(|j| distance[i * n + j]));
                others.sort_unstable_by(f64::total_cmp);
                others[..nearest].iter().sum()
            })
            .collect())
    }

    /// The updates it averages: the `select` lowest-scored, best first (equal
    /// scores in update order); fails like [`UpdateAggregator::aggregate`].
    pub fn selected(&self, updates: &[Vec<f32>]) -> Result<Vec<usize>, AggregationError> {
        let scores = self.scores(updates)?;
        let n = updates.len();
        let m = self.params.select;
        if m > n {
            return Err(AggregationError::SelectTooMany { select: m, n });
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
        order.truncate(m);
        Ok(order)
    }
}

impl Kind for Krum {
    type Params = KrumParams;

    fn build(params: KrumParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &KrumParams {
        &self.params
    }

    fn describe(&self) -> String {
        format!(
            "krum, f = {}, averages the {} best",
            self.params.byzantine, self.params.select
        )
    }
}

impl UpdateAggregator for Krum {
    type Error = AggregationError;

    fn aggregate(&self, updates: &[Vec<f32>], _rng: &mut Rng) -> Result<Vec<f32>, Self::Error> {
        let chosen = self.selected(updates)?;
        let dim = updates[0].len();
        // `select` ≥ 1 (checked), so every mean has a value.
        Ok((0..dim)
            .map(|j| mean_of(chosen.iter().map(|&i| updates[i][j])))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::seed::stream;
    use poisonlab_core::{DataFacts, Rng};
    use proptest::prelude::*;

    fn rng() -> Rng {
        stream(0, 0, "aggregate")
    }

    fn trimmed(trim: f64) -> TrimmedMean {
        TrimmedMean::new(TrimmedMeanParams { trim }).unwrap()
    }

    fn krum(byzantine: usize, select: usize) -> Krum {
        Krum::new(KrumParams { byzantine, select }).unwrap()
    }

    /// One-coordinate updates from `values`.
    fn column(values: &[f32]) -> Vec<Vec<f32>> {
        values.iter().map(|&v| vec![v]).collect()
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

    fn all() -> Vec<(
        &'static str,
        Box<dyn UpdateAggregator<Error = AggregationError>>,
    )> {
        vec![
            ("mean", Box::new(Mean::default())),
            ("median", Box::new(Median::default())),
            ("trimmed-mean", Box::new(trimmed(0.1))),
            ("krum", Box::new(krum(1, 1))),
        ]
    }

    // ------------------------------------------------------------ mean

    #[test]
    fn mean_is_the_coordinate_wise_average() {
        let updates = vec![vec![1.0, 2.0], vec![3.0, 6.0], vec![5.0, 1.0]];
        // (1 + 3 + 5) / 3 = 3, (2 + 6 + 1) / 3 = 3.
        let got = Mean::default().aggregate(&updates, &mut rng()).unwrap();
        assert_eq!(got, [3.0, 3.0]);
    }

    #[test]
    fn mean_accumulates_in_f64() {
        // In f32, 1e8 + 1 rounds to 1e8 and the mean would be 0; in f64 the
        // sum is exactly 1.
        let got = Mean::default()
            .aggregate(&column(&[1e8, 1.0, -1e8]), &mut rng())
            .unwrap();
        assert_eq!(got, [(1.0f64 / 3.0) as f32]);
        // Ten times 0.1f32 sums exactly in f64, so the mean is 0.1f32 itself.
        let got = Mean::default()
            .aggregate(&column(&[0.1; 10]), &mut rng())
            .unwrap();
        assert_eq!(got, [0.1f32]);
    }

    // ------------------------------------------------------------ median

    #[test]
    fn median_of_an_odd_count_is_the_middle_value() {
        let updates = vec![vec![1.0, 9.0], vec![5.0, 2.0], vec![3.0, 4.0]];
        // Sorted: 1 3 5 and 2 4 9.
        let got = Median::default().aggregate(&updates, &mut rng()).unwrap();
        assert_eq!(got, [3.0, 4.0]);
    }

    #[test]
    fn median_of_an_even_count_averages_the_two_middle_values() {
        let updates = vec![
            vec![1.0, 10.0],
            vec![4.0, 2.0],
            vec![2.0, 8.0],
            vec![7.0, 4.0],
        ];
        // Sorted: 1 2 4 7 → (2 + 4) / 2 = 3; 2 4 8 10 → (4 + 8) / 2 = 6.
        let got = Median::default().aggregate(&updates, &mut rng()).unwrap();
        assert_eq!(got, [3.0, 6.0]);
        // Two values: their midpoint, unaffected by how far apart they are.
        let got = Median::default()
            .aggregate(&column(&[-1.0, 2.0]), &mut rng())
            .unwrap();
        assert_eq!(got, [0.5]);
    }

    #[test]
    fn median_ignores_one_far_value() {
        let got = Median::default()
            .aggregate(&column(&[1.0, 2.0, 1e30]), &mut rng())
            .unwrap();
        assert_eq!(got, [2.0]);
    }

    // ------------------------------------------------------------ trimmed mean

    #[test]
    fn trimmed_mean_removes_exactly_k_from_each_end() {
        // trim 0.2 of 5 removes 1 from each end.
        let updates = vec![
            vec![10.0, 0.0],
            vec![1.0, 0.0],
            vec![2.0, 100.0],
            vec![3.0, 0.0],
            vec![-50.0, 0.0],
        ];
        let t = trimmed(0.2);
        assert_eq!(t.removed(5), 1);
        // Sorted: -50 1 2 3 10 → mean(1, 2, 3) = 2; 0 0 0 0 100 → mean(0, 0, 0) = 0.
        assert_eq!(t.aggregate(&updates, &mut rng()).unwrap(), [2.0, 0.0]);
        // trim 0.25 of 4 removes 1 from each end: mean(2, 3) = 2.5.
        let t = trimmed(0.25);
        assert_eq!(t.removed(4), 1);
        let got = t
            .aggregate(&column(&[100.0, 2.0, 1.0, 3.0]), &mut rng())
            .unwrap();
        assert_eq!(got, [2.5]);
        // trim 0.4 of 5 removes 2 from each end: the median.
        let got = trimmed(0.4)
            .aggregate(&column(&[9.0, -9.0, 4.0, 8.0, -8.0]), &mut rng())
            .unwrap();
        assert_eq!(got, [4.0]);
    }

    #[test]
    fn trimmed_mean_rounds_the_count_down() {
        // trim 0.1 of 5 is 0.5 values: none is removed, so it is the mean,
        // (1 + 2 + 3 + 4 + 100) / 5 = 22.
        let t = trimmed(0.1);
        assert_eq!(
            [t.removed(5), t.removed(9), t.removed(10), t.removed(19)],
            [0, 0, 1, 1]
        );
        let got = t
            .aggregate(&column(&[1.0, 2.0, 3.0, 4.0, 100.0]), &mut rng())
            .unwrap();
        assert_eq!(got, [22.0]);
        // trim 0 is the mean.
        let got = trimmed(0.0)
            .aggregate(&column(&[1.0, 2.0, 3.0, 4.0, 100.0]), &mut rng())
            .unwrap();
        assert_eq!(got, [22.0]);
    }

    #[test]
    fn trimmed_mean_counts_a_product_within_float_noise_of_a_whole_number_as_whole() {
        // 0.29 · 100 = 28.999999999999996 in f64; the user means 29.
        let t = trimmed(0.29);
        assert!(Kind::params(&t).trim * 100.0 < 29.0);
        assert_eq!(t.removed(100), 29);
        // 29 zeros, 42 ones, 29 thousands: removing 29 from each end leaves
        // the 42 ones (removing 28 would keep a 0 and a 1000: mean 1042 / 44).
        let mut values = vec![0.0; 29];
        values.extend([1.0; 42]);
        values.extend([1000.0; 29]);
        assert_eq!(t.aggregate(&column(&values), &mut rng()).unwrap(), [1.0]);
    }

    #[test]
    fn trimmed_mean_that_would_leave_nothing_is_an_error() {
        // Within 1e-9 of 0.5 · 2 = 1 removes 1 of 2 values from each end.
        let trim = 0.5 - 1e-12;
        let e = trimmed(trim)
            .aggregate(&column(&[1.0, 2.0]), &mut rng())
            .unwrap_err();
        assert_eq!(
            e,
            AggregationError::NothingLeft {
                trim,
                n: 2,
                removed: 1
            }
        );
        assert_eq!(
            e.to_string(),
            format!(
                "trim {trim} removes 1 of 2 values from each end, leaving none; at least one value must remain"
            )
        );
        // Three values leave one.
        let got = trimmed(trim)
            .aggregate(&column(&[1.0, 2.0, 7.0]), &mut rng())
            .unwrap();
        assert_eq!(got, [2.0]);
    }

    // ------------------------------------------------------------ krum

    #[test]
    fn krum_scores_each_update_on_its_nearest_others() {
        let scores = krum(1, 1).scores(&cluster_and_outlier()).unwrap();
        assert_eq!(scores, [3.0, 2.0, 6.0, 3.0, 39206.0]);
    }

    #[test]
    fn krum_picks_the_honest_cluster_when_one_update_is_far_away() {
        let updates = cluster_and_outlier();
        let k = krum(1, 1);
        assert_eq!(k.selected(&updates).unwrap(), [1]);
        assert_eq!(k.aggregate(&updates, &mut rng()).unwrap(), [1.0, 0.0]);
        // The mean, by contrast, is dragged to (20.4, 20.6).
        let mean = Mean::default().aggregate(&updates, &mut rng()).unwrap();
        assert_eq!(mean, [20.4, 20.6]);
    }

    #[test]
    fn multi_krum_averages_the_best_with_equal_scores_in_update_order() {
        let updates = cluster_and_outlier();
        // Scores b 2, then a and d 3 (a first: lower index), c 6, e.
        let k = krum(1, 2);
        assert_eq!(k.selected(&updates).unwrap(), [1, 0]);
        // mean(b, a) = ((1 + 0) / 2, 0).
        assert_eq!(k.aggregate(&updates, &mut rng()).unwrap(), [0.5, 0.0]);
        let k = krum(1, 3);
        assert_eq!(k.selected(&updates).unwrap(), [1, 0, 3]);
        // mean(b, a, d) = (2 / 3, 1 / 3).
        let want = [(2.0f64 / 3.0) as f32, (1.0f64 / 3.0) as f32];
        assert_eq!(k.aggregate(&updates, &mut rng()).unwrap(), want);
        // All five: the mean.
        let k = krum(1, 5);
        assert_eq!(k.selected(&updates).unwrap(), [1, 0, 3, 2, 4]);
        assert_eq!(k.aggregate(&updates, &mut rng()).unwrap(), [20.4, 20.6]);
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
        assert_eq!(krum(1, 1).scores(&updates).unwrap()[..4], [2.0; 4]);
        assert_eq!(krum(1, 1).selected(&updates).unwrap(), [0]);
        // The far update first: the first corner is now update 1.
        updates.rotate_right(1);
        assert_eq!(krum(1, 1).selected(&updates).unwrap(), [1]);
        assert_eq!(
            krum(1, 1).aggregate(&updates, &mut rng()).unwrap(),
            [0.0, 0.0]
        );
    }

    #[test]
    fn krum_needs_2f_plus_3_updates() {
        let four = column(&[1.0, 2.0, 3.0, 4.0]);
        let e = krum(1, 1).aggregate(&four, &mut rng()).unwrap_err();
        assert_eq!(
            e,
            AggregationError::TooFewForKrum {
                n: 4,
                byzantine: 1,
                needed: 5
            }
        );
        assert_eq!(
            e.to_string(),
            "krum with f = 1 needs n ≥ 2f + 3 = 5 updates, got n = 4"
        );
        // f = 0 needs 3; with n = 4 each update is scored on its 2 nearest
        // others: 1 → 1 + 4 = 5, 2 → 1 + 1 = 2, 3 → 1 + 1 = 2, 4 → 1 + 4 = 5;
        // updates 1 and 2 tie and the lower index wins.
        assert_eq!(krum(0, 1).scores(&four).unwrap(), [5.0, 2.0, 2.0, 5.0]);
        assert_eq!(krum(0, 1).aggregate(&four, &mut rng()).unwrap(), [2.0]);
        // A huge f saturates instead of overflowing.
        let e = krum(usize::MAX, 1)
            .aggregate(&four, &mut rng())
            .unwrap_err();
        assert!(matches!(
            e,
            AggregationError::TooFewForKrum {
                needed: usize::MAX,
                ..
            }
        ));
    }

    #[test]
    fn multi_krum_cannot_select_more_than_it_is_given() {
        let e = krum(1, 6)
            .aggregate(&cluster_and_outlier(), &mut rng())
            .unwrap_err();
        assert_eq!(e, AggregationError::SelectTooMany { select: 6, n: 5 });
        assert_eq!(
            e.to_string(),
            "krum selects 6 updates but got n = 5; select must be at most n"
        );
    }

    // ------------------------------------------------------------ all of them

    #[test]
    fn every_aggregator_rejects_no_updates() {
        for (name, a) in all() {
            let e = a.aggregate(&[], &mut rng()).unwrap_err();
            assert_eq!(e, AggregationError::NoUpdates, "{name}");
            assert_eq!(
                e.to_string(),
                "no updates to aggregate; at least one is needed"
            );
        }
    }

    #[test]
    fn every_aggregator_rejects_updates_of_different_lengths() {
        let updates = vec![vec![1.0, 2.0], vec![1.0, 2.0], vec![1.0]];
        for (name, a) in all() {
            let e = a.aggregate(&updates, &mut rng()).unwrap_err();
            assert_eq!(
                e,
                AggregationError::LengthMismatch {
                    index: 2,
                    len: 1,
                    expected: 2
                },
                "{name}"
            );
            assert_eq!(
                e.to_string(),
                "update 2 has 1 values but update 0 has 2; all updates must have one length"
            );
        }
    }

    #[test]
    fn every_aggregator_rejects_values_that_are_not_finite() {
        for (name, a) in all() {
            let updates = vec![vec![1.0, 2.0], vec![1.0, f32::INFINITY]];
            let e = a.aggregate(&updates, &mut rng()).unwrap_err();
            let want = AggregationError::NonFinite {
                update: 1,
                coordinate: 1,
                value: f32::INFINITY,
            };
            assert_eq!(e, want, "{name}");
            assert_eq!(
                e.to_string(),
                "update 1 holds inf at coordinate 1; every value must be finite"
            );
            let updates = vec![vec![f32::NAN, 2.0], vec![1.0, 2.0]];
            let e = a.aggregate(&updates, &mut rng()).unwrap_err();
            assert!(
                matches!(
                    e,
                    AggregationError::NonFinite {
                        update: 0,
                        coordinate: 0,
                        value
                    } if value.is_nan()
                ),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn every_aggregator_returns_a_lone_update_and_keeps_empty_updates_empty() {
        let lone = vec![vec![1.5, -2.0]];
        for (name, a) in all() {
            if name == "krum" {
                continue;
            }
            assert_eq!(a.aggregate(&lone, &mut rng()).unwrap(), lone[0], "{name}");
        }
        let empty = vec![Vec::new(); 5];
        for (name, a) in all() {
            assert!(
                a.aggregate(&empty, &mut rng()).unwrap().is_empty(),
                "{name}"
            );
        }
    }

    #[test]
    fn builds_checks_and_describes_itself() {
        let facts = DataFacts::default();
        let ctx = BuildContext::new(std::path::Path::new("."), &facts);
        let m = Mean::build(MeanParams::default(), &ctx).unwrap();
        assert_eq!(m.describe(), "mean (FedAvg), coordinate-wise");
        assert_eq!(Kind::params(&m), &MeanParams {});
        let m = Median::build(MedianParams::default(), &ctx).unwrap();
        assert_eq!(m.describe(), "median, coordinate-wise");
        let t = TrimmedMean::build(TrimmedMeanParams::default(), &ctx).unwrap();
        assert_eq!(Kind::params(&t), &TrimmedMeanParams { trim: 0.1 });
        assert_eq!(
            t.describe(),
            "trimmed-mean, removes 10 % from each end per coordinate"
        );
        assert_eq!(
            trimmed(0.07).describe(),
            "trimmed-mean, removes 7 % from each end per coordinate"
        );
        let k = Krum::build(KrumParams::default(), &ctx).unwrap();
        assert_eq!(k.describe(), "krum, f = 1, averages the 1 best");
        assert_eq!(krum(2, 4).describe(), "krum, f = 2, averages the 4 best");
        // Building runs the checks.
        let e = TrimmedMean::build(TrimmedMeanParams { trim: 0.5 }, &ctx).unwrap_err();
        assert_eq!(e[0].key, "trim");
        let e = Krum::build(
            KrumParams {
                byzantine: 1,
                select: 0,
            },
            &ctx,
        )
        .unwrap_err();
        assert_eq!(e[0].key, "select");
    }

    #[test]
    fn the_rng_is_unused() {
        let updates = cluster_and_outlier();
        for (name, a) in all() {
            let x = a.aggregate(&updates, &mut stream(1, 0, "a")).unwrap();
            let y = a.aggregate(&updates, &mut stream(2, 3, "b")).unwrap();
            assert_eq!(x, y, "{name}");
        }
    }

    // ------------------------------------------------------------ properties

    /// Finite f32 values of every magnitude, zero and subnormals included.
    fn value() -> impl Strategy<Value = f32> {
        prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO
    }

    /// 1 to 11 updates of 1 to 4 values.
    fn updates() -> impl Strategy<Value = Vec<Vec<f32>>> {
        (1usize..12, 1usize..5).prop_flat_map(|(n, d)| {
            proptest::collection::vec(proptest::collection::vec(value(), d), n)
        })
    }

    proptest! {
        #[test]
        fn median_and_trimmed_mean_lie_within_each_coordinates_range(
            updates in updates(),
            trim in 0.0f64..0.49,
        ) {
            let median = Median::default().aggregate(&updates, &mut rng()).unwrap();
            let trimmed_mean = trimmed(trim).aggregate(&updates, &mut rng()).unwrap();
            for j in 0..updates[0].len() {
                let low = updates.iter().map(|u| u[j]).fold(f32::INFINITY, f32::min);
                let high = updates.iter().map(|u| u[j]).fold(f32::NEG_INFINITY, f32::max);
                prop_assert!(low <= median[j] && median[j] <= high);
                prop_assert!(low <= trimmed_mean[j] && trimmed_mean[j] <= high);
            }
        }

        #[test]
        fn every_aggregator_of_identical_updates_returns_that_update(
            update in proptest::collection::vec(value(), 0..6),
            n in 1usize..12,
            trim in 0.0f64..0.49,
        ) {
            let updates = vec![update.clone(); n];
            let mut aggregators: Vec<Box<dyn UpdateAggregator<Error = AggregationError>>> = vec![
                Box::new(Mean::default()),
                Box::new(Median::default()),
                Box::new(trimmed(trim)),
            ];
            // Krum needs n ≥ 2f + 3.
            for byzantine in (0..n).take_while(|f| 2 * f + 3 <= n) {
                aggregators.push(Box::new(krum(byzantine, 1)));
                aggregators.push(Box::new(krum(byzantine, n)));
            }
            for a in aggregators {
                prop_assert_eq!(&a.aggregate(&updates, &mut rng()).unwrap(), &update);
            }
        }
    }
}
