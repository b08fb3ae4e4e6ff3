//! Norm clipping with optional Gaussian noise.

use poisonlab_core::{
    Aggregated, BuildContext, Kind, ParamError, Rng, UpdateAggregator, UpdateRound,
};
use rand::Rng as _;

use crate::common::{check_round, combine, norm, rows, sample_weights, saturating_f32};
use crate::{AggregationError, NormClippingParams};

/// `norm-clipping` (Sun et al. 2019, "Can You Really Backdoor Federated
/// Learning?"): every update u is scaled by min(1, M / ‖u‖) so that its L2
/// norm is at most M, the clipped updates are averaged weighted by the
/// clients' sample counts (equal weights when every count is 0), and, when
/// `noise` σ > 0, Gaussian noise N(0, σ²) is added to every coordinate of
/// the average (the paper's "weak differential privacy").
///
/// M is the `bound` parameter, or, unset, the median norm of the round's
/// updates (see [`NormClippingParams::bound`]). Suspicion is ‖u‖ / M (the
/// norm itself when M is 0, which only an unset bound on a round where at
/// least half the updates are zero gives); updates with ‖u‖ > M, the ones
/// clipped, are flagged. The `rng` is used only for the noise: with σ = 0
/// it is deterministic. A coordinate the noise pushes beyond f32's range
/// saturates at ±f32::MAX.
#[derive(Debug, Clone)]
pub struct NormClipping {
    params: NormClippingParams,
}

impl NormClipping {
    /// The bound M for a round whose updates have these norms: the `bound`
    /// parameter, or the median of `norms` (at least one).
    pub fn bound(&self, norms: &[f64]) -> f64 {
        self.params.bound.unwrap_or_else(|| {
            let mut sorted = norms.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            let n = sorted.len();
            if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            }
        })
    }
}

/// Two independent standard normal draws from two uniform ones (the
/// Box–Muller transform).
fn standard_normal_pair(rng: &mut Rng) -> (f64, f64) {
    // 1 − [0, 1) is (0, 1]: the logarithm stays finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    let radius = (-2.0 * u1.ln()).sqrt();
    let angle = std::f64::consts::TAU * u2;
    (radius * angle.cos(), radius * angle.sin())
}

impl Kind for NormClipping {
    type Params = NormClippingParams;

