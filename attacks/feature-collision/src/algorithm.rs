use poisonlab_core::clean_label::CraftPlan;
use poisonlab_core::{
    Attack, AttackInput, BuildContext, Classifier, DataFacts, Dataset, Kind, Matrix, ParamError,
    Poisoned, Rng,
};

use crate::{FeatureCollisionError, FeatureCollisionParams};

/// The clean-label feature-collision attack with checked parameters: the
/// "Poison Frogs" attack of Shafahi, Huang, Najibi, Suciu, Studer, Dumitras
/// and Goldstein 2018 ("Poison Frogs! Targeted Clean-Label Poisoning Attacks
/// on Neural Networks", NeurIPS). It crafts its poisons on a surrogate model
/// ([`Attack::needs_surrogate`]).
#[derive(Debug, Clone)]
pub struct FeatureCollision {
    params: FeatureCollisionParams,
}

impl FeatureCollision {
    /// The attack for `params`, or every problem with them
    /// ([`FeatureCollisionParams::check`] without a known class count;
    /// classes the data lacks are errors when poisoning).
    pub fn new(params: FeatureCollisionParams) -> Result<Self, Vec<ParamError>> {
        params.check(None)?;
        Ok(Self { params })
    }

    /// The parameters this attack was built from.
    pub fn params(&self) -> &FeatureCollisionParams {
        &self.params
    }
}

impl Kind for FeatureCollision {
    type Params = FeatureCollisionParams;

    fn build(
        params: FeatureCollisionParams,
        ctx: &BuildContext<'_>,
    ) -> Result<Self, Vec<ParamError>> {
        params.check(ctx.facts.n_classes)?;
        Ok(Self { params })
    }

    fn params(&self) -> &FeatureCollisionParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.params.check(facts.n_classes)
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "feature-collision (clean-label), {} targets of class {} → {}, {} poisons each, opacity {}",
            p.targets, p.target_class, p.base_class, p.poisons_per_target, p.opacity
        )
    }
}

/// ½‖f(x) − t‖² per row.
fn feature_distance(model: &dyn Classifier, x: &Dataset, target: &Matrix) -> Vec<f32> {
    let e = model.embed(x);
    (0..e.rows)
        .map(|i| {
            e.row(i)
                .iter()
                .zip(target.row(i))
                .map(|(a, b)| 0.5 * (a - b) * (a - b))
                .sum()
        })
        .collect()
}

/// Craft poisons for one target: rows of `bases` move toward the embedding of
/// `target`, one sample of the bases' shape.
fn craft(
    model: &dyn Classifier,
    bases: &Dataset,
    target: &Dataset,
    p: &FeatureCollisionParams,
) -> Dataset {
    let n = bases.len();
    let dim = bases.dim();
    let t_emb = model.embed(target);
    let target = target.sample(0);
    let width = t_emb.cols;
    let targets = Matrix::new(n, width, t_emb.data.repeat(n));
    let beta = (p.beta * (width as f64 / dim as f64).powi(2)) as f32;
    // Watermark start: (1 − γ)·b + γ·t.
    let mut x = bases.clone();
    let gamma = p.opacity as f32;
    for i in 0..n {
        for (v, &t) in x.sample_mut(i).iter_mut().zip(target) {
            *v = (1.0 - gamma) * *v + gamma * t;
        }
    }
    let mut step = vec![p.step as f32; n];
    let mut obj = objective(model, &x, &targets, bases, beta);
    for _ in 0..p.iterations {
        let grad = model.feature_gradient(&x, &targets);
        let mut next = x.clone();
        for (i, &lam) in step.iter().enumerate() {
            let base = bases.sample(i);
            let g = grad.row(i);
            for (j, v) in next.sample_mut(i).iter_mut().enumerate() {
                // Forward (gradient) step, then the proximal step of β‖x − b‖², then the valid range.
                let fwd = *v - lam * g[j];
                *v = ((fwd + lam * beta * base[j]) / (1.0 + lam * beta)).clamp(0.0, 1.0);
            }
        }
        let new_obj = objective(model, &next, &targets, bases, beta);
        for i in 0..n {
            if new_obj[i] <= obj[i] {
                x.sample_mut(i).copy_from_slice(next.sample(i));
                obj[i] = new_obj[i];
            } else {
                step[i] *= 0.5;
            }
        }
    }
    x
}

fn objective(
    model: &dyn Classifier,
    x: &Dataset,
    targets: &Matrix,
    bases: &Dataset,
    beta: f32,
) -> Vec<f32> {
    let feat = feature_distance(model, x, targets);
    (0..x.len())
        .map(|i| {
            let d: f32 = x
                .sample(i)
                .iter()
                .zip(bases.sample(i))
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            feat[i] + 0.5 * beta * d
        })
        .collect()
}

impl Attack for FeatureCollision {
    type Error = FeatureCollisionError;

    fn poison(
        &self,
        input: AttackInput<'_>,
        rng: &mut Rng,
    ) -> Result<Poisoned, FeatureCollisionError> {
        let p = &self.params;
        let model = input.surrogate.ok_or(FeatureCollisionError::NoSurrogate)?;
        let plan = CraftPlan::draw(
            input.train,
            input.test,
            (p.target_class, p.base_class),
            p.targets,
            p.poisons_per_target,
            rng,
        )?;
        plan.assemble(&input, |_, t, bases| {
            Ok(craft(
                model,
                &input.train.subset(bases),
                &input.test.subset(&[t]),
                p,
            ))
        })
    }

