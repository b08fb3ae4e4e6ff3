//! FoolsGold: clients whose update histories point the same way are sybils.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use poisonlab_core::{
    Aggregated, BuildContext, Kind, ParamError, Rng, UpdateAggregator, UpdateRound,
};

use crate::common::{check_round, combine, rows, saturating_f32};
use crate::pairwise::{Symmetric, gram};
use crate::{AggregationError, FoolsGoldParams};

/// `foolsgold` (Fung et al. 2020, "The Limitations of Federated Learning in
/// Sybil Settings", RAID), following the paper's Algorithm 1. Stateful: it
/// keeps, per client id ([`UpdateRound::clients`]), the sum Hᵢ of every
/// update that client has sent. Each round it
///
/// 1. adds this round's updates to the senders' histories;
/// 2. takes the cosine similarity csᵢⱼ of the histories of every two
///    clients of the round, over the whole update vector (the paper's
///    optional feature-importance weighting of the output layer is not
///    applied), and vᵢ = maxⱼ≠ᵢ csᵢⱼ;
/// 3. pardons: where vⱼ > vᵢ (and vⱼ > 0), csᵢⱼ ← csᵢⱼ · vᵢ / vⱼ, so an
///    honest client that merely resembles a sybil is not punished for it;
/// 4. sets αᵢ = 1 − maxⱼ≠ᵢ csᵢⱼ clipped to [0, 1], divides by the largest
///    α, sets the weights equal to 1 to 0.99, and spreads them with the
///    logit αᵢ ← κ (ln(αᵢ / (1 − αᵢ)) + 0.5), clipped to [0, 1] (α = 0
///    stays 0);
/// 5. applies Σᵢ αᵢ uᵢ / Σᵢ αᵢ over this round's updates uᵢ (a normalised
///    weighted mean; the zero update when every α is 0).
///
/// A zero history has no direction: its similarities count as 0. A round of
/// one client gives it α = 1. Suspicion is 1 − αᵢ; clients with αᵢ = 0 are
/// flagged. Histories are kept in `f32`, each round's sum taken in `f64`
/// and rounded once (saturating at ±f32::MAX). A repeated client id in a
/// round, or a client whose update length changes, is an error and leaves
/// the histories as they were. Deterministic; the `rng` is unused.
#[derive(Clone)]
pub struct FoolsGold {
    params: FoolsGoldParams,
    history: BTreeMap<usize, Vec<f32>>,
}

impl fmt::Debug for FoolsGold {
    // The histories are whole update vectors: report how many, not their values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoolsGold")
            .field("params", &self.params)
            .field("clients_seen", &self.history.len())
            .finish()
    }
}

impl FoolsGold {
    /// The sum of every update client `client` has sent so far, if it has
    /// sent any.
    pub fn history(&self, client: usize) -> Option<&[f32]> {
        self.history.get(&client).map(Vec::as_slice)
    }

    /// Check the round's ids and lengths against the histories, then add
    /// each update to its sender's history.
    fn record(&mut self, round: &UpdateRound<'_>, dim: usize) -> Result<(), AggregationError> {
        let mut seen = BTreeSet::new();
        for &client in round.clients {
            if !seen.insert(client) {
                return Err(AggregationError::DuplicateClient { client });
            }
            if let Some(h) = self.history.get(&client)
                && h.len() != dim
            {
                return Err(AggregationError::HistoryLength {
                    client,
                    len: dim,
                    expected: h.len(),
                });
            }
        }
        for (&client, update) in round.clients.iter().zip(round.updates) {
            let h = self.history.entry(client).or_insert_with(|| vec![0.0; dim]);
            for (h, &u) in h.iter_mut().zip(update) {
                *h = saturating_f32(f64::from(*h) + f64::from(u));
            }
        }
        Ok(())
    }
}

