use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The monitor table for the canary audit ([`crate::Canary`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CanaryParams {
    /// Largest tolerated fall of one class's audit accuracy below its round-1
    /// value, in (0, 1): a larger fall can alarm. Default 0.1.
    pub threshold: f64,
    /// Significance of the fall, a finite number above 0, in standard
    /// errors of a one-sided two-proportion z-test on the class's audit
    /// samples: a fall alarms only when it is at least `z` standard errors.
    /// Default 3.0.
    pub z: f64,
}

impl Default for CanaryParams {
    fn default() -> Self {
        Self {
            threshold: 0.1,
            z: 3.0,
        }
    }
}

impl CanaryParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            checks.push(ParamError::new(
                "threshold",
                format!("must be in (0, 1), got {}", self.threshold),
            ));
        }
        checks.positive("z", self.z).finish()
    }
}

/// Which drift scores feed the CUSUM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Statistics {
    /// The batch's class shares against round 1's (needs no model).
    Shares,
    /// The batch's class means in the round-1 model's embedding space
    /// against round 1's.
    Means,
    /// Both, each with its own CUSUM; either can alarm.
    #[default]
    Both,
}

impl Statistics {
    /// True when the class-shares score is computed.
    pub fn shares(self) -> bool {
        matches!(self, Statistics::Shares | Statistics::Both)
    }

    /// True when the class-means score is computed.
    pub fn means(self) -> bool {
        matches!(self, Statistics::Means | Statistics::Both)
    }
}

/// The monitor table for the CUSUM drift detector ([`crate::Cusum`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CusumParams {
    /// Slack `k` subtracted from each round's standard-normal score before it
    /// is accumulated, a finite number ≥ 0 (half the shift, in standard
    /// deviations, the CUSUM is tuned to detect fastest). Default 0.5.
    pub k: f64,
    /// Decision interval `h`, a finite number > 0: the detector alarms while
    /// a cumulative sum exceeds it. Default 5.0 (with `k` = 0.5 and
    /// `guard` = 0, about 900 in-control rounds between false alarms for
    /// independent standard-normal scores).
    pub h: f64,
    /// `"shares"`, `"means"` or `"both"`. Default `"both"`.
    pub statistics: Statistics,
    /// Extra slack against the sampling error of the reference batch, in
    /// standard deviations of the score offset that error causes, a finite
    /// number ≥ 0. Every round is compared with the same reference sample,
    /// so its error is shared by all rounds' scores and a plain CUSUM
    /// accumulates it (Jones, Champ and Rigdon 2004): in simulated clean
    /// runs of 30 equal-sized rounds, 94 of 300 alarmed with `guard = 0`
    /// and 1 with the default. Each round's slack is `k + guard · √ρ`, with
    /// `ρ = (n_r / (n_r + n₁))²` the share of a score's variance that comes
    /// from the reference batch (`n_r`, `n₁` the two batch sizes); with
    /// equal sizes the slack is `k + guard / 2`. 0 gives Page's plain
    /// CUSUM. Default 2.0.
    pub guard: f64,
    /// Permutations that calibrate the class-means score on the data
    /// itself, 0 or at least 20: each round, the batch's and the reference
    /// batch's rows of each class are pooled and split at random this many
    /// times, and the score is matched to the statistic's distribution over
    /// those splits instead of to a Gaussian approximation (see
    /// [`crate::Cusum`]). 0 gives the analytic score. Default 200.
    pub permutations: usize,
}

impl Default for CusumParams {
    fn default() -> Self {
        Self {
            k: 0.5,
            h: 5.0,
            statistics: Statistics::Both,
            guard: 2.0,
            permutations: 200,
        }
    }
}

