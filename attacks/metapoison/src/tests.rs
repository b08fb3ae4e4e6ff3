//! Tests: the finite-difference curvature and meta-gradient against closed
//! forms (softmax regression), the attack's contract, and a small end-to-end
//! run on synthetic digits with Burn models.

use poisonlab_core::{
    Attack, AttackInput, BuildContext, Classifier, DataFacts, Dataset, Kind, Matrix, Model,
    ModelKind, ModelParams, ParameterError, Rng, stream,
};
use rand::Rng as _;

use crate::unroll::{Unroll, adversarial_loss, batch, curvature, meta_gradient};
use crate::{MetaPoison, MetaPoisonError, MetaPoisonParams};

// ---------------------------------------------------------------------------
// Softmax regression with hand-written gradients, computed in f64.
// ---------------------------------------------------------------------------

/// L = −log softmax(Wᵀx + b)_y with W `d × k` (row-major, as [`Model`]
/// documents a dense layer) followed by b: the flat vector `[W, b]`.
#[derive(Debug, Clone)]
struct SoftmaxRegression {
    d: usize,
    k: usize,
    theta: Vec<f64>,
}

impl SoftmaxRegression {
    fn random(d: usize, k: usize, scale: f64, rng: &mut Rng) -> Self {
        let theta = (0..d * k + k)
            .map(|_| scale * (rng.random::<f64>() - 0.5))
            .collect();
        Self { d, k, theta }
    }

    fn w(&self, i: usize, o: usize) -> f64 {
        self.theta[i * self.k + o]
    }

    fn proba(&self, x: &[f32]) -> Vec<f64> {
        softmax_of(
            &self.theta,
            self.d,
            self.k,
            &x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
        )
    }
}

/// softmax(Wᵀx + b) for θ = [W (d × k), b].
fn softmax_of(theta: &[f64], d: usize, k: usize, x: &[f64]) -> Vec<f64> {
    let z: Vec<f64> = (0..k)
        .map(|o| theta[d * k + o] + (0..d).map(|i| x[i] * theta[i * k + o]).sum::<f64>())
        .collect();
    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|z| (z - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|e| e / s).collect()
}

/// ∇θ of the mean loss over (x, y) pairs, θ = [W, b], all in f64.
fn grad_theta(theta: &[f64], d: usize, k: usize, xs: &[Vec<f64>], ys: &[usize]) -> Vec<f64> {
    let mut g = vec![0.0; d * k + k];
    for (x, &y) in xs.iter().zip(ys) {
        let mut r = softmax_of(theta, d, k, x);
        r[y] -= 1.0;
        for i in 0..d {
            for o in 0..k {
                g[i * k + o] += x[i] * r[o];
            }
        }
        for o in 0..k {
            g[d * k + o] += r[o];
        }
    }
    let n = xs.len() as f64;
    g.iter_mut().for_each(|g| *g /= n);
    g
}

fn loss_of(theta: &[f64], d: usize, k: usize, x: &[f64], y: usize) -> f64 {
    -softmax_of(theta, d, k, x)[y].ln()
}

impl Classifier for SoftmaxRegression {
    fn n_classes(&self) -> usize {
        self.k
    }

    fn predict_proba(&self, data: &Dataset) -> Matrix {
        let p = (0..data.len())
            .flat_map(|i| self.proba(data.sample(i)))
            .map(|p| p as f32)
            .collect();
        Matrix::new(data.len(), self.k, p)
    }

    fn embed(&self, data: &Dataset) -> Matrix {
        Matrix::new(data.len(), data.dim(), data.to_features())
    }

    /// ∇x L = W (p − e_y).
    fn input_gradient(&self, data: &Dataset) -> Matrix {
        let mut out = Vec::with_capacity(data.len() * self.d);
        for (i, &y) in data.labels().iter().enumerate() {
            let mut r = self.proba(data.sample(i));
            r[y] -= 1.0;
            out.extend(
                (0..self.d).map(|j| (0..self.k).map(|o| self.w(j, o) * r[o]).sum::<f64>() as f32),
            );
        }
        Matrix::new(data.len(), self.d, out)
    }

    fn feature_gradient(&self, data: &Dataset, targets: &Matrix) -> Matrix {
        let diff = data
            .rows()
            .flatten()
            .zip(&targets.data)
            .map(|(x, t)| x - t)
            .collect();
        Matrix::new(data.len(), data.dim(), diff)
    }
}

