use poisonlab_core::ParamError;
use serde::{Deserialize, Serialize};

/// How the spectral-signatures defense turns scores into flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpectralRule {
    /// The paper's rule: in every class flag the
    /// `round(eps-multiplier · expected-rate · n_class)` highest scores.
    Paper,
    /// Flag robust outliers along the top singular direction, and only in
    /// classes whose top direction explains clearly more variance than the
    /// other classes' do (see the crate documentation). Needs no poison rate.
    Outlier,
}

/// The `[[defense]]` table for `kind = "spectral-signatures"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SpectralSignaturesParams {
    /// `"paper"` or `"outlier"`. Default `"outlier"`.
    pub rule: SpectralRule,
    /// Paper rule: multiple of `expected-rate` removed from each class, > 0.
    /// Default 1.5 (Tran et al. remove 1.5ε).
    pub eps_multiplier: f64,
    /// Paper rule: the expected poison fraction ε, in (0, 0.5]. Default 0.05.
    pub expected_rate: f64,
    /// Outlier rule: robust z-score cut-off, > 0. Default 3.5 (Iglewicz and
    /// Hoaglin's cut-off for modified z-scores).
    pub threshold: f64,
}

impl Default for SpectralSignaturesParams {
    fn default() -> Self {
        Self {
            rule: SpectralRule::Outlier,
            eps_multiplier: 1.5,
            expected_rate: 0.05,
            threshold: 3.5,
        }
    }
}

impl SpectralSignaturesParams {
    /// Check every value (all of them, whichever rule is chosen).
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut errors = Vec::new();
        if !(self.eps_multiplier.is_finite() && self.eps_multiplier > 0.0) {
            errors.push(ParamError::new(
                "eps-multiplier",
                format!("must be a finite number > 0, got {}", self.eps_multiplier),
            ));
        }
        if !(self.expected_rate > 0.0 && self.expected_rate <= 0.5) {
            errors.push(ParamError::new(
                "expected-rate",
                format!("must be in (0, 0.5], got {}", self.expected_rate),
            ));
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            errors.push(ParamError::new(
                "threshold",
                format!("must be a finite number > 0, got {}", self.threshold),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: SpectralSignaturesParams) -> Vec<String> {
        p.check().unwrap_err().into_iter().map(|e| e.key).collect()
    }

    #[test]
    fn defaults_pass() {
        assert!(SpectralSignaturesParams::default().check().is_ok());
    }

    #[test]
    fn eps_multiplier_must_be_positive() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let p = SpectralSignaturesParams {
                eps_multiplier: bad,
                ..Default::default()
            };
            assert_eq!(keys(p), ["eps-multiplier"]);
        }
    }

    #[test]
    fn expected_rate_must_be_at_most_a_half() {
        for bad in [0.0, -0.1, 0.51, f64::NAN] {
            let p = SpectralSignaturesParams {
                expected_rate: bad,
                ..Default::default()
            };
            assert_eq!(keys(p), ["expected-rate"]);
        }
        let edge = SpectralSignaturesParams {
            expected_rate: 0.5,
            ..Default::default()
        };
        assert!(edge.check().is_ok());
    }

    #[test]
    fn threshold_must_be_positive() {
        for bad in [0.0, -3.5, f64::NAN, f64::INFINITY] {
            let p = SpectralSignaturesParams {
                threshold: bad,
                ..Default::default()
            };
            assert_eq!(keys(p), ["threshold"]);
        }
    }

    #[test]
    fn reports_every_bad_value_at_once() {
        let p = SpectralSignaturesParams {
            rule: SpectralRule::Paper,
            eps_multiplier: 0.0,
            expected_rate: 1.0,
            threshold: -1.0,
        };
        assert_eq!(keys(p), ["eps-multiplier", "expected-rate", "threshold"]);
    }

    #[test]
    fn reads_kebab_case_toml_with_defaults() {
        let p: SpectralSignaturesParams =
            toml::from_str("rule = \"paper\"\neps-multiplier = 1.0\nexpected-rate = 0.1").unwrap();
        assert_eq!(p.rule, SpectralRule::Paper);
        assert_eq!(p.eps_multiplier, 1.0);
        assert_eq!(p.expected_rate, 0.1);
        assert_eq!(p.threshold, 3.5);
        let p: SpectralSignaturesParams = toml::from_str("rule = \"outlier\"").unwrap();
        assert_eq!(p.rule, SpectralRule::Outlier);
    }

    #[test]
    fn rejects_unknown_rule_and_misspelled_key() {
        let e = toml::from_str::<SpectralSignaturesParams>("rule = \"top-k\"").unwrap_err();
        assert!(e.to_string().contains("top-k"), "{e}");
        let e = toml::from_str::<SpectralSignaturesParams>("expected_rate = 0.1").unwrap_err();
        assert!(e.to_string().contains("expected_rate"), "{e}");
    }
}
