use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// `value` must be a finite number (any sign): no common rule covers it.
fn finite(checks: &mut ParamChecks, key: &str, value: f64) {
    if !value.is_finite() {
        checks.push(ParamError::new(
            key,
            format!("must be a finite number, got {value}"),
        ));
    }
}

/// The `[attack]` table for `kind = "sign-flip"` ([`crate::SignFlip`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SignFlipParams {
    /// The factor s > 0 of the update sent, −s · own. Default 1.0 (the
    /// update reversed, same length).
    pub scale: f64,
}

impl Default for SignFlipParams {
    fn default() -> Self {
        Self { scale: 1.0 }
    }
}

impl SignFlipParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        ParamChecks::new().positive("scale", self.scale).finish()
    }
}

/// The `[attack]` table for `kind = "gaussian"` ([`crate::Gaussian`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct GaussianParams {
    /// Standard deviation of every coordinate's noise, > 0. Default 1.0:
    /// honest updates of a small MLP move a coordinate by about 1e-3 to
    /// 1e-2 a round, so noise of deviation 1 is 100 to 1000 times larger;
    /// averaged with n − 1 honest updates by FedAvg it still adds noise of
    /// deviation 1/n to every weight each round (0.1 with n = 10), which
    /// wrecks the model within a few rounds. Blanchard et al. 2017 use a
    /// far larger spread (200) on gradients.
    pub std: f64,
    /// Mean of every coordinate's noise, any finite number. Default 0.0.
    pub mean: f64,
}

impl Default for GaussianParams {
    fn default() -> Self {
        Self {
            std: 1.0,
            mean: 0.0,
        }
    }
}

impl GaussianParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        checks.positive("std", self.std);
        finite(&mut checks, "mean", self.mean);
        checks.finish()
    }
}

/// The `[attack]` table for `kind = "alie"` ([`crate::Alie`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AlieParams {
    /// How many standard deviations every coordinate is moved from the
    /// benign mean, a finite number ≥ 0. Default: unset, z is worked out
    /// each round from the client counts as in the paper (see
    /// [`crate::Alie::z_from_counts`]); set it to fix z for every round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
}

impl AlieParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if let Some(z) = self.z {
            checks.non_negative("z", z);
        }
        checks.finish()
    }
}

/// The `[attack]` table for `kind = "ipm"` ([`crate::Ipm`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct IpmParams {
    /// The factor ε > 0 of the update sent, −ε · (mean of the benign
    /// updates). Default 0.1, the small ε the paper pairs with the
    /// coordinate-wise median and Krum, the robust aggregators it breaks.
    /// Against the plain mean, q attackers among n reverse the aggregate
    /// only when ε > (n − q) / q: use a large ε there.
    pub epsilon: f64,
}

impl Default for IpmParams {
    fn default() -> Self {
        Self { epsilon: 0.1 }
    }
}

impl IpmParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        ParamChecks::new()
            .positive("epsilon", self.epsilon)
            .finish()
    }
}

/// The `[attack]` table for `kind = "scaling"` ([`crate::Scaling`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ScalingParams {
    /// The factor γ > 0 the client's own update is multiplied by. Default:
    /// unset, γ = n / η each round (n clients selected, η the server
    /// learning rate), the paper's choice that replaces the global model by
    /// the attacker's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
}

