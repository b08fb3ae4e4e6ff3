use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The aggregator table for `aggregator = "mean"` ([`crate::Mean`]): no keys
/// yet (a weighted mean may come with the federated regime).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct MeanParams {}

/// The aggregator table for `aggregator = "median"` ([`crate::Median`]): no keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct MedianParams {}

/// The aggregator table for `aggregator = "trimmed-mean"` ([`crate::TrimmedMean`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct TrimmedMeanParams {
    /// Share of the updates removed from each end of every coordinate, in
    /// [0, 0.5): with n updates, ⌊trim · n⌋ of the smallest and as many of the
    /// largest values go (a product within 1e-9 of a whole number counts as
    /// that number, so 0.29 · 100 removes 29). Default 0.1.
    pub trim: f64,
}

impl Default for TrimmedMeanParams {
    fn default() -> Self {
        Self { trim: 0.1 }
    }
}

impl TrimmedMeanParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        // [0, 0.5): no common rule covers a half-open interval closed at 0.
        if !(0.0..0.5).contains(&self.trim) {
            checks.push(ParamError::new(
                "trim",
                format!("must be in [0, 0.5), got {}", self.trim),
            ));
        }
        checks.finish()
    }
}

/// The aggregator table for `aggregator = "krum"` ([`crate::Krum`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct KrumParams {
    /// Number f of Byzantine (malicious) updates tolerated, ≥ 0: each update is
    /// scored on its n − f − 2 nearest other updates, and a round needs
    /// n ≥ 2f + 3 updates. Default 1.
    pub byzantine: usize,
    /// Number m of best-scored updates averaged, ≥ 1 and at most the round's
    /// update count: 1 is Krum, more is Multi-Krum. Default 1.
    pub select: usize,
}

impl Default for KrumParams {
    fn default() -> Self {
        Self {
            byzantine: 1,
            select: 1,
        }
    }
}

impl KrumParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        ParamChecks::new()
            .at_least("select", self.select, 1)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(TrimmedMeanParams::default().check().is_ok());
        assert!(KrumParams::default().check().is_ok());
        assert_eq!(TrimmedMeanParams::default().trim, 0.1);
        assert_eq!(
            KrumParams::default(),
            KrumParams {
                byzantine: 1,
                select: 1
            }
        );
    }

    #[test]
    fn trim_must_be_in_zero_to_one_half() {
        for ok in [0.0, 0.25, 0.499] {
            assert!(TrimmedMeanParams { trim: ok }.check().is_ok(), "{ok}");
        }
        for bad in [-0.1, 0.5, 0.7, f64::NAN, f64::INFINITY] {
            let e = TrimmedMeanParams { trim: bad }.check().unwrap_err();
            assert_eq!(e.len(), 1);
            assert_eq!(e[0].key, "trim");
            assert_eq!(e[0].message, format!("must be in [0, 0.5), got {bad}"));
        }
    }

    #[test]
    fn select_must_be_at_least_one() {
        let e = KrumParams {
            byzantine: 0,
            select: 0,
        }
        .check()
        .unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].key, "select");
        assert_eq!(e[0].message, "must be at least 1, got 0");
        assert!(
            KrumParams {
                byzantine: 0,
                select: 3
            }
            .check()
            .is_ok()
        );
    }

    #[test]
    fn tables_use_kebab_case_keys_defaults_and_reject_unknown_keys() {
        let p: KrumParams = toml::from_str("select = 3").unwrap();
        assert_eq!(
            p,
            KrumParams {
                byzantine: 1,
                select: 3
            }
        );
        let p: TrimmedMeanParams = toml::from_str("").unwrap();
        assert_eq!(p, TrimmedMeanParams::default());
        assert!(toml::from_str::<KrumParams>("f = 2").is_err());
        assert!(toml::from_str::<TrimmedMeanParams>("beta = 0.2").is_err());
        assert_eq!(toml::from_str::<MeanParams>("").unwrap(), MeanParams {});
        assert!(toml::from_str::<MeanParams>("weighted = true").is_err());
        assert_eq!(toml::from_str::<MedianParams>("").unwrap(), MedianParams {});
        assert!(toml::from_str::<MedianParams>("trim = 0.1").is_err());
    }
}
