//! FedAvg and the coordinate-wise statistics: median and trimmed mean.

use poisonlab_core::{
    Aggregated, BuildContext, Kind, ParamError, Rng, UpdateAggregator, UpdateRound,
};

use crate::common::{
    check_round, mean_of, median_of_sorted, per_coordinate, rows, sample_weights, weighted_mean,
};
use crate::{AggregationError, FedAvgParams, MedianParams, TrimmedMeanParams};

// ---------------------------------------------------------------- fedavg

/// `fedavg`: the server step of FedAvg (McMahan et al. 2017,
/// "Communication-Efficient Learning of Deep Networks from Decentralized
/// Data"): the mean of the updates weighted by each client's local sample
/// count, Σᵢ nᵢ uᵢ / Σᵢ nᵢ (equal weights when every count is 0). Not
/// robust: one update can move it anywhere. Scores no client.
/// Deterministic; the `rng` is unused.
#[derive(Debug, Clone, Default)]
pub struct FedAvg {
    params: FedAvgParams,
}

impl Kind for FedAvg {
    type Params = FedAvgParams;

    fn build(params: FedAvgParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Ok(Self { params })
    }

    fn params(&self) -> &FedAvgParams {
        &self.params
    }

    fn describe(&self) -> String {
        "fedavg, mean weighted by local sample counts".into()
    }
}

impl UpdateAggregator for FedAvg {
    type Error = AggregationError;

    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        _rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error> {
        let dim = check_round(&round)?;
        let weights = sample_weights(round.samples);
        Ok(Aggregated::plain(weighted_mean(
            &rows(round.updates),
            &weights,
            dim,
        )))
    }
}

// ---------------------------------------------------------------- median

/// `median`: the coordinate-wise median of the updates (Yin et al. 2018,
/// "Byzantine-Robust Distributed Learning: Towards Optimal Statistical
/// Rates"); with an even count, the midpoint of the two middle values.
/// Unweighted; scores no client. Deterministic; the `rng` is unused.
#[derive(Debug, Clone, Default)]
pub struct Median {
    params: MedianParams,
}

impl Kind for Median {
    type Params = MedianParams;

    fn build(params: MedianParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Ok(Self { params })
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

    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        _rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error> {
        let dim = check_round(&round)?;
        let update = per_coordinate(&rows(round.updates), dim, |column| {
            column.sort_unstable_by(f32::total_cmp);
            // Between the two middle values, so rounding stays within them.
            median_of_sorted(column) as f32
        });
        Ok(Aggregated::plain(update))
    }
}

// ---------------------------------------------------------------- trimmed mean

/// `trimmed-mean`: the coordinate-wise trimmed mean of the updates (Yin et
/// al. 2018, "Byzantine-Robust Distributed Learning: Towards Optimal
/// Statistical Rates"): for every coordinate the k = ⌊β · n⌋ smallest and as
/// many largest of the n values are removed and the rest averaged,
/// unweighted. Should 2k reach n (only when β · n lies within 1e-9 below
/// n / 2 and counts as whole), it keeps the middle value or two, i.e. the
/// median. Scores no client. Deterministic; the `rng` is unused.
#[derive(Debug, Clone)]
pub struct TrimmedMean {
    params: TrimmedMeanParams,
}

impl TrimmedMean {
    /// How many values it removes from each end of a coordinate with `n`
    /// updates: ⌊β · n⌋, where a product within 1e-9 of a whole number
    /// counts as that number (0.29 · 100 is 28.999999999999996 in f64 and
    /// removes 29), and at most (n − 1) / 2 so that a value remains.
    pub fn removed(&self, n: usize) -> usize {
        let x = self.params.beta * n as f64;
        let whole = x.round();
        let k = if (x - whole).abs() < 1e-9 {
            whole
        } else {
            x.floor()
        };
        (k as usize).min(n.saturating_sub(1) / 2)
    }
}

impl Kind for TrimmedMean {
    type Params = TrimmedMeanParams;