    fn build(params: NormClippingParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    fn params(&self) -> &NormClippingParams {
        &self.params
    }

    fn describe(&self) -> String {
        let bound = match self.params.bound {
            Some(m) => format!("bound = {m}"),
            None => "bound = the round's median norm".to_string(),
        };
        format!("norm-clipping, {bound}, noise = {}", self.params.noise)
    }
}

impl UpdateAggregator for NormClipping {
    type Error = AggregationError;

    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error> {
        let dim = check_round(&round)?;
        let rows = rows(round.updates);
        let norms: Vec<f64> = rows.iter().map(|u| norm(u)).collect();
        let bound = self.bound(&norms);
        let weights = sample_weights(round.samples);
        let total: f64 = weights.iter().sum();
        // Norm > bound ≥ 0 implies norm > 0: the ratio is defined.
        let coefficients: Vec<f64> = norms
            .iter()
            .zip(&weights)
            .map(|(&n, &w)| if n > bound { w * (bound / n) } else { w })
            .collect();
        let mut update = combine(&rows, &coefficients, total, dim);
        let sigma = self.params.noise;
        if sigma > 0.0 {
            for pair in update.chunks_mut(2) {
                let (z0, z1) = standard_normal_pair(rng);
                for (v, z) in pair.iter_mut().zip([z0, z1]) {
                    *v = saturating_f32(f64::from(*v) + sigma * z);
                }
            }
        }
        let suspicion = norms
            .iter()
            .map(|&n| if bound > 0.0 { n / bound } else { n })
            .collect();
        let flagged = norms.iter().map(|&n| n > bound).collect();
        Ok(Aggregated {
            update,
            suspicion: Some(suspicion),
            flagged: Some(flagged),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ctx, rng, round, round_with};
    use poisonlab_core::stream;

    fn clipping(bound: Option<f64>, noise: f64) -> NormClipping {
        NormClipping::build(NormClippingParams { bound, noise }, &ctx()).unwrap()
    }

    #[test]
    fn clips_long_updates_to_the_bound_then_averages_by_samples() {
        // Norms 5, 1 and 20 against M = 2: (3, 4) becomes (1.2, 1.6), (0, 1)
        // stays, (0, -20) becomes (0, -2).
        let updates = vec![vec![3.0, 4.0], vec![0.0, 1.0], vec![0.0, -20.0]];
        let r = round_with(&updates, &[1, 2, 1]);
        let got = clipping(Some(2.0), 0.0)
            .aggregate(r.view(), &mut rng())
            .unwrap();
        // ((1.2, 1.6) + 2 (0, 1) + (0, -2)) / 4 = (0.3, 0.4).
        assert_eq!(got.update, [0.3, 0.4]);
        assert_eq!(got.suspicion.unwrap(), [2.5, 0.5, 10.0]);
        assert_eq!(got.flagged.unwrap(), [true, false, true]);
    }

    #[test]
    fn the_default_bound_is_the_median_norm() {
        // Norms 1, 2, 3, 100: median 2.5; the 3 and the 100 are clipped.
        let updates = vec![vec![1.0], vec![-2.0], vec![3.0], vec![100.0]];
        let c = clipping(None, 0.0);
        assert_eq!(c.bound(&[1.0, 2.0, 3.0, 100.0]), 2.5);
        let got = c
            .clone()
            .aggregate(round(&updates).view(), &mut rng())
            .unwrap();
        // (1 − 2 + 2.5 + 2.5) / 4 = 1.
        assert_eq!(got.update, [1.0]);
        assert_eq!(got.flagged.unwrap(), [false, false, true, true]);
        assert_eq!(got.suspicion.unwrap(), [0.4, 0.8, 1.2, 40.0]);
        // A zero median: non-zero updates are clipped to nothing and scored
        // by their norm.
        let updates = vec![vec![0.0], vec![0.0], vec![5.0]];
        let got = c
            .clone()
            .aggregate(round(&updates).view(), &mut rng())
            .unwrap();
        assert_eq!(got.update, [0.0]);
        assert_eq!(got.suspicion.unwrap(), [0.0, 0.0, 5.0]);
        assert_eq!(got.flagged.unwrap(), [false, false, true]);
    }

    #[test]
    fn noise_comes_from_the_rng_with_the_given_spread() {
        let dim = 20_000;
        let updates = vec![vec![0.0; dim]; 3];
        let r = round(&updates);
        let mut c = clipping(Some(1.0), 0.5);
        let a = c
            .aggregate(r.view(), &mut stream(1, 0, "noise"))
            .unwrap()
            .update;
        let b = c
            .aggregate(r.view(), &mut stream(1, 0, "noise"))
            .unwrap()
            .update;
        let other = c
            .aggregate(r.view(), &mut stream(2, 0, "noise"))
            .unwrap()
            .update;
        assert_eq!(a, b);
        assert_ne!(a, other);
        let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / dim as f64;
        let var = a
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / dim as f64;
        // Standard errors: 0.5 / √20000 ≈ 0.0035 for the mean, about 1 % for σ.
        assert!(mean.abs() < 0.02, "{mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.02, "{}", var.sqrt());
        // Without noise the rng is untouched.
        let mut quiet = clipping(Some(1.0), 0.0);
        let x = quiet.aggregate(r.view(), &mut stream(1, 0, "a")).unwrap();
        let y = quiet.aggregate(r.view(), &mut stream(9, 9, "b")).unwrap();
        assert_eq!(x, y);
    }

    #[test]
    fn describes_itself() {
        assert_eq!(
            clipping(None, 0.0).describe(),
            "norm-clipping, bound = the round's median norm, noise = 0"
        );
        assert_eq!(
            clipping(Some(3.0), 0.01).describe(),
            "norm-clipping, bound = 3, noise = 0.01"
        );
    }
}
