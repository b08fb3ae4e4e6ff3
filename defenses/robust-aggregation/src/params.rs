//! The parameter tables users write in a scenario's `[[defense]]` entries
//! (the `kind` and `name` keys are taken off before), with their checks.

use poisonlab_core::{BuildContext, DataFacts, ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The table of `kind = "fedavg"` ([`crate::FedAvg`]): no keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct FedAvgParams {}

/// The table of `kind = "median"` ([`crate::Median`]): no keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct MedianParams {}

/// The table of `kind = "trimmed-mean"` ([`crate::TrimmedMean`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct TrimmedMeanParams {
    /// Share β of the updates removed from each end of every coordinate, in
    /// [0, 0.5): with n updates, ⌊β · n⌋ of the smallest and as many of the
    /// largest values go (a product within 1e-9 of a whole number counts as
    /// that number, so 0.29 · 100 removes 29). Default 0.1.
    pub beta: f64,
}

impl Default for TrimmedMeanParams {
    fn default() -> Self {
        Self { beta: 0.1 }
    }
}

impl TrimmedMeanParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        // [0, 0.5): no common rule covers a half-open interval closed at 0.
        if !(0.0..0.5).contains(&self.beta) {
            checks.push(ParamError::new(
                "beta",
                format!("must be in [0, 0.5), got {}", self.beta),
            ));
        }
        checks.finish()
    }
}

/// The table of `kind = "krum"` ([`crate::Krum`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct KrumParams {
    /// Number f of malicious updates assumed per round, ≥ 0: each update is
    /// scored on its n − f − 2 nearest others, and a round of n updates
    /// needs n > 2f + 2 (checked against the federated regime's
    /// `per-round` when the scenario has one). Default 1.
    pub f: usize,
}

impl Default for KrumParams {
    fn default() -> Self {
        Self { f: 1 }
    }
}

impl KrumParams {
    /// Check every value against what `ctx` knows (the clients per round),
    /// reporting every problem at once.
    pub fn check(&self, ctx: &BuildContext<'_>) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if let Some(e) = krum_bound("krum", self.f, ctx.per_round) {
            checks.push(e);
        }
        checks.finish()
    }
}

/// The table of `kind = "multi-krum"` ([`crate::MultiKrum`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct MultiKrumParams {
    /// Number f of malicious updates assumed per round, ≥ 0; as for
    /// [`KrumParams::f`], a round needs n > 2f + 2 updates. Default 1.
    pub f: usize,
    /// Number m of best-scored updates averaged, ≥ 1 and at most the
    /// round's update count n. Unset (the default) means m = n − f: every
    /// update but as many as may be malicious.
    pub m: Option<usize>,
}

impl Default for MultiKrumParams {
    fn default() -> Self {
        Self { f: 1, m: None }
    }
}

impl MultiKrumParams {
    /// Check every value against what `ctx` knows (the clients per round),
    /// reporting every problem at once.
    pub fn check(&self, ctx: &BuildContext<'_>) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if let Some(e) = krum_bound("multi-krum", self.f, ctx.per_round) {
            checks.push(e);
        }
        if let Some(m) = self.m {
            checks.at_least("m", m, 1);
            if let Some(n) = ctx.per_round
                && m > n
            {
                checks.push(ParamError::new(
                    "m",
                    format!("must be at most per-round = {n}, got {m}"),
                ));
            }
        }
        checks.finish()
    }
}

/// The table of `kind = "bulyan"` ([`crate::Bulyan`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct BulyanParams {
    /// Number f of malicious updates assumed per round, ≥ 0: a round of n
    /// updates needs n ≥ 4f + 3 (checked against the federated regime's
    /// `per-round` when the scenario has one). Default 1.
    pub f: usize,
}

impl Default for BulyanParams {
    fn default() -> Self {
        Self { f: 1 }
    }
}

impl BulyanParams {
    /// Check every value against what `ctx` knows (the clients per round),
    /// reporting every problem at once.
    pub fn check(&self, ctx: &BuildContext<'_>) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if let Some(n) = ctx.per_round
            && n < bulyan_needed(self.f)
        {
            let allowed = if n >= 3 {
                format!("f must be at most {}", (n - 3) / 4)
            } else {
                "no f works (even f = 0 needs per-round ≥ 3)".to_string()
            };
            checks.push(ParamError::new(
                "f",
                format!(
                    "bulyan needs per-round ≥ 4f + 3: with per-round = {n}, {allowed}, got {}",
                    self.f
                ),
            ));
        }
        checks.finish()
    }
}

