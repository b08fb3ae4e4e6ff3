use poisonlab_core::{
    Attack, AttackInput, AttackTest, BuildContext, DataFacts, Injection, Kind, ParamError,
    Poisoned, Rng, inject, poison_count,
};
use rand::seq::index::sample;

use crate::{SigError, SigParams, Signal};

/// The SIG clean-label backdoor of Barni, Kallas and Tondi 2019 ("A new
/// Backdoor Attack in CNNs by training set corruption without label
/// poisoning", ICIP 2019): a sinusoidal or ramp signal added to target-class
/// training images, labels unchanged, and to other classes' inputs at test
/// time.
#[derive(Debug, Clone, PartialEq)]
pub struct Sig {
    params: SigParams,
}

impl Sig {
    /// The signal of amplitude `delta` for images of `shape` (`[c, h, w]`),
    /// one value per feature, row-major: column j of every row and channel
    /// gets `Δ·sin(2π·j·f / w)` (sine) or `Δ·j / w` (ramp).
    pub fn signal(&self, shape: &[usize], delta: f64) -> Result<Vec<f32>, SigError> {
        let &[c, h, w] = shape else {
            return Err(SigError::NotImage(shape.to_vec()));
        };
        let p = &self.params;
        let column = |j: usize| -> f32 {
            let x = j as f64 / w as f64;
            let v = match p.signal {
                Signal::Sine => (2.0 * std::f64::consts::PI * x * p.frequency).sin(),
                Signal::Ramp => x,
            };
            (delta * v) as f32
        };
        let row: Vec<f32> = (0..w).map(column).collect();
        Ok((0..c * h).flat_map(|_| row.iter().copied()).collect())
    }
}

/// Add `signal` to `x`, clamped to `[lo, hi]`.
fn superimpose(x: &mut [f32], signal: &[f32], (lo, hi): (f32, f32)) {
    for (v, s) in x.iter_mut().zip(signal) {
        *v = (*v + s).clamp(lo, hi);
    }
}

impl Kind for Sig {
    type Params = SigParams;

    fn build(params: SigParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check(ctx.facts.shape.as_deref(), ctx.facts.n_classes)?;
        Ok(Self { params })
    }

    fn params(&self) -> &SigParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.params.check(facts.shape.as_deref(), facts.n_classes)
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "sig (clean-label), {:?} signal Δ {} (test {}), {} of class {}",
            p.signal,
            p.delta,
            p.test_delta(),
            p.rate,
            p.target
        )
    }
}

impl Attack for Sig {
    type Error = SigError;

    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, SigError> {
        let (train, test) = (input.train, input.test);
        let p = &self.params;
        let k = train.n_classes();
        if p.target >= k {
            return Err(SigError::TargetOutOfRange {
                target: p.target,
                classes: k,
            });
        }
        if train.shape() != test.shape() {
            return Err(SigError::ShapeMismatch {
                train: train.shape().to_vec(),
                test: test.shape().to_vec(),
            });
        }
        let range = train.value_range();
        let signal = self.signal(train.shape(), p.delta)?;
        let eligible: Vec<usize> = (0..train.len())
            .filter(|&i| train.labels()[i] == p.target)
            .collect();
        let n = poison_count(p.rate, eligible.len());
        let mut picks: Vec<usize> = sample(rng, eligible.len(), n)
            .into_iter()
            .map(|j| eligible[j])
            .collect();
        picks.sort_unstable();
        let (data, is_poison) = inject(
            train,
            &picks,
            Injection::Replace,
            |x| superimpose(x, &signal, range),
            |y| y,
        )?;

        let test_signal = self.signal(test.shape(), p.test_delta())?;
        let attack_test =
            AttackTest::all_to_one(test, p.target, |x| superimpose(x, &test_signal, range));
        Ok(Poisoned {
            data,
            is_poison,
            attack_test: Some(attack_test),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::Dataset;
    use poisonlab_core::seed::stream;
    use proptest::prelude::*;
    use rand::Rng as _;
    use std::path::Path;

    fn images(n: usize, k: usize, seed: u64) -> Dataset {
        let mut rng = stream(seed, 0, "images");
        let features = (0..n * 64).map(|_| rng.random::<f32>()).collect();
        Dataset::new(
            features,
            vec![1, 8, 8],
            (0..n).map(|i| i % k).collect(),
            k,
            None,
        )
        .unwrap()
    }

    fn sig(params: SigParams) -> Sig {
        Sig::build(
            params,
            &BuildContext::new(Path::new("."), &DataFacts::default()),
        )
        .unwrap()
    }

    #[test]
    fn ramp_and_sine_by_hand() {
        let ramp = sig(SigParams {
            signal: Signal::Ramp,
            ..SigParams::default()
        });
        let s = ramp.signal(&[1, 2, 4], 0.4).unwrap();
        assert_eq!(s, [0.0, 0.1, 0.2, 0.3, 0.0, 0.1, 0.2, 0.3]);
        let sine = sig(SigParams {
            frequency: 1.0,
            ..SigParams::default()
        });
        let s = sine.signal(&[1, 1, 4], 0.5).unwrap();
        let want = [0.0, 0.5, 0.0, -0.5];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{s:?}");
        }
        assert_eq!(sine.signal(&[20], 0.5), Err(SigError::NotImage(vec![20])));
    }

    #[test]
    fn poisons_only_target_samples_and_keeps_labels() {
        let train = images(100, 4, 1);
        let test = images(40, 4, 2);
        let a = sig(SigParams {
            target: 2,
            rate: 0.4,
            ..SigParams::default()
        });
        let p = a
            .poison(AttackInput::new(&train, &test), &mut stream(0, 0, "attack"))
            .unwrap();
        assert_eq!(p.n_poison(), 10); // 0.4 × 25 samples of class 2
        assert_eq!(p.data.labels(), train.labels());
        let signal = a.signal(&[1, 8, 8], 0.2).unwrap();
        for i in 0..100 {
            if p.is_poison[i] {
                assert_eq!(train.labels()[i], 2);
                let mut want = train.sample(i).to_vec();
                superimpose(&mut want, &signal, train.value_range());
                assert_eq!(p.data.sample(i), want);
            } else {
                assert_eq!(p.data.sample(i), train.sample(i));
            }
        }
        let t = p.attack_test.unwrap();
        assert_eq!(t.inputs.len(), 30);
        assert!(t.inputs.labels().iter().all(|&y| y != 2));
        assert!(t.targets.iter().all(|&y| y == 2));
    }

    proptest! {
        #[test]
        fn stays_in_the_value_range(delta in 0.01f64..1.0, f in 0.5f64..10.0, seed in 0u64..50) {
            let train = images(20, 2, seed);
            let a = sig(SigParams { delta, frequency: f, rate: 1.0, ..SigParams::default() });
            let p = a.poison(AttackInput::new(&train, &train), &mut stream(seed, 0, "a")).unwrap();
            let (lo, hi) = train.value_range();
            prop_assert!(p.data.rows().flatten().all(|&v| v >= lo && v <= hi));
            let t = p.attack_test.unwrap();
            prop_assert!(t.inputs.rows().flatten().all(|&v| v >= lo && v <= hi));
        }
    }
}