    fn crafting(&self) -> Option<poisonlab_core::clean_label::Crafting> {
        let p = &self.params;
        Some(poisonlab_core::clean_label::Crafting {
            epsilon: None,
            steps: p.iterations,
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

    fn data(n: usize, offset: u64) -> Dataset {
        // Class c sits at value 0.1 + 0.2·c in every feature.
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let x = labels
            .iter()
            .flat_map(|&c| vec![0.1 + 0.2 * c as f32; 4])
            .collect();
        Dataset::new(
            x,
            vec![4],
            labels,
            3,
            Some((0..n as u64).map(|i| i + offset).collect()),
        )
        .unwrap()
    }

    fn params() -> FeatureCollisionParams {
        FeatureCollisionParams {
            targets: 2,
            poisons_per_target: 3,
            iterations: 50,
            ..FeatureCollisionParams::default()
        }
    }

    #[test]
    fn poisons_keep_labels_and_move_toward_the_target() {
        let (train, test) = (data(30, 0), data(12, 100));
        let model = StubClassifier::uniform(3); // embedding = input
        let p = FeatureCollision::new(params())
            .unwrap()
            .poison(
                AttackInput::new(&train, &test).with_surrogate(&model),
                &mut stream(0, 0, "fc"),
            )
            .unwrap();
        assert_eq!(p.n_poison(), 6);
        assert_eq!(p.data.labels(), train.labels());
        for i in (0..30).filter(|&i| p.is_poison[i]) {
            assert_eq!(train.labels()[i], 1);
            // Base at 0.3, target class 0 at 0.1: the poison moved toward 0.1 but stays in range.
            for &v in p.data.sample(i) {
                assert!((0.1 - 1e-6..0.3).contains(&v), "{v}");
            }
        }
        for i in (0..30).filter(|&i| !p.is_poison[i]) {
            assert_eq!(p.data.sample(i), train.sample(i));
        }
        let t = p.attack_test.unwrap();
        assert_eq!(t.targets, vec![1, 1]);
        assert!(t.inputs.labels().iter().all(|&y| y == 0));
    }

    #[test]
    fn without_a_surrogate_or_enough_samples_it_errs() {
        let (train, test) = (data(30, 0), data(12, 100));
        let fc = FeatureCollision::new(params()).unwrap();
        assert_eq!(
            fc.poison(AttackInput::new(&train, &test), &mut stream(0, 0, "fc"))
                .unwrap_err(),
            FeatureCollisionError::NoSurrogate
        );
        let model = StubClassifier::uniform(3);
        let many = FeatureCollision::new(FeatureCollisionParams {
            targets: 5,
            ..params()
        })
        .unwrap();
        assert!(matches!(
            many.poison(
                AttackInput::new(&train, &test).with_surrogate(&model),
                &mut stream(0, 0, "fc")
            ),
            Err(FeatureCollisionError::TooFewTargets { available: 4, .. })
        ));
    }

    #[test]
    fn new_refuses_bad_parameters() {
        let errs = FeatureCollision::new(FeatureCollisionParams {
            poisons_per_target: 0,
            step: f64::NAN,
            ..params()
        })
        .unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["poisons-per-target", "step"]);
    }

    #[test]
    fn build_and_check_data_check_classes_against_the_data() {
        let p = FeatureCollisionParams {
            base_class: 3,
            ..params()
        };
        let base = std::path::Path::new(".");
        let three = DataFacts {
            n_classes: Some(3),
            shape: None,
        };
        let errs =
            FeatureCollision::build(p.clone(), &BuildContext::new(base, &three)).unwrap_err();
        assert_eq!(errs[0].key, "base-class");
        let unknown = DataFacts::default();
        let built = FeatureCollision::build(p, &BuildContext::new(base, &unknown)).unwrap();
        assert_eq!(built.check_data(&three).unwrap_err()[0].key, "base-class");
        // Poisoning data without the class is an error, not a panic.
        let (train, test) = (data(30, 0), data(12, 100));
        let model = StubClassifier::uniform(3);
        assert_eq!(
            built
                .poison(
                    AttackInput::new(&train, &test).with_surrogate(&model),
                    &mut stream(0, 0, "fc")
                )
                .unwrap_err(),
            FeatureCollisionError::ClassOutOfRange {
                class: 3,
                classes: 3
            }
        );
    }

    #[test]
    fn needs_a_surrogate_and_describes_itself() {
        let fc = FeatureCollision::new(params()).unwrap();
        assert!(fc.needs_surrogate());
        assert!(!fc.needs_rounds());
        assert_eq!(
            fc.describe(),
            "feature-collision (clean-label), 2 targets of class 0 → 1, 3 poisons each, opacity 0.3"
        );
        assert_eq!(Kind::params(&fc), &params());
    }

    #[test]
    fn train_and_test_shapes_must_match() {
        let train = data(30, 0);
        let test = Dataset::new(vec![0.5; 12 * 2], vec![2], vec![0; 12], 3, None).unwrap();
        let model = StubClassifier::uniform(3);
        let err = FeatureCollision::new(params())
            .unwrap()
            .poison(
                AttackInput::new(&train, &test).with_surrogate(&model),
                &mut stream(0, 0, "fc"),
            )
            .unwrap_err();
        assert!(matches!(err, FeatureCollisionError::ShapeMismatch { .. }));
    }

    #[test]
    fn huge_budgets_are_an_error_not_an_overflow() {
        let (train, test) = (data(30, 0), data(12, 100));
        let model = StubClassifier::uniform(3);
        let err = FeatureCollision::new(FeatureCollisionParams {
            targets: 2,
            poisons_per_target: usize::MAX,
            ..params()
        })
        .unwrap()
        .poison(
            AttackInput::new(&train, &test).with_surrogate(&model),
            &mut stream(0, 0, "fc"),
        )
        .unwrap_err();
        assert!(matches!(err, FeatureCollisionError::TooFewBases { .. }));
    }
}