/// The table of `kind = "norm-clipping"` ([`crate::NormClipping`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct NormClippingParams {
    /// The L2 norm bound M every update is scaled down to, a finite
    /// number > 0. Unset (the default) means the median norm of the round's
    /// updates: an update's norm depends on the model, the learning rate
    /// and the local epochs, so no one number suits every scenario, while
    /// the median is set by the honest majority whenever fewer than half
    /// the clients are malicious, and a boosted update (model replacement
    /// scales its update up by about the client count) is cut back to the
    /// honest clients' scale.
    pub bound: Option<f64>,
    /// Standard deviation σ of the Gaussian noise added to every coordinate
    /// of the aggregate (the paper's "weak differential privacy"), a finite
    /// number ≥ 0. Default 0 (no noise).
    pub noise: f64,
}

impl Default for NormClippingParams {
    fn default() -> Self {
        Self {
            bound: None,
            noise: 0.0,
        }
    }
}

impl NormClippingParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if let Some(bound) = self.bound {
            checks.positive("bound", bound);
        }
        checks.non_negative("noise", self.noise).finish()
    }
}

/// The table of `kind = "fltrust"` ([`crate::FlTrust`]): no keys (the root
/// set is the scenario's trusted samples).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct FlTrustParams {}

/// The table of `kind = "foolsgold"` ([`crate::FoolsGold`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct FoolsGoldParams {
    /// Confidence κ of the logit that spreads the weights: α ←
    /// κ (ln(α / (1 − α)) + 0.5), clipped to [0, 1]; a finite number > 0.
    /// Default 1 (the paper's value).
    pub kappa: f64,
}

impl Default for FoolsGoldParams {
    fn default() -> Self {
        Self { kappa: 1.0 }
    }
}

impl FoolsGoldParams {
    /// Check every value, reporting every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        ParamChecks::new().positive("kappa", self.kappa).finish()
    }
}

/// The table of `kind = "tolpegin-pca"` ([`crate::TolpeginPca`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct TolpeginPcaParams {
    /// The class whose output-layer parameters (its weight column and bias)
    /// are examined: the attacked source class, as in the paper. Unset (the
    /// default) means every output-layer parameter, for when the defender
    /// does not know which class is attacked.
    pub class: Option<usize>,
    /// How clearly the two clusters must stand apart before the smaller is
    /// flagged: the distance between the two centroids over the root mean
    /// square distance of the points to their own centroid, a finite
    /// number > 0. Default 4: on rounds without attackers (4 to 50 updates
    /// of independent noise, 5 to 650 examined parameters, 2 000 rounds
    /// each) 2-means splits the noise at a median of 1.5 to 2 and a 99.9th
    /// percentile of 1.8 to 3.4 (largest seen 4.3, on 5 parameters), while
    /// two label flippers among ten clients stand 15 to 20 apart on their
    /// class's parameters and about 5 on the whole output layer.
    pub separation: f64,
}

impl Default for TolpeginPcaParams {
    fn default() -> Self {
        Self {
            class: None,
            separation: 4.0,
        }
    }
}

impl TolpeginPcaParams {
    /// Check every value against what `facts` knows of the data, reporting
    /// every problem at once.
    pub fn check(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if let Some(e) = self
            .class
            .and_then(|c| ParamError::class_out_of_range("class", c, facts.n_classes))
        {
            checks.push(e);
        }
        checks.positive("separation", self.separation).finish()
    }
}

/// 2f + 2, the count a Krum round must exceed (saturating).
pub(crate) fn krum_bound_of(f: usize) -> usize {
    f.saturating_mul(2).saturating_add(2)
}

/// 4f + 3, the fewest updates of a Bulyan round (saturating).
pub(crate) fn bulyan_needed(f: usize) -> usize {
    f.saturating_mul(4).saturating_add(3)
}

