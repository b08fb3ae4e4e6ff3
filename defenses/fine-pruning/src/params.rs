use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The `[[defense]]` table for `kind = "fine-pruning"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct FinePruningParams {
    /// Largest fall of the accuracy on the trusted samples that pruning may
    /// cause, in [0, 1): neurons are pruned, least active first, while the
    /// accuracy stays within it. Default 0.04 (the paper's 4 %).
    pub max_accuracy_drop: f64,
    /// Largest share of the layer's neurons pruned, in [0, 1]. Default 0.9.
    pub max_pruned: f64,
    /// Fine-tuning passes over the trusted samples after pruning (0: prune
    /// only). Default 10.
    pub epochs: usize,
    /// Adam's learning rate for fine-tuning, > 0. Default 0.001.
    pub learning_rate: f64,
    /// Samples per fine-tuning step, ≥ 1. Default 32.
    pub batch_size: usize,
}

impl Default for FinePruningParams {
    fn default() -> Self {
        Self {
            max_accuracy_drop: 0.04,
            max_pruned: 0.9,
            epochs: 10,
            learning_rate: 1e-3,
            batch_size: 32,
        }
    }
}

impl FinePruningParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if !(0.0..1.0).contains(&self.max_accuracy_drop) {
            checks.push(ParamError::new(
                "max-accuracy-drop",
                format!("must be in [0, 1), got {}", self.max_accuracy_drop),
            ));
        }
        if !(0.0..=1.0).contains(&self.max_pruned) {
            checks.push(ParamError::new(
                "max-pruned",
                format!("must be in [0, 1], got {}", self.max_pruned),
            ));
        }
        checks
            .positive("learning-rate", self.learning_rate)
            .at_least("batch-size", self.batch_size, 1)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_every_bad_value_is_named() {
        assert!(FinePruningParams::default().check().is_ok());
        let bad = FinePruningParams {
            max_accuracy_drop: 1.0,
            max_pruned: 1.5,
            epochs: 0,
            learning_rate: 0.0,
            batch_size: 0,
        };
        let keys: Vec<String> = bad
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(
            keys,
            [
                "max-accuracy-drop",
                "max-pruned",
                "learning-rate",
                "batch-size"
            ]
        );
    }

    #[test]
    fn reads_kebab_case_and_rejects_misspelled_keys() {
        let p: FinePruningParams = toml::from_str("max-accuracy-drop = 0.1\nepochs = 3").unwrap();
        assert_eq!(p.max_accuracy_drop, 0.1);
        assert_eq!(p.epochs, 3);
        let e = toml::from_str::<FinePruningParams>("max-drop = 0.1").unwrap_err();
        assert!(e.to_string().contains("max-drop"), "{e}");
    }
}
