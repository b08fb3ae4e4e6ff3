use poisonlab_core::clean_label::check_targets;
use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The `[attack]` table for `kind = "metapoison"`.
///
/// The defaults are sized for two CPU cores and 28 × 28 digits; the paper's
/// values (CIFAR-10, ResNet-20 and friends, GPUs) are given beside each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct MetaPoisonParams {
    /// Class of the test instances attacked. Default 0.
    pub target_class: usize,
    /// Class the targets should be classified as; the poisons are training
    /// instances of this class, labels unchanged. Default 1.
    pub base_class: usize,
    /// Number of target instances (each with its own poisons). Default 5.
    pub targets: usize,
    /// Poisons crafted per target (the budget). Default 20 (the paper: 1 %
    /// of the training set, 500 CIFAR-10 images).
    pub poisons_per_target: usize,
    /// L∞ bound of each poison's perturbation, in the data's pixel units.
    /// Default 16/255 ≈ 0.063, about the synthetic digits' own pixel noise
    /// (σ = 0.05); the paper uses 8/255 on CIFAR-10 (plus a colour
    /// perturbation, not implemented here).
    pub epsilon: f64,
    /// Crafting steps (Adam steps on the perturbations). Default 40 (the paper: 60).
    pub steps: usize,
    /// Adam's learning rate on the perturbations, in pixel units per step
    /// (the data's scale, [0, 1] for digits). Default 0.01 (ε / 6: a few
    /// steps cross the ε-ball).
    pub learning_rate: f64,
    /// K, the SGD steps of the surrogate unrolled through. Default 2 (the paper: 2).
    pub unroll: usize,
    /// η, the learning rate of the unrolled SGD steps. Default 0.1.
    pub unroll_learning_rate: f64,
    /// Samples per unrolled batch: all of a target's poisons plus clean
    /// training samples (drawn afresh for every step) to fill it. Must be at
    /// least `poisons-per-target`. Default 64 (the run's default batch; the
    /// paper: 125).
    pub batch_size: usize,
    /// Surrogates in the ensemble, trained from scratch on the clean
    /// training set to epochs staggered evenly over `0..=epochs`; ignored
    /// (one surrogate: the run's) when the runner gives no trainer.
    /// Default 3 (the paper: 24).
    pub surrogates: usize,
    /// Training epochs of the most trained surrogate. Default 4.
    pub epochs: usize,
    /// h, the step of the finite-difference Hessian-vector products, as a
    /// distance in parameter space. Default 0.01.
    pub fd_step: f64,
}

impl Default for MetaPoisonParams {
    fn default() -> Self {
        Self {
            target_class: 0,
            base_class: 1,
            targets: 5,
            poisons_per_target: 20,
            epsilon: 16.0 / 255.0,
            steps: 40,
            learning_rate: 0.01,
            unroll: 2,
            unroll_learning_rate: 0.1,
            batch_size: 64,
            surrogates: 3,
            epochs: 4,
            fd_step: 0.01,
        }
    }
}

