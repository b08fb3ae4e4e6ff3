//! Gradient steps on a model's flat parameter vector, for defenses that
//! adjust a trained model through [`Model`] alone: fine-tuning on trusted
//! data, unlearning by gradient ascent, training with a flooded loss.
//!
//! The optimiser is Adam (Kingma and Ba 2015, β = (0.9, 0.999), ε = 1e-8)
//! on the mean cross-entropy of each minibatch, [`Model::loss_gradient`]
//! giving the gradient; batches are drawn in an order shuffled each epoch
//! from the caller's stream.

use rand::seq::SliceRandom;

use crate::{Dataset, Model, ParameterError, Rng};

/// Which way each minibatch step goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Direction {
    /// Descend the loss (ordinary training).
    Descend,
    /// Ascend it (unlearning).
    Ascend,
    /// The flooded loss at level `γ`: descend while the batch's mean loss is
    /// at least `γ`, ascend while it is below (`sign(L − γ) · L`; Ishida et
    /// al. 2020, "Do We Need Zero Training Loss After Achieving Zero
    /// Training Error?"; the local gradient ascent of anti-backdoor
    /// learning, Li et al. 2021).
    Flood(f32),
}

impl Direction {
    /// +1 to descend, −1 to ascend, for a batch whose mean loss is `loss`
    /// (read only by [`Direction::Flood`]).
    pub fn sign(self, loss: f32) -> f32 {
        match self {
            Direction::Descend => 1.0,
            Direction::Ascend => -1.0,
            Direction::Flood(level) if loss >= level => 1.0,
            Direction::Flood(_) => -1.0,
        }
    }
}

/// How long and how fast to step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Samples per minibatch (at least 1).
    pub batch_size: usize,
    /// Passes over the data.
    pub epochs: usize,
}

/// Adam on a flat parameter vector.
#[derive(Debug, Clone)]
pub struct Adam {
    learning_rate: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPSILON: f64 = 1e-8;

