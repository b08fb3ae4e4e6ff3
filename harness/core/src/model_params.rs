//! The `[model]` table: which model family to train and how.

use crate::ParamError;
use serde::{Deserialize, Serialize};

/// Which model family to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Multinomial logistic regression (one dense layer).
    Logreg,
    /// Multi-layer perceptron with ReLU hidden layers (`hidden`).
    Mlp,
    /// conv 3×3 16 – ReLU – maxpool 2 – conv 3×3 32 – ReLU – maxpool 2 – dense 128 – dense classes.
    Cnn,
}

/// The `[model]` table of a scenario: what to train and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ModelParams {
    /// Model family. Default `mlp`.
    pub kind: ModelKind,
    /// Hidden layer widths of the MLP. Default `[128, 64]`.
    pub hidden: Vec<usize>,
    /// Passes over the training set. Default 5.
    pub epochs: usize,
    /// Samples per Adam step. Default 64.
    pub batch_size: usize,
    /// Adam learning rate. Default 0.001.
    pub learning_rate: f64,
}

impl Default for ModelParams {
    fn default() -> Self {
        Self {
            kind: ModelKind::Mlp,
            hidden: vec![128, 64],
            epochs: 5,
            batch_size: 64,
            learning_rate: 1e-3,
        }
    }
}

impl ModelParams {
    /// Check every value; all problems are returned together.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut problems = Vec::new();
        if self.kind == ModelKind::Mlp && self.hidden.contains(&0) {
            problems.push(ParamError::new(
                "hidden",
                format!(
                    "every hidden width must be at least 1, got {:?}",
                    self.hidden
                ),
            ));
        }
        if self.kind != ModelKind::Mlp && self.hidden != ModelParams::default().hidden {
            problems.push(ParamError::new(
                "hidden",
                format!("applies to kind = \"mlp\" only, not {:?}", self.kind),
            ));
        }
        if self.epochs == 0 {
            problems.push(ParamError::new("epochs", "must be at least 1, got 0"));
        }
        if self.batch_size == 0 {
            problems.push(ParamError::new("batch-size", "must be at least 1, got 0"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            problems.push(ParamError::new(
                "learning-rate",
                format!("must be a positive number, got {}", self.learning_rate),
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: ModelParams) -> Vec<String> {
        p.check().unwrap_err().into_iter().map(|e| e.key).collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(ModelParams::default().check(), Ok(()));
    }

    #[test]
    fn each_rule_names_its_key() {
        let d = ModelParams::default();
        assert_eq!(
            keys(ModelParams {
                hidden: vec![8, 0],
                ..d.clone()
            }),
            ["hidden"]
        );
        assert_eq!(
            keys(ModelParams {
                kind: ModelKind::Cnn,
                hidden: vec![3],
                ..d.clone()
            }),
            ["hidden"]
        );
        assert_eq!(
            keys(ModelParams {
                epochs: 0,
                ..d.clone()
            }),
            ["epochs"]
        );
        assert_eq!(
            keys(ModelParams {
                batch_size: 0,
                ..d.clone()
            }),
            ["batch-size"]
        );
        assert_eq!(
            keys(ModelParams {
                learning_rate: -1.0,
                ..d.clone()
            }),
            ["learning-rate"]
        );
        assert_eq!(
            keys(ModelParams {
                learning_rate: f64::NAN,
                ..d
            }),
            ["learning-rate"]
        );
    }
}
