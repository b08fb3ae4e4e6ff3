use poisonlab_core::clean_label::check_targets;
use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The `[attack]` table for `kind = "feature-collision"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct FeatureCollisionParams {
    /// Class of the test instances attacked. Default 0.
    pub target_class: usize,
    /// Class the targets should be classified as; the poisons are training
    /// instances of this class, labels unchanged. Default 1.
    pub base_class: usize,
    /// Number of target instances (each with its own poisons). Default 5.
    pub targets: usize,
    /// Poisons crafted per target. Default 20.
    pub poisons_per_target: usize,
    /// Forward–backward iterations. Default 200.
    pub iterations: usize,
    /// Step size of the feature-space gradient step (halved whenever a step
    /// makes the objective worse). Default 0.1.
    pub step: f64,
    /// β₀ of the input-space term; β = β₀ · (embedding width / input size)², as
    /// in the paper (β₀ = 0.25 there). Default 0.25.
    pub beta: f64,
    /// Watermark: each poison starts as (1 − opacity)·base + opacity·target. Default 0.3.
    pub opacity: f64,
}

impl Default for FeatureCollisionParams {
    fn default() -> Self {
        Self {
            target_class: 0,
            base_class: 1,
            targets: 5,
            poisons_per_target: 20,
            iterations: 200,
            step: 0.1,
            beta: 0.25,
            opacity: 0.3,
        }
    }
}

impl FeatureCollisionParams {
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
            .positive("step", self.step)
            .non_negative("beta", self.beta);
        if !(0.0..=1.0).contains(&self.opacity) {
            checks.push(ParamError::new(
                "opacity",
                format!("must be in [0, 1], got {}", self.opacity),
            ));
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: FeatureCollisionParams) -> Vec<String> {
        p.check(Some(10))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    fn messages(p: FeatureCollisionParams) -> Vec<String> {
        p.check(Some(10))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    fn d() -> FeatureCollisionParams {
        FeatureCollisionParams::default()
    }

    #[test]
    fn defaults_pass() {
        assert!(keys(d()).is_empty());
        assert!(d().check(None).is_ok());
    }

    #[test]
    fn classes_must_be_in_the_data() {
        let p = FeatureCollisionParams {
            target_class: 10,
            ..d()
        };
        assert_eq!(keys(p.clone()), ["target-class"]);
        assert!(p.check(None).is_ok());
        let p = FeatureCollisionParams {
            base_class: 11,
            ..d()
        };
        assert_eq!(keys(p), ["base-class"]);
    }

    #[test]
    fn base_class_must_differ_from_target_class() {
        let p = FeatureCollisionParams {
            base_class: 0,
            ..d()
        };
        assert_eq!(keys(p.clone()), ["base-class"]);
        assert_eq!(messages(p), ["must differ from target-class"]);
    }

    #[test]
    fn targets_must_be_at_least_one() {
        let p = FeatureCollisionParams { targets: 0, ..d() };
        assert_eq!(keys(p.clone()), ["targets"]);
        assert_eq!(messages(p), ["must be at least 1, got 0"]);
    }

    #[test]
    fn poisons_per_target_must_be_at_least_one() {
        let p = FeatureCollisionParams {
            poisons_per_target: 0,
            ..d()
        };
        assert_eq!(keys(p.clone()), ["poisons-per-target"]);
        assert_eq!(messages(p), ["must be at least 1, got 0"]);
    }

    #[test]
    fn step_must_be_positive() {
        for step in [0.0, -0.1, f64::NAN, f64::INFINITY] {
            assert_eq!(keys(FeatureCollisionParams { step, ..d() }), ["step"]);
        }
        assert_eq!(
            messages(FeatureCollisionParams { step: 0.0, ..d() }),
            ["must be a finite number > 0, got 0"]
        );
    }

    #[test]
    fn beta_must_be_non_negative() {
        for beta in [-1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(keys(FeatureCollisionParams { beta, ..d() }), ["beta"]);
        }
        assert!(keys(FeatureCollisionParams { beta: 0.0, ..d() }).is_empty());
        assert_eq!(
            messages(FeatureCollisionParams { beta: -1.0, ..d() }),
            ["must be a finite number ≥ 0, got -1"]
        );
    }

    #[test]
    fn opacity_must_be_a_fraction() {
        for opacity in [1.5, -0.1, f64::NAN] {
            assert_eq!(keys(FeatureCollisionParams { opacity, ..d() }), ["opacity"]);
        }
        assert_eq!(
            messages(FeatureCollisionParams {
                opacity: 1.5,
                ..d()
            }),
            ["must be in [0, 1], got 1.5"]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = FeatureCollisionParams {
            target_class: 3,
            base_class: 3,
            targets: 0,
            poisons_per_target: 0,
            step: -1.0,
            beta: -1.0,
            opacity: 2.0,
            ..d()
        };
        assert_eq!(
            keys(p),
            [
                "base-class",
                "targets",
                "poisons-per-target",
                "step",
                "beta",
                "opacity"
            ]
        );
    }
}
