use poisonlab_core::clean_label::CraftPlan;
use poisonlab_core::{
    Attack, AttackInput, BuildContext, DataFacts, Dataset, Kind, Model, ParamError, Poisoned, Rng,
};
use rand::seq::index::sample;
use rand::{RngCore, SeedableRng};

use crate::unroll::{Unroll, meta_gradient};
use crate::{MetaPoisonError, MetaPoisonParams};

/// The clean-label MetaPoison attack with checked parameters: Huang, Geiping,
/// Fowl, Taylor and Goldstein 2020 ("MetaPoison: Practical General-purpose
/// Clean-label Data Poisoning", NeurIPS). It crafts its poisons through
/// unrolled training of surrogates ([`Attack::needs_surrogate`]): an
/// ensemble trained with [`AttackInput::trainer`] when the runner gives one,
/// else the single [`AttackInput::surrogate`].
#[derive(Debug, Clone)]
pub struct MetaPoison {
    params: MetaPoisonParams,
}

impl MetaPoison {
    /// The attack for `params`, or every problem with them
    /// ([`MetaPoisonParams::check`] without a known class count; classes the
    /// data lacks are errors when poisoning).
    pub fn new(params: MetaPoisonParams) -> Result<Self, Vec<ParamError>> {
        params.check(None)?;
        Ok(Self { params })
    }

    /// The parameters this attack was built from.
    pub fn params(&self) -> &MetaPoisonParams {
        &self.params
    }

    /// The training epochs of each ensemble member: `surrogates` values
    /// spread evenly over `0..=epochs` (rounded to nearest), `epochs` alone
    /// for a single surrogate.
    pub fn stages(&self) -> Vec<usize> {
        let (m, e) = (self.params.surrogates, self.params.epochs);
        if m <= 1 {
            return vec![e; m];
        }
        (0..m).map(|i| (i * e + (m - 1) / 2) / (m - 1)).collect()
    }

    fn unroll(&self) -> Unroll {
        Unroll {
            lr: self.params.unroll_learning_rate as f32,
            fd_step: self.params.fd_step as f32,
        }
    }
}

impl Kind for MetaPoison {
    type Params = MetaPoisonParams;

    fn build(params: MetaPoisonParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check(ctx.facts.n_classes)?;
        Ok(Self { params })
    }

    fn params(&self) -> &MetaPoisonParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.params.check(facts.n_classes)
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "metapoison (clean-label), {} targets of class {} → {}, {} poisons each, ε {:.4}, \
             {} steps through {} unrolled SGD steps (η {}, batch {}), {} surrogates at epochs {:?}",
            p.targets,
            p.target_class,
            p.base_class,
            p.poisons_per_target,
            p.epsilon,
            p.steps,
            p.unroll,
            p.unroll_learning_rate,
            p.batch_size,
            p.surrogates,
            self.stages()
        )
    }
}

/// Adam (Kingma and Ba 2015, β = (0.9, 0.999)) on the perturbations.
struct Adam {
    lr: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    /// Small next to the meta-gradients' scale (≈ η/B times a curvature).
    const EPS: f64 = 1e-12;

    fn new(lr: f64, n: usize) -> Self {
        Self {
            lr,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// Step `x` against `grad`.
    fn step(&mut self, x: &mut [f32], grad: &[f64]) {
        self.t += 1;
        let c1 = 1.0 - Self::BETA1.powi(self.t);
        let c2 = 1.0 - Self::BETA2.powi(self.t);
        for (((x, &g), m), v) in x.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *m = Self::BETA1 * *m + (1.0 - Self::BETA1) * g;
            *v = Self::BETA2 * *v + (1.0 - Self::BETA2) * g * g;
            let update = self.lr * (*m / c1) / ((*v / c2).sqrt() + Self::EPS);
            *x = (f64::from(*x) - update) as f32;
        }
    }
}

/// What crafting for one target works with.
struct Crafting<'a> {
    ensemble: &'a [Box<dyn Model>],
    /// The training set the clean samples of each unrolled batch come from.
    train: &'a Dataset,
    /// Rows of `train` that are no poison.
    clean_rows: &'a [usize],
    /// The data's value range.
    range: (f32, f32),
}

