use poisonlab_core::clean_label::CraftPlan;
use poisonlab_core::{
    Attack, AttackInput, BuildContext, Classifier, DataFacts, Dataset, Kind, Matrix, ParamError,
    Poisoned, Rng,
};

use crate::{BullseyePolytopeError, BullseyePolytopeParams};

/// The clean-label Bullseye Polytope attack with checked parameters: the
/// attack of Aghakhani, Meng, Wang, Kruegel and Vigna 2021 ("Bullseye
/// Polytope: A Scalable Clean-Label Poisoning Attack with Improved
/// Transferability", IEEE EuroS&P). It crafts its poisons on a surrogate
/// model's penultimate-layer features ([`Attack::needs_surrogate`]).
///
/// Bases are drawn at random (from the rng passed to [`Attack::poison`]),
/// without repeats across targets, as the targets are; each target's poisons
/// start at their bases.
#[derive(Debug, Clone)]
pub struct BullseyePolytope {
    params: BullseyePolytopeParams,
}

impl BullseyePolytope {
    /// The attack for `params`, or every problem with them
    /// ([`BullseyePolytopeParams::check`] without a known class count;
    /// classes the data lacks are errors when poisoning).
    pub fn new(params: BullseyePolytopeParams) -> Result<Self, Vec<ParamError>> {
        params.check(None)?;
        Ok(Self { params })
    }

    /// The parameters this attack was built from.
    pub fn params(&self) -> &BullseyePolytopeParams {
        &self.params
    }
}

impl Kind for BullseyePolytope {
    type Params = BullseyePolytopeParams;

    fn build(
        params: BullseyePolytopeParams,
        ctx: &BuildContext<'_>,
    ) -> Result<Self, Vec<ParamError>> {
        params.check(ctx.facts.n_classes)?;
        Ok(Self { params })
    }

    fn params(&self) -> &BullseyePolytopeParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.params.check(facts.n_classes)
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "bullseye-polytope (clean-label), {} targets of class {} → {}, {} poisons each, \
             ε {:.4} (L∞), {} Adam steps (lr {})",
            p.targets,
            p.target_class,
            p.base_class,
            p.poisons_per_target,
            p.epsilon,
            p.iterations,
            p.learning_rate
        )
    }
}

/// The Bullseye loss of poisons with embeddings `emb` (one row each) for a
/// target with embedding `target`: ½‖mean − target‖² / ‖target‖², with the
/// residual `mean − target`.
fn bullseye_loss(emb: &Matrix, target: &[f32]) -> (f32, Vec<f32>) {
    let k = emb.rows as f32;
    let mut residual: Vec<f32> = target.iter().map(|t| -t).collect();
    for i in 0..emb.rows {
        for (r, e) in residual.iter_mut().zip(emb.row(i)) {
            *r += e / k;
        }
    }
    let loss = 0.5 * squared_norm(&residual) / norm_floor(target);
    (loss, residual)
}

fn squared_norm(v: &[f32]) -> f32 {
    v.iter().map(|a| a * a).sum()
}

/// ‖target‖², kept away from zero so a dead embedding gives a finite loss.
fn norm_floor(target: &[f32]) -> f32 {
    squared_norm(target).max(1e-12)
}

/// The gradient of the Bullseye loss with respect to every poison, one row
/// each: (1/k) Jᵢᵀ (mean − φ(t)) / ‖φ(t)‖². It is the gradient of
/// ½‖φ(xᵢ) − cᵢ‖² with cᵢ = φ(xᵢ) − (mean − φ(t))/k, which
/// [`Classifier::feature_gradient`] computes, scaled by 1/‖φ(t)‖².
fn bullseye_gradient(
    model: &dyn Classifier,
    x: &Dataset,
    emb: &Matrix,
    residual: &[f32],
    target: &[f32],
) -> Matrix {
    let k = emb.rows as f32;
    let centres = emb
        .data
        .chunks(emb.cols.max(1))
        .flat_map(|row| row.iter().zip(residual).map(|(e, r)| e - r / k))
        .collect();
    let mut grad = model.feature_gradient(x, &Matrix::new(emb.rows, emb.cols, centres));
    let scale = 1.0 / norm_floor(target);
    grad.data.iter_mut().for_each(|g| *g *= scale);
    grad
}

