use poisonlab_core::{
    Attack, AttackInput, AttackTest, BuildContext, DataFacts, Dataset, Kind, ParamError, Poisoned,
    Rng, poison_count,
};
use rand::seq::index::sample;

use crate::{LabelConsistentError, LabelConsistentParams};

/// The label-consistent backdoor of Turner, Tsipras and Madry 2019
/// ("Label-Consistent Backdoor Attacks", arXiv:1912.02771): target-class
/// images pushed away from their class by L∞ PGD on a surrogate, then
/// stamped with a checkerboard trigger, labels unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelConsistent {
    params: LabelConsistentParams,
}

impl LabelConsistent {
    /// Stamp the trigger into one `[c, h, w]` image: a `size × size`
    /// checkerboard one pixel from the bottom-right corner, its top-left cell
    /// `amplitude`, alternating with 0, on every channel. Images too small
    /// for it are left unchanged.
    pub fn stamp(&self, x: &mut [f32], shape: &[usize]) {
        let &[c, h, w] = shape else { return };
        let s = self.params.trigger_size;
        if h < s + 1 || w < s + 1 {
            return;
        }
        let (r0, c0) = (h - 1 - s, w - 1 - s);
        for ch in 0..c {
            for r in 0..s {
                for col in 0..s {
                    let v = if (r + col) % 2 == 0 {
                        self.params.amplitude as f32
                    } else {
                        0.0
                    };
                    x[ch * h * w + (r0 + r) * w + c0 + col] = v;
                }
            }
        }
    }

    /// L∞ PGD ascending each sample's loss at its own label under `model`:
    /// `steps` signed-gradient steps of `step-size`, each followed by the
    /// projection onto the ε-ball around the start and onto `[lo, hi]`.
    fn harden(
        &self,
        model: &dyn poisonlab_core::Model,
        start: &Dataset,
        (lo, hi): (f32, f32),
        input: &AttackInput<'_>,
    ) -> Dataset {
        let p = &self.params;
        let (eps, alpha) = (p.epsilon as f32, p.step_size() as f32);
        let mut x = start.clone();
        if eps == 0.0 {
            return x;
        }
        for step in 0..p.steps {
            input.report(step, p.steps);
            let g = model.input_gradient(&x);
            for (i, (v, &v0)) in x
                .features_mut()
                .iter_mut()
                .zip(start.rows().flatten())
                .enumerate()
            {
                let moved = *v + alpha * g.data[i].signum() * f32::from(g.data[i] != 0.0);
                *v = moved.clamp(v0 - eps, v0 + eps).clamp(lo, hi);
            }
        }
        input.report(p.steps, p.steps);
        x
    }
}

impl Kind for LabelConsistent {
    type Params = LabelConsistentParams;

    fn build(
        params: LabelConsistentParams,
        ctx: &BuildContext<'_>,
    ) -> Result<Self, Vec<ParamError>> {
        params.check(ctx.facts.shape.as_deref(), ctx.facts.n_classes)?;
        Ok(Self { params })
    }

    fn params(&self) -> &LabelConsistentParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.params.check(facts.shape.as_deref(), facts.n_classes)
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "label-consistent (clean-label), {} of class {}, PGD ε {} × {} steps, {}×{} trigger at {}",
            p.rate, p.target, p.epsilon, p.steps, p.trigger_size, p.trigger_size, p.amplitude
        )
    }
}

impl Attack for LabelConsistent {
    type Error = LabelConsistentError;

    fn poison(
        &self,
        input: AttackInput<'_>,
        rng: &mut Rng,
    ) -> Result<Poisoned, LabelConsistentError> {
        let (train, test) = (input.train, input.test);
        let p = &self.params;
        let k = train.n_classes();
        if p.target >= k {
            return Err(LabelConsistentError::TargetOutOfRange {
                target: p.target,
                classes: k,
            });
        }
        if train.shape() != test.shape() {
            return Err(LabelConsistentError::ShapeMismatch {
                train: train.shape().to_vec(),
                test: test.shape().to_vec(),
            });
        }
        let shape = train.shape().to_vec();
        let need = p.trigger_size + 1;
        if !matches!(shape.as_slice(), &[_, h, w] if h >= need && w >= need) {
            return Err(LabelConsistentError::NotImage { shape, need });
        }
        let model = input.surrogate.ok_or(LabelConsistentError::NoSurrogate)?;

        let eligible: Vec<usize> = (0..train.len())
            .filter(|&i| train.labels()[i] == p.target)
            .collect();
        let n = poison_count(p.rate, eligible.len());
        let mut picks: Vec<usize> = sample(rng, eligible.len(), n)
            .into_iter()
            .map(|j| eligible[j])
            .collect();
        picks.sort_unstable();

        let range = train.value_range();
        let hardened = self.harden(model, &train.subset(&picks), range, &input);
        let mut data = train.clone();
        let mut is_poison = vec![false; train.len()];
        for (j, &i) in picks.iter().enumerate() {
            let x = data.sample_mut(i);
            x.copy_from_slice(hardened.sample(j));
            self.stamp(x, &shape);
            is_poison[i] = true;
        }

        let attack_test = AttackTest::all_to_one(test, p.target, |x| self.stamp(x, &shape));
        Ok(Poisoned {
            data,
            is_poison,
            attack_test: Some(attack_test),
        })
    }

