use poisonlab_core::{Classifier, Dataset, Rng};
use rand::Rng as _;

use crate::{StripError, StripParams};

/// STRIP with checked parameters.
#[derive(Debug, Clone)]
pub struct Strip {
    params: StripParams,
}

/// Mean prediction entropy of each input under superimposition (low = suspicious).
#[derive(Debug, Clone, PartialEq)]
pub struct StripScores {
    /// One entropy per input, in nats.
    pub entropy: Vec<f64>,
}

impl Strip {
    /// STRIP for parameters that passed [`StripParams::check`].
    pub fn new(params: StripParams) -> Self {
        Self { params }
    }

    /// Mean entropy of `model`'s predictions on each input superimposed with
    /// `n` images drawn (with replacement) from `trusted`: the images are added
    /// value by value and clipped to the range of values the trusted set
    /// holds (`[0, 1]` for images), the paper's superimposition, which keeps a
    /// trigger's pixels at full strength where the other image is dark.
    /// When `exclude_self` is set, input i is never blended with trusted sample i
    /// (used when the inputs are the trusted samples themselves).
    pub fn entropy(
        &self,
        model: &dyn Classifier,
        inputs: &Dataset,
        trusted: &Dataset,
        exclude_self: bool,
        rng: &mut Rng,
    ) -> Result<StripScores, StripError> {
        if trusted.len() < 2 {
            return Err(StripError::NoTrusted { needed: 2 });
        }
        if inputs.shape() != trusted.shape() {
            return Err(StripError::Shape {
                inputs: inputs.shape().to_vec(),
                trusted: trusted.shape().to_vec(),
            });
        }
        let n = self.params.n;
        let (lo, hi) = trusted
            .features()
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        let mut entropy = Vec::with_capacity(inputs.len());
        for i in 0..inputs.len() {
            let mut blends = Vec::with_capacity(n * inputs.dim());
            for _ in 0..n {
                let mut t = rng.random_range(0..trusted.len());
                while exclude_self && t == i {
                    t = rng.random_range(0..trusted.len());
                }
                blends.extend(
                    inputs
                        .sample(i)
                        .iter()
                        .zip(trusted.sample(t))
                        .map(|(a, b)| (a + b).clamp(lo, hi)),
                );
            }
            let batch = Dataset::new(
                blends,
                inputs.shape().to_vec(),
                vec![0; n],
                inputs.n_classes(),
                None,
            )
            .unwrap_or_else(|e| unreachable!("blends have the inputs' shape: {e}"));
            let p = model.predict_proba(&batch);
            let h: f64 = (0..p.rows)
                .map(|r| {
                    p.row(r)
                        .iter()
                        .map(|&q| {
                            if q > 0.0 {
                                -(q as f64) * (q as f64).ln()
                            } else {
                                0.0
                            }
                        })
                        .sum::<f64>()
                })
                .sum::<f64>()
                / n as f64;
            entropy.push(h);
        }
        Ok(StripScores { entropy })
    }

    /// The entropy threshold for the chosen FRR: the `frr` quantile of clean
    /// entropies (inputs at or below it are rejected). `None` when the FRR allows
    /// rejecting no clean sample at all (fewer than 1 / frr clean samples): then
    /// nothing is rejected.
    pub fn threshold(&self, clean_entropy: &[f64]) -> Option<f64> {
        let mut sorted = clean_entropy.to_vec();
        sorted.sort_by(f64::total_cmp);
        // The largest value with at most frr of the clean samples at or below it.
        let k = (self.params.frr * sorted.len() as f64).floor() as usize;
        k.checked_sub(1).map(|i| sorted[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::Matrix;
    use poisonlab_core::seed::stream;

    /// A "model" that is certain of class 0 when feature 0 is above 0.7, and
    /// otherwise follows feature 1 (its predictions move with the blend).
    struct Fake;

    impl Classifier for Fake {
        fn n_classes(&self) -> usize {
            2
        }
        fn predict_proba(&self, data: &Dataset) -> Matrix {
            let mut out = Vec::new();
            for i in 0..data.len() {
                let x = data.sample(i);
                let p0 = if x[0] > 0.7 {
                    1.0
                } else {
                    x[1].clamp(0.0, 1.0)
                };
                out.extend([p0, 1.0 - p0]);
            }
            Matrix::new(data.len(), 2, out)
        }
        fn embed(&self, data: &Dataset) -> Matrix {
            Matrix::new(data.len(), data.dim(), data.features().to_vec())
        }
        fn input_gradient(&self, data: &Dataset) -> Matrix {
            self.embed(data)
        }
        fn feature_gradient(&self, data: &Dataset, _: &Matrix) -> Matrix {
            self.embed(data)
        }
    }

    fn set(rows: &[[f32; 2]]) -> Dataset {
        Dataset::new(
            rows.iter().flatten().copied().collect(),
            vec![2],
            vec![0; rows.len()],
            2,
            None,
        )
        .unwrap()
    }

    #[test]
    fn triggered_inputs_have_low_entropy() {
        let trusted = set(&[
            [0.0, 0.0],
            [0.2, 1.0],
            [0.1, 0.5],
            [0.3, 0.2],
            [0.0, 0.8],
            [0.2, 0.4],
        ]);
        // A "triggered" input: feature 0 at 1.6 stays above 0.7 in every blend
        // (the sum is clipped to the trusted range, [0, 1]); the clean input's
        // prediction follows feature 1 of whatever it is blended with.
        let inputs = set(&[[1.6, 0.5], [0.1, 0.0]]);
        let strip = Strip::new(StripParams { n: 30, frr: 0.2 });
        let s = strip
            .entropy(&Fake, &inputs, &trusted, false, &mut stream(0, 0, "s"))
            .unwrap();
        assert_eq!(s.entropy[0], 0.0);
        assert!(s.entropy[1] > 0.3, "{:?}", s.entropy);
    }

    #[test]
    fn threshold_is_the_frr_quantile_of_clean_entropy() {
        let strip = Strip::new(StripParams { n: 1, frr: 0.2 });
        let clean = [0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.6, 0.4, 0.2, 1.0];
        // 20 % of 10 = 2 rejected: 0.1 and 0.2.
        assert_eq!(strip.threshold(&clean), Some(0.2));
        let rejected = clean.iter().filter(|&&h| h <= 0.2).count();
        assert_eq!(rejected, 2);
        assert_eq!(
            Strip::new(StripParams { n: 1, frr: 0.01 }).threshold(&clean),
            None
        );
    }

    #[test]
    fn needs_trusted_samples_of_the_same_shape() {
        let strip = Strip::new(StripParams::default());
        let one = set(&[[0.0, 0.0]]);
        assert_eq!(
            strip.entropy(&Fake, &one, &one, false, &mut stream(0, 0, "s")),
            Err(StripError::NoTrusted { needed: 2 })
        );
    }
}