impl MetaPoison {
    /// Craft the perturbed `bases` for `target` (relabelled to the base class).
    fn craft(
        &self,
        c: &Crafting<'_>,
        bases: &Dataset,
        target: &Dataset,
        rng: &mut Rng,
    ) -> Result<Dataset, MetaPoisonError> {
        let p = &self.params;
        let eps = p.epsilon as f32;
        let (lo, hi) = c.range;
        let n_clean = p
            .batch_size
            .saturating_sub(bases.len())
            .min(c.clean_rows.len());
        let mut poisons = bases.clone();
        let mut adam = Adam::new(p.learning_rate, poisons.len() * poisons.dim());
        let weight = 1.0 / c.ensemble.len() as f64;
        for _ in 0..p.steps {
            let cleans: Vec<Dataset> = (0..p.unroll)
                .map(|_| {
                    let rows: Vec<usize> = sample(rng, c.clean_rows.len(), n_clean)
                        .into_iter()
                        .map(|i| c.clean_rows[i])
                        .collect();
                    c.train.subset(&rows)
                })
                .collect();
            let mut grad = vec![0.0f64; poisons.len() * poisons.dim()];
            for model in c.ensemble {
                let mg = meta_gradient(model.as_ref(), &poisons, &cleans, target, self.unroll())?;
                for (g, &d) in grad.iter_mut().zip(&mg.data) {
                    *g += weight * f64::from(d);
                }
            }
            adam.step(poisons.features_mut(), &grad);
            // Project onto the ε-ball around the base and the data's range.
            for (x, &b) in poisons
                .features_mut()
                .iter_mut()
                .zip(bases.rows().flatten())
            {
                *x = x.clamp(b - eps, b + eps).clamp(lo, hi);
            }
        }
        Ok(poisons)
    }

    /// The surrogates: trained by `input.trainer` to the staggered epochs
    /// (each from its own stream drawn from `rng`), else the run's surrogate.
    fn ensemble(
        &self,
        input: &AttackInput<'_>,
        rng: &mut Rng,
    ) -> Result<Vec<Box<dyn Model>>, MetaPoisonError> {
        match (input.trainer, input.surrogate) {
            (Some(trainer), _) => self
                .stages()
                .into_iter()
                .enumerate()
                .map(|(index, epochs)| {
                    let mut sub = Rng::seed_from_u64(rng.next_u64());
                    trainer
                        .train_from(None, input.train, None, epochs, &mut sub)
                        .map_err(|message| MetaPoisonError::SurrogateTraining {
                            index,
                            epochs,
                            message,
                        })
                })
                .collect(),
            (None, Some(model)) => Ok(vec![model.clone_box()]),
            (None, None) => Err(MetaPoisonError::NoSurrogate),
        }
    }
}

impl Attack for MetaPoison {
    type Error = MetaPoisonError;

    /// Draws from `rng`, in order: the targets, the bases, one seed per
    /// ensemble member (when a trainer is given), one seed per target for
    /// its clean batches.
    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, MetaPoisonError> {
        let p = &self.params;
        if input.surrogate.is_none() && input.trainer.is_none() {
            return Err(MetaPoisonError::NoSurrogate);
        }
        let plan = CraftPlan::draw(
            input.train,
            input.test,
            (p.target_class, p.base_class),
            p.targets,
            p.poisons_per_target,
            rng,
        )?;
        let ensemble = self.ensemble(&input, rng)?;
        let seeds: Vec<u64> = plan.targets.iter().map(|_| rng.next_u64()).collect();
        // The clean batches around the poisons never hold a base.
        let mut is_base = vec![false; input.train.len()];
        for &i in &plan.bases {
            is_base[i] = true;
        }
        let clean_rows: Vec<usize> = (0..input.train.len()).filter(|&i| !is_base[i]).collect();
        let crafting = Crafting {
            ensemble: &ensemble,
            train: input.train,
            clean_rows: &clean_rows,
            range: input.train.value_range(),
        };
        plan.assemble(&input, |i, t, bases| {
            let mut target = input.test.subset(&[t]);
            target.set_label(0, p.base_class);
            self.craft(
                &crafting,
                &input.train.subset(bases),
                &target,
                &mut Rng::seed_from_u64(seeds[i]),
            )
        })
    }

    fn crafting(&self) -> Option<poisonlab_core::clean_label::Crafting> {
        let p = &self.params;
        Some(poisonlab_core::clean_label::Crafting {
            epsilon: Some(p.epsilon),
            steps: p.steps,
        })
    }

    fn needs_surrogate(&self) -> bool {
        true
    }
}