impl Model for SoftmaxRegression {
    fn n_parameters(&self) -> usize {
        self.theta.len()
    }

    fn parameters(&self) -> Vec<f32> {
        self.theta.iter().map(|&t| t as f32).collect()
    }

    fn set_parameters(&mut self, values: &[f32]) -> Result<(), ParameterError> {
        ParameterError::check(self.theta.len(), values)?;
        self.theta = values.iter().map(|&v| f64::from(v)).collect();
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn Model> {
        Box::new(self.clone())
    }

    fn loss_gradient(&self, data: &Dataset) -> Vec<f32> {
        if data.is_empty() {
            return vec![0.0; self.theta.len()];
        }
        let xs: Vec<Vec<f64>> = (0..data.len())
            .map(|i| data.sample(i).iter().map(|&v| f64::from(v)).collect())
            .collect();
        grad_theta(&self.theta, self.d, self.k, &xs, data.labels())
            .into_iter()
            .map(|g| g as f32)
            .collect()
    }
}

/// The closed form ∇x[∇θL(x)·v] = V(p − e_y) + W(diag(p) − ppᵀ)(Vᵀx + c)
/// for v = (V, c), θ = (W, b).
fn mixed_closed_form(
    theta: &[f64],
    v: &[f64],
    d: usize,
    k: usize,
    x: &[f64],
    y: usize,
) -> Vec<f64> {
    let p = softmax_of(theta, d, k, x);
    // s = Vᵀx + c, then q = (diag(p) − ppᵀ) s.
    let s: Vec<f64> = (0..k)
        .map(|o| v[d * k + o] + (0..d).map(|i| x[i] * v[i * k + o]).sum::<f64>())
        .collect();
    let ps: f64 = p.iter().zip(&s).map(|(p, s)| p * s).sum();
    let q: Vec<f64> = (0..k).map(|o| p[o] * (s[o] - ps)).collect();
    (0..d)
        .map(|i| {
            (0..k)
                .map(|o| {
                    let r = p[o] - if o == y { 1.0 } else { 0.0 };
                    v[i * k + o] * r + theta[i * k + o] * q[o]
                })
                .sum()
        })
        .collect()
}

/// The closed-form Hessian-vector product of the mean loss over (xs, ys):
/// for each sample, ∇W = x ⊗ q and ∇b = q with q = (diag(p) − ppᵀ)(Vᵀx + c).
fn hvp_closed_form(theta: &[f64], v: &[f64], d: usize, k: usize, xs: &[Vec<f64>]) -> Vec<f64> {
    let mut out = vec![0.0; d * k + k];
    for x in xs {
        let p = softmax_of(theta, d, k, x);
        let s: Vec<f64> = (0..k)
            .map(|o| v[d * k + o] + (0..d).map(|i| x[i] * v[i * k + o]).sum::<f64>())
            .collect();
        let ps: f64 = p.iter().zip(&s).map(|(p, s)| p * s).sum();
        for o in 0..k {
            let q = p[o] * (s[o] - ps);
            for i in 0..d {
                out[i * k + o] += x[i] * q;
            }
            out[d * k + o] += q;
        }
    }
    out.iter_mut().for_each(|h| *h /= xs.len() as f64);
    out
}

/// Largest |a − b| over the largest |b|.
fn relative_error(a: &[f32], b: &[f64]) -> f64 {
    let err = a
        .iter()
        .zip(b)
        .map(|(&a, b)| (f64::from(a) - b).abs())
        .fold(0.0, f64::max);
    let scale = b.iter().map(|b| b.abs()).fold(0.0, f64::max);
    err / scale
}

/// `n` random samples of `d` features in [0, 1] with labels `i % k`.
fn tabular(n: usize, d: usize, k: usize, rng: &mut Rng) -> Dataset {
    let x = (0..n * d).map(|_| rng.random::<f32>()).collect();
    Dataset::new(x, vec![d], (0..n).map(|i| i % k).collect(), k, None).unwrap()
}

fn rows(data: &Dataset) -> Vec<Vec<f64>> {
    (0..data.len())
        .map(|i| data.sample(i).iter().map(|&v| f64::from(v)).collect())
        .collect()
}

// ---------------------------------------------------------------------------
// Finite-difference curvature against the closed forms.
// ---------------------------------------------------------------------------

/// Tolerance of the central differences against the closed forms: the
/// largest error at most 1e-3 of the largest entry (h = 0.01: O(h²)
/// truncation plus f32 rounding of the gradients).
const FD_TOLERANCE: f64 = 1e-3;

#[test]
fn mixed_derivative_matches_the_closed_form() {
    let mut rng = stream(1, 0, "mixed");
    let (d, k) = (6, 4);
    let model = SoftmaxRegression::random(d, k, 2.0, &mut rng);
    let data = tabular(3, d, k, &mut rng);
    let v: Vec<f64> = (0..d * k + k).map(|_| rng.random::<f64>() - 0.5).collect();
    let v32: Vec<f32> = v.iter().map(|&v| v as f32).collect();
    let mut work = model.clone_box();
    let c = curvature(work.as_mut(), &model.parameters(), &v32, 0.01, &data, None).unwrap();
    assert!(c.params.is_none());
    for (i, x) in rows(&data).iter().enumerate() {
        let exact = mixed_closed_form(&model.theta, &v, d, k, x, data.labels()[i]);
        let err = relative_error(c.input.row(i), &exact);
        assert!(err < FD_TOLERANCE, "row {i}: relative error {err}");
    }
}

#[test]
fn parameter_hvp_matches_the_closed_form() {
    let mut rng = stream(2, 0, "hvp");
    let (d, k) = (5, 3);
    let model = SoftmaxRegression::random(d, k, 2.0, &mut rng);
    let data = tabular(7, d, k, &mut rng);
    let v: Vec<f64> = (0..d * k + k).map(|_| rng.random::<f64>() - 0.5).collect();
    let v32: Vec<f32> = v.iter().map(|&v| v as f32).collect();
    let mut work = model.clone_box();
    let c = curvature(
        work.as_mut(),
        &model.parameters(),
        &v32,
        0.01,
        &data,
        Some(&data),
    )
    .unwrap();
    let exact = hvp_closed_form(&model.theta, &v, d, k, &rows(&data));
    let err = relative_error(&c.params.unwrap(), &exact);
    assert!(err < FD_TOLERANCE, "relative error {err}");
}

#[test]
fn zero_direction_gives_zero_curvature() {
    let mut rng = stream(3, 0, "zero");
    let model = SoftmaxRegression::random(4, 3, 1.0, &mut rng);
    let data = tabular(2, 4, 3, &mut rng);
    let mut work = model.clone_box();
    let c = curvature(
        work.as_mut(),
        &model.parameters(),
        &[0.0; 15],
        0.01,
        &data,
        Some(&data),
    )
    .unwrap();
    assert!(c.input.data.iter().all(|&v| v == 0.0));
    assert!(c.params.unwrap().iter().all(|&v| v == 0.0));
}

/// The exact one-step meta-gradient of a single poison, by hand:
/// θ₁ = θ₀ − η ∇θL(θ₀; X), u = ∇θ ℓ(t, y_b; θ₁), and
/// dL_adv/dx_p = −(η/B) [V(p − e_y) + W₀(diag(p) − ppᵀ)(Vᵀx_p + c)] at θ₀, (V, c) = u.
#[test]
fn one_step_meta_gradient_matches_the_closed_form() {
    let mut rng = stream(4, 0, "one-step");
    let (d, k, eta) = (6, 3, 0.5);
    let model = SoftmaxRegression::random(d, k, 2.0, &mut rng);
    let poison = tabular(1, d, k, &mut rng); // label 0
    let clean = tabular(4, d, k, &mut rng);
    let mut target = tabular(1, d, k, &mut rng);
    target.set_label(0, 2);
    let unroll = Unroll {
        lr: eta as f32,
        fd_step: 0.01,
    };
    let mg = meta_gradient(
        &model,
        &poison,
        std::slice::from_ref(&clean),
        &target,
        unroll,
    )
    .unwrap();

    let b = batch(&poison, &clean);
    let g0 = grad_theta(&model.theta, d, k, &rows(&b), b.labels());
    let theta1: Vec<f64> = model
        .theta
        .iter()
        .zip(&g0)
        .map(|(t, g)| t - eta * g)
        .collect();
    let t = &rows(&target)[0];
    let u = grad_theta(&theta1, d, k, std::slice::from_ref(t), &[2]);
    let x = &rows(&poison)[0];
    let exact: Vec<f64> = mixed_closed_form(&model.theta, &u, d, k, x, 0)
        .into_iter()
        .map(|m| -eta / b.len() as f64 * m)
        .collect();
    let err = relative_error(mg.row(0), &exact);
    assert!(err < FD_TOLERANCE, "relative error {err}");
    let loss = loss_of(&theta1, d, k, t, 2);
    let unrolled = adversarial_loss(
        &model,
        &poison,
        std::slice::from_ref(&clean),
        &target,
        unroll,
    )
    .unwrap();
    assert!((f64::from(unrolled) - loss).abs() < 1e-5 * loss.max(1.0));
}

/// The unrolled loss computed independently in f64: K SGD steps on the
/// poisons (rows `xs`, labels `ys`) joined with each clean batch.
fn exact_unrolled_loss(
    model: &SoftmaxRegression,
    poisons: &[Vec<f64>],
    poison_labels: &[usize],
    cleans: &[Dataset],
    target: (&[f64], usize),
    eta: f64,
) -> f64 {
    let (d, k) = (model.d, model.k);
    let mut theta = model.theta.clone();
    for c in cleans {
        let mut xs = poisons.to_vec();
        xs.extend(rows(c));
        let mut ys = poison_labels.to_vec();
        ys.extend_from_slice(c.labels());
        let g = grad_theta(&theta, d, k, &xs, &ys);
        theta.iter_mut().zip(g).for_each(|(t, g)| *t -= eta * g);
    }
    loss_of(&theta, d, k, target.0, target.1)
}

/// K = 3 steps: the meta-gradient (with its parameter-space HVPs) against
/// central differences of the exactly computed unrolled loss, along the
/// gradient itself and along a random direction.
#[test]
fn multi_step_meta_gradient_matches_differences_of_the_unrolled_loss() {
    let mut rng = stream(5, 0, "k-steps");
    let (d, k, eta) = (5, 3, 1.0);
    let model = SoftmaxRegression::random(d, k, 2.0, &mut rng);
    let mut poisons = tabular(3, d, k, &mut rng);
    for i in 0..3 {
        poisons.set_label(i, 1);
    }
    let cleans: Vec<Dataset> = (0..3).map(|_| tabular(3, d, k, &mut rng)).collect();
    let mut target = tabular(1, d, k, &mut rng);
    target.set_label(0, 1);
    let unroll = Unroll {
        lr: eta as f32,
        fd_step: 0.01,
    };
    let mg = meta_gradient(&model, &poisons, &cleans, &target, unroll).unwrap();
    let g: Vec<f64> = mg.data.iter().map(|&g| f64::from(g)).collect();
    let norm = g.iter().map(|g| g * g).sum::<f64>().sqrt();
    assert!(norm > 1e-4, "gradient too small to test: {norm}");
    let random: Vec<f64> = (0..g.len()).map(|_| rng.random::<f64>() - 0.5).collect();
    let t = rows(&target).remove(0);
    let base = rows(&poisons);
    for dir in [g.iter().map(|g| g / norm).collect::<Vec<f64>>(), random] {
        let loss_at = |s: f64| {
            let moved: Vec<Vec<f64>> = base
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    x.iter()
                        .enumerate()
                        .map(|(j, v)| v + s * dir[i * d + j])
                        .collect()
                })
                .collect();
            exact_unrolled_loss(&model, &moved, poisons.labels(), &cleans, (&t, 1), eta)
        };
        let delta = 1e-5;
        let numeric = (loss_at(delta) - loss_at(-delta)) / (2.0 * delta);
        let analytic: f64 = g.iter().zip(&dir).map(|(g, d)| g * d).sum();
        let scale = norm * dir.iter().map(|d| d * d).sum::<f64>().sqrt();
        assert!(
            (numeric - analytic).abs() < 2e-3 * scale,
            "numeric {numeric}, meta-gradient {analytic}"
        );
    }
}