/// The problem with `f` of `kind` (Krum or Multi-Krum) when a federated run
/// aggregates `per_round` clients a round and per_round ≤ 2f + 2.
fn krum_bound(kind: &str, f: usize, per_round: Option<usize>) -> Option<ParamError> {
    let n = per_round?;
    (n <= krum_bound_of(f)).then(|| {
        let allowed = if n >= 3 {
            format!("f must be at most {}", (n - 3) / 2)
        } else {
            "no f works (even f = 0 needs per-round ≥ 3)".to_string()
        };
        ParamError::new(
            "f",
            format!("{kind} needs per-round > 2f + 2: with per-round = {n}, {allowed}, got {f}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn facts(n_classes: Option<usize>) -> DataFacts {
        DataFacts {
            n_classes,
            shape: None,
        }
    }

    fn only(errors: Vec<ParamError>) -> (String, String) {
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = errors.into_iter().next().unwrap();
        (e.key, e.message)
    }

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let f = facts(Some(10));
        let ctx = BuildContext::new(Path::new("."), &f).with_per_round(Some(10));
        assert!(TrimmedMeanParams::default().check().is_ok());
        assert!(KrumParams::default().check(&ctx).is_ok());
        assert!(MultiKrumParams::default().check(&ctx).is_ok());
        assert!(BulyanParams::default().check(&ctx).is_ok());
        assert!(NormClippingParams::default().check().is_ok());
        assert!(FoolsGoldParams::default().check().is_ok());
        assert!(TolpeginPcaParams::default().check(&f).is_ok());
        assert_eq!(TrimmedMeanParams::default().beta, 0.1);
        assert_eq!(KrumParams::default().f, 1);
        assert_eq!(
            MultiKrumParams::default(),
            MultiKrumParams { f: 1, m: None }
        );
        assert_eq!(BulyanParams::default().f, 1);
        assert_eq!(
            NormClippingParams::default(),
            NormClippingParams {
                bound: None,
                noise: 0.0
            }
        );
        assert_eq!(FoolsGoldParams::default().kappa, 1.0);
        assert_eq!(
            TolpeginPcaParams::default(),
            TolpeginPcaParams {
                class: None,
                separation: 4.0
            }
        );
    }

    #[test]
    fn beta_must_be_in_zero_to_one_half() {
        for ok in [0.0, 0.25, 0.499] {
            assert!(TrimmedMeanParams { beta: ok }.check().is_ok(), "{ok}");
        }
        for bad in [-0.1, 0.5, 0.7, f64::NAN, f64::INFINITY] {
            let (key, message) = only(TrimmedMeanParams { beta: bad }.check().unwrap_err());
            assert_eq!(key, "beta");
            assert_eq!(message, format!("must be in [0, 0.5), got {bad}"));
        }
    }

    #[test]
    fn krum_f_must_leave_per_round_above_2f_plus_2() {
        let f = facts(None);
        let ctx = BuildContext::new(Path::new("."), &f);
        // Without a federated regime nothing bounds f at build time.
        assert!(KrumParams { f: 100 }.check(&ctx).is_ok());
        let five = ctx.with_per_round(Some(5));
        assert!(KrumParams { f: 1 }.check(&five).is_ok());
        let (key, message) = only(KrumParams { f: 2 }.check(&five).unwrap_err());
        assert_eq!(key, "f");
        assert_eq!(
            message,
            "krum needs per-round > 2f + 2: with per-round = 5, f must be at most 1, got 2"
        );
        // 6 > 2 · 2 + 2 is false too; 7 admits f = 2.
        assert!(
            KrumParams { f: 2 }
                .check(&ctx.with_per_round(Some(6)))
                .is_err()
        );
        assert!(
            KrumParams { f: 2 }
                .check(&ctx.with_per_round(Some(7)))
                .is_ok()
        );
        let (_, message) = only(
            KrumParams { f: 0 }
                .check(&ctx.with_per_round(Some(2)))
                .unwrap_err(),
        );
        assert_eq!(
            message,
            "krum needs per-round > 2f + 2: with per-round = 2, no f works (even f = 0 needs per-round ≥ 3), got 0"
        );
        // A huge f saturates instead of overflowing.
        assert!(
            KrumParams { f: usize::MAX }
                .check(&ctx.with_per_round(Some(usize::MAX)))
                .is_err()
        );
    }

    #[test]
    fn multi_krum_checks_f_and_m() {
        let f = facts(None);
        let ctx = BuildContext::new(Path::new("."), &f).with_per_round(Some(5));
        let e = MultiKrumParams { f: 2, m: Some(6) }
            .check(&ctx)
            .unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].key, "f");
        assert_eq!(
            e[0].message,
            "multi-krum needs per-round > 2f + 2: with per-round = 5, f must be at most 1, got 2"
        );
        assert_eq!(e[1].key, "m");
        assert_eq!(e[1].message, "must be at most per-round = 5, got 6");
        let (key, message) = only(
            MultiKrumParams { f: 1, m: Some(0) }
                .check(&ctx)
                .unwrap_err(),
        );
        assert_eq!(key, "m");
        assert_eq!(message, "must be at least 1, got 0");
        assert!(MultiKrumParams { f: 1, m: Some(5) }.check(&ctx).is_ok());
    }

    #[test]
    fn bulyan_f_must_leave_per_round_at_least_4f_plus_3() {
        let f = facts(None);
        let ctx = BuildContext::new(Path::new("."), &f);
        assert!(
            BulyanParams { f: 2 }
                .check(&ctx.with_per_round(Some(11)))
                .is_ok()
        );
        let (key, message) = only(
            BulyanParams { f: 2 }
                .check(&ctx.with_per_round(Some(10)))
                .unwrap_err(),
        );
        assert_eq!(key, "f");
        assert_eq!(
            message,
            "bulyan needs per-round ≥ 4f + 3: with per-round = 10, f must be at most 1, got 2"
        );
        let (_, message) = only(
            BulyanParams { f: 0 }
                .check(&ctx.with_per_round(Some(2)))
                .unwrap_err(),
        );
        assert_eq!(
            message,
            "bulyan needs per-round ≥ 4f + 3: with per-round = 2, no f works (even f = 0 needs per-round ≥ 3), got 0"
        );
    }

    #[test]
    fn norm_clipping_bound_must_be_positive_and_noise_non_negative() {
        let e = NormClippingParams {
            bound: Some(0.0),
            noise: -1.0,
        }
        .check()
        .unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].key.as_str(), e[0].message.as_str()),
            ("bound", "must be a finite number > 0, got 0")
        );
        assert_eq!(
            (e[1].key.as_str(), e[1].message.as_str()),
            ("noise", "must be a finite number ≥ 0, got -1")
        );
        assert!(
            NormClippingParams {
                bound: Some(2.5),
                noise: 0.1
            }
            .check()
            .is_ok()
        );
    }

    #[test]
    fn foolsgold_kappa_must_be_positive() {
        let (key, message) = only(FoolsGoldParams { kappa: 0.0 }.check().unwrap_err());
        assert_eq!(key, "kappa");
        assert_eq!(message, "must be a finite number > 0, got 0");
    }

    #[test]
    fn tolpegin_class_must_exist_and_separation_be_positive() {
        let p = TolpeginPcaParams {
            class: Some(10),
            separation: f64::NAN,
        };
        let e = p.check(&facts(Some(10))).unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].key, "class");
        assert_eq!(
            e[0].message,
            "class 10 is not in the dataset, which has 10 classes (0..=9)"
        );
        assert_eq!(e[1].key, "separation");
        // An unknown class count cannot rule the class out.
        let p = TolpeginPcaParams {
            class: Some(10),
            separation: 4.0,
        };
        assert!(p.check(&facts(None)).is_ok());
    }

    #[test]
    fn tables_use_kebab_case_keys_defaults_and_reject_unknown_keys() {
        assert_eq!(
            toml::from_str::<MultiKrumParams>("m = 3").unwrap(),
            MultiKrumParams { f: 1, m: Some(3) }
        );
        assert_eq!(
            toml::from_str::<KrumParams>("f = 2").unwrap(),
            KrumParams { f: 2 }
        );
        assert_eq!(
            toml::from_str::<TrimmedMeanParams>("beta = 0.2").unwrap(),
            TrimmedMeanParams { beta: 0.2 }
        );
        assert_eq!(
            toml::from_str::<NormClippingParams>("bound = 3.0").unwrap(),
            NormClippingParams {
                bound: Some(3.0),
                noise: 0.0
            }
        );
        assert_eq!(
            toml::from_str::<TolpeginPcaParams>("class = 3").unwrap(),
            TolpeginPcaParams {
                class: Some(3),
                separation: 4.0
            }
        );
        // The old keys and misspellings are rejected, not ignored.
        assert!(toml::from_str::<KrumParams>("byzantine = 2").is_err());
        assert!(toml::from_str::<KrumParams>("m = 2").is_err());
        assert!(toml::from_str::<MultiKrumParams>("select = 2").is_err());
        assert!(toml::from_str::<TrimmedMeanParams>("trim = 0.2").is_err());
        assert!(toml::from_str::<BulyanParams>("byzantine = 1").is_err());
        assert!(toml::from_str::<NormClippingParams>("bounds = 1.0").is_err());
        assert!(toml::from_str::<FoolsGoldParams>("kapa = 1.0").is_err());
        assert!(toml::from_str::<TolpeginPcaParams>("source-class = 1").is_err());
        assert_eq!(toml::from_str::<FedAvgParams>("").unwrap(), FedAvgParams {});
        assert!(toml::from_str::<FedAvgParams>("weighted = true").is_err());
        assert_eq!(toml::from_str::<MedianParams>("").unwrap(), MedianParams {});
        assert!(toml::from_str::<MedianParams>("beta = 0.1").is_err());
        assert_eq!(
            toml::from_str::<FlTrustParams>("").unwrap(),
            FlTrustParams {}
        );
        assert!(toml::from_str::<FlTrustParams>("root = 1").is_err());
    }
}