    fn build(params: TrimmedMeanParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    fn params(&self) -> &TrimmedMeanParams {
        &self.params
    }

    fn describe(&self) -> String {
        // Percent, without the float noise of the product (0.07 · 100 = 7.000000000000001).
        let percent = (self.params.beta * 100.0 * 1e9).round() / 1e9;
        format!(
            "trimmed-mean, beta = {} (removes {percent} % from each end per coordinate)",
            self.params.beta
        )
    }
}

impl UpdateAggregator for TrimmedMean {
    type Error = AggregationError;

    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        _rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error> {
        let dim = check_round(&round)?;
        let n = round.updates.len();
        let k = self.removed(n);
        let update = per_coordinate(&rows(round.updates), dim, |column| {
            column.sort_unstable_by(f32::total_cmp);
            mean_of(&column[k..n - k])
        });
        Ok(Aggregated::plain(update))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{column, ctx, rng, round, round_with};

    fn trimmed(beta: f64) -> TrimmedMean {
        TrimmedMean::build(TrimmedMeanParams { beta }, &ctx()).unwrap()
    }

    fn run(
        a: &mut impl UpdateAggregator<Error = AggregationError>,
        updates: &[Vec<f32>],
    ) -> Vec<f32> {
        a.aggregate(round(updates).view(), &mut rng())
            .unwrap()
            .update
    }

    // ------------------------------------------------------------ fedavg

    #[test]
    fn fedavg_weighs_each_update_by_its_sample_count() {
        let updates = vec![vec![1.0, 2.0], vec![3.0, 6.0], vec![5.0, 1.0]];
        // Weights 1, 2, 5 (sum 8): (1 + 6 + 25) / 8 = 4, (2 + 12 + 5) / 8 = 2.375.
        let r = round_with(&updates, &[1, 2, 5]);
        let got = FedAvg::default().aggregate(r.view(), &mut rng()).unwrap();
        assert_eq!(got.update, [4.0, 2.375]);
        assert_eq!(got.suspicion, None);
        assert_eq!(got.flagged, None);
        // Equal counts: the plain mean, (1 + 3 + 5) / 3 = 3, (2 + 6 + 1) / 3 = 3.
        assert_eq!(run(&mut FedAvg::default(), &updates), [3.0, 3.0]);
        // A client without samples counts for nothing...
        let r = round_with(&updates, &[1, 0, 1]);
        let got = FedAvg::default().aggregate(r.view(), &mut rng()).unwrap();
        assert_eq!(got.update, [3.0, 1.5]);
        // ...unless no client has any: then all count alike.
        let r = round_with(&updates, &[0, 0, 0]);
        let got = FedAvg::default().aggregate(r.view(), &mut rng()).unwrap();
        assert_eq!(got.update, [3.0, 3.0]);
    }

    #[test]
    fn fedavg_accumulates_in_f64() {
        // In f32, 1e8 + 1 rounds to 1e8 and the mean would be 0; in f64 the
        // sum is exactly 1.
        let got = run(&mut FedAvg::default(), &column(&[1e8, 1.0, -1e8]));
        assert_eq!(got, [(1.0f64 / 3.0) as f32]);
        // Ten times 0.1f32 sums exactly in f64, so the mean is 0.1f32 itself.
        assert_eq!(run(&mut FedAvg::default(), &column(&[0.1; 10])), [0.1f32]);
    }

    // ------------------------------------------------------------ median

    #[test]
    fn median_of_an_odd_count_is_the_middle_value() {
        let updates = vec![vec![1.0, 9.0], vec![5.0, 2.0], vec![3.0, 4.0]];
        // Sorted: 1 3 5 and 2 4 9.
        assert_eq!(run(&mut Median::default(), &updates), [3.0, 4.0]);
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
        assert_eq!(run(&mut Median::default(), &updates), [3.0, 6.0]);
        assert_eq!(run(&mut Median::default(), &column(&[-1.0, 2.0])), [0.5]);
    }

    #[test]
    fn median_ignores_one_far_value_and_the_sample_counts() {
        let updates = column(&[1.0, 2.0, 1e30]);
        let r = round_with(&updates, &[1, 1, 1000]);
        let got = Median::default().aggregate(r.view(), &mut rng()).unwrap();
        assert_eq!(got.update, [2.0]);
    }

    // ------------------------------------------------------------ trimmed mean

    #[test]
    fn trimmed_mean_removes_exactly_k_from_each_end() {
        // beta 0.2 of 5 removes 1 from each end.
        let updates = vec![
            vec![10.0, 0.0],
            vec![1.0, 0.0],
            vec![2.0, 100.0],
            vec![3.0, 0.0],
            vec![-50.0, 0.0],
        ];
        let mut t = trimmed(0.2);
        assert_eq!(t.removed(5), 1);
        // Sorted: -50 1 2 3 10 → mean(1, 2, 3) = 2; 0 0 0 0 100 → mean(0, 0, 0) = 0.
        assert_eq!(run(&mut t, &updates), [2.0, 0.0]);
        // beta 0.25 of 4 removes 1 from each end: mean(2, 3) = 2.5.
        let mut t = trimmed(0.25);
        assert_eq!(run(&mut t, &column(&[100.0, 2.0, 1.0, 3.0])), [2.5]);
        // beta 0.4 of 5 removes 2 from each end: the median.
        let mut t = trimmed(0.4);
        assert_eq!(run(&mut t, &column(&[9.0, -9.0, 4.0, 8.0, -8.0])), [4.0]);
    }

    #[test]
    fn trimmed_mean_rounds_the_count_down() {
        // beta 0.1 of 5 is 0.5 values: none is removed, so it is the mean,
        // (1 + 2 + 3 + 4 + 100) / 5 = 22.
        let mut t = trimmed(0.1);
        assert_eq!(
            [t.removed(5), t.removed(9), t.removed(10), t.removed(19)],
            [0, 0, 1, 1]
        );
        assert_eq!(run(&mut t, &column(&[1.0, 2.0, 3.0, 4.0, 100.0])), [22.0]);
        let mut t = trimmed(0.0);
        assert_eq!(run(&mut t, &column(&[1.0, 2.0, 3.0, 4.0, 100.0])), [22.0]);
    }

    #[test]
    fn trimmed_mean_counts_a_product_within_float_noise_of_a_whole_number_as_whole() {
        // 0.29 · 100 = 28.999999999999996 in f64; the user means 29.
        let mut t = trimmed(0.29);
        assert_eq!(t.removed(100), 29);
        // 29 zeros, 42 ones, 29 thousands: removing 29 from each end leaves
        // the 42 ones (removing 28 would keep a 0 and a 1000: mean 1042 / 44).
        let mut values = vec![0.0; 29];
        values.extend([1.0; 42]);
        values.extend([1000.0; 29]);
        assert_eq!(run(&mut t, &column(&values)), [1.0]);
    }

    #[test]
    fn trimmed_mean_that_would_remove_everything_keeps_the_median() {
        // Within 1e-9 of 0.5 · 2 = 1 would remove 1 of 2 from each end; it
        // removes none and averages both: the median of two.
        let mut t = trimmed(0.5 - 1e-12);
        assert_eq!(t.removed(2), 0);
        assert_eq!(run(&mut t, &column(&[1.0, 2.0])), [1.5]);
        // Of 4 it removes 1, not 2: the midpoint of the two middle values.
        assert_eq!(t.removed(4), 1);
        assert_eq!(run(&mut t, &column(&[1.0, 2.0, 7.0, 100.0])), [4.5]);
        assert_eq!(t.removed(3), 1);
        assert_eq!(run(&mut t, &column(&[1.0, 2.0, 7.0])), [2.0]);
    }

    #[test]
    fn describes_itself() {
        assert_eq!(
            FedAvg::default().describe(),
            "fedavg, mean weighted by local sample counts"
        );
        assert_eq!(Median::default().describe(), "median, coordinate-wise");
        assert_eq!(
            trimmed(0.07).describe(),
            "trimmed-mean, beta = 0.07 (removes 7 % from each end per coordinate)"
        );
        let e = TrimmedMean::build(TrimmedMeanParams { beta: 0.5 }, &ctx()).unwrap_err();
        assert_eq!(e[0].key, "beta");
    }
}
