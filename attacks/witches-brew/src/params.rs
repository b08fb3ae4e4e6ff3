use poisonlab_core::clean_label::check_targets;
use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The `[attack]` table for `kind = "witches-brew"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct WitchesBrewParams {
    /// Class of the test instances attacked. Default 0.
    pub target_class: usize,
    /// Class the targets should be classified as; the poisons are training
    /// instances of this class, labels unchanged. Default 1.
    pub base_class: usize,
    /// Number of target instances (each with its own poisons). Default 5.
    pub targets: usize,
    /// Poisons crafted per target. Default 20 (the budget of
    /// feature-collision, so the two clean-label attacks compare at equal cost).
    pub poisons_per_target: usize,
    /// L∞ bound of each poison's perturbation, in the data's units. Default
    /// 16/255 ≈ 0.0627, the paper's bound; on `[0, 1]` digit images it is
    /// about the images' own pixel noise (σ = 0.05).
    pub epsilon: f64,
    /// Signed-Adam steps per restart (the paper: 240). Default 40.
    pub steps: usize,
    /// Independent random starts; the one whose poisons match best is kept
    /// (the paper: 8). Default 2.
    pub restarts: usize,
    /// Adam's learning rate, as a fraction of `epsilon`; divided by 10 after
    /// 3/8, 5/8 and 7/8 of the steps, as in the paper. Default 0.2 (on a
    /// digits MLP it reaches in 20 steps the distance 0.1 reaches in 40).
    pub step: f64,
    /// Finite-difference step of the Hessian-vector products, relative to the
    /// surrogate's parameter norm: parameters move by `fd-step · ‖θ‖` along
    /// the direction. Must be in (0, 1]. Default 0.001: on softmax regression
    /// the products then agree with the closed form to about 1e-5 (relative),
    /// and on a ReLU MLP with those of a 10× smaller step to about 1e-4, while
    /// 0.01 already crosses ReLU kinks and can be off by tens of percent.
    pub fd_step: f64,
}

impl Default for WitchesBrewParams {
    fn default() -> Self {
        Self {
            target_class: 0,
            base_class: 1,
            targets: 5,
            poisons_per_target: 20,
            epsilon: 16.0 / 255.0,
            steps: 40,
            restarts: 2,
            step: 0.2,
            fd_step: 1e-3,
        }
    }
}

impl WitchesBrewParams {
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
            .at_least("restarts", self.restarts, 1)
            .positive("step", self.step)
            .in_range_left_open("fd-step", self.fd_step, 0.0, 1.0)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(p: WitchesBrewParams) -> Vec<(String, String)> {
        p.check(Some(10))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.key, e.message))
            .collect()
    }

    fn keys(p: WitchesBrewParams) -> Vec<String> {
        problems(p).into_iter().map(|(k, _)| k).collect()
    }

    fn one(p: WitchesBrewParams, key: &str, message: &str) {
        assert_eq!(problems(p), [(key.to_string(), message.to_string())]);
    }

    fn d() -> WitchesBrewParams {
        WitchesBrewParams::default()
    }

    #[test]
    fn defaults_pass() {
        assert!(keys(d()).is_empty());
        assert!(d().check(None).is_ok());
    }

    #[test]
    fn classes_must_be_in_the_data() {
        let p = WitchesBrewParams {
            target_class: 10,
            ..d()
        };
        assert_eq!(keys(p.clone()), ["target-class"]);
        assert!(p.check(None).is_ok());
        let p = WitchesBrewParams {
            base_class: 11,
            ..d()
        };
        assert_eq!(keys(p), ["base-class"]);
    }

    #[test]
    fn base_class_must_differ_from_target_class() {
        let p = WitchesBrewParams {
            base_class: 0,
            ..d()
        };
        one(p, "base-class", "must differ from target-class");
    }

    #[test]
    fn targets_must_be_at_least_one() {
        one(
            WitchesBrewParams { targets: 0, ..d() },
            "targets",
            "must be at least 1, got 0",
        );
    }

    #[test]
    fn poisons_per_target_must_be_at_least_one() {
        one(
            WitchesBrewParams {
                poisons_per_target: 0,
                ..d()
            },
            "poisons-per-target",
            "must be at least 1, got 0",
        );
    }

    #[test]
    fn epsilon_must_be_positive() {
        for epsilon in [0.0, -0.1, f64::NAN, f64::INFINITY] {
            assert_eq!(keys(WitchesBrewParams { epsilon, ..d() }), ["epsilon"]);
        }
        one(
            WitchesBrewParams {
                epsilon: 0.0,
                ..d()
            },
            "epsilon",
            "must be a finite number > 0, got 0",
        );
    }

    #[test]
    fn steps_must_be_at_least_one() {
        one(
            WitchesBrewParams { steps: 0, ..d() },
            "steps",
            "must be at least 1, got 0",
        );
    }

    #[test]
    fn restarts_must_be_at_least_one() {
        one(
            WitchesBrewParams { restarts: 0, ..d() },
            "restarts",
            "must be at least 1, got 0",
        );
    }

    #[test]
    fn step_must_be_positive() {
        for step in [0.0, -0.1, f64::NAN, f64::INFINITY] {
            assert_eq!(keys(WitchesBrewParams { step, ..d() }), ["step"]);
        }
        one(
            WitchesBrewParams { step: -1.0, ..d() },
            "step",
            "must be a finite number > 0, got -1",
        );
    }

    #[test]
    fn fd_step_must_be_in_zero_one() {
        for fd_step in [0.0, -1e-3, 1.5, f64::NAN, f64::INFINITY] {
            assert_eq!(keys(WitchesBrewParams { fd_step, ..d() }), ["fd-step"]);
        }
        assert!(
            keys(WitchesBrewParams {
                fd_step: 1.0,
                ..d()
            })
            .is_empty()
        );
        one(
            WitchesBrewParams {
                fd_step: 2.0,
                ..d()
            },
            "fd-step",
            "must be in (0, 1], got 2",
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = WitchesBrewParams {
            target_class: 3,
            base_class: 3,
            targets: 0,
            poisons_per_target: 0,
            epsilon: 0.0,
            steps: 0,
            restarts: 0,
            step: 0.0,
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
                "restarts",
                "step",
                "fd-step"
            ]
        );
    }

    #[test]
    fn tables_use_kebab_case_keys_and_reject_unknown_ones() {
        let p: WitchesBrewParams = toml::from_str("poisons-per-target = 7\nfd-step = 0.5").unwrap();
        assert_eq!(p.poisons_per_target, 7);
        assert_eq!(p.fd_step, 0.5);
        assert_eq!(p.steps, d().steps);
        assert!(toml::from_str::<WitchesBrewParams>("fd_step = 0.5").is_err());
    }
}
