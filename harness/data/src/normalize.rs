//! Feature standardisation with training statistics.

use poisonlab_core::Dataset;

/// Standardise every feature to mean 0 and standard deviation 1 over `train`,
/// and apply the same shift and scale to each of `others` (test, trusted,
/// ...), so no statistic leaks from them into the transform.
///
/// Feature `j` becomes `(x - mean_j) / std_j` with the mean and the population
/// standard deviation (divide by `n`) of feature `j` over the training
/// samples, accumulated in `f64`. A feature constant over the training set
/// (`std_j = 0`) is only centred (divided by 1). An empty training set leaves
/// everything unchanged.
///
/// Call it after poisoning if the attack should see the raw value range, or
/// before if the trigger is meant in standardised units; for images whose
/// values are already in `[0, 1]` it is usually not wanted at all.
///
/// # Panics
/// When a dataset in `others` has a different sample size (`dim`) from
/// `train`: the loaders give train and test the same shape.
pub fn standardize(train: &mut Dataset, others: &mut [&mut Dataset]) {
    let dim = train.dim();
    for other in others.iter() {
        assert_eq!(
            other.dim(),
            dim,
            "standardize: a dataset with {} features next to a train set with {dim}",
            other.dim()
        );
    }
    let n = train.len();
    if n == 0 {
        return;
    }
    let mut mean = vec![0f64; dim];
    for row in train.rows() {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut var = vec![0f64; dim];
    for row in train.rows() {
        for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (f64::from(v) - m).powi(2);
        }
    }
    let scale: Vec<f64> = var
        .iter()
        .map(|s| {
            let std = (s / n as f64).sqrt();
            if std > 0.0 { 1.0 / std } else { 1.0 }
        })
        .collect();
    let apply = |data: &mut Dataset| {
        for row in data.features_mut().chunks_exact_mut(dim) {
            for ((v, m), k) in row.iter_mut().zip(&mean).zip(&scale) {
                *v = ((f64::from(*v) - m) * k) as f32;
            }
        }
    };
    apply(train);
    for other in others.iter_mut() {
        apply(other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlobsParams;
    use poisonlab_core::Rng;
    use rand::SeedableRng;

    fn stats(d: &Dataset, j: usize) -> (f64, f64) {
        let dim = d.dim();
        let xs: Vec<f64> = d.to_features()[j..]
            .iter()
            .step_by(dim)
            .map(|&v| f64::from(v))
            .collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn train_gets_mean_zero_std_one() {
        let mut s = BlobsParams {
            dim: 4,
            ..BlobsParams::default()
        }
        .generate(&mut Rng::seed_from_u64(2));
        standardize(&mut s.train, &mut [&mut s.test]);
        for j in 0..4 {
            let (mean, std) = stats(&s.train, j);
            assert!(mean.abs() < 1e-5, "feature {j}: mean {mean}");
            assert!((std - 1.0).abs() < 1e-5, "feature {j}: std {std}");
        }
    }

    #[test]
    fn others_use_the_training_statistics() {
        // Feature 0 over train: 1, 3 -> mean 2, std 1. Feature 1: constant 5.
        let mut train =
            Dataset::new(vec![1.0, 5.0, 3.0, 5.0], vec![2], vec![0, 1], 2, None).unwrap();
        let mut test = Dataset::new(vec![4.0, 7.0], vec![2], vec![0], 2, None).unwrap();
        let mut trusted = Dataset::new(vec![2.0, 5.0], vec![2], vec![1], 2, None).unwrap();
        standardize(&mut train, &mut [&mut test, &mut trusted]);
        assert_eq!(train.to_features(), [-1.0, 0.0, 1.0, 0.0]);
        // (4 - 2) / 1 and (7 - 5) / 1: the constant feature is only centred.
        assert_eq!(test.to_features(), [2.0, 2.0]);
        assert_eq!(trusted.to_features(), [0.0, 0.0]);
    }

    #[test]
    fn an_empty_train_set_changes_nothing() {
        let mut train = Dataset::new(vec![], vec![2], vec![], 2, None).unwrap();
        let mut test = Dataset::new(vec![4.0, 7.0], vec![2], vec![0], 2, None).unwrap();
        standardize(&mut train, &mut [&mut test]);
        assert_eq!(test.to_features(), [4.0, 7.0]);
    }
}
