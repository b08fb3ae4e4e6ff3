use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The `[[defense]]` table for `kind = "abl"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AblParams {
    /// Epochs of training with the LGA loss before isolating, ≥ 1. Default
    /// 20 (the paper's).
    pub isolation_epochs: usize,
    /// The LGA loss level γ, > 0: a batch whose mean loss is below it is
    /// ascended. Default 0.5 (the paper's).
    pub gamma: f64,
    /// Share of the training set isolated (the lowest losses), in (0, 1).
    /// Default 0.01 (the paper's 1 %).
    pub isolation_ratio: f64,
    /// Adam's learning rate for the isolation model, > 0. Default 0.001.
    pub learning_rate: f64,
    /// Samples per step, ≥ 1. Default 64.
    pub batch_size: usize,
    /// Epochs of gradient ascent on the isolated samples (0: isolate only).
    /// Default 20 (the paper's).
    pub unlearn_epochs: usize,
    /// Adam's learning rate for unlearning, > 0. Default 0.0001.
    pub unlearn_learning_rate: f64,
}

impl Default for AblParams {
    fn default() -> Self {
        Self {
            isolation_epochs: 20,
            gamma: 0.5,
            isolation_ratio: 0.01,
            learning_rate: 1e-3,
            batch_size: 64,
            unlearn_epochs: 20,
            unlearn_learning_rate: 1e-4,
        }
    }
}

impl AblParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        checks
            .at_least("isolation-epochs", self.isolation_epochs, 1)
            .positive("gamma", self.gamma);
        if !(self.isolation_ratio > 0.0 && self.isolation_ratio < 1.0) {
            checks.push(ParamError::new(
                "isolation-ratio",
                format!("must be in (0, 1), got {}", self.isolation_ratio),
            ));
        }
        checks
            .positive("learning-rate", self.learning_rate)
            .at_least("batch-size", self.batch_size, 1)
            .positive("unlearn-learning-rate", self.unlearn_learning_rate)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_every_bad_value_is_named() {
        assert!(AblParams::default().check().is_ok());
        let bad = AblParams {
            isolation_epochs: 0,
            gamma: 0.0,
            isolation_ratio: 1.0,
            learning_rate: f64::INFINITY,
            batch_size: 0,
            unlearn_epochs: 0,
            unlearn_learning_rate: -1.0,
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
                "isolation-epochs",
                "gamma",
                "isolation-ratio",
                "learning-rate",
                "batch-size",
                "unlearn-learning-rate"
            ]
        );
    }

    #[test]
    fn reads_kebab_case_and_rejects_misspelled_keys() {
        let p: AblParams = toml::from_str("isolation-ratio = 0.05").unwrap();
        assert_eq!(p.isolation_ratio, 0.05);
        let e = toml::from_str::<AblParams>("ratio = 0.05").unwrap_err();
        assert!(e.to_string().contains("ratio"), "{e}");
    }
}