/// The weights αᵢ of steps 2–4 from the Gram matrix of the round's `n`
/// histories.
fn weights(gram: &Symmetric, n: usize, kappa: f64) -> Vec<f64> {
    if n == 1 {
        return vec![1.0];
    }
    let norms: Vec<f64> = (0..n).map(|i| gram.get(i, i).sqrt()).collect();
    let mut cs = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j && norms[i] > 0.0 && norms[j] > 0.0 {
                cs[i * n + j] = (gram.get(i, j) / (norms[i] * norms[j])).clamp(-1.0, 1.0);
            }
        }
    }
    let max_other = |cs: &[f64], i: usize| {
        (0..n)
            .filter(|&j| j != i)
            .map(|j| cs[i * n + j])
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let v: Vec<f64> = (0..n).map(|i| max_other(&cs, i)).collect();
    for i in 0..n {
        for j in 0..n {
            if i != j && v[j] > v[i] && v[j] > 0.0 {
                cs[i * n + j] *= v[i] / v[j];
            }
        }
    }
    let mut alpha: Vec<f64> = (0..n)
        .map(|i| (1.0 - max_other(&cs, i)).clamp(0.0, 1.0))
        .collect();
    let top = alpha.iter().copied().fold(0.0, f64::max);
    if top == 0.0 {
        return alpha;
    }
    for a in &mut alpha {
        *a /= top;
        if *a == 1.0 {
            *a = 0.99;
        }
        if *a > 0.0 {
            *a = (kappa * ((*a / (1.0 - *a)).ln() + 0.5)).clamp(0.0, 1.0);
        }
    }
    alpha
}

impl Kind for FoolsGold {
    type Params = FoolsGoldParams;

    fn build(params: FoolsGoldParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self {
            params,
            history: BTreeMap::new(),
        })
    }

    fn params(&self) -> &FoolsGoldParams {
        &self.params
    }

    fn describe(&self) -> String {
        format!(
            "foolsgold, kappa = {}, similarity of whole-update histories",
            self.params.kappa
        )
    }
}

