use poisonlab_core::ParamError;
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
        let mut p = Vec::new();
        for (key, c) in [
            ("target-class", self.target_class),
            ("base-class", self.base_class),
        ] {
            p.extend(ParamError::class_out_of_range(key, c, n_classes));
        }
        if self.target_class == self.base_class {
            p.push(ParamError::new(
                "base-class",
                "must differ from target-class",
            ));
        }
        for (key, v) in [
            ("targets", self.targets),
            ("poisons-per-target", self.poisons_per_target),
        ] {
            if v == 0 {
                p.push(ParamError::new(key, "must be at least 1, got 0"));
            }
        }
        if !(self.step.is_finite() && self.step > 0.0) {
            p.push(ParamError::new(
                "step",
                format!("must be a positive number, got {}", self.step),
            ));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            p.push(ParamError::new(
                "beta",
                format!("must be a number ≥ 0, got {}", self.beta),
            ));
        }
        if !(0.0..=1.0).contains(&self.opacity) {
            p.push(ParamError::new(
                "opacity",
                format!("must be in [0, 1], got {}", self.opacity),
            ));
        }
        if p.is_empty() { Ok(()) } else { Err(p) }
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

    #[test]
    fn each_rule_names_its_key() {
        let d = FeatureCollisionParams::default();
        assert!(keys(d.clone()).is_empty());
        assert_eq!(
            keys(FeatureCollisionParams {
                target_class: 10,
                ..d.clone()
            }),
            ["target-class"]
        );
        assert_eq!(
            keys(FeatureCollisionParams {
                base_class: 0,
                ..d.clone()
            }),
            ["base-class"]
        );
        assert_eq!(
            keys(FeatureCollisionParams {
                targets: 0,
                ..d.clone()
            }),
            ["targets"]
        );
        assert_eq!(
            keys(FeatureCollisionParams {
                poisons_per_target: 0,
                ..d.clone()
            }),
            ["poisons-per-target"]
        );
        assert_eq!(
            keys(FeatureCollisionParams {
                step: 0.0,
                ..d.clone()
            }),
            ["step"]
        );
        assert_eq!(
            keys(FeatureCollisionParams {
                beta: -1.0,
                ..d.clone()
            }),
            ["beta"]
        );
        assert_eq!(
            keys(FeatureCollisionParams { opacity: 1.5, ..d }),
            ["opacity"]
        );
    }
}
