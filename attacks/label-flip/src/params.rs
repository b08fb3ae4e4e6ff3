use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// How labels are flipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flip {
    /// Relabel `source`-class samples as `target`.
    Targeted,
    /// Relabel any sample as a uniformly drawn other class.
    Random,
}

/// The `[attack]` table for `kind = "label-flip"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LabelFlipParams {
    /// `targeted` (default) or `random`.
    #[serde(default = "default_flip")]
    pub flip: Flip,
    /// Class whose samples are relabelled (targeted only; required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<usize>,
    /// Class they are relabelled as (targeted only; required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<usize>,
    /// Fraction of eligible samples flipped (source-class samples when
    /// targeted, all samples when random), in [0, 1]. Default 0.1.
    #[serde(default = "default_rate")]
    pub rate: f64,
}

fn default_flip() -> Flip {
    Flip::Targeted
}

fn default_rate() -> f64 {
    0.1
}

impl LabelFlipParams {
    /// Check every value against a dataset of `n_classes` classes (when known).
    pub fn check(&self, n_classes: Option<usize>) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if !(0.0..=1.0).contains(&self.rate) {
            checks.push(ParamError::new(
                "rate",
                format!("must be in [0, 1], got {}", self.rate),
            ));
        }
        match self.flip {
            Flip::Targeted => {
                for (key, class) in [("source", self.source), ("target", self.target)] {
                    match class {
                        None => {
                            checks
                                .push(ParamError::new(key, "is required for flip = \"targeted\""));
                        }
                        Some(c) => {
                            if let Some(e) = ParamError::class_out_of_range(key, c, n_classes) {
                                checks.push(e);
                            }
                        }
                    }
                }
                if self.source.is_some() && self.source == self.target {
                    checks.push(ParamError::new("target", "must differ from source"));
                }
            }
            Flip::Random => {
                for (key, class) in [("source", self.source), ("target", self.target)] {
                    if class.is_some() {
                        checks.push(ParamError::new(
                            key,
                            "applies to flip = \"targeted\" only; random flipping draws the new class",
                        ));
                    }
                }
            }
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targeted(source: usize, target: usize, rate: f64) -> LabelFlipParams {
        LabelFlipParams {
            flip: Flip::Targeted,
            source: Some(source),
            target: Some(target),
            rate,
        }
    }

    fn keys(p: &LabelFlipParams, k: usize) -> Vec<String> {
        p.check(Some(k))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    #[test]
    fn valid_parameters_pass() {
        assert!(keys(&targeted(1, 7, 0.1), 10).is_empty());
        assert!(keys(&targeted(1, 7, 0.0), 10).is_empty());
        assert!(keys(&targeted(1, 7, 1.0), 10).is_empty());
    }

    #[test]
    fn rate_must_be_a_fraction() {
        for rate in [1.5, -0.1, f64::NAN] {
            assert_eq!(keys(&targeted(1, 7, rate), 10), ["rate"]);
        }
        let e = targeted(1, 7, 1.5).check(None).unwrap_err();
        assert_eq!(e[0].message, "must be in [0, 1], got 1.5");
    }

    #[test]
    fn classes_must_be_in_the_data() {
        assert_eq!(keys(&targeted(1, 12, 0.1), 10), ["target"]);
        assert_eq!(keys(&targeted(10, 1, 0.1), 10), ["source"]);
        // Without a known class count, only the structural rules apply.
        assert!(targeted(1, 12, 0.1).check(None).is_ok());
    }

    #[test]
    fn target_must_differ_from_source() {
        assert_eq!(keys(&targeted(3, 3, 0.1), 10), ["target"]);
    }

    #[test]
    fn targeted_requires_source_and_target() {
        let missing = LabelFlipParams {
            source: None,
            ..targeted(1, 2, 0.1)
        };
        assert_eq!(keys(&missing, 10), ["source"]);
        let neither = LabelFlipParams {
            target: None,
            ..missing
        };
        assert_eq!(keys(&neither, 10), ["source", "target"]);
    }

    #[test]
    fn random_refuses_source_and_target() {
        let random = LabelFlipParams {
            flip: Flip::Random,
            ..targeted(1, 2, 0.1)
        };
        assert_eq!(keys(&random, 10), ["source", "target"]);
    }
}
