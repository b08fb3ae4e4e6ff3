use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The `[[defense]]` table for `kind = "neural-cleanse"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct NeuralCleanseParams {
    /// Optimisation steps per class (one minibatch of trusted samples each),
    /// ≥ 1. Default 300.
    pub steps: usize,
    /// Trusted samples per step, ≥ 1. Default 64.
    pub batch_size: usize,
    /// Adam's learning rate on the mask and pattern (in logit space), > 0.
    /// Default 0.1 (the paper's).
    pub learning_rate: f64,
    /// Initial weight λ of the mask's L1 norm in the objective, > 0; λ is
    /// raised ×1.5 after `patience` steps in a row that reach
    /// `attack-success` and lowered ÷1.5^1.5 after `patience` steps that do
    /// not (the paper's schedule). Default 0.001 (the paper's).
    pub init_cost: f64,
    /// Share of a batch the reversed trigger must send to the class for the
    /// mask to count, in (0, 1]. Default 0.99 (the paper's).
    pub attack_success: f64,
    /// Steps in a row before λ changes, ≥ 1. Default 10.
    pub patience: usize,
    /// Anomaly index above which the model is flagged, > 0. Default 2.0
    /// (the paper's: a 95 % chance of an outlier under a normal model).
    pub threshold: f64,
    /// Share of the trusted samples stamped with the reversed trigger
    /// (true labels kept) for unlearning, in [0, 1]. Default 0.2 (the paper's).
    pub unlearn_share: f64,
    /// Fine-tuning passes over the trusted samples for unlearning (0: detect
    /// only). Default 10.
    pub unlearn_epochs: usize,
    /// Adam's learning rate for unlearning, > 0. Default 0.001.
    pub unlearn_learning_rate: f64,
}

impl Default for NeuralCleanseParams {
    fn default() -> Self {
        Self {
            steps: 300,
            batch_size: 64,
            learning_rate: 0.1,
            init_cost: 1e-3,
            attack_success: 0.99,
            patience: 10,
            threshold: 2.0,
            unlearn_share: 0.2,
            unlearn_epochs: 10,
            unlearn_learning_rate: 1e-3,
        }
    }
}

impl NeuralCleanseParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        checks
            .at_least("steps", self.steps, 1)
            .at_least("batch-size", self.batch_size, 1)
            .positive("learning-rate", self.learning_rate)
            .positive("init-cost", self.init_cost)
            .in_range_left_open("attack-success", self.attack_success, 0.0, 1.0)
            .at_least("patience", self.patience, 1)
            .positive("threshold", self.threshold);
        if !(0.0..=1.0).contains(&self.unlearn_share) {
            checks.push(ParamError::new(
                "unlearn-share",
                format!("must be in [0, 1], got {}", self.unlearn_share),
            ));
        }
        checks
            .positive("unlearn-learning-rate", self.unlearn_learning_rate)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_every_bad_value_is_named() {
        assert!(NeuralCleanseParams::default().check().is_ok());
        let bad = NeuralCleanseParams {
            steps: 0,
            batch_size: 0,
            learning_rate: -1.0,
            init_cost: 0.0,
            attack_success: 1.5,
            patience: 0,
            threshold: f64::NAN,
            unlearn_share: 2.0,
            unlearn_epochs: 0,
            unlearn_learning_rate: 0.0,
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
                "steps",
                "batch-size",
                "learning-rate",
                "init-cost",
                "attack-success",
                "patience",
                "threshold",
                "unlearn-share",
                "unlearn-learning-rate"
            ]
        );
    }

    #[test]
    fn reads_kebab_case_and_rejects_misspelled_keys() {
        let p: NeuralCleanseParams = toml::from_str("init-cost = 0.01\nsteps = 5").unwrap();
        assert_eq!((p.init_cost, p.steps), (0.01, 5));
        let e = toml::from_str::<NeuralCleanseParams>("cost = 0.1").unwrap_err();
        assert!(e.to_string().contains("cost"), "{e}");
    }
}