impl CusumParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        checks
            .non_negative("k", self.k)
            .positive("h", self.h)
            .non_negative("guard", self.guard);
        if self.permutations != 0 && self.permutations < 20 {
            checks.push(ParamError::new(
                "permutations",
                format!("must be 0 or at least 20, got {}", self.permutations),
            ));
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary_keys(p: CanaryParams) -> Vec<String> {
        p.check().unwrap_err().into_iter().map(|e| e.key).collect()
    }

    fn cusum_keys(p: CusumParams) -> Vec<String> {
        p.check().unwrap_err().into_iter().map(|e| e.key).collect()
    }

    #[test]
    fn defaults_pass() {
        assert!(CanaryParams::default().check().is_ok());
        assert!(CusumParams::default().check().is_ok());
    }

    #[test]
    fn canary_threshold_must_be_inside_the_unit_interval() {
        for bad in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            let p = CanaryParams {
                threshold: bad,
                ..Default::default()
            };
            assert_eq!(canary_keys(p), ["threshold"]);
        }
        let p = CanaryParams {
            threshold: 0.999,
            ..Default::default()
        };
        assert!(p.check().is_ok());
    }

    #[test]
    fn canary_z_must_be_positive_and_finite() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let p = CanaryParams {
                z: bad,
                ..Default::default()
            };
            assert_eq!(canary_keys(p), ["z"]);
        }
    }

    #[test]
    fn canary_reports_every_bad_value_at_once() {
        let errors = CanaryParams {
            threshold: 2.0,
            z: -1.0,
        }
        .check()
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["threshold", "z"]);
        assert_eq!(errors[0].message, "must be in (0, 1), got 2");
        assert_eq!(errors[1].message, "must be a finite number > 0, got -1");
    }

    #[test]
    fn cusum_k_may_be_zero_but_not_negative() {
        for bad in [-0.1, f64::NAN, f64::INFINITY] {
            let p = CusumParams {
                k: bad,
                ..Default::default()
            };
            assert_eq!(cusum_keys(p), ["k"]);
        }
        let p = CusumParams {
            k: 0.0,
            ..Default::default()
        };
        assert!(p.check().is_ok());
    }

    #[test]
    fn cusum_h_must_be_positive_and_finite() {
        for bad in [0.0, -5.0, f64::NAN, f64::INFINITY] {
            let p = CusumParams {
                h: bad,
                ..Default::default()
            };
            assert_eq!(cusum_keys(p), ["h"]);
        }
    }

    #[test]
    fn cusum_guard_may_be_zero_but_not_negative() {
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let p = CusumParams {
                guard: bad,
                ..Default::default()
            };
            assert_eq!(cusum_keys(p), ["guard"]);
        }
        let p = CusumParams {
            guard: 0.0,
            ..Default::default()
        };
        assert!(p.check().is_ok());
    }

    #[test]
    fn cusum_reports_every_bad_value_at_once() {
        let p = CusumParams {
            k: -1.0,
            h: 0.0,
            statistics: Statistics::Shares,
            guard: f64::NAN,
            permutations: 5,
        };
        let errors = p.check().unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["k", "h", "guard", "permutations"]);
        assert_eq!(errors[1].message, "must be a finite number > 0, got 0");
    }

    #[test]
    fn reads_kebab_case_toml_with_defaults() {
        let p: CanaryParams = toml::from_str("").unwrap();
        assert_eq!(p, CanaryParams::default());
        let p: CanaryParams = toml::from_str("threshold = 0.2").unwrap();
        assert_eq!(
            p,
            CanaryParams {
                threshold: 0.2,
                z: 3.0
            }
        );

        let p: CusumParams = toml::from_str("").unwrap();
        assert_eq!(p, CusumParams::default());
        let p: CusumParams =
            toml::from_str("k = 0.25\nh = 8.0\nstatistics = \"means\"\nguard = 0.0").unwrap();
        assert_eq!(
            p,
            CusumParams {
                k: 0.25,
                h: 8.0,
                statistics: Statistics::Means,
                guard: 0.0,
                permutations: 200,
            }
        );
        let p: CusumParams = toml::from_str("statistics = \"shares\"").unwrap();
        assert_eq!(p.statistics, Statistics::Shares);
        assert!(p.statistics.shares() && !p.statistics.means());
        assert!(Statistics::Both.shares() && Statistics::Both.means());
    }

    #[test]
    fn rejects_misspelled_keys_and_unknown_statistics() {
        let e = toml::from_str::<CanaryParams>("treshold = 0.2").unwrap_err();
        assert!(e.to_string().contains("treshold"), "{e}");
        let e = toml::from_str::<CusumParams>("statistic = \"both\"").unwrap_err();
        assert!(e.to_string().contains("statistic"), "{e}");
        let e = toml::from_str::<CusumParams>("statistics = \"variance\"").unwrap_err();
        assert!(e.to_string().contains("variance"), "{e}");
    }

    #[test]
    fn round_trips_through_a_toml_table() {
        let p = CusumParams {
            statistics: Statistics::Shares,
            ..Default::default()
        };
        let value = toml::Value::try_from(&p).unwrap();
        assert_eq!(value.try_into::<CusumParams>().unwrap(), p);
        let p = CanaryParams::default();
        let value = toml::Value::try_from(&p).unwrap();
        assert_eq!(value.try_into::<CanaryParams>().unwrap(), p);
    }
}