/// Adam (Kingma and Ba 2015) on a flat vector, with PyTorch's defaults.
struct Adam {
    learning_rate: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    const BETA1: f32 = 0.9;
    const BETA2: f32 = 0.999;
    const EPS: f32 = 1e-8;

    fn new(len: usize, learning_rate: f32) -> Self {
        Self {
            learning_rate,
            m: vec![0.0; len],
            v: vec![0.0; len],
            t: 0,
        }
    }

    /// One step of `x` against `grad`.
    fn step(&mut self, x: &mut [f32], grad: &[f32]) {
        self.t = self.t.saturating_add(1);
        let c1 = 1.0 - Self::BETA1.powi(self.t);
        let c2 = 1.0 - Self::BETA2.powi(self.t);
        for (((x, &g), m), v) in x.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *m = Self::BETA1 * *m + (1.0 - Self::BETA1) * g;
            *v = Self::BETA2 * *v + (1.0 - Self::BETA2) * g * g;
            *x -= self.learning_rate * (*m / c1) / ((*v / c2).sqrt() + Self::EPS);
        }
    }
}

/// Where a poison's pixels may go: within `epsilon` of its base and inside
/// the data's value range `[low, high]`.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    epsilon: f32,
    low: f32,
    high: f32,
}

impl Bounds {
    /// The box of `data`'s value range.
    fn of(data: &Dataset, epsilon: f64) -> Self {
        let (low, high) = data.value_range();
        Self {
            epsilon: epsilon as f32,
            low,
            high,
        }
    }

    /// Project `x` onto the box around `base`.
    fn project(&self, x: &mut [f32], base: &[f32]) {
        for (v, &b) in x.iter_mut().zip(base) {
            *v = v
                .clamp(b - self.epsilon, b + self.epsilon)
                .clamp(self.low, self.high);
        }
    }
}

/// Craft the poisons for one target: the rows of `bases` move, inside
/// `bounds`, until the mean of their embeddings sits on `target`'s. Returns
/// the iterate with the lowest loss.
fn craft(
    model: &dyn Classifier,
    bases: &Dataset,
    target: &Dataset,
    bounds: Bounds,
    p: &BullseyePolytopeParams,
) -> Dataset {
    let t_emb = model.embed(target);
    let t_emb = t_emb.row(0);
    let mut x = bases.clone();
    let mut adam = Adam::new(x.len() * x.dim(), p.learning_rate as f32);
    let mut best = (f32::INFINITY, x.clone());
    for step in 0..=p.iterations {
        let emb = model.embed(&x);
        let (loss, residual) = bullseye_loss(&emb, t_emb);
        if loss < best.0 {
            best = (loss, x.clone());
        }
        if step == p.iterations {
            break;
        }
        let grad = bullseye_gradient(model, &x, &emb, &residual, t_emb);
        adam.step(x.features_mut(), &grad.data);
        for i in 0..x.len() {
            bounds.project(x.sample_mut(i), bases.sample(i));
        }
    }
    best.1
}

impl Attack for BullseyePolytope {
    type Error = BullseyePolytopeError;

    fn poison(
        &self,
        input: AttackInput<'_>,
        rng: &mut Rng,
    ) -> Result<Poisoned, BullseyePolytopeError> {
        let p = &self.params;
        let model = input.surrogate.ok_or(BullseyePolytopeError::NoSurrogate)?;
        let plan = CraftPlan::draw(
            input.train,
            input.test,
            (p.target_class, p.base_class),
            p.targets,
            p.poisons_per_target,
            rng,
        )?;
        let bounds = Bounds::of(input.train, p.epsilon);
        plan.assemble(&input, |_, t, bases| {
            Ok(craft(
                model,
                &input.train.subset(bases),
                &input.test.subset(&[t]),
                bounds,
                p,
            ))
        })
    }