impl UpdateAggregator for FoolsGold {
    type Error = AggregationError;

    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        _rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error> {
        let dim = check_round(&round)?;
        self.record(&round, dim)?;
        let histories: Vec<&[f32]> = round
            .clients
            .iter()
            .map(|c| self.history.get(c).map_or(&[][..], Vec::as_slice))
            .collect();
        let n = round.updates.len();
        let alpha = weights(&gram(&histories), n, self.params.kappa);
        let total: f64 = alpha.iter().sum();
        let update = if total > 0.0 {
            combine(&rows(round.updates), &alpha, total, dim)
        } else {
            vec![0.0; dim]
        };
        Ok(Aggregated {
            update,
            suspicion: Some(alpha.iter().map(|&a| 1.0 - a).collect()),
            flagged: Some(alpha.iter().map(|&a| a == 0.0).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ctx, rng, round};
    use poisonlab_core::stream;
    use rand::Rng as _;

    fn foolsgold(kappa: f64) -> FoolsGold {
        FoolsGold::build(FoolsGoldParams { kappa }, &ctx()).unwrap()
    }

    #[test]
    fn weights_follow_algorithm_1_by_hand() {
        // a = (1, 0, 0), b = (0, 1, 0), c = (0.6, 0, 0.8): cs(a, c) = 0.6,
        // the rest 0; v = (0.6, 0, 0.6). Pardoning changes nothing here
        // (b's similarities are 0). α = (0.4, 1, 0.4); over the max 1 → 0.99
        // → logit ln 99 + 0.5 > 1 → 1; a and c: ln(0.4 / 0.6) + 0.5 ≈ 0.0945.
        let updates = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.6, 0.0, 0.8],
        ];
        let got = foolsgold(1.0)
            .aggregate(round(&updates).view(), &mut rng())
            .unwrap();
        let w = (0.4f64 / 0.6).ln() + 0.5;
        let want_alpha = [w, 1.0, w];
        let suspicion = got.suspicion.unwrap();
        for (s, a) in suspicion.iter().zip(want_alpha) {
            assert!((s - (1.0 - a)).abs() < 1e-6, "{suspicion:?}");
        }
        // (w a + b + w c) / (2w + 1).
        let total = 2.0 * w + 1.0;
        let want = [1.6 * w / total, 1.0 / total, 0.8 * w / total];
        for (g, x) in got.update.iter().zip(want) {
            assert!((f64::from(*g) - x).abs() < 1e-6, "{:?}", got.update);
        }
        assert_eq!(got.flagged.unwrap(), [false, false, false]);
    }

    #[test]
    fn pardoning_lowers_similarity_to_a_client_more_similar_elsewhere() {
        // a = (1, 0), b = (0.6, 0.8), c = (0, 1): cs(a, b) = 0.6,
        // cs(b, c) = 0.8, cs(a, c) = 0; v = (0.6, 0.8, 0.8). For a, v_b > v_a:
        // cs(a, b) = 0.6 · 0.6 / 0.8 = 0.45. α = (0.55, 0.2, 0.2) → over the
        // max (1, 4/11, 4/11) → 0.99 → 1 and ln(4/7) + 0.5 < 0 → 0.
        let updates = vec![vec![1.0, 0.0], vec![0.6, 0.8], vec![0.0, 1.0]];
        let got = foolsgold(1.0)
            .aggregate(round(&updates).view(), &mut rng())
            .unwrap();
        assert_eq!(got.update, [1.0, 0.0]);
        assert_eq!(got.flagged.unwrap(), [false, true, true]);
    }

    #[test]
    fn sybils_repeating_one_update_get_no_weight_over_rounds() {
        let mut r = stream(5, 0, "foolsgold-test");
        let dim = 200;
        let sybil: Vec<f32> = (0..dim).map(|_| r.random_range(-1.0..1.0)).collect();
        let mut fg = foolsgold(1.0);
        // Clients 0–4 honest (fresh noise every round), 10–12 sybils; the ids
        // arrive in a different order each round.
        for number in 1..=4 {
            let mut clients: Vec<usize> = vec![0, 1, 2, 3, 4, 10, 11, 12];
            clients.rotate_left(number);
            let updates: Vec<Vec<f32>> = clients
                .iter()
                .map(|&c| {
                    if c >= 10 {
                        sybil.clone()
                    } else {
                        (0..dim).map(|_| r.random_range(-1.0..1.0)).collect()
                    }
                })
                .collect();
            let mut round = round(&updates);
            round.number = number;
            round.clients = clients.clone();
            let got = fg.aggregate(round.view(), &mut rng()).unwrap();
            let flagged = got.flagged.unwrap();
            let suspicion = got.suspicion.unwrap();
            for (k, &c) in clients.iter().enumerate() {
                if c >= 10 {
                    assert!(flagged[k], "round {number}: sybil {c}");
                    assert_eq!(suspicion[k], 1.0);
                } else {
                    assert!(!flagged[k], "round {number}: honest {c}");
                    assert!(suspicion[k] < 0.5, "round {number}: {suspicion:?}");
                }
            }
        }
        // Every client's history is the sum of what it sent: the sybils'
        // is four times the sybil update.
        let h = fg.history(10).unwrap();
        assert_eq!(h[0], sybil[0] * 4.0);
    }

    #[test]
    fn a_bad_round_leaves_the_histories_as_they_were() {
        let mut fg = foolsgold(1.0);
        let first = round(&[vec![1.0, 2.0], vec![3.0, 4.0]]);
        fg.aggregate(first.view(), &mut rng()).unwrap();
        let mut twice = round(&[vec![1.0, 1.0], vec![1.0, 1.0]]);
        twice.clients = vec![1, 1];
        let e = fg.aggregate(twice.view(), &mut rng()).unwrap_err();
        assert_eq!(e, AggregationError::DuplicateClient { client: 1 });
        let longer = round(&[vec![1.0, 1.0, 1.0]]);
        let e = fg.aggregate(longer.view(), &mut rng()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "client 0 sent 3 values but 2 in earlier rounds; updates must keep one length"
        );
        assert_eq!(fg.history(0).unwrap(), [1.0, 2.0]);
        assert_eq!(fg.history(1).unwrap(), [3.0, 4.0]);
        assert_eq!(
            format!("{fg:?}"),
            "FoolsGold { params: FoolsGoldParams { kappa: 1.0 }, clients_seen: 2 }"
        );
    }

    #[test]
    fn one_client_alone_gets_full_weight() {
        let got = foolsgold(1.0)
            .aggregate(round(&[vec![2.0, -1.0]]).view(), &mut rng())
            .unwrap();
        assert_eq!(got.update, [2.0, -1.0]);
        assert_eq!(got.flagged.unwrap(), [false]);
    }
}
