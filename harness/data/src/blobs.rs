//! `blobs`: isotropic Gaussian clusters, one per class.

use poisonlab_core::{Dataset, ParamError, Rng};
use serde::{Deserialize, Serialize};

use crate::sampling::{balanced_labels, normal_pair, uniform};
use crate::split::{Splits, TEST_ID_OFFSET, build};

/// Parameters of the `blobs` source: one isotropic Gaussian cluster per class.
///
/// Samples have shape `[dim]`. Class `c` is centred on a point `μ_c` and a
/// sample of it is `μ_c + spread · z` with `z` standard normal in every
/// coordinate.
///
/// # Centres
/// The centres are drawn uniformly from the cube `[-L, L]^dim` with
/// `L = separation · max(1, classes^(1/dim))`, one after the other; a
/// candidate closer than `separation` to an earlier centre is redrawn (up to
/// 1000 candidates per centre; then the candidate farthest from the earlier
/// centres is kept). So `separation` is, in practice, the smallest distance
/// between two centres.
///
/// # Classes, order and ids
/// As for [`crate::SyntheticDigitsParams`]: classes are balanced (label
/// `i % classes`, shuffled), train ids are `0..train`, test ids
/// [`TEST_ID_OFFSET`]` + 0..test`, and [`Self::generate`] draws from the rng in
/// this order: centres, train labels, train samples, test labels, test samples
/// (train and test share the centres).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct BlobsParams {
    /// Training samples, 1 to 10 000 000. Default 1000.
    pub train: usize,
    /// Test samples, 1 to 10 000 000. Default 500.
    pub test: usize,
    /// Number of classes (clusters), 2 to 10 000. Default 3.
    pub classes: usize,
    /// Dimension of a sample, 1 to 100 000. Default 2.
    pub dim: usize,
    /// Standard deviation of each cluster in every coordinate, positive. Default 1.0.
    pub spread: f64,
    /// Smallest distance between two cluster centres, positive. Default 4.0.
    pub separation: f64,
}

impl Default for BlobsParams {
    fn default() -> Self {
        Self {
            train: 1000,
            test: 500,
            classes: 3,
            dim: 2,
            spread: 1.0,
            separation: 4.0,
        }
    }
}

/// Candidates drawn per centre before settling for the farthest one.
const CENTRE_TRIES: usize = 1000;

impl BlobsParams {
    /// The generator's version: bumped whenever the same parameters and seed
    /// would draw different samples. Recipes record it.
    pub const VERSION: u32 = 1;
    /// Largest allowed `train` or `test`.
    pub const MAX_SPLIT: usize = 10_000_000;
    /// Largest allowed `classes`.
    pub const MAX_CLASSES: usize = 10_000;
    /// Largest allowed `dim`.
    pub const MAX_DIM: usize = 100_000;