// ---------------------------------------------------------------------------
// The same check through a Burn model, reading its documented parameter order.
// ---------------------------------------------------------------------------

fn burn_trainer(
    kind: ModelKind,
    hidden: Vec<usize>,
    epochs: usize,
) -> poisonlab_model::BurnTrainer {
    poisonlab_model::BurnTrainer::new(ModelParams {
        kind,
        hidden,
        epochs,
        batch_size: 32,
        learning_rate: 1e-2,
    })
}

#[test]
fn burn_logistic_regression_curvature_matches_the_closed_form() {
    let mut rng = stream(6, 0, "burn-logreg");
    let (d, k) = (6, 3);
    let data = tabular(60, d, k, &mut rng);
    let model = burn_trainer(ModelKind::Logreg, ModelParams::default().hidden, 3)
        .fit(&data, &mut rng)
        .unwrap();
    let theta: Vec<f64> = model.parameters().iter().map(|&t| f64::from(t)).collect();
    assert_eq!(theta.len(), d * k + k);
    let probe = data.subset(&[0, 1, 2]);
    let v: Vec<f64> = (0..theta.len())
        .map(|_| rng.random::<f64>() - 0.5)
        .collect();
    let v32: Vec<f32> = v.iter().map(|&v| v as f32).collect();
    let mut work = model.clone_box();
    let c = curvature(
        work.as_mut(),
        &model.parameters(),
        &v32,
        0.01,
        &probe,
        Some(&probe),
    )
    .unwrap();
    for (i, x) in rows(&probe).iter().enumerate() {
        let exact = mixed_closed_form(&theta, &v, d, k, x, probe.labels()[i]);
        let err = relative_error(c.input.row(i), &exact);
        assert!(err < 5.0 * FD_TOLERANCE, "row {i}: relative error {err}");
    }
    let exact = hvp_closed_form(&theta, &v, d, k, &rows(&probe));
    let err = relative_error(&c.params.unwrap(), &exact);
    assert!(err < 5.0 * FD_TOLERANCE, "HVP relative error {err}");
}