impl MetaPoisonParams {
    /// Check every value against a dataset of `n_classes` classes (when known).
    pub fn check(&self, n_classes: Option<usize>) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        check_targets(
            &mut checks,
            self.target_class,
            self.base_class,
            self.targets,
            self.poisons_per_target,
            n_classes,
        );
        checks
            .positive("epsilon", self.epsilon)
            .at_least("steps", self.steps, 1)
            .positive("learning-rate", self.learning_rate)
            .at_least("unroll", self.unroll, 1)
            .positive("unroll-learning-rate", self.unroll_learning_rate);
        if self.batch_size < self.poisons_per_target.max(1) {
            checks.push(ParamError::new(
                "batch-size",
                format!(
                    "must be at least poisons-per-target ({}), got {}",
                    self.poisons_per_target.max(1),
                    self.batch_size
                ),
            ));
        }
        checks
            .at_least("surrogates", self.surrogates, 1)
            .positive("fd-step", self.fd_step);
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: MetaPoisonParams) -> Vec<String> {
        p.check(Some(10))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    fn messages(p: MetaPoisonParams) -> Vec<String> {
        p.check(Some(10))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    fn d() -> MetaPoisonParams {
        MetaPoisonParams::default()
    }

    #[test]
    fn defaults_pass() {
        assert!(keys(d()).is_empty());
        assert!(d().check(None).is_ok());
    }

    #[test]
    fn classes_must_be_in_the_data() {
        let p = MetaPoisonParams {
            target_class: 10,
            ..d()
        };
        assert_eq!(keys(p.clone()), ["target-class"]);
        assert!(p.check(None).is_ok());
        assert_eq!(
            keys(MetaPoisonParams {
                base_class: 11,
                ..d()
            }),
            ["base-class"]
        );
    }

    #[test]
    fn base_class_must_differ_from_target_class() {
        let p = MetaPoisonParams {
            base_class: 0,
            ..d()
        };
        assert_eq!(keys(p.clone()), ["base-class"]);
        assert_eq!(messages(p), ["must differ from target-class"]);
    }

    #[test]
    fn counts_must_be_at_least_one() {
        for (key, p) in [
            ("targets", MetaPoisonParams { targets: 0, ..d() }),
            ("steps", MetaPoisonParams { steps: 0, ..d() }),
            ("unroll", MetaPoisonParams { unroll: 0, ..d() }),
            (
                "surrogates",
                MetaPoisonParams {
                    surrogates: 0,
                    ..d()
                },
            ),
        ] {
            assert_eq!(keys(p.clone()), [key]);
            assert_eq!(messages(p), ["must be at least 1, got 0"]);
        }
    }

    #[test]
    fn poisons_per_target_must_be_at_least_one() {
        let p = MetaPoisonParams {
            poisons_per_target: 0,
            ..d()
        };
        assert_eq!(keys(p.clone()), ["poisons-per-target"]);
        assert_eq!(messages(p), ["must be at least 1, got 0"]);
    }

    #[test]
    fn rates_and_bounds_must_be_positive() {
        for bad in [0.0, -0.1, f64::NAN, f64::INFINITY] {
            assert_eq!(
                keys(MetaPoisonParams {
                    epsilon: bad,
                    ..d()
                }),
                ["epsilon"]
            );
            assert_eq!(
                keys(MetaPoisonParams {
                    learning_rate: bad,
                    ..d()
                }),
                ["learning-rate"]
            );
            assert_eq!(
                keys(MetaPoisonParams {
                    unroll_learning_rate: bad,
                    ..d()
                }),
                ["unroll-learning-rate"]
            );
            assert_eq!(
                keys(MetaPoisonParams {
                    fd_step: bad,
                    ..d()
                }),
                ["fd-step"]
            );
        }
        assert_eq!(
            messages(MetaPoisonParams {
                epsilon: 0.0,
                ..d()
            }),
            ["must be a finite number > 0, got 0"]
        );
    }

    #[test]
    fn batch_must_hold_the_poisons() {
        let p = MetaPoisonParams {
            batch_size: 19,
            ..d()
        };
        assert_eq!(keys(p.clone()), ["batch-size"]);
        assert_eq!(
            messages(p),
            ["must be at least poisons-per-target (20), got 19"]
        );
        assert!(
            keys(MetaPoisonParams {
                batch_size: 20,
                ..d()
            })
            .is_empty()
        );
    }

    #[test]
    fn zero_epochs_is_allowed() {
        assert!(keys(MetaPoisonParams { epochs: 0, ..d() }).is_empty());
    }

    #[test]
    fn reads_kebab_case_keys_and_rejects_misspelled_ones() {
        let p: MetaPoisonParams =
            toml::from_str("poisons-per-target = 7\nunroll-learning-rate = 0.5\nfd-step = 0.02")
                .unwrap();
        assert_eq!(p.poisons_per_target, 7);
        assert_eq!(p.unroll_learning_rate, 0.5);
        assert_eq!(p.fd_step, 0.02);
        assert_eq!(p.epsilon, d().epsilon);
        assert!(toml::from_str::<MetaPoisonParams>("fd_step = 0.5").is_err());
        assert!(toml::from_str::<MetaPoisonParams>("epsilonn = 0.1").is_err());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = MetaPoisonParams {
            target_class: 3,
            base_class: 3,
            targets: 0,
            poisons_per_target: 0,
            epsilon: -1.0,
            steps: 0,
            learning_rate: 0.0,
            unroll: 0,
            unroll_learning_rate: f64::NAN,
            batch_size: 0,
            surrogates: 0,
            epochs: 0,
            fd_step: 0.0,
        };
        assert_eq!(
            keys(p),
            [
                "base-class",
                "targets",
                "poisons-per-target",
                "epsilon",
                "steps",
                "learning-rate",
                "unroll",
                "unroll-learning-rate",
                "batch-size",
                "surrogates",
                "fd-step"
            ]
        );
    }
}
