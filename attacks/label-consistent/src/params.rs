use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The `[attack]` table for `kind = "label-consistent"` (the runner removes `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct LabelConsistentParams {
    /// The class whose samples are poisoned (labels unchanged) and that
    /// triggered inputs should be taken for. Default 0.
    pub target: usize,
    /// Fraction of the target class's training samples poisoned, in [0, 1]. Default 0.5.
    pub rate: f64,
    /// L∞ radius of the adversarial perturbation, ≥ 0 (0: trigger only). Default 0.1.
    pub epsilon: f64,
    /// PGD steps, ≥ 1. Default 10.
    pub steps: usize,
    /// PGD step size, > 0. Default: `2.5 · epsilon / steps` (Madry et al.'s rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size: Option<f64>,
    /// Side of the checkerboard trigger in the bottom-right corner (one pixel
    /// margin), ≥ 1. Default 3.
    pub trigger_size: usize,
    /// The trigger's ink value in (0, 1] (Turner et al. also try reduced
    /// amplitudes). Default 1.0.
    pub amplitude: f64,
}

impl Default for LabelConsistentParams {
    fn default() -> Self {
        Self {
            target: 0,
            rate: 0.5,
            epsilon: 0.1,
            steps: 10,
            step_size: None,
            trigger_size: 3,
            amplitude: 1.0,
        }
    }
}

impl LabelConsistentParams {
    /// The PGD step size: `step-size`, else `2.5 · epsilon / steps`.
    pub fn step_size(&self) -> f64 {
        self.step_size
            .unwrap_or(2.5 * self.epsilon / self.steps.max(1) as f64)
    }

    /// Check every value against samples of `shape` and `n_classes` classes
    /// (each when known).
    pub fn check(
        &self,
        shape: Option<&[usize]>,
        n_classes: Option<usize>,
    ) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if !(0.0..=1.0).contains(&self.rate) {
            checks.push(ParamError::new(
                "rate",
                format!("must be in [0, 1], got {}", self.rate),
            ));
        }
        checks
            .non_negative("epsilon", self.epsilon)
            .at_least("steps", self.steps, 1)
            .at_least("trigger-size", self.trigger_size, 1)
            .in_range_left_open("amplitude", self.amplitude, 0.0, 1.0);
        if let Some(s) = self.step_size {
            checks.positive("step-size", s);
        }
        if let Some(e) = ParamError::class_out_of_range("target", self.target, n_classes) {
            checks.push(e);
        }
        if let Some(s) = shape {
            let need = self.trigger_size + 1;
            if s.len() != 3 {
                checks.push(ParamError::new(
                    "kind",
                    format!("label-consistent needs image data [c,h,w]; this data is tabular (shape {s:?})"),
                ));
            } else if s[1] < need || s[2] < need {
                checks.push(ParamError::new(
                    "trigger-size",
                    format!(
                        "a {0}×{0} trigger with a 1-pixel margin needs a {need}×{need} image, but the image is {1}×{2}",
                        self.trigger_size, s[1], s[2]
                    ),
                ));
            }
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: &LabelConsistentParams) -> Vec<String> {
        p.check(Some(&[1, 8, 8]), Some(10))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    #[test]
    fn each_rule_names_its_key() {
        let d = LabelConsistentParams::default;
        assert!(keys(&d()).is_empty());
        assert_eq!(keys(&LabelConsistentParams { rate: 2.0, ..d() }), ["rate"]);
        assert_eq!(
            keys(&LabelConsistentParams {
                epsilon: -0.1,
                ..d()
            }),
            ["epsilon"]
        );
        assert_eq!(keys(&LabelConsistentParams { steps: 0, ..d() }), ["steps"]);
        assert_eq!(
            keys(&LabelConsistentParams {
                step_size: Some(0.0),
                ..d()
            }),
            ["step-size"]
        );
        assert_eq!(
            keys(&LabelConsistentParams {
                amplitude: 0.0,
                ..d()
            }),
            ["amplitude"]
        );
        assert_eq!(
            keys(&LabelConsistentParams {
                trigger_size: 8,
                ..d()
            }),
            ["trigger-size"]
        );
        assert_eq!(
            keys(&LabelConsistentParams { target: 10, ..d() }),
            ["target"]
        );
        assert_eq!(d().check(Some(&[4]), None).unwrap_err()[0].key, "kind");
        assert!((d().step_size() - 0.025).abs() < 1e-12);
    }

    #[test]
    fn reads_and_rejects_misspellings() {
        let p: LabelConsistentParams = toml::from_str("epsilon = 0.2\nsteps = 4").unwrap();
        assert_eq!((p.epsilon, p.steps), (0.2, 4));
        let err = toml::from_str::<LabelConsistentParams>("epsilom = 1").unwrap_err();
        assert!(err.to_string().contains("unknown field `epsilom`"), "{err}");
    }
}