    fn crafting(&self) -> Option<poisonlab_core::clean_label::Crafting> {
        let p = &self.params;
        Some(poisonlab_core::clean_label::Crafting {
            epsilon: Some(p.epsilon),
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

    fn params() -> BullseyePolytopeParams {
        BullseyePolytopeParams {
            targets: 2,
            poisons_per_target: 3,
            epsilon: 0.05,
            iterations: 60,
            ..BullseyePolytopeParams::default()
        }
    }

    fn run(p: BullseyePolytopeParams, train: &Dataset, test: &Dataset, seed: u64) -> Poisoned {
        let model = StubClassifier::uniform(3); // embedding = input
        BullseyePolytope::new(p)
            .unwrap()
            .poison(
                AttackInput::new(train, test).with_surrogate(&model),
                &mut stream(seed, 0, "bp"),
            )
            .unwrap()
    }

    #[test]
    fn loss_and_gradient_match_hand_computed_values() {
        // Two poisons with embeddings (1, 0) and (3, 2): mean (2, 1); target (1, 1),
        // ‖φ(t)‖² = 2, residual (1, 0), loss ½ · 1 / 2 = 0.25.
        let emb = Matrix::new(2, 2, vec![1.0, 0.0, 3.0, 2.0]);
        let (loss, residual) = bullseye_loss(&emb, &[1.0, 1.0]);
        assert_eq!(residual, [1.0, 0.0]);
        assert!((loss - 0.25).abs() < 1e-7, "{loss}");
        // With φ = identity, Jᵢ = I: each row is (1/k) · residual / ‖φ(t)‖² = (0.25, 0).
        let x = Dataset::new(emb.data.clone(), vec![2], vec![0, 0], 2, None).unwrap();
        let grad = bullseye_gradient(
            &StubClassifier::uniform(2),
            &x,
            &emb,
            &residual,
            &[1.0, 1.0],
        );
        assert_eq!(grad.data, [0.25, 0.0, 0.25, 0.0]);
    }

    #[test]
    fn adam_first_step_moves_each_coordinate_by_the_learning_rate() {
        let mut adam = Adam::new(3, 0.01);
        let mut x = vec![0.0, 0.0, 0.0];
        adam.step(&mut x, &[2.0, -0.5, 0.0]);
        assert!(
            (x[0] + 0.01).abs() < 1e-6 && (x[1] - 0.01).abs() < 1e-6,
            "{x:?}"
        );
        assert_eq!(x[2], 0.0);
    }

    #[test]
    fn poisons_keep_labels_and_stay_in_the_ball_and_the_range() {
        let (train, test) = (data(30, 0), data(12, 100));
        let p = run(params(), &train, &test, 0);
        assert_eq!(p.n_poison(), 6);
        assert_eq!(p.data.labels(), train.labels());
        assert_eq!(p.data.ids(), train.ids());
        for i in (0..30).filter(|&i| p.is_poison[i]) {
            assert_eq!(train.labels()[i], 1);
            // Base at 0.3, target class 0 at 0.1, ε = 0.05: the mean cannot
            // reach the target, so every pixel goes to the edge of the ball.
            for (&v, &b) in p.data.sample(i).iter().zip(train.sample(i)) {
                assert!((v - b).abs() <= 0.05 + 1e-6, "{v} vs base {b}");
                assert!((v - 0.25).abs() < 2e-3, "{v}");
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
    fn poisons_stay_within_the_data_range() {
        // ε = 1 would allow 0.3 − 1 < 0; the data's smallest value is 0.1.
        let (train, test) = (data(30, 0), data(12, 100));
        let p = run(
            BullseyePolytopeParams {
                epsilon: 1.0,
                learning_rate: 0.05,
                ..params()
            },
            &train,
            &test,
            0,
        );
        let poisons: Vec<f32> = (0..30)
            .filter(|&i| p.is_poison[i])
            .flat_map(|i| p.data.sample(i).to_vec())
            .collect();
        assert!(poisons.iter().all(|&v| (0.1..=0.5).contains(&v)));
        // The mean of each target's poisons reaches the target (0.1).
        let mean = poisons.iter().sum::<f32>() / poisons.len() as f32;
        assert!((mean - 0.1).abs() < 0.01, "{mean}");
    }

    #[test]
    fn the_mean_not_each_poison_goes_to_the_target() {
        // Bases at 0.2 and 0.6 (one feature), target at 0.5, ε = 0.2: the
        // mean (0.4) reaches 0.5 with both moving +0.1; neither poison
        // collides with the target.
        let train =
            Dataset::new(vec![0.2, 0.6, 0.0, 1.0], vec![1], vec![1, 1, 0, 0], 2, None).unwrap();
        let test = Dataset::new(vec![0.5], vec![1], vec![0], 2, None).unwrap();
        let p = run(
            BullseyePolytopeParams {
                targets: 1,
                poisons_per_target: 2,
                epsilon: 0.2,
                iterations: 200,
                learning_rate: 0.005,
                ..params()
            },
            &train,
            &test,
            0,
        );
        let x = p.data.to_features();
        assert!(
            (x[0] - 0.3).abs() < 5e-3 && (x[1] - 0.7).abs() < 5e-3,
            "{x:?}"
        );
    }

    #[test]
    fn crafting_is_deterministic_given_the_rng() {
        let (train, test) = (data(30, 0), data(12, 100));
        let a = run(params(), &train, &test, 7);
        let b = run(params(), &train, &test, 7);
        assert_eq!(a.data.to_features(), b.data.to_features());
        assert_eq!(a.is_poison, b.is_poison);
        let c = run(params(), &train, &test, 8);
        assert_ne!(a.is_poison, c.is_poison);
    }

    #[test]
    fn without_a_surrogate_or_enough_samples_it_errs() {
        let (train, test) = (data(30, 0), data(12, 100));
        let bp = BullseyePolytope::new(params()).unwrap();
        assert_eq!(
            bp.poison(AttackInput::new(&train, &test), &mut stream(0, 0, "bp"))
                .unwrap_err(),
            BullseyePolytopeError::NoSurrogate
        );
        let model = StubClassifier::uniform(3);
        let many = BullseyePolytope::new(BullseyePolytopeParams {
            targets: 5,
            ..params()
        })
        .unwrap();
        assert!(matches!(
            many.poison(
                AttackInput::new(&train, &test).with_surrogate(&model),
                &mut stream(0, 0, "bp")
            ),
            Err(BullseyePolytopeError::TooFewTargets { available: 4, .. })
        ));
        let err = BullseyePolytope::new(BullseyePolytopeParams {
            poisons_per_target: usize::MAX,
            ..params()
        })
        .unwrap()
        .poison(
            AttackInput::new(&train, &test).with_surrogate(&model),
            &mut stream(0, 0, "bp"),
        )
        .unwrap_err();
        assert!(matches!(err, BullseyePolytopeError::TooFewBases { .. }));
    }

    #[test]
    fn new_refuses_bad_parameters() {
        let errs = BullseyePolytope::new(BullseyePolytopeParams {
            poisons_per_target: 0,
            epsilon: f64::NAN,
            ..params()
        })
        .unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["poisons-per-target", "epsilon"]);
    }

    #[test]
    fn build_and_check_data_check_classes_against_the_data() {
        let p = BullseyePolytopeParams {
            base_class: 3,
            ..params()
        };
        let base = std::path::Path::new(".");
        let three = DataFacts {
            n_classes: Some(3),
            shape: None,
        };
        let errs =
            BullseyePolytope::build(p.clone(), &BuildContext::new(base, &three)).unwrap_err();
        assert_eq!(errs[0].key, "base-class");
        let unknown = DataFacts::default();
        let built = BullseyePolytope::build(p, &BuildContext::new(base, &unknown)).unwrap();
        assert_eq!(built.check_data(&three).unwrap_err()[0].key, "base-class");
        let (train, test) = (data(30, 0), data(12, 100));
        let model = StubClassifier::uniform(3);
        assert_eq!(
            built
                .poison(
                    AttackInput::new(&train, &test).with_surrogate(&model),
                    &mut stream(0, 0, "bp")
                )
                .unwrap_err(),
            BullseyePolytopeError::ClassOutOfRange {
                class: 3,
                classes: 3
            }
        );
    }

    #[test]
    fn needs_a_surrogate_and_describes_itself() {
        let bp = BullseyePolytope::new(params()).unwrap();
        assert!(bp.needs_surrogate());
        assert!(!bp.needs_rounds());
        assert_eq!(
            bp.describe(),
            "bullseye-polytope (clean-label), 2 targets of class 0 → 1, 3 poisons each, \
             ε 0.0500 (L∞), 60 Adam steps (lr 0.01)"
        );
        assert_eq!(Kind::params(&bp), &params());
    }

    #[test]
    fn train_and_test_shapes_must_match() {
        let train = data(30, 0);
        let test = Dataset::new(vec![0.5; 12 * 2], vec![2], vec![0; 12], 3, None).unwrap();
        let model = StubClassifier::uniform(3);
        let err = BullseyePolytope::new(params())
            .unwrap()
            .poison(
                AttackInput::new(&train, &test).with_surrogate(&model),
                &mut stream(0, 0, "bp"),
            )
            .unwrap_err();
        assert!(matches!(err, BullseyePolytopeError::ShapeMismatch { .. }));
    }
}