// ---------------------------------------------------------------------------
// The attack's contract, on softmax regression (fast, no Burn).
// ---------------------------------------------------------------------------

fn small_params() -> MetaPoisonParams {
    MetaPoisonParams {
        targets: 2,
        poisons_per_target: 3,
        steps: 5,
        batch_size: 8,
        epsilon: 0.05,
        learning_rate: 0.02,
        ..MetaPoisonParams::default()
    }
}

fn small_data() -> (Dataset, Dataset, SoftmaxRegression) {
    let mut rng = stream(7, 0, "data");
    let train = tabular(60, 8, 3, &mut rng);
    let test = tabular(12, 8, 3, &mut rng);
    let model = SoftmaxRegression::random(8, 3, 2.0, &mut rng);
    (train, test, model)
}

#[test]
fn poisons_keep_labels_and_stay_within_epsilon_and_range() {
    let (train, test, model) = small_data();
    let p = MetaPoison::new(small_params())
        .unwrap()
        .poison(
            AttackInput::new(&train, &test).with_surrogate(&model),
            &mut stream(0, 0, "mp"),
        )
        .unwrap();
    assert_eq!(p.n_poison(), 6);
    assert_eq!(p.data.labels(), train.labels());
    assert_eq!(p.data.ids(), train.ids());
    let mut moved = 0.0f32;
    for i in 0..train.len() {
        if p.is_poison[i] {
            assert_eq!(train.labels()[i], 1);
            for (&x, &b) in p.data.sample(i).iter().zip(train.sample(i)) {
                assert!((x - b).abs() <= 0.05 + 1e-6, "{x} vs base {b}");
                assert!((0.0..=1.0).contains(&x), "{x}");
                moved = moved.max((x - b).abs());
            }
        } else {
            assert_eq!(p.data.sample(i), train.sample(i));
        }
    }
    assert!(moved > 0.01, "the poisons barely moved: {moved}");
    let t = p.attack_test.unwrap();
    assert_eq!(t.targets, vec![1, 1]);
    assert!(t.inputs.labels().iter().all(|&y| y == 0));
}

