use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// How each sample's distance from its class is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Squared Mahalanobis distance to a robust class mean under a shrinkage
    /// covariance (Ledoit–Wolf by default). Sees correlations between features.
    Mahalanobis,
    /// Root-mean-square of per-feature modified z-scores (Iglewicz and Hoaglin
    /// 1993). Ignores correlations; cheap in high dimension.
    Mad,
}

/// Which representation of the training samples is examined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Space {
    /// The model's penultimate-layer activations, `model.embed(train)`.
    Embedding,
    /// The raw features of the training set.
    Input,
}

impl std::fmt::Display for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Space::Embedding => "embedding",
            Space::Input => "input",
        })
    }
}

/// The `[[defense]]` table for `kind = "anomaly"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AnomalyParams {
    /// `"mahalanobis"` or `"mad"`. Default `"mahalanobis"`.
    pub method: Method,
    /// `"embedding"` or `"input"`. Default `"embedding"`.
    pub space: Space,
    /// Robust z-score cut-off, a finite number > 0: a sample is flagged when
    /// its score exceeds it. Default 3.5 (Iglewicz and Hoaglin's cut-off for
    /// modified z-scores).
    pub threshold: f64,
    /// Mahalanobis only: fixed shrinkage intensity in [0, 1] toward the scaled
    /// identity `μ·I` (`μ` = trace / dimension). Absent (the default) uses
    /// Ledoit and Wolf's (2004) estimate of the best intensity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shrinkage: Option<f64>,
    /// Significance level of the label-distribution test against the trusted
    /// set, in (0, 0.5]. Default 0.01.
    pub alpha: f64,
}

impl Default for AnomalyParams {
    fn default() -> Self {
        Self {
            method: Method::Mahalanobis,
            space: Space::Embedding,
            threshold: 3.5,
            shrinkage: None,
            alpha: 0.01,
        }
    }
}

impl AnomalyParams {
    /// Check every value (all of them, whichever method is chosen), reporting
    /// every problem at once.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        checks.positive("threshold", self.threshold);
        if let Some(s) = self.shrinkage
            && !(0.0..=1.0).contains(&s)
        {
            checks.push(ParamError::new(
                "shrinkage",
                format!("must be in [0, 1], got {s}"),
            ));
        }
        checks
            .in_range_left_open("alpha", self.alpha, 0.0, 0.5)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: AnomalyParams) -> Vec<String> {
        p.check().unwrap_err().into_iter().map(|e| e.key).collect()
    }

    #[test]
    fn defaults_pass() {
        assert!(AnomalyParams::default().check().is_ok());
    }

    #[test]
    fn threshold_must_be_positive_and_finite() {
        for bad in [0.0, -3.5, f64::NAN, f64::INFINITY] {
            let p = AnomalyParams {
                threshold: bad,
                ..Default::default()
            };
            assert_eq!(keys(p), ["threshold"]);
        }
    }

    #[test]
    fn shrinkage_must_be_in_the_unit_interval() {
        for bad in [-0.01, 1.01, f64::NAN] {
            let p = AnomalyParams {
                shrinkage: Some(bad),
                ..Default::default()
            };
            assert_eq!(keys(p), ["shrinkage"]);
        }
        for good in [0.0, 0.3, 1.0] {
            let p = AnomalyParams {
                shrinkage: Some(good),
                ..Default::default()
            };
            assert!(p.check().is_ok());
        }
    }

    #[test]
    fn alpha_must_be_in_zero_to_a_half() {
        for bad in [0.0, -0.1, 0.51, f64::NAN] {
            let p = AnomalyParams {
                alpha: bad,
                ..Default::default()
            };
            assert_eq!(keys(p), ["alpha"]);
        }
        let edge = AnomalyParams {
            alpha: 0.5,
            ..Default::default()
        };
        assert!(edge.check().is_ok());
    }

    #[test]
    fn reports_every_bad_value_at_once() {
        let p = AnomalyParams {
            method: Method::Mad,
            space: Space::Input,
            threshold: 0.0,
            shrinkage: Some(2.0),
            alpha: 0.9,
        };
        let errors = p.check().unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["threshold", "shrinkage", "alpha"]);
        assert_eq!(errors[1].message, "must be in [0, 1], got 2");
    }

    #[test]
    fn reads_kebab_case_toml_with_defaults() {
        let p: AnomalyParams = toml::from_str("").unwrap();
        assert_eq!(p, AnomalyParams::default());
        let p: AnomalyParams = toml::from_str(
            "method = \"mad\"\nspace = \"input\"\nthreshold = 5.0\nshrinkage = 0.25\nalpha = 0.05",
        )
        .unwrap();
        assert_eq!(
            p,
            AnomalyParams {
                method: Method::Mad,
                space: Space::Input,
                threshold: 5.0,
                shrinkage: Some(0.25),
                alpha: 0.05,
            }
        );
    }

    #[test]
    fn rejects_unknown_method_and_misspelled_key() {
        let e = toml::from_str::<AnomalyParams>("method = \"lof\"").unwrap_err();
        assert!(e.to_string().contains("lof"), "{e}");
        let e = toml::from_str::<AnomalyParams>("treshold = 3.0").unwrap_err();
        assert!(e.to_string().contains("treshold"), "{e}");
    }

    #[test]
    fn round_trips_through_a_toml_table() {
        for p in [
            AnomalyParams::default(),
            AnomalyParams {
                shrinkage: Some(0.5),
                ..Default::default()
            },
        ] {
            let value = toml::Value::try_from(&p).unwrap();
            assert_eq!(value.try_into::<AnomalyParams>().unwrap(), p);
        }
    }
}
