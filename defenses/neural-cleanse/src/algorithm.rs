use poisonlab_core::tune::{Adam, Direction, Tuning, tune};
use poisonlab_core::{
    BuildContext, Classifier, Dataset, Inspection, Kind, Model, ModelRepair, ModelVerdict,
    ParamError, RepairInput, Rng,
};
use rand::Rng as _;
use rand::seq::SliceRandom;

use crate::{NeuralCleanseError, NeuralCleanseParams};

/// Neural Cleanse (Wang et al. 2019, IEEE S&P).
///
/// **Reverse engineering.** For each class `t`, a mask `m` (one value in
/// [0, 1] per pixel, shared by the channels; per feature for tabular data)
/// and a pattern `p` (one value per feature, within the trusted samples'
/// value range) are found by minimising, over minibatches of trusted
/// samples `x`,
///
/// `mean CE(f((1 − m) ⊙ x + m ⊙ p), t) + λ · ‖m‖₁`,
///
/// with Adam on unbounded logits (`m = σ(a)`, `p = lo + (hi − lo) σ(b)`),
/// the gradient through the model coming from
/// [`Classifier::input_gradient`]. λ follows the paper's schedule (see
/// [`NeuralCleanseParams::init_cost`]). The class's norm is the smallest
/// ‖m‖₁ among the steps whose batch the trigger sent to `t` at the rate
/// `attack-success`, or the last step's when none did.
///
/// **Detection.** With the norms' median `M` and `MAD = 1.4826 ·
/// median |norm − M|`, the anomaly index is `(M − min norm) / MAD`
/// ([`anomaly_index`]); the model is flagged when it exceeds `threshold`,
/// and the class with the smallest norm is named the target.
///
/// **Mitigation** (flagged models only; others are deployed as they are):
/// the model is fine-tuned for `unlearn-epochs` on the trusted samples, a
/// random `unlearn-share` of them stamped with the target's reversed
/// trigger and keeping their true labels, so that the trigger stops
/// steering it.
#[derive(Debug, Clone)]
pub struct NeuralCleanse {
    params: NeuralCleanseParams,
}

/// One class's reverse-engineered trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Reversed {
    /// The mask, one value per pixel (per feature for tabular data).
    pub mask: Vec<f32>,
    /// The pattern, one value per feature.
    pub pattern: Vec<f32>,
    /// ‖mask‖₁.
    pub norm: f64,
    /// Whether some step reached `attack-success` with it.
    pub reached: bool,
}