#[test]
fn crafting_is_deterministic_given_the_stream() {
    let (train, test, model) = small_data();
    let mp = MetaPoison::new(small_params()).unwrap();
    let run = |seed| {
        mp.poison(
            AttackInput::new(&train, &test).with_surrogate(&model),
            &mut stream(seed, 0, "mp"),
        )
        .unwrap()
    };
    let (a, b, c) = (run(0), run(0), run(1));
    assert_eq!(a.data, b.data);
    assert_eq!(a.is_poison, b.is_poison);
    assert_ne!(a.data, c.data);
}

#[test]
fn without_a_surrogate_or_enough_samples_it_errs() {
    let (train, test, model) = small_data();
    let mp = MetaPoison::new(small_params()).unwrap();
    assert_eq!(
        mp.poison(AttackInput::new(&train, &test), &mut stream(0, 0, "mp"))
            .unwrap_err(),
        MetaPoisonError::NoSurrogate
    );
    let many = MetaPoison::new(MetaPoisonParams {
        targets: 5,
        ..small_params()
    })
    .unwrap();
    assert!(matches!(
        many.poison(
            AttackInput::new(&train, &test).with_surrogate(&model),
            &mut stream(0, 0, "mp")
        ),
        Err(MetaPoisonError::TooFewTargets { available: 4, .. })
    ));
    let huge = MetaPoison::new(MetaPoisonParams {
        poisons_per_target: usize::MAX,
        batch_size: usize::MAX,
        ..small_params()
    })
    .unwrap();
    assert!(matches!(
        huge.poison(
            AttackInput::new(&train, &test).with_surrogate(&model),
            &mut stream(0, 0, "mp")
        ),
        Err(MetaPoisonError::TooFewBases { .. })
    ));
}