    /// Every problem with these parameters, each naming its key.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut problems = Vec::new();
        let mut in_range = |key: &str, value: usize, min: usize, max: usize| {
            if value < min {
                problems.push(ParamError::new(
                    key,
                    format!("must be at least {min}, got {value}"),
                ));
            } else if value > max {
                problems.push(ParamError::new(
                    key,
                    format!("must be at most {max}, got {value}"),
                ));
            }
        };
        in_range("train", self.train, 1, Self::MAX_SPLIT);
        in_range("test", self.test, 1, Self::MAX_SPLIT);
        in_range("classes", self.classes, 2, Self::MAX_CLASSES);
        in_range("dim", self.dim, 1, Self::MAX_DIM);
        for (key, value) in [("spread", self.spread), ("separation", self.separation)] {
            if !(value.is_finite() && value > 0.0) {
                problems.push(ParamError::new(
                    key,
                    format!("must be a finite number above 0, got {value}"),
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Draw the centres, then the train and test splits, from `rng`.
    ///
    /// # Panics
    /// When [`Self::check`] fails: callers check parameters before generating.
    pub fn generate(&self, rng: &mut Rng) -> Splits {
        if let Err(problems) = self.check() {
            panic!("generate called with unchecked blobs params: {problems:?}");
        }
        let centres = self.centres(rng);
        let train = self.split(rng, &centres, self.train, 0);
        let test = self.split(rng, &centres, self.test, TEST_ID_OFFSET);
        Splits { train, test }
    }

    /// `classes` centres, `dim` coordinates each (see the type's docs).
    fn centres(&self, rng: &mut Rng) -> Vec<Vec<f64>> {
        let reach = self.separation * (self.classes as f64).powf(1.0 / self.dim as f64).max(1.0);
        let mut centres: Vec<Vec<f64>> = Vec::with_capacity(self.classes);
        for _ in 0..self.classes {
            let mut best: Option<(f64, Vec<f64>)> = None;
            for _ in 0..CENTRE_TRIES {
                let candidate: Vec<f64> =
                    (0..self.dim).map(|_| uniform(rng, -reach, reach)).collect();
                let nearest = centres
                    .iter()
                    .map(|c| distance(c, &candidate))
                    .fold(f64::INFINITY, f64::min);
                let far_enough = nearest >= self.separation;
                if best.as_ref().is_none_or(|(d, _)| nearest > *d) {
                    best = Some((nearest, candidate));
                }
                if far_enough {
                    break;
                }
            }
            if let Some((_, centre)) = best {
                centres.push(centre);
            }
        }
        centres
    }

    /// `n` samples around `centres`, ids from `first_id`.
    fn split(&self, rng: &mut Rng, centres: &[Vec<f64>], n: usize, first_id: u64) -> Dataset {
        let labels = balanced_labels(rng, n, self.classes);
        let mut features = Vec::with_capacity(n * self.dim);
        for &label in &labels {
            let centre = &centres[label];
            let mut k = 0;
            while k < self.dim {
                let (z0, z1) = normal_pair(rng);
                for z in [z0, z1].into_iter().take(self.dim - k) {
                    features.push((centre[k] + self.spread * z) as f32);
                    k += 1;
                }
            }
        }
        build(features, vec![self.dim], labels, self.classes, first_id)
    }
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn generated(p: &BlobsParams, seed: u64) -> Splits {
        p.generate(&mut Rng::seed_from_u64(seed))
    }

    fn with(f: impl FnOnce(&mut BlobsParams)) -> BlobsParams {
        let mut p = BlobsParams::default();
        f(&mut p);
        p
    }

    fn keys(p: &BlobsParams) -> Vec<String> {
        p.check()
            .expect_err("check should fail")
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    #[test]
    fn defaults_are_documented_values() {
        let p = BlobsParams::default();
        assert_eq!((p.train, p.test, p.classes, p.dim), (1000, 500, 3, 2));
        assert_eq!((p.spread, p.separation), (1.0, 4.0));
        assert!(p.check().is_ok());
    }

    #[test]
    fn same_seed_same_bytes_different_seed_different_data() {
        let p = BlobsParams::default();
        assert_eq!(generated(&p, 1), generated(&p, 1));
        assert_ne!(
            generated(&p, 1).train.to_features(),
            generated(&p, 2).train.to_features()
        );
    }

    #[test]
    fn shapes_ids_and_balance() {
        let p = with(|p| {
            p.train = 31;
            p.test = 7;
            p.classes = 4;
            p.dim = 5;
        });
        let s = generated(&p, 3);
        assert_eq!(s.train.shape(), &[5]);
        assert_eq!(s.train.len() * s.train.dim(), 31 * 5);
        assert_eq!(s.test.len() * s.test.dim(), 7 * 5);
        assert_eq!(s.train.n_classes(), 4);
        assert_eq!(s.train.class_counts(), vec![8, 8, 8, 7]);
        assert_eq!(s.test.class_counts(), vec![2, 2, 2, 1]);
        assert_eq!(s.train.ids(), (0..31).collect::<Vec<u64>>().as_slice());
        assert_eq!(s.test.ids()[0], TEST_ID_OFFSET);
        assert_eq!(s.test.ids()[6], TEST_ID_OFFSET + 6);
    }

    #[test]
    fn odd_dimensions_fill_every_coordinate() {
        let p = with(|p| p.dim = 3);
        let s = generated(&p, 4);
        assert!(s.train.rows().flatten().all(|v| v.is_finite()));
        assert_eq!(s.train.len() * s.train.dim(), 1000 * 3);
    }

    /// Per-class mean and standard deviation, pooled over coordinates.
    fn class_stats(d: &Dataset, classes: usize) -> Vec<(Vec<f64>, f64)> {
        let dim = d.dim();
        (0..classes)
            .map(|c| {
                let rows: Vec<&[f32]> = (0..d.len())
                    .filter(|&i| d.labels()[i] == c)
                    .map(|i| d.sample(i))
                    .collect();
                let n = rows.len() as f64;
                let mean: Vec<f64> = (0..dim)
                    .map(|k| rows.iter().map(|r| f64::from(r[k])).sum::<f64>() / n)
                    .collect();
                let var = rows
                    .iter()
                    .flat_map(|r| {
                        r.iter()
                            .zip(&mean)
                            .map(|(&v, m)| (f64::from(v) - m).powi(2))
                    })
                    .sum::<f64>()
                    / (n * dim as f64);
                (mean, var.sqrt())
            })
            .collect()
    }

    #[test]
    fn clusters_have_the_asked_spread_and_separation() {
        let p = with(|p| {
            p.train = 6000;
            p.classes = 4;
            p.dim = 3;
            p.spread = 0.5;
            p.separation = 6.0;
        });
        let s = generated(&p, 5);
        let stats = class_stats(&s.train, 4);
        for (_, sd) in &stats {
            assert!((sd - 0.5).abs() < 0.03, "spread {sd}");
        }
        for a in 0..4 {
            for b in a + 1..4 {
                let d = distance(&stats[a].0, &stats[b].0);
                assert!(d > 6.0 - 0.1, "centres {a} and {b} only {d} apart");
            }
        }
        // Train and test share the centres.
        let test_stats = class_stats(&s.test, 4);
        for (tr, te) in stats.iter().zip(&test_stats) {
            assert!(distance(&tr.0, &te.0) < 0.2);
        }
    }

    #[test]
    fn many_classes_in_one_dimension_still_get_centres() {
        let p = with(|p| {
            p.classes = 50;
            p.dim = 1;
            p.train = 100;
        });
        let s = generated(&p, 6);
        assert_eq!(s.train.class_counts(), vec![2; 50]);
    }

    #[test]
    fn check_rejects_zero_train() {
        assert_eq!(keys(&with(|p| p.train = 0)), ["train"]);
    }

    #[test]
    fn check_rejects_zero_test() {
        assert_eq!(keys(&with(|p| p.test = 0)), ["test"]);
    }

    #[test]
    fn check_rejects_huge_splits() {
        assert_eq!(
            keys(&with(|p| p.train = BlobsParams::MAX_SPLIT + 1)),
            ["train"]
        );
    }

    #[test]
    fn check_rejects_fewer_than_two_classes() {
        let e = with(|p| p.classes = 1)
            .check()
            .expect_err("check should fail");
        assert_eq!(
            e,
            vec![ParamError::new("classes", "must be at least 2, got 1")]
        );
    }

    #[test]
    fn check_rejects_zero_dim() {
        let e = with(|p| p.dim = 0).check().expect_err("check should fail");
        assert_eq!(e, vec![ParamError::new("dim", "must be at least 1, got 0")]);
    }

    #[test]
    fn check_rejects_bad_spread() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(keys(&with(|p| p.spread = bad)), ["spread"], "{bad}");
        }
    }

    #[test]
    fn check_rejects_bad_separation() {
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(keys(&with(|p| p.separation = bad)), ["separation"], "{bad}");
        }
    }

    #[test]
    fn check_reports_every_problem_at_once() {
        let p = BlobsParams {
            train: 0,
            test: 0,
            classes: 0,
            dim: 0,
            spread: -1.0,
            separation: 0.0,
        };
        assert_eq!(
            keys(&p),
            ["train", "test", "classes", "dim", "spread", "separation"]
        );
    }

    #[test]
    fn deserializes_kebab_case_with_defaults_and_rejects_unknown_keys() {
        let p: BlobsParams = toml::from_str("classes = 5\nspread = 0.5").expect("valid toml");
        assert_eq!(
            p,
            with(|p| {
                p.classes = 5;
                p.spread = 0.5;
            })
        );
        assert!(toml::from_str::<BlobsParams>("class = 5").is_err());
    }
}