impl ScalingParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if let Some(factor) = self.factor {
            checks.positive("factor", factor);
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys and messages of every problem `check` finds.
    fn problems(result: Result<(), Vec<ParamError>>) -> Vec<(String, String)> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.key, e.message))
            .collect()
    }

    fn one(key: &str, message: &str) -> Vec<(String, String)> {
        vec![(key.to_string(), message.to_string())]
    }

    #[test]
    fn defaults_are_valid_and_as_documented() {
        assert!(SignFlipParams::default().check().is_ok());
        assert!(GaussianParams::default().check().is_ok());
        assert!(AlieParams::default().check().is_ok());
        assert!(IpmParams::default().check().is_ok());
        assert!(ScalingParams::default().check().is_ok());
        assert_eq!(SignFlipParams::default().scale, 1.0);
        assert_eq!(
            GaussianParams::default(),
            GaussianParams {
                std: 1.0,
                mean: 0.0
            }
        );
        assert_eq!(AlieParams::default().z, None);
        assert_eq!(IpmParams::default().epsilon, 0.1);
        assert_eq!(ScalingParams::default().factor, None);
    }

    #[test]
    fn scale_must_be_positive() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let got = problems(SignFlipParams { scale: bad }.check());
            assert_eq!(
                got,
                one("scale", &format!("must be a finite number > 0, got {bad}"))
            );
        }
        assert!(SignFlipParams { scale: 4.0 }.check().is_ok());
    }

    #[test]
    fn std_must_be_positive() {
        for bad in [0.0, -0.5, f64::NAN] {
            let got = problems(
                GaussianParams {
                    std: bad,
                    mean: 0.0,
                }
                .check(),
            );
            assert_eq!(
                got,
                one("std", &format!("must be a finite number > 0, got {bad}"))
            );
        }
    }

    #[test]
    fn mean_must_be_finite_but_may_be_negative() {
        assert!(
            GaussianParams {
                std: 1.0,
                mean: -3.0
            }
            .check()
            .is_ok()
        );
        let got = problems(
            GaussianParams {
                std: 1.0,
                mean: f64::INFINITY,
            }
            .check(),
        );
        assert_eq!(got, one("mean", "must be a finite number, got inf"));
        // Both problems at once, in field order.
        let got = problems(
            GaussianParams {
                std: 0.0,
                mean: f64::NAN,
            }
            .check(),
        );
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["std", "mean"]);
    }

    #[test]
    fn z_must_be_non_negative_when_set() {
        assert!(AlieParams { z: Some(0.0) }.check().is_ok());
        assert!(AlieParams { z: Some(1.5) }.check().is_ok());
        for bad in [-0.1, f64::NAN] {
            let got = problems(AlieParams { z: Some(bad) }.check());
            assert_eq!(
                got,
                one("z", &format!("must be a finite number ≥ 0, got {bad}"))
            );
        }
    }

    #[test]
    fn epsilon_must_be_positive() {
        for bad in [0.0, -0.1, f64::INFINITY] {
            let got = problems(IpmParams { epsilon: bad }.check());
            assert_eq!(
                got,
                one(
                    "epsilon",
                    &format!("must be a finite number > 0, got {bad}")
                )
            );
        }
        assert!(IpmParams { epsilon: 100.0 }.check().is_ok());
    }

    #[test]
    fn factor_must_be_positive_when_set() {
        for bad in [0.0, -10.0, f64::NAN] {
            let got = problems(ScalingParams { factor: Some(bad) }.check());
            assert_eq!(
                got,
                one("factor", &format!("must be a finite number > 0, got {bad}"))
            );
        }
        assert!(ScalingParams { factor: Some(10.0) }.check().is_ok());
    }

    #[test]
    fn tables_use_kebab_case_keys_defaults_and_reject_unknown_keys() {
        assert_eq!(
            toml::from_str::<SignFlipParams>("scale = 4.0").unwrap(),
            SignFlipParams { scale: 4.0 }
        );
        assert_eq!(
            toml::from_str::<GaussianParams>("std = 200.0").unwrap(),
            GaussianParams {
                std: 200.0,
                mean: 0.0
            }
        );
        assert_eq!(
            toml::from_str::<AlieParams>("z = 1.0").unwrap(),
            AlieParams { z: Some(1.0) }
        );
        assert_eq!(
            toml::from_str::<AlieParams>("").unwrap(),
            AlieParams::default()
        );
        assert_eq!(
            toml::from_str::<IpmParams>("").unwrap(),
            IpmParams::default()
        );
        assert_eq!(
            toml::from_str::<ScalingParams>("factor = 10.0").unwrap(),
            ScalingParams { factor: Some(10.0) }
        );
        assert!(toml::from_str::<SignFlipParams>("sigma = -4.0").is_err());
        assert!(toml::from_str::<GaussianParams>("variance = 200.0").is_err());
        assert!(toml::from_str::<AlieParams>("z-max = 1.0").is_err());
        assert!(toml::from_str::<IpmParams>("eps = 0.5").is_err());
        assert!(toml::from_str::<ScalingParams>("gamma = 10.0").is_err());
    }

    #[test]
    fn unset_options_round_trip_through_toml() {
        for p in [AlieParams::default(), AlieParams { z: Some(0.5) }] {
            let text = toml::to_string(&p).unwrap();
            assert_eq!(toml::from_str::<AlieParams>(&text).unwrap(), p);
        }
        for p in [
            ScalingParams::default(),
            ScalingParams { factor: Some(3.0) },
        ] {
            let text = toml::to_string(&p).unwrap();
            assert_eq!(toml::from_str::<ScalingParams>(&text).unwrap(), p);
        }
    }
}
