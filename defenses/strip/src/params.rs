use poisonlab_core::ParamError;
use serde::{Deserialize, Serialize};

/// The `[[defense]]` table for `kind = "strip"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct StripParams {
    /// Clean images each input is superimposed with. Default 20.
    pub n: usize,
    /// False-rejection rate the entropy threshold is set for, on trusted clean
    /// samples, in (0, 0.5]. Default 0.01.
    pub frr: f64,
}

impl Default for StripParams {
    fn default() -> Self {
        Self { n: 20, frr: 0.01 }
    }
}

impl StripParams {
    /// Check every value.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut p = Vec::new();
        if self.n == 0 {
            p.push(ParamError::new("n", "must be at least 1, got 0"));
        }
        if !(self.frr > 0.0 && self.frr <= 0.5) {
            p.push(ParamError::new(
                "frr",
                format!("must be in (0, 0.5], got {}", self.frr),
            ));
        }
        if p.is_empty() { Ok(()) } else { Err(p) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_names_its_key() {
        assert!(StripParams::default().check().is_ok());
        assert_eq!(
            StripParams {
                n: 0,
                ..StripParams::default()
            }
            .check()
            .unwrap_err()[0]
                .key,
            "n"
        );
        for frr in [0.0, 0.6, f64::NAN] {
            assert_eq!(
                StripParams {
                    frr,
                    ..StripParams::default()
                }
                .check()
                .unwrap_err()[0]
                    .key,
                "frr"
            );
        }
    }
}
