use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The `[[defense]]` table for `kind = "loss-filter"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LossFilterParams {
    /// Fraction of the training set flagged (the highest-loss samples), in [0, 1).
    /// Default 0.05.
    pub fraction: f64,
}

impl Default for LossFilterParams {
    fn default() -> Self {
        Self { fraction: 0.05 }
    }
}

impl LossFilterParams {
    /// Check every value.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        // [0, 1): no common rule covers a half-open interval closed at 0.
        if !(0.0..1.0).contains(&self.fraction) {
            checks.push(ParamError::new(
                "fraction",
                format!("must be in [0, 1), got {}", self.fraction),
            ));
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_must_be_a_proper_share() {
        assert!(LossFilterParams::default().check().is_ok());
        for bad in [-0.1, 1.0, f64::NAN] {
            let e = LossFilterParams { fraction: bad }.check().unwrap_err();
            assert_eq!(e[0].key, "fraction");
        }
    }
}
