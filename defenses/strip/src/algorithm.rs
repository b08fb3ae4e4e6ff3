use poisonlab_core::{
    BuildContext, Classifier, Dataset, InputDetector, Kind, ParamError, Rng, ScreenInput, Screening,
};
use rand::Rng as _;

use crate::{StripError, StripParams};

/// STRIP (Gao, Xu, Wang, Chen, Ranasinghe and Nepal 2019, "STRIP: A Defence
/// Against Trojan Attacks on Deep Neural Networks", ACSAC) with checked
/// parameters: an input whose predictions stay certain however it is
/// superimposed with clean images is rejected.
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
    /// STRIP for `params`, or every problem [`StripParams::check`] finds
    /// with them.
    pub fn new(params: StripParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// The parameters this detector runs with.
    pub fn params(&self) -> &StripParams {
        &self.params
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
            .rows()
            .flatten()
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

impl Kind for Strip {
    type Params = StripParams;

    fn build(params: StripParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &StripParams {
        &self.params
    }

    fn describe(&self) -> String {
        // Percent, without the float noise of the product.
        let percent = (self.params.frr * 100.0 * 1e9).round() / 1e9;
        format!(
            "strip, {} blends per input, entropy threshold for {percent} % false rejections",
            self.params.n
        )
    }
}

impl InputDetector for Strip {
    type Error = StripError;

    /// Set the threshold on the trusted samples (each blended with the
    /// others, never itself), then screen the clean test inputs and then the
    /// attack's inputs, drawing from `rng` in that order.
    ///
    /// `frr` is the share of clean inputs rejected (`None` when there are
    /// none), `far` the share of attack inputs accepted (`None` without
    /// attack inputs or when there are none).
    fn screen(&self, input: ScreenInput<'_>, rng: &mut Rng) -> Result<Screening, StripError> {
        let (model, trusted) = (input.model, input.trusted);
        let calibrate = self.entropy(model, trusted, trusted, true, rng)?;
        let threshold = self.threshold(&calibrate.entropy);
        let rejected = |h: &[f64]| threshold.map_or(0, |t| h.iter().filter(|&&x| x <= t).count());
        let clean = self.entropy(model, input.clean, trusted, false, rng)?;
        let frr = (!clean.entropy.is_empty())
            .then(|| rejected(&clean.entropy) as f64 / clean.entropy.len() as f64);
        let far = match input.attack {
            Some(a) if !a.is_empty() => {
                let h = self.entropy(model, a, trusted, false, rng)?.entropy;
                Some((h.len() - rejected(&h)) as f64 / h.len() as f64)
            }
            _ => None,
        };
        Ok(Screening {
            far,
            frr,
            threshold,
        })
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
            Matrix::new(data.len(), data.dim(), data.to_features())
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
        let strip = Strip::new(StripParams { n: 30, frr: 0.2 }).unwrap();
        let s = strip
            .entropy(&Fake, &inputs, &trusted, false, &mut stream(0, 0, "s"))
            .unwrap();
        assert_eq!(s.entropy[0], 0.0);
        assert!(s.entropy[1] > 0.3, "{:?}", s.entropy);
    }

    #[test]
    fn threshold_is_the_frr_quantile_of_clean_entropy() {
        let strip = Strip::new(StripParams { n: 1, frr: 0.2 }).unwrap();
        let clean = [0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.6, 0.4, 0.2, 1.0];
        // 20 % of 10 = 2 rejected: 0.1 and 0.2.
        assert_eq!(strip.threshold(&clean), Some(0.2));
        let rejected = clean.iter().filter(|&&h| h <= 0.2).count();
        assert_eq!(rejected, 2);
        assert_eq!(
            Strip::new(StripParams { n: 1, frr: 0.01 })
                .unwrap()
                .threshold(&clean),
            None
        );
    }

    #[test]
    fn needs_trusted_samples_of_the_same_shape() {
        let strip = Strip::new(StripParams::default()).unwrap();
        let one = set(&[[0.0, 0.0]]);
        assert_eq!(
            strip.entropy(&Fake, &one, &one, false, &mut stream(0, 0, "s")),
            Err(StripError::NoTrusted { needed: 2 })
        );
    }

    /// The screening as the runner computed it before STRIP screened itself:
    /// the same calls on one stream, in the same order.
    fn screen_by_hand(
        strip: &Strip,
        trusted: &Dataset,
        clean: &Dataset,
        attack: Option<&Dataset>,
        rng: &mut Rng,
    ) -> Screening {
        let calibrate = strip.entropy(&Fake, trusted, trusted, true, rng).unwrap();
        let threshold = strip.threshold(&calibrate.entropy);
        let rejected = |h: &[f64]| threshold.map_or(0, |t| h.iter().filter(|&&x| x <= t).count());
        let clean = strip.entropy(&Fake, clean, trusted, false, rng).unwrap();
        let frr = (!clean.entropy.is_empty())
            .then(|| rejected(&clean.entropy) as f64 / clean.entropy.len() as f64);
        let far = match attack {
            Some(a) if !a.is_empty() => {
                let h = strip
                    .entropy(&Fake, a, trusted, false, rng)
                    .unwrap()
                    .entropy;
                Some((h.len() - rejected(&h)) as f64 / h.len() as f64)
            }
            _ => None,
        };
        Screening {
            far,
            frr,
            threshold,
        }
    }

    fn trusted_clean_attack() -> (Dataset, Dataset, Dataset) {
        let trusted = set(&[
            [0.0, 0.0],
            [0.2, 1.0],
            [0.1, 0.5],
            [0.3, 0.2],
            [0.0, 0.8],
            [0.2, 0.4],
            [0.1, 0.9],
            [0.3, 0.6],
            [0.0, 0.3],
            [0.2, 0.1],
        ]);
        let clean = set(&[[0.1, 0.0], [0.2, 0.7], [0.0, 0.4], [0.3, 0.9]]);
        let attack = set(&[[1.6, 0.5], [1.7, 0.1], [0.1, 0.2]]);
        (trusted, clean, attack)
    }

    #[test]
    fn screen_draws_calibration_clean_then_attack_from_one_stream() {
        let (trusted, clean, attack) = trusted_clean_attack();
        let strip = Strip::new(StripParams { n: 8, frr: 0.2 }).unwrap();
        for attack in [Some(&attack), None] {
            let got = strip
                .screen(
                    ScreenInput::new(&Fake, &trusted, &clean, attack),
                    &mut stream(3, 1, "defense:strip"),
                )
                .unwrap();
            let want = screen_by_hand(
                &strip,
                &trusted,
                &clean,
                attack,
                &mut stream(3, 1, "defense:strip"),
            );
            // Bit for bit, threshold included.
            assert_eq!(got, want);
            assert_eq!(
                got.threshold.map(f64::to_bits),
                want.threshold.map(f64::to_bits)
            );
            assert!(got.threshold.is_some());
            assert!(got.frr.is_some());
            assert_eq!(got.far.is_some(), attack.is_some());
        }
        // The two triggered inputs are rejected, the third is not.
        let s = strip
            .screen(
                ScreenInput::new(&Fake, &trusted, &clean, Some(&attack)),
                &mut stream(3, 1, "defense:strip"),
            )
            .unwrap();
        assert!((s.far.unwrap() - 1.0 / 3.0).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn screen_without_inputs_measures_nothing_and_fails_without_trusted_samples() {
        let (trusted, _, _) = trusted_clean_attack();
        let strip = Strip::new(StripParams { n: 4, frr: 0.2 }).unwrap();
        let empty = Dataset::new(vec![], vec![2], vec![], 2, None).unwrap();
        let s = strip
            .screen(
                ScreenInput::new(&Fake, &trusted, &empty, Some(&empty)),
                &mut stream(0, 0, "s"),
            )
            .unwrap();
        assert_eq!((s.far, s.frr), (None, None));
        let one = set(&[[0.0, 0.0]]);
        assert_eq!(
            strip.screen(
                ScreenInput::new(&Fake, &one, &trusted, None),
                &mut stream(0, 0, "s"),
            ),
            Err(StripError::NoTrusted { needed: 2 })
        );
    }

    #[test]
    fn new_and_build_check_the_parameters() {
        let e = Strip::new(StripParams { n: 0, frr: 0.7 }).unwrap_err();
        let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["n", "frr"]);
        let facts = poisonlab_core::DataFacts::default();
        let ctx = BuildContext::new(std::path::Path::new("."), &facts);
        assert_eq!(
            Strip::build(StripParams { n: 0, frr: 0.7 }, &ctx).unwrap_err(),
            e
        );
        let built = Strip::build(StripParams::default(), &ctx).unwrap();
        assert_eq!(Kind::params(&built), &StripParams::default());
        assert_eq!(
            built.describe(),
            "strip, 20 blends per input, entropy threshold for 1 % false rejections"
        );
    }
}
