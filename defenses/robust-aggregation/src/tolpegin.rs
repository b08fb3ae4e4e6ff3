//! Tolpegin et al.'s defense: PCA of the output-layer parameters of the
//! attacked class, two clusters, the smaller one left out.

use nalgebra::{DMatrix, SymmetricEigen};
use poisonlab_core::{
    Aggregated, BuildContext, DataFacts, Kind, ParamError, Rng, UpdateAggregator, UpdateRound,
};

use crate::common::{check_round, rows, sample_weights, weighted_mean};
use crate::{AggregationError, TolpeginPcaParams};

/// `tolpegin-pca` (Tolpegin et al. 2020, "Data Poisoning Attacks Against
/// Federated Learning Systems", ESORICS): label flipping moves the
/// malicious clients' output-layer parameters of the attacked class apart
/// from the honest ones', which PCA makes visible. Per round it
///
/// 1. takes from every update the output-layer parameters of `class` (its
///    weight column and bias, [`poisonlab_core::OutputLayer::class_parameters`]),
///    or all output-layer parameters when `class` is unset;
/// 2. standardises every such coordinate across the round's updates (mean
///    0, standard deviation 1; a constant coordinate becomes 0);
/// 3. projects the updates on the two leading principal components, through
///    the eigen-decomposition of the n × n Gram matrix of the standardised
///    rows (scores vₖ √λₖ);
/// 4. splits the projections into two clusters by 2-means, started from the
///    two points farthest apart (the first such pair in update order) and
///    iterated until no point moves (at most 100 times; a tie goes to the
///    first cluster);
/// 5. flags the smaller cluster when the split is clear: the distance
///    between the centroids over the root mean square distance of the points
///    to their own centroid exceeds `separation`. Clusters of equal size
///    flag nothing (which side is malicious cannot be told), nor does a
///    round of fewer than 3 updates;
/// 6. applies the mean of the unflagged updates weighted by sample counts
///    (FedAvg on what is kept).
///
/// The paper gathers the updates of many rounds and shows the clusters in
/// plots; clustering each round's few updates on their own, with a fixed
/// threshold, is this crate's operationalisation of it.
///
/// Suspicion is the distance of an update's projection from the
/// coordinate-wise median of the round's projections (0 for every update of
/// a round of fewer than 3). Deterministic; the `rng` is unused.
#[derive(Debug, Clone)]
pub struct TolpeginPca {
    params: TolpeginPcaParams,
}

/// A round's projections and what clustering made of them.
#[derive(Debug, Clone, PartialEq)]
pub struct PcaSplit {
    /// Each update's projection on the two leading principal components.
    pub points: Vec<[f64; 2]>,
    /// True for the updates in the second 2-means cluster.
    pub second: Vec<bool>,
    /// Distance between the centroids over the RMS distance to the own
    /// centroid (∞ when the clusters are single points apart, 0 when the
    /// centroids coincide).
    pub separation: f64,
}

impl TolpeginPca {
    /// The examined parameters of every update (checked), one row each.
    fn features(
        &self,
        round: &UpdateRound<'_>,
        dim: usize,
    ) -> Result<Vec<Vec<f32>>, AggregationError> {
        let layer = round.output_layer;
        let end = layer
            .n_in
            .checked_add(1)
            .and_then(|k| k.checked_mul(layer.n_classes))
            .and_then(|k| k.checked_add(layer.weight_start))
            .unwrap_or(usize::MAX);
        if end > dim {
            return Err(AggregationError::OutputLayerOutside { end, len: dim });
        }
        Ok(match self.params.class {
            Some(class) => {
                if class >= layer.n_classes {
                    return Err(AggregationError::ClassOutsideOutputLayer {
                        class,
                        n_classes: layer.n_classes,
                    });
                }
                round
                    .updates
                    .iter()
                    .map(|u| layer.class_parameters(u, class))
                    .collect()
            }
            None => round
                .updates
                .iter()
                .map(|u| u[layer.weight_start..end].to_vec())
                .collect(),
        })
    }

