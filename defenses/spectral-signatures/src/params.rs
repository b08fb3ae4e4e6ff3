use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// How the spectral-signatures defense turns scores into flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpectralRule {
    /// The paper's rule: in every class flag the
    /// `round(eps-multiplier · expected-rate · n_class)` highest scores.
    Paper,
    /// Split each class's projections in two (exact 1-D 2-means); where the
    /// smaller side is assembled from many classes (neighbour
    /// reclassification, see the crate documentation), flag the class's
    /// samples that their neighbours call another label. Needs no poison rate
    /// and leaves classes without such a group alone.
    Split,
}

/// What a sample's score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpectralScore {
    /// The paper's: the squared projection on the top direction. Cannot tell
    /// the two groups apart when the poison is near half of its class.
    Squared,
    /// The projection measured from the larger side's mean towards the smaller
    /// side (see the crate documentation).
    Oriented,
}

/// The `[[defense]]` table for `kind = "spectral-signatures"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SpectralSignaturesParams {
    /// `"split"` (default) or `"paper"`; see [`SpectralRule`].
    pub rule: SpectralRule,
    /// `"oriented"` (default) or `"squared"` (the paper's); see [`SpectralScore`].
    pub score: SpectralScore,
    /// Whiten each class against the other classes before finding its top
    /// direction (default true); false is the paper's plain centring.
    pub whiten: bool,
    /// Relative diagonal load of the whitening covariance, ≥ 0. Default 0.01.
    pub ridge: f64,
    /// Paper rule: multiple of `expected-rate` removed from each class, > 0.
    /// Default 1.5 (Tran et al. remove 1.5ε).
    pub eps_multiplier: f64,
    /// Paper rule: the expected poison fraction ε, in (0, 0.5]. Default 0.05.
    pub expected_rate: f64,
    /// Split rule: refine each direction towards the mean difference of the
    /// two sides it splits the class into (see `refine`). Default true.
    pub refine: bool,
    /// Split rule: how many top singular directions are tried, at least 1;
    /// the one whose smaller side is most scattered in origin is used.
    /// Default 3.
    pub directions: usize,
    /// Split rule: neighbours that vote when reclassifying, at least 1.
    /// Default 10.
    pub k: usize,
    /// Split rule: the smaller side is poison when less than this share of
    /// it is called its own label or its most common other label, in (0, 1].
    /// Default 0.35.
    pub explained_threshold: f64,
    /// Split rule, single-source evidence: a side is also poison when the
    /// share of it called its own label is below this times the share of
    /// the rest of its class called so, judged across classes most
    /// suspicious first with accepted sides left out of the neighbours
    /// ([`poisonlab_core::reclassify::resolve_single_source`]); in [0, 1],
    /// 0 turns it off. Default 0.1.
    pub single_source_threshold: f64,
    /// Split rule: most samples that serve as neighbours (every n-th beyond
    /// this), at least 1. Default 5000.
    pub max_reference: usize,
}

impl Default for SpectralSignaturesParams {
    fn default() -> Self {
        Self {
            rule: SpectralRule::Split,
            score: SpectralScore::Oriented,
            whiten: true,
            ridge: 0.01,
            eps_multiplier: 1.5,
            expected_rate: 0.05,
            refine: true,
            directions: 3,
            k: 10,
            explained_threshold: 0.35,
            single_source_threshold: 0.1,
            max_reference: 5000,
        }
    }
}

impl SpectralSignaturesParams {
    /// Check every value (all of them, whichever rule is chosen).
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        ParamChecks::new()
            .positive("eps-multiplier", self.eps_multiplier)
            .in_range_left_open("expected-rate", self.expected_rate, 0.0, 0.5)
            .at_least("directions", self.directions, 1)
            .at_least("k", self.k, 1)
            .in_range_left_open("explained-threshold", self.explained_threshold, 0.0, 1.0)
            .in_unit_interval("single-source-threshold", self.single_source_threshold)
            .at_least("max-reference", self.max_reference, 1)
            .non_negative("ridge", self.ridge)
            .finish()
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
    fn explained_threshold_must_be_a_share() {
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            let p = SpectralSignaturesParams {
                explained_threshold: bad,
                ..Default::default()
            };
            assert_eq!(keys(p), ["explained-threshold"]);
        }
    }

    #[test]
    fn directions_must_be_at_least_one() {
        let p = SpectralSignaturesParams {
            directions: 0,
            ..Default::default()
        };
        assert_eq!(keys(p), ["directions"]);
    }

    #[test]
    fn k_must_be_at_least_one() {
        let p = SpectralSignaturesParams {
            k: 0,
            ..Default::default()
        };
        assert_eq!(keys(p), ["k"]);
    }

    #[test]
    fn single_source_threshold_must_be_a_share() {
        for bad in [-0.1, 1.5, f64::NAN] {
            let p = SpectralSignaturesParams {
                single_source_threshold: bad,
                ..Default::default()
            };
            assert_eq!(
                p.check().unwrap_err()[0].key,
                "single-source-threshold",
                "{bad}"
            );
        }
    }

    #[test]
    fn max_reference_must_be_at_least_one() {
        let p = SpectralSignaturesParams {
            max_reference: 0,
            ..Default::default()
        };
        assert_eq!(keys(p), ["max-reference"]);
    }

    #[test]
    fn ridge_must_be_non_negative() {
        for bad in [-0.1, f64::NAN, f64::INFINITY] {
            let p = SpectralSignaturesParams {
                ridge: bad,
                ..Default::default()
            };
            assert_eq!(keys(p), ["ridge"], "{bad}");
        }
        let p = SpectralSignaturesParams {
            ridge: 0.0,
            ..Default::default()
        };
        assert!(p.check().is_ok());
    }

    #[test]
    fn reports_every_bad_value_at_once() {
        let p = SpectralSignaturesParams {
            rule: SpectralRule::Paper,
            eps_multiplier: 0.0,
            expected_rate: 1.0,
            k: 0,
            ridge: -0.5,
            ..Default::default()
        };
        assert_eq!(keys(p), ["eps-multiplier", "expected-rate", "k", "ridge"]);
    }

    #[test]
    fn reads_kebab_case_toml_with_defaults() {
        let p: SpectralSignaturesParams =
            toml::from_str("rule = \"paper\"\neps-multiplier = 1.0\nexpected-rate = 0.1").unwrap();
        assert_eq!(p.rule, SpectralRule::Paper);
        assert_eq!(p.eps_multiplier, 1.0);
        assert_eq!(p.expected_rate, 0.1);
        assert_eq!(p.explained_threshold, 0.35);
        assert!(p.whiten);
        let p: SpectralSignaturesParams =
            toml::from_str("rule = \"split\"\nscore = \"squared\"\nwhiten = false").unwrap();
        assert_eq!(p.rule, SpectralRule::Split);
        assert_eq!(p.score, SpectralScore::Squared);
        assert!(!p.whiten);
    }

    #[test]
    fn rejects_unknown_rule_and_misspelled_key() {
        let e = toml::from_str::<SpectralSignaturesParams>("rule = \"top-k\"").unwrap_err();
        assert!(e.to_string().contains("top-k"), "{e}");
        let e = toml::from_str::<SpectralSignaturesParams>("expected_rate = 0.1").unwrap_err();
        assert!(e.to_string().contains("expected_rate"), "{e}");
    }
}
