use poisonlab_core::{ParamChecks, ParamError};
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
        ParamChecks::new()
            .at_least("n", self.n, 1)
            .in_range_left_open("frr", self.frr, 0.0, 0.5)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass() {
        assert!(StripParams::default().check().is_ok());
    }

    #[test]
    fn n_must_be_at_least_one() {
        let e = StripParams {
            n: 0,
            ..StripParams::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].key, "n");
        assert_eq!(e[0].message, "must be at least 1, got 0");
    }

    #[test]
    fn frr_must_be_in_zero_to_a_half() {
        for frr in [0.0, 0.6, f64::NAN] {
            let e = StripParams {
                frr,
                ..StripParams::default()
            }
            .check()
            .unwrap_err();
            assert_eq!(e.len(), 1);
            assert_eq!(e[0].key, "frr");
            assert_eq!(e[0].message, format!("must be in (0, 0.5], got {frr}"));
        }
        let edge = StripParams {
            frr: 0.5,
            ..StripParams::default()
        };
        assert!(edge.check().is_ok());
    }
}