impl Reversed {
    /// `x` stamped with this trigger: `(1 − m) ⊙ x + m ⊙ p`, the mask
    /// shared by the `channels` of each pixel.
    pub fn stamp(&self, x: &mut [f32]) {
        let pixels = self.mask.len();
        for (f, v) in x.iter_mut().enumerate() {
            let m = self.mask[f % pixels];
            *v = (1.0 - m) * *v + m * self.pattern[f];
        }
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// The MAD anomaly index of the smallest of `norms`: `(M − min) / (1.4826 ·
/// median |norm − M|)`, `M` the median; 0 when the deviations' median is 0
/// or fewer than 2 norms are given.
pub fn anomaly_index(norms: &[f64]) -> f64 {
    if norms.len() < 2 {
        return 0.0;
    }
    let med = median(norms);
    let deviations: Vec<f64> = norms.iter().map(|n| (n - med).abs()).collect();
    let mad = 1.4826 * median(&deviations);
    let min = norms.iter().copied().fold(f64::INFINITY, f64::min);
    if mad > 0.0 { (med - min) / mad } else { 0.0 }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl NeuralCleanse {
    /// Neural Cleanse with checked `params`.
    pub fn new(params: NeuralCleanseParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// Reverse-engineer the trigger of class `target` on `trusted`.
    pub fn reverse(
        &self,
        model: &dyn Classifier,
        trusted: &Dataset,
        target: usize,
        rng: &mut Rng,
    ) -> Reversed {
        let p = &self.params;
        let shape = trusted.shape().to_vec();
        let dim = trusted.dim();
        let pixels = if shape.len() == 3 {
            shape[1] * shape[2]
        } else {
            dim
        };
        let (lo, hi) = trusted.value_range();
        let span = (hi - lo).max(f32::EPSILON);
        // Logits: the mask starts small and random, the pattern random.
        let mut a: Vec<f32> = (0..pixels).map(|_| rng.random_range(-3.0..-1.0)).collect();
        let mut b: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut adam_a = Adam::new(pixels, p.learning_rate);
        let mut adam_b = Adam::new(dim, p.learning_rate);
        let mut cost = p.init_cost;
        let (mut up, mut down) = (0usize, 0usize);
        let mut best: Option<Reversed> = None;
        let mut order: Vec<usize> = (0..trusted.len()).collect();
        let mut at = order.len();
        let mut last = None;
        for _ in 0..p.steps {
            let mut rows = Vec::with_capacity(p.batch_size);
            while rows.len() < p.batch_size.min(order.len()) {
                if at == order.len() {
                    order.shuffle(rng);
                    at = 0;
                }
                rows.push(order[at]);
                at += 1;
            }
            let trigger = Reversed {
                mask: a.iter().map(|&z| sigmoid(z)).collect(),
                pattern: b.iter().map(|&z| lo + span * sigmoid(z)).collect(),
                norm: 0.0,
                reached: false,
            };
            let norm: f64 = trigger.mask.iter().map(|&m| f64::from(m)).sum();
            let mut batch = trusted.subset(&rows);
            let originals = batch.to_features();
            for i in 0..batch.len() {
                trigger.stamp(batch.sample_mut(i));
            }
            let n = batch.len();
            for i in 0..n {
                batch.set_label(i, target);
            }
            let success = model
                .predict(&batch)
                .iter()
                .filter(|&&y| y == target)
                .count() as f64
                / n as f64;
            let reached = success >= p.attack_success;
            if reached && best.as_ref().is_none_or(|b| norm < b.norm) {
                best = Some(Reversed {
                    norm,
                    reached: true,
                    ..trigger.clone()
                });
            }
            // d/dm and d/dp of the mean loss, through x' = (1 − m) x + m p.
            let g = model.input_gradient(&batch);
            let mut grad_a = vec![0.0f32; pixels];
            let mut grad_b = vec![0.0f32; dim];
            for i in 0..n {
                let x = &originals[i * dim..(i + 1) * dim];
                for (f, &gf) in g.row(i).iter().enumerate() {
                    let q = f % pixels;
                    grad_a[q] += gf * (trigger.pattern[f] - x[f]);
                    grad_b[f] += gf * trigger.mask[q];
                }
            }
            for (q, ga) in grad_a.iter_mut().enumerate() {
                let m = trigger.mask[q];
                *ga = (*ga / n as f32 + cost as f32) * m * (1.0 - m);
            }
            for (f, gb) in grad_b.iter_mut().enumerate() {
                let s = (trigger.pattern[f] - lo) / span;
                *gb = *gb / n as f32 * span * s * (1.0 - s);
            }
            adam_a.step(&mut a, &grad_a);
            adam_b.step(&mut b, &grad_b);
            // The paper's cost schedule.
            if reached {
                up += 1;
                down = 0;
            } else {
                down += 1;
                up = 0;
            }
            if up >= p.patience {
                up = 0;
                cost *= 1.5;
            } else if down >= p.patience {
                down = 0;
                cost /= 1.5f64.powf(1.5);
            }
            last = Some(Reversed { norm, ..trigger });
        }
        best.or(last).unwrap_or_else(|| Reversed {
            mask: vec![0.0; pixels],
            pattern: vec![lo; dim],
            norm: 0.0,
            reached: false,
        })
    }

    /// Every class's trigger and the detection made on their norms.
    fn detect(
        &self,
        model: &dyn Classifier,
        trusted: &Dataset,
        rng: &mut Rng,
    ) -> Result<(Vec<Reversed>, Inspection), NeuralCleanseError> {
        let k = model.n_classes();
        if k < 2 {
            return Err(NeuralCleanseError::TooFewClasses(k));
        }
        let reversed: Vec<Reversed> = (0..k)
            .map(|t| self.reverse(model, trusted, t, rng))
            .collect();
        let norms: Vec<f64> = reversed.iter().map(|r| r.norm).collect();
        let index = anomaly_index(&norms);
        let target = (0..k).min_by(|&a, &b| norms[a].total_cmp(&norms[b]).then(a.cmp(&b)));
        Ok((
            reversed,
            Inspection {
                flagged: index > self.params.threshold,
                target,
                anomaly_index: index,
                class_scores: norms,
            },
        ))
    }
}

fn trusted_of<'a>(input: &RepairInput<'a>) -> Result<&'a Dataset, NeuralCleanseError> {
    input
        .trusted
        .filter(|t| !t.is_empty())
        .ok_or(NeuralCleanseError::NoTrusted)
}

impl Kind for NeuralCleanse {
    type Params = NeuralCleanseParams;

    fn build(params: NeuralCleanseParams, _: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &NeuralCleanseParams {
        &self.params
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "neural-cleanse: reverse-engineer each class's trigger ({} steps), flag an anomaly index above {}, unlearn the target's trigger {} epochs",
            p.steps, p.threshold, p.unlearn_epochs
        )
    }
}

impl ModelRepair for NeuralCleanse {
    type Error = NeuralCleanseError;

    fn repair(&self, input: RepairInput<'_>, rng: &mut Rng) -> Result<ModelVerdict, Self::Error> {
        let trusted = trusted_of(&input)?;
        let model = input.model;
        let (reversed, inspection) = self.detect(model, trusted, rng)?;
        let mut repaired: Box<dyn Model> = model.clone_box();
        if let (true, Some(target)) = (inspection.flagged, inspection.target) {
            let mut data = trusted.clone();
            let mut rows: Vec<usize> = (0..data.len()).collect();
            rows.shuffle(rng);
            let stamped = (self.params.unlearn_share * data.len() as f64).round() as usize;
            for &i in &rows[..stamped] {
                reversed[target].stamp(data.sample_mut(i));
            }
            let tuning = Tuning {
                learning_rate: self.params.unlearn_learning_rate,
                batch_size: self.params.batch_size,
                epochs: self.params.unlearn_epochs,
            };
            tune(
                repaired.as_mut(),
                &data,
                &tuning,
                Direction::Descend,
                &[],
                rng,
            )?;
        }
        Ok(ModelVerdict {
            inspection: Some(inspection),
            isolation: None,
            repaired: Some(repaired),
        })
    }

    fn inspects(&self) -> bool {
        true
    }

    fn inspect(
        &self,
        input: RepairInput<'_>,
        rng: &mut Rng,
    ) -> Result<Option<Inspection>, Self::Error> {
        let trusted = trusted_of(&input)?;
        Ok(Some(self.detect(input.model, trusted, rng)?.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomaly_index_matches_the_hand_computed_mad() {
        // Norms 1, 10, 11, 12, 13: median 11, deviations 10, 1, 0, 1, 2 → median 1,
        // MAD = 1.4826, index = (11 − 1) / 1.4826 = 6.7449.
        let i = anomaly_index(&[10.0, 1.0, 11.0, 12.0, 13.0]);
        assert!((i - 6.744_907_6).abs() < 1e-6, "{i}");
        // Even count: median of 2, 4, 6, 8 is 5; deviations 3, 1, 1, 3 → 2; MAD 2.9652;
        // index (5 − 2) / 2.9652 = 1.0117.
        let i = anomaly_index(&[8.0, 2.0, 6.0, 4.0]);
        assert!((i - 1.011_736_1).abs() < 1e-6, "{i}");
        assert_eq!(anomaly_index(&[3.0, 3.0, 3.0]), 0.0);
        assert_eq!(anomaly_index(&[3.0]), 0.0);
    }

    #[test]
    fn stamping_blends_each_pixel_by_its_mask_across_channels() {
        let r = Reversed {
            mask: vec![0.0, 1.0, 0.5],
            pattern: vec![9.0, 9.0, 9.0, 5.0, 5.0, 5.0],
            norm: 1.5,
            reached: true,
        };
        let mut x = vec![1.0, 1.0, 1.0, 3.0, 3.0, 3.0];
        r.stamp(&mut x);
        assert_eq!(x, [1.0, 9.0, 5.0, 3.0, 5.0, 4.0]);
    }
}