    fn needs_surrogate(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::seed::stream;
    use poisonlab_core::testing::StubClassifier;
    use poisonlab_core::{Classifier, Matrix};
    use rand::Rng as _;
    use std::path::Path;

    fn images(n: usize, k: usize, seed: u64) -> Dataset {
        let mut rng = stream(seed, 0, "images");
        let features = (0..n * 64)
            .map(|_| 0.2 + 0.6 * rng.random::<f32>())
            .collect();
        Dataset::new(
            features,
            vec![1, 8, 8],
            (0..n).map(|i| i % k).collect(),
            k,
            None,
        )
        .unwrap()
    }

    fn lc(params: LabelConsistentParams) -> LabelConsistent {
        LabelConsistent::build(
            params,
            &BuildContext::new(Path::new("."), &DataFacts::default()),
        )
        .unwrap()
    }

    /// A surrogate whose loss gradient is +1 on even features and −1 on odd ones.
    #[derive(Clone)]
    struct Tilted(StubClassifier);

    impl Classifier for Tilted {
        fn n_classes(&self) -> usize {
            self.0.n_classes()
        }
        fn predict_proba(&self, d: &Dataset) -> Matrix {
            self.0.predict_proba(d)
        }
        fn embed(&self, d: &Dataset) -> Matrix {
            self.0.embed(d)
        }
        fn input_gradient(&self, d: &Dataset) -> Matrix {
            let g = (0..d.len() * d.dim())
                .map(|i| {
                    if (i % d.dim()).is_multiple_of(2) {
                        1.0
                    } else {
                        -1.0
                    }
                })
                .collect();
            Matrix::new(d.len(), d.dim(), g)
        }
        fn feature_gradient(&self, d: &Dataset, t: &Matrix) -> Matrix {
            self.0.feature_gradient(d, t)
        }
    }

    impl poisonlab_core::Model for Tilted {
        fn n_parameters(&self) -> usize {
            0
        }
        fn parameters(&self) -> Vec<f32> {
            Vec::new()
        }
        fn set_parameters(&mut self, v: &[f32]) -> Result<(), poisonlab_core::ParameterError> {
            poisonlab_core::ParameterError::check(0, v)
        }
        fn clone_box(&self) -> Box<dyn poisonlab_core::Model> {
            Box::new(self.clone())
        }
        fn loss_gradient(&self, _: &Dataset) -> Vec<f32> {
            Vec::new()
        }
    }

    #[test]
    fn pgd_moves_by_epsilon_then_the_trigger_is_stamped() {
        let train = images(60, 3, 1);
        let test = images(30, 3, 2);
        let a = lc(LabelConsistentParams {
            target: 1,
            rate: 0.5,
            epsilon: 0.05,
            steps: 4,
            ..LabelConsistentParams::default()
        });
        let model = Tilted(StubClassifier::uniform(3));
        let p = a
            .poison(
                AttackInput::new(&train, &test).with_surrogate(&model),
                &mut stream(0, 0, "lc"),
            )
            .unwrap();
        assert_eq!(p.n_poison(), 10); // half of the 20 samples of class 1
        assert_eq!(p.data.labels(), train.labels());
        let mut trigger = vec![0.5; 64];
        a.stamp(&mut trigger, &[1, 8, 8]);
        let in_trigger = |f: usize| trigger[f] != 0.5;
        for i in 0..60 {
            let (x, x0) = (p.data.sample(i), train.sample(i));
            if !p.is_poison[i] {
                assert_eq!(x, x0);
                continue;
            }
            assert_eq!(train.labels()[i], 1);
            for f in 0..64 {
                if in_trigger(f) {
                    assert_eq!(x[f], trigger[f]);
                } else {
                    // 4 steps of 2.5·ε/4 saturate the ε-ball in the gradient's sign.
                    // (then kept within the data's value range).
                    let (lo, hi) = train.value_range();
                    let want = if f % 2 == 0 {
                        x0[f] + 0.05
                    } else {
                        x0[f] - 0.05
                    }
                    .clamp(lo, hi);
                    assert!((x[f] - want).abs() < 1e-6, "{} vs {want}", x[f]);
                }
            }
        }
        let t = p.attack_test.unwrap();
        assert_eq!(t.inputs.len(), 20);
        assert!(t.targets.iter().all(|&y| y == 1));
        assert!((0..20).all(|j| t.inputs.sample(j)[4 * 8 + 4] == 1.0));
    }

    #[test]
    fn without_a_surrogate_it_errs() {
        let train = images(20, 2, 3);
        let a = lc(LabelConsistentParams::default());
        assert!(a.needs_surrogate());
        let err = a
            .poison(AttackInput::new(&train, &train), &mut stream(0, 0, "lc"))
            .unwrap_err();
        assert_eq!(err, LabelConsistentError::NoSurrogate);
    }
}