#[test]
fn shapes_and_classes_must_fit_the_data() {
    let (train, _, model) = small_data();
    let mp = MetaPoison::new(small_params()).unwrap();
    let test = Dataset::new(vec![0.5; 12 * 2], vec![2], vec![0; 12], 3, None).unwrap();
    assert!(matches!(
        mp.poison(
            AttackInput::new(&train, &test).with_surrogate(&model),
            &mut stream(0, 0, "mp")
        ),
        Err(MetaPoisonError::ShapeMismatch { .. })
    ));
    let base = std::path::Path::new(".");
    let three = DataFacts {
        n_classes: Some(3),
        shape: None,
    };
    let p = MetaPoisonParams {
        base_class: 3,
        ..small_params()
    };
    let errs = MetaPoison::build(p.clone(), &BuildContext::new(base, &three)).unwrap_err();
    assert_eq!(errs[0].key, "base-class");
    let built = MetaPoison::build(p, &BuildContext::new(base, &DataFacts::default())).unwrap();
    assert_eq!(built.check_data(&three).unwrap_err()[0].key, "base-class");
    assert_eq!(
        built
            .poison(
                AttackInput::new(&train, &train).with_surrogate(&model),
                &mut stream(0, 0, "mp")
            )
            .unwrap_err(),
        MetaPoisonError::ClassOutOfRange {
            class: 3,
            classes: 3
        }
    );
}

#[test]
fn new_refuses_bad_parameters() {
    let errs = MetaPoison::new(MetaPoisonParams {
        poisons_per_target: 0,
        fd_step: f64::NAN,
        ..small_params()
    })
    .unwrap_err();
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["poisons-per-target", "fd-step"]);
}

#[test]
fn stages_spread_the_ensemble_over_the_epochs() {
    let stages = |surrogates, epochs| {
        MetaPoison::new(MetaPoisonParams {
            surrogates,
            epochs,
            ..MetaPoisonParams::default()
        })
        .unwrap()
        .stages()
    };
    assert_eq!(stages(3, 4), [0, 2, 4]);
    assert_eq!(stages(4, 4), [0, 1, 3, 4]); // 4/3 → 1, 8/3 → 3
    assert_eq!(stages(1, 4), [4]);
    assert_eq!(stages(2, 0), [0, 0]);
}

#[test]
fn needs_a_surrogate_and_describes_itself() {
    let mp = MetaPoison::new(MetaPoisonParams::default()).unwrap();
    assert!(mp.needs_surrogate());
    assert!(!mp.needs_rounds());
    assert_eq!(
        mp.describe(),
        "metapoison (clean-label), 5 targets of class 0 → 1, 20 poisons each, ε 0.0627, \
         40 steps through 2 unrolled SGD steps (η 0.1, batch 64), 3 surrogates at epochs [0, 2, 4]"
    );
    assert_eq!(Kind::params(&mp), &MetaPoisonParams::default());
}

