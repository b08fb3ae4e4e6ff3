//! FLTrust: trust bootstrapped from the server's own update on a root set.

use poisonlab_core::{
    Aggregated, BuildContext, Kind, ParamError, Rng, UpdateAggregator, UpdateRound,
};

use crate::common::{check_round, combine, norm, rows};
use crate::pairwise::dot;
use crate::{AggregationError, FlTrustParams};

/// `fltrust` (Cao et al. 2021, "FLTrust: Byzantine-robust Federated
/// Learning via Trust Bootstrapping", NDSS): the server trains on its own
/// small clean root set from the same global weights, giving the root
/// update g₀ ([`UpdateRound::root`]; [`UpdateAggregator::needs_root`] is
/// true). Each client update gᵢ gets the trust score
/// TSᵢ = ReLU(cos(gᵢ, g₀)), is rescaled to g₀'s norm, ĝᵢ = gᵢ · ‖g₀‖ / ‖gᵢ‖,
/// and the aggregate is Σᵢ TSᵢ ĝᵢ / Σᵢ TSᵢ, unweighted by sample counts as
/// in the paper.
///
/// A zero update (client or root) has no direction: its cosine counts as 0.
/// When every trust score is 0 the aggregate is the zero update (the server
/// skips the round's step). A round without a root update is an error.
/// Suspicion is 1 − TSᵢ; updates with TSᵢ = 0 are flagged. A coordinate
/// beyond f32's range (only a root update near it can give one) saturates
/// at ±f32::MAX. Deterministic; the `rng` is unused.
#[derive(Debug, Clone, Default)]
pub struct FlTrust {
    params: FlTrustParams,
}

impl FlTrust {
    /// Every update's trust score TSᵢ ∈ [0, 1] against the root update
    /// `root` (checked, of the updates' length).
    pub fn trust_scores(updates: &[Vec<f32>], root: &[f32]) -> Vec<f64> {
        let root_norm = norm(root);
        updates
            .iter()
            .map(|u| {
                let n = norm(u);
                if n > 0.0 && root_norm > 0.0 {
                    (dot(u, root) / (n * root_norm)).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// The round's root update, checked: present, of length `dim`, finite.
fn checked_root<'a>(round: &UpdateRound<'a>, dim: usize) -> Result<&'a [f32], AggregationError> {
    let root = round.root.ok_or(AggregationError::RootMissing)?;
    if root.len() != dim {
        return Err(AggregationError::RootLength {
            len: root.len(),
            expected: dim,
        });
    }
    if let Some((coordinate, &value)) = root.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(AggregationError::RootNonFinite { coordinate, value });
    }
    Ok(root)
}

impl Kind for FlTrust {
    type Params = FlTrustParams;

    fn build(params: FlTrustParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Ok(Self { params })
    }

    fn params(&self) -> &FlTrustParams {
        &self.params
    }

    fn describe(&self) -> String {
        "fltrust, trust = ReLU(cosine with the root update), updates rescaled to its norm".into()
    }
}

impl UpdateAggregator for FlTrust {
    type Error = AggregationError;

    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        _rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error> {
        let dim = check_round(&round)?;
        let root = checked_root(&round, dim)?;
        let trust = Self::trust_scores(round.updates, root);
        let total: f64 = trust.iter().sum();
        let update = if total > 0.0 {
            let root_norm = norm(root);
            // TSᵢ > 0 implies ‖gᵢ‖ > 0.
            let coefficients: Vec<f64> = trust
                .iter()
                .zip(round.updates)
                .map(|(&ts, u)| {
                    if ts > 0.0 {
                        ts * root_norm / norm(u)
                    } else {
                        0.0
                    }
                })
                .collect();
            combine(&rows(round.updates), &coefficients, total, dim)
        } else {
            vec![0.0; dim]
        };
        Ok(Aggregated {
            update,
            suspicion: Some(trust.iter().map(|&ts| 1.0 - ts).collect()),
            flagged: Some(trust.iter().map(|&ts| ts == 0.0).collect()),
        })
    }

    fn needs_root(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{rng, round};

    fn with_root(updates: &[Vec<f32>], root: &[f32]) -> crate::testing::Round {
        let mut r = round(updates);
        r.root = Some(root.to_vec());
        r
    }

    #[test]
    fn trust_is_the_clipped_cosine_and_updates_take_the_roots_norm() {
        // Root (3, 4), norm 5. Client a = (6, 8): cos 1; b = (4, -3): cos 0;
        // c = (1, 0): cos 3/5; d = (-3, -4): cos -1 → 0.
        let updates = vec![
            vec![6.0, 8.0],
            vec![4.0, -3.0],
            vec![1.0, 0.0],
            vec![-3.0, -4.0],
        ];
        let r = with_root(&updates, &[3.0, 4.0]);
        assert_eq!(
            FlTrust::trust_scores(&r.updates, &[3.0, 4.0]),
            [1.0, 0.0, 0.6, 0.0]
        );
        let got = FlTrust::default().aggregate(r.view(), &mut rng()).unwrap();
        // â = (3, 4), ĉ = (5, 0): (1 · (3, 4) + 0.6 · (5, 0)) / 1.6 = (3.75, 2.5).
        assert_eq!(got.update, [3.75, 2.5]);
        assert_eq!(got.suspicion.unwrap(), [0.0, 1.0, 0.4, 1.0]);
        assert_eq!(got.flagged.unwrap(), [false, true, false, true]);
        assert!(FlTrust::default().needs_root());
    }

    #[test]
    fn no_trust_at_all_gives_the_zero_update() {
        let updates = vec![vec![-1.0, 0.0], vec![0.0, 0.0]];
        let got = FlTrust::default()
            .aggregate(with_root(&updates, &[1.0, 0.0]).view(), &mut rng())
            .unwrap();
        assert_eq!(got.update, [0.0, 0.0]);
        assert_eq!(got.flagged.unwrap(), [true, true]);
        // A zero root trusts nobody either.
        let got = FlTrust::default()
            .aggregate(with_root(&[vec![1.0, 2.0]], &[0.0, 0.0]).view(), &mut rng())
            .unwrap();
        assert_eq!(got.update, [0.0, 0.0]);
    }

    #[test]
    fn a_coordinate_beyond_f32s_range_saturates() {
        // Root (3e38, 3e38) has norm 4.2e38 > f32::MAX; (1, 0), rescaled to
        // it, would overflow in its first coordinate.
        let got = FlTrust::default()
            .aggregate(
                with_root(&[vec![1.0, 0.0]], &[3e38, 3e38]).view(),
                &mut rng(),
            )
            .unwrap();
        assert_eq!(got.update, [f32::MAX, 0.0]);
    }

    #[test]
    fn the_root_must_be_there_of_the_right_length_and_finite() {
        let updates = vec![vec![1.0, 2.0]];
        let e = FlTrust::default()
            .aggregate(round(&updates).view(), &mut rng())
            .unwrap_err();
        assert_eq!(e, AggregationError::RootMissing);
        assert_eq!(
            e.to_string(),
            "fltrust needs the server's update on its root set, but the round has none"
        );
        let e = FlTrust::default()
            .aggregate(with_root(&updates, &[1.0]).view(), &mut rng())
            .unwrap_err();
        assert_eq!(
            e,
            AggregationError::RootLength {
                len: 1,
                expected: 2
            }
        );
        let e = FlTrust::default()
            .aggregate(with_root(&updates, &[1.0, f32::NAN]).view(), &mut rng())
            .unwrap_err();
        assert!(matches!(
            e,
            AggregationError::RootNonFinite { coordinate: 1, .. }
        ));
    }
}