    /// Steps 1–4 for a round (checked like [`UpdateAggregator::aggregate`];
    /// at least 3 updates for a meaningful split).
    pub fn split(&self, round: &UpdateRound<'_>) -> Result<PcaSplit, AggregationError> {
        let dim = check_round(round)?;
        let features = self.features(round, dim)?;
        let points = project(&features)?;
        let (second, separation) = two_means(&points);
        Ok(PcaSplit {
            points,
            second,
            separation,
        })
    }
}

/// The rows standardised per column and projected on the two leading
/// principal components.
fn project(features: &[Vec<f32>]) -> Result<Vec<[f64; 2]>, AggregationError> {
    let n = features.len();
    let p = features.first().map_or(0, Vec::len);
    let mut x = DMatrix::<f64>::zeros(n, p);
    for j in 0..p {
        let mean = features.iter().map(|r| f64::from(r[j])).sum::<f64>() / n as f64;
        let var = features
            .iter()
            .map(|r| (f64::from(r[j]) - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        let sd = var.sqrt();
        for (i, r) in features.iter().enumerate() {
            x[(i, j)] = if sd > 0.0 {
                (f64::from(r[j]) - mean) / sd
            } else {
                0.0
            };
        }
    }
    let gram = &x * x.transpose();
    let eigen = SymmetricEigen::try_new(gram, f64::EPSILON, 1000 * n.max(1))
        .ok_or(AggregationError::EigenFailed { n })?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        eigen.eigenvalues[b]
            .total_cmp(&eigen.eigenvalues[a])
            .then(a.cmp(&b))
    });
    let component = |k: usize, i: usize| {
        order.get(k).map_or(0.0, |&c| {
            eigen.eigenvectors[(i, c)] * eigen.eigenvalues[c].max(0.0).sqrt()
        })
    };
    Ok((0..n).map(|i| [component(0, i), component(1, i)]).collect())
}

fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn centroid(points: &[[f64; 2]], members: impl Iterator<Item = usize>) -> Option<[f64; 2]> {
    let (mut sum, mut count) = ([0.0, 0.0], 0usize);
    for i in members {
        sum[0] += points[i][0];
        sum[1] += points[i][1];
        count += 1;
    }
    (count > 0).then(|| [sum[0] / count as f64, sum[1] / count as f64])
}

/// 2-means on `points` (step 4): the membership of the second cluster and
/// the separation of step 5.
fn two_means(points: &[[f64; 2]]) -> (Vec<bool>, f64) {
    let n = points.len();
    if n < 2 {
        return (vec![false; n], 0.0);
    }
    let (mut a, mut b, mut farthest) = (0, 1, -1.0);
    for i in 0..n {
        for j in i + 1..n {
            let d = distance(points[i], points[j]);
            if d > farthest {
                (a, b, farthest) = (i, j, d);
            }
        }
    }
    let mut centres = [points[a], points[b]];
    let mut second = vec![false; n];
    for iteration in 0..100 {
        let next: Vec<bool> = points
            .iter()
            .map(|&p| distance(p, centres[1]) < distance(p, centres[0]))
            .collect();
        if iteration > 0 && next == second {
            break;
        }
        second = next;
        for (k, centre) in centres.iter_mut().enumerate() {
            if let Some(c) = centroid(points, (0..n).filter(|&i| second[i] == (k == 1))) {
                *centre = c;
            }
        }
    }
    let gap = distance(centres[0], centres[1]);
    let within = points
        .iter()
        .zip(&second)
        .map(|(&p, &s)| distance(p, centres[usize::from(s)]).powi(2))
        .sum::<f64>()
        / n as f64;
    let spread = within.sqrt();
    let separation = if gap == 0.0 {
        0.0
    } else if spread == 0.0 {
        f64::INFINITY
    } else {
        gap / spread
    };
    (second, separation)
}