#[test]
fn a_diverging_unroll_is_an_error_not_a_panic() {
    let (train, test, model) = small_data();
    let mp = MetaPoison::new(MetaPoisonParams {
        unroll_learning_rate: f64::MAX,
        ..small_params()
    })
    .unwrap();
    assert!(matches!(
        mp.poison(
            AttackInput::new(&train, &test).with_surrogate(&model),
            &mut stream(0, 0, "mp")
        ),
        Err(MetaPoisonError::Unroll(_))
    ));
}

// ---------------------------------------------------------------------------
// End to end on synthetic digits with Burn MLPs.
// ---------------------------------------------------------------------------

/// The mean unrolled adversarial loss of each target over `draws` fresh
/// clean-batch draws, with the poisons of `data` at `chunks`.
fn mean_unrolled_loss(
    model: &dyn Model,
    data: &Dataset,
    chunk: &[usize],
    clean_rows: &[usize],
    target: &Dataset,
    p: &MetaPoisonParams,
    rng: &mut Rng,
) -> f32 {
    let unroll = Unroll {
        lr: p.unroll_learning_rate as f32,
        fd_step: p.fd_step as f32,
    };
    let poisons = data.subset(chunk);
    let draws = 4;
    let mut sum = 0.0;
    for _ in 0..draws {
        let cleans: Vec<Dataset> = (0..p.unroll)
            .map(|_| {
                let picks: Vec<usize> =
                    rand::seq::index::sample(rng, clean_rows.len(), p.batch_size - chunk.len())
                        .into_iter()
                        .map(|i| clean_rows[i])
                        .collect();
                data.subset(&picks)
            })
            .collect();
        sum += adversarial_loss(model, &poisons, &cleans, target, unroll).unwrap();
    }
    sum / draws as f32
}

/// Crafting on an ensemble of two small MLPs (trained by the trainer to
/// epochs 0 and 2) lowers the adversarial loss after K unrolled steps,
/// measured on fresh clean batches, both on the crafting ensemble's own
/// stages and on a surrogate it never saw (another initialisation).
#[test]
fn crafting_lowers_the_unrolled_adversarial_loss_on_digits() {
    let splits = poisonlab_data::SyntheticDigitsParams {
        train: 300,
        test: 60,
    }
    .generate(&mut stream(8, 0, "digits"));
    let (train, test) = (splits.train, splits.test);
    let trainer = burn_trainer(ModelKind::Mlp, vec![32], 2);
    let params = MetaPoisonParams {
        targets: 1,
        poisons_per_target: 8,
        steps: 12,
        batch_size: 32,
        surrogates: 2,
        epochs: 2,
        ..MetaPoisonParams::default()
    };
    let mp = MetaPoison::new(params.clone()).unwrap();
    let clean_model = trainer.fit(&train, &mut stream(8, 0, "clean")).unwrap();
    let poisoned = mp
        .poison(
            AttackInput::new(&train, &test)
                .with_surrogate(&clean_model)
                .with_trainer(&trainer),
            &mut stream(8, 0, "attack"),
        )
        .unwrap();
    let chunk: Vec<usize> = (0..train.len())
        .filter(|&i| poisoned.is_poison[i])
        .collect();
    let clean_rows: Vec<usize> = (0..train.len())
        .filter(|&i| !poisoned.is_poison[i])
        .collect();
    let mut target = poisoned.attack_test.as_ref().unwrap().inputs.clone();
    target.set_label(0, params.base_class);
    let mut held_out = stream(8, 0, "held-out");
    let fresh = trainer
        .train_from(None, &train, None, 2, &mut held_out)
        .unwrap();
    for (name, model) in [
        ("clean model", &clean_model as &dyn Model),
        ("fresh surrogate", &fresh),
    ] {
        let mut eval = stream(8, 0, "eval");
        let before = mean_unrolled_loss(
            model,
            &train,
            &chunk,
            &clean_rows,
            &target,
            &params,
            &mut eval,
        );
        let mut eval = stream(8, 0, "eval");
        let after = mean_unrolled_loss(
            model,
            &poisoned.data,
            &chunk,
            &clean_rows,
            &target,
            &params,
            &mut eval,
        );
        eprintln!(
            "{name}: adversarial loss after {} steps {before} → {after}",
            params.unroll
        );
        assert!(after < before, "{name}: {before} → {after}");
    }
}