    /// A fresh state for `n` parameters.
    pub fn new(n: usize, learning_rate: f64) -> Self {
        Self {
            learning_rate,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// One step against `gradient` (the gradient of the objective to
    /// minimise), in place on `params`.
    ///
    /// # Panics
    /// When the lengths differ (a programming error).
    pub fn step(&mut self, params: &mut [f32], gradient: &[f32]) {
        assert_eq!(params.len(), gradient.len(), "Adam::step: lengths differ");
        assert_eq!(params.len(), self.m.len(), "Adam::step: lengths differ");
        self.t += 1;
        let c1 = 1.0 - Self::BETA1.powi(self.t);
        let c2 = 1.0 - Self::BETA2.powi(self.t);
        for (i, (p, &g)) in params.iter_mut().zip(gradient).enumerate() {
            let g = f64::from(g);
            self.m[i] = Self::BETA1 * self.m[i] + (1.0 - Self::BETA1) * g;
            self.v[i] = Self::BETA2 * self.v[i] + (1.0 - Self::BETA2) * g * g;
            let step =
                self.learning_rate * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + Self::EPSILON);
            *p -= step as f32;
        }
    }
}

/// Train `model` in place on `data` for `tuning.epochs` passes of minibatch
/// Adam steps, each step's direction chosen by `direction`; the parameters
/// at `frozen` indices never move (their gradient is taken as zero).
/// Empty data or zero epochs leave the model as it is. Draws one shuffle
/// per epoch from `rng`.
///
/// Fails, leaving the model at the last good step, when a step makes a
/// parameter non-finite.
pub fn tune(
    model: &mut dyn Model,
    data: &Dataset,
    tuning: &Tuning,
    direction: Direction,
    frozen: &[usize],
    rng: &mut Rng,
) -> Result<(), ParameterError> {
    if data.is_empty() || tuning.epochs == 0 {
        return Ok(());
    }
    let mut params = model.parameters();
    let mut adam = Adam::new(params.len(), tuning.learning_rate);
    let mut order: Vec<usize> = (0..data.len()).collect();
    for _ in 0..tuning.epochs {
        order.shuffle(rng);
        for rows in order.chunks(tuning.batch_size.max(1)) {
            let batch = data.subset(rows);
            let sign = match direction {
                Direction::Flood(_) => {
                    let losses = model.losses(&batch);
                    let mean = losses.iter().sum::<f32>() / losses.len() as f32;
                    direction.sign(mean)
                }
                _ => direction.sign(0.0),
            };
            let mut gradient = model.loss_gradient(&batch);
            for &i in frozen {
                if let Some(g) = gradient.get_mut(i) {
                    *g = 0.0;
                }
            }
            gradient.iter_mut().for_each(|g| *g *= sign);
            adam.step(&mut params, &gradient);
            model.set_parameters(&params)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Classifier, Matrix};

    /// Softmax regression on `d` features and `k` classes, `[W (d × k), b (k)]`,
    /// with its loss gradient worked out by hand: mean of x ⊗ (p − y), (p − y).
    #[derive(Debug, Clone)]
    struct Softmax {
        d: usize,
        k: usize,
        w: Vec<f32>,
    }

    impl Softmax {
        fn proba(&self, x: &[f32]) -> Vec<f32> {
            let logits: Vec<f32> = (0..self.k)
                .map(|c| {
                    let dot: f32 = (0..self.d).map(|i| x[i] * self.w[i * self.k + c]).sum();
                    dot + self.w[self.d * self.k + c]
                })
                .collect();
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
            let z: f32 = e.iter().sum();
            e.iter().map(|v| v / z).collect()
        }
    }

    impl Classifier for Softmax {
        fn n_classes(&self) -> usize {
            self.k
        }
        fn predict_proba(&self, data: &Dataset) -> Matrix {
            let rows: Vec<f32> = (0..data.len())
                .flat_map(|i| self.proba(data.sample(i)))
                .collect();
            Matrix::new(data.len(), self.k, rows)
        }
        fn embed(&self, data: &Dataset) -> Matrix {
            Matrix::new(data.len(), data.dim(), data.to_features())
        }
        fn input_gradient(&self, data: &Dataset) -> Matrix {
            Matrix::new(data.len(), data.dim(), vec![0.0; data.len() * data.dim()])
        }
        fn feature_gradient(&self, data: &Dataset, _: &Matrix) -> Matrix {
            self.input_gradient(data)
        }
    }

    impl Model for Softmax {
        fn n_parameters(&self) -> usize {
            self.w.len()
        }
        fn parameters(&self) -> Vec<f32> {
            self.w.clone()
        }
        fn set_parameters(&mut self, values: &[f32]) -> Result<(), ParameterError> {
            ParameterError::check(self.w.len(), values)?;
            self.w = values.to_vec();
            Ok(())
        }
        fn clone_box(&self) -> Box<dyn Model> {
            Box::new(self.clone())
        }
        fn loss_gradient(&self, data: &Dataset) -> Vec<f32> {
            let mut g = vec![0.0f32; self.w.len()];
            for i in 0..data.len() {
                let x = data.sample(i);
                let p = self.proba(x);
                for c in 0..self.k {
                    let e = p[c] - if data.labels()[i] == c { 1.0 } else { 0.0 };
                    for f in 0..self.d {
                        g[f * self.k + c] += x[f] * e;
                    }
                    g[self.d * self.k + c] += e;
                }
            }
            g.iter().map(|v| v / data.len() as f32).collect()
        }
    }

    /// Two separable classes on two features.
    fn data() -> Dataset {
        let features = vec![1.0, 0.0, 0.9, 0.1, 0.8, 0.0, 0.0, 1.0, 0.1, 0.9, 0.0, 0.8];
        Dataset::new(features, vec![2], vec![0, 0, 0, 1, 1, 1], 2, None).unwrap()
    }

    fn mean_loss(m: &dyn Model, d: &Dataset) -> f32 {
        m.losses(d).iter().sum::<f32>() / d.len() as f32
    }

    #[test]
    fn descending_lowers_the_loss_ascending_raises_it_and_frozen_weights_stay() {
        let d = data();
        let start = Softmax {
            d: 2,
            k: 2,
            w: vec![0.0; 6],
        };
        let tuning = Tuning {
            learning_rate: 0.05,
            batch_size: 2,
            epochs: 20,
        };
        let before = mean_loss(&start, &d);
        let mut down = start.clone();
        let rng = &mut crate::seed::stream(0, 0, "t");
        tune(&mut down, &d, &tuning, Direction::Descend, &[1, 4], rng).unwrap();
        assert!(
            mean_loss(&down, &d) < before - 0.2,
            "{}",
            mean_loss(&down, &d)
        );
        assert_eq!((down.w[1], down.w[4]), (0.0, 0.0), "frozen: {:?}", down.w);
        let mut up = start.clone();
        tune(&mut up, &d, &tuning, Direction::Ascend, &[], rng).unwrap();
        assert!(mean_loss(&up, &d) > before + 0.2, "{}", mean_loss(&up, &d));
        // Flooding at a level above the loss reached ascends back towards it.
        let mut flooded = down.clone();
        let level = mean_loss(&down, &d) + 0.1;
        tune(&mut flooded, &d, &tuning, Direction::Flood(level), &[], rng).unwrap();
        assert!((mean_loss(&flooded, &d) - level).abs() < 0.1);
        // Nothing to train on, or no epochs: nothing moves and no draw is made.
        let mut same = start.clone();
        let none = Tuning {
            epochs: 0,
            ..tuning
        };
        tune(&mut same, &d, &none, Direction::Descend, &[], rng).unwrap();
        assert_eq!(same.w, start.w);
    }

    #[test]
    fn the_first_adam_step_moves_each_parameter_by_the_learning_rate_against_its_sign() {
        // After one step m̂ = g and v̂ = g², so the step is lr · g / (|g| + ε).
        let mut adam = Adam::new(3, 0.01);
        let mut p = vec![1.0f32, 1.0, 1.0];
        adam.step(&mut p, &[2.0, -0.5, 0.0]);
        assert!((p[0] - 0.99).abs() < 1e-6, "{p:?}");
        assert!((p[1] - 1.01).abs() < 1e-6, "{p:?}");
        assert_eq!(p[2], 1.0);
    }

    #[test]
    fn the_second_adam_step_follows_the_bias_corrected_moments() {
        // g = 1 then 3: m̂ = (0.09 + 0.3) / 0.19 = 2.052632, v̂ = (0.000999 + 0.009) / 0.001999
        // = 5.002001, step = 0.1 · 2.052632 / 2.236515 = 0.091778.
        let mut adam = Adam::new(1, 0.1);
        let mut p = vec![0.0f32];
        adam.step(&mut p, &[1.0]);
        let after_one = p[0];
        adam.step(&mut p, &[3.0]);
        assert!((after_one + 0.1).abs() < 1e-6);
        assert!((p[0] - (after_one - 0.091_778)).abs() < 1e-5, "{p:?}");
    }

    #[test]
    fn flooding_descends_above_the_level_and_ascends_below() {
        let flood = Direction::Flood(0.5);
        assert_eq!(flood.sign(0.7), 1.0);
        assert_eq!(flood.sign(0.5), 1.0);
        assert_eq!(flood.sign(0.3), -1.0);
        assert_eq!(Direction::Descend.sign(0.0), 1.0);
        assert_eq!(Direction::Ascend.sign(9.0), -1.0);
    }
}