/// Distance of every point from the coordinate-wise median of all.
fn distances_from_median(points: &[[f64; 2]]) -> Vec<f64> {
    let median = |k: usize| {
        let mut v: Vec<f64> = points.iter().map(|p| p[k]).collect();
        v.sort_unstable_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let m = [median(0), median(1)];
    points.iter().map(|&p| distance(p, m)).collect()
}

impl Kind for TolpeginPca {
    type Params = TolpeginPcaParams;

    fn build(params: TolpeginPcaParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check(ctx.facts)?;
        Ok(Self { params })
    }

    fn params(&self) -> &TolpeginPcaParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.params.check(facts)
    }

    fn describe(&self) -> String {
        let of = match self.params.class {
            Some(c) => format!("class {c}'s output-layer parameters"),
            None => "all output-layer parameters".to_string(),
        };
        format!(
            "tolpegin-pca, {of}, separation = {}",
            self.params.separation
        )
    }
}

impl UpdateAggregator for TolpeginPca {
    type Error = AggregationError;

    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        _rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error> {
        let dim = check_round(&round)?;
        let n = round.updates.len();
        let (flagged, suspicion) = if n < 3 {
            // Still check the layer and class, so a bad setup fails early.
            self.features(&round, dim)?;
            (vec![false; n], vec![0.0; n])
        } else {
            let split = self.split(&round)?;
            let in_second = split.second.iter().filter(|&&s| s).count();
            let smaller_is_second = match (2 * in_second).cmp(&n) {
                std::cmp::Ordering::Less => Some(true),
                std::cmp::Ordering::Greater => Some(false),
                std::cmp::Ordering::Equal => None,
            };
            let flagged = match smaller_is_second {
                Some(side) if split.separation > self.params.separation => {
                    split.second.iter().map(|&s| s == side).collect()
                }
                _ => vec![false; n],
            };
            (flagged, distances_from_median(&split.points))
        };
        let kept: Vec<usize> = (0..n).filter(|&i| !flagged[i]).collect();
        let kept_samples: Vec<usize> = kept.iter().map(|&i| round.samples[i]).collect();
        let mut weights = vec![0.0; n];
        for (&i, w) in kept.iter().zip(sample_weights(&kept_samples)) {
            weights[i] = w;
        }
        Ok(Aggregated {
            update: weighted_mean(&rows(round.updates), &weights, dim),
            suspicion: Some(suspicion),
            flagged: Some(flagged),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ctx, rng, round};
    use poisonlab_core::{OutputLayer, stream};
    use rand::Rng as _;

    fn pca(class: Option<usize>) -> TolpeginPca {
        TolpeginPca::build(
            TolpeginPcaParams {
                class,
                ..TolpeginPcaParams::default()
            },
            &ctx(),
        )
        .unwrap()
    }

    /// Ten updates of a model with 6 hidden parameters and an output layer
    /// 4 → 3. Honest clients learn classes 1 and 2 (+1 on each weight and
    /// bias of theirs, with noise of ±0.3 everywhere); clients 3 and 7 relabel
    /// class 1 as class 2, so they push class 1's parameters down (−1) and
    /// class 2's up twice as much (+2).
    fn label_flip_round(seed: u64) -> crate::testing::Round {
        let layer = OutputLayer::last(6 + 15, 4, 3);
        let mut r = stream(seed, 0, "tolpegin-test");
        let updates: Vec<Vec<f32>> = (0..10)
            .map(|client| {
                let mut u: Vec<f32> = (0..21).map(|_| r.random_range(-0.3..0.3)).collect();
                let (source, target) = if client == 3 || client == 7 {
                    (-1.0, 2.0)
                } else {
                    (1.0, 1.0)
                };
                for i in 0..5 {
                    // Weights i · 3 + class for i < 4, then the biases.
                    u[layer.weight_start + i * 3 + 1] += source;
                    u[layer.weight_start + i * 3 + 2] += target;
                }
                u
            })
            .collect();
        let mut round = round(&updates);
        round.output_layer = layer;
        round
    }

    #[test]
    fn flags_the_two_label_flippers_among_ten() {
        for seed in 0..5 {
            let r = label_flip_round(seed);
            for class in [Some(1), None] {
                let got = pca(class).aggregate(r.view(), &mut rng()).unwrap();
                let flagged = got.flagged.unwrap();
                let want: Vec<bool> = (0..10).map(|c| c == 3 || c == 7).collect();
                assert_eq!(flagged, want, "seed {seed}, class {class:?}");
                // The flippers are also the most suspicious.
                let s = got.suspicion.unwrap();
                let honest_max = (0..10)
                    .filter(|&c| c != 3 && c != 7)
                    .map(|c| s[c])
                    .fold(0.0, f64::max);
                assert!(s[3] > honest_max && s[7] > honest_max, "{s:?}");
                // The update is the mean of the eight honest ones.
                let honest: Vec<&[f32]> = (0..10)
                    .filter(|&c| c != 3 && c != 7)
                    .map(|c| r.updates[c].as_slice())
                    .collect();
                let want = weighted_mean(&honest, &[1.0; 8], 21);
                assert_eq!(got.update, want);
            }
        }
    }

    #[test]
    fn honest_noise_alone_flags_nobody() {
        // 200 rounds of 10 clients whose updates are pure noise.
        let mut r = stream(9, 0, "tolpegin-noise");
        let layer = OutputLayer::last(65, 4, 13);
        for _ in 0..200 {
            let updates: Vec<Vec<f32>> = (0..10)
                .map(|_| (0..65).map(|_| r.random_range(-1.0..1.0)).collect())
                .collect();
            let mut round = round(&updates);
            round.output_layer = layer;
            let got = pca(Some(2)).aggregate(round.view(), &mut rng()).unwrap();
            assert_eq!(got.flagged.unwrap(), [false; 10]);
        }
    }

    #[test]
    fn two_means_splits_and_measures_separation_by_hand() {
        // Two pairs 10 apart: centroids (0, 0.5) and (10, 0.5), gap 10; every
        // point 0.5 from its centroid: separation 20.
        let points = [[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]];
        let (second, separation) = two_means(&points);
        assert_eq!(second, [false, false, true, true]);
        assert_eq!(separation, 20.0);
        // All in one place: nothing to separate.
        let (_, separation) = two_means(&[[1.0, 1.0]; 4]);
        assert_eq!(separation, 0.0);
        assert_eq!(
            distances_from_median(&[[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]]),
            [0.0, 5.0, 0.0]
        );
    }

    #[test]
    fn small_rounds_and_bad_layers() {
        let r = round(&[vec![1.0, 2.0], vec![3.0, 4.0]]);
        let got = pca(None).aggregate(r.view(), &mut rng()).unwrap();
        assert_eq!(got.flagged.unwrap(), [false, false]);
        assert_eq!(got.update, [2.0, 3.0]);
        let e = pca(Some(1)).aggregate(r.view(), &mut rng()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "class 1 is not an output of the output layer, which has 1 classes"
        );
        let mut bad = round(&vec![vec![1.0, 2.0]; 3]);
        bad.output_layer = OutputLayer {
            weight_start: 1,
            n_in: 1,
            n_classes: 1,
        };
        let e = pca(None).aggregate(bad.view(), &mut rng()).unwrap_err();
        assert_eq!(e, AggregationError::OutputLayerOutside { end: 3, len: 2 });
    }

    #[test]
    fn checks_the_class_against_the_data_and_describes_itself() {
        let facts = DataFacts {
            n_classes: Some(3),
            shape: None,
        };
        let c = ctx();
        let with_facts = BuildContext::new(c.base_dir, &facts);
        let e = TolpeginPca::build(
            TolpeginPcaParams {
                class: Some(3),
                separation: 4.0,
            },
            &with_facts,
        )
        .unwrap_err();
        assert_eq!(e[0].key, "class");
        let p = pca(Some(3));
        assert!(p.check_data(&facts).is_err());
        assert_eq!(
            p.describe(),
            "tolpegin-pca, class 3's output-layer parameters, separation = 4"
        );
        assert_eq!(
            pca(None).describe(),
            "tolpegin-pca, all output-layer parameters, separation = 4"
        );
    }
}
