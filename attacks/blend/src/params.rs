use std::path::PathBuf;

use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// How poisoned samples enter the training set (`mode`): poisonlab-core's shared rule.
pub use poisonlab_core::Injection as Mode;

/// The key pattern blended into the inputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// Uniform [0, 1) noise of the sample's shape, drawn once per poisoning
    /// from the attack's random stream (before anything else), so training
    /// poisons and test inputs share it. Works on tabular data too.
    #[default]
    Noise,
    /// The PNG file `path`, which must be exactly the images' height × width:
    /// a grey PNG is repeated over every channel; a colour PNG gives the three
    /// channels of RGB data, or its luminance for one-channel data.
    Image,
}

/// The `[attack]` table for `kind = "blend"` (the runner removes `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct BlendParams {
    /// The class every blended sample is relabelled as. Default 0.
    pub target: usize,
    /// Fraction of non-target training samples poisoned, in [0, 1]. Default 0.02.
    pub rate: f64,
    /// Blend weight of the pattern on training poisons, in [0, 1]:
    /// `x' = (1 − alpha)·x + alpha·pattern`. Default 0.2.
    pub alpha: f64,
    /// Blend weight on the test inputs that measure the attack, in [0, 1].
    /// Default: `alpha`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_alpha: Option<f64>,
    /// `noise` (default) or `image`; see [`Pattern`].
    pub pattern: Pattern,
    /// PNG file for `pattern = "image"` (required there, refused otherwise),
    /// relative to the scenario file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `replace` (default) or `add`; see [`Mode`].
    pub mode: Mode,
}

impl Default for BlendParams {
    fn default() -> Self {
        Self {
            target: 0,
            rate: 0.02,
            alpha: 0.2,
            test_alpha: None,
            pattern: Pattern::Noise,
            path: None,
            mode: Mode::Replace,
        }
    }
}

impl BlendParams {
    /// The blend weight used on test inputs: `test-alpha`, else `alpha`.
    pub fn test_alpha(&self) -> f64 {
        self.test_alpha.unwrap_or(self.alpha)
    }

    /// Check every value against samples of `shape` and a dataset of
    /// `n_classes` classes (each when known).
    ///
    /// Whether an image pattern's size matches the images is checked by
    /// [`crate::Blend::check`] once the file is loaded.
    pub fn check(
        &self,
        shape: Option<&[usize]>,
        n_classes: Option<usize>,
    ) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        let fractions = [
            ("rate", Some(self.rate)),
            ("alpha", Some(self.alpha)),
            ("test-alpha", self.test_alpha),
        ];
        for (key, value) in fractions {
            if let Some(v) = value
                && !(0.0..=1.0).contains(&v)
            {
                checks.push(ParamError::new(key, format!("must be in [0, 1], got {v}")));
            }
        }
        if let Some(e) = ParamError::class_out_of_range("target", self.target, n_classes) {
            checks.push(e);
        }
        match (self.pattern, &self.path) {
            (Pattern::Image, None) => {
                checks.push(ParamError::new(
                    "path",
                    "is required for pattern = \"image\": the PNG blended into the images",
                ));
            }
            (Pattern::Noise, Some(_)) => {
                checks.push(ParamError::new(
                    "path",
                    "applies to pattern = \"image\" only",
                ));
            }
            _ => {}
        }
        if let (Pattern::Image, Some(s)) = (self.pattern, shape)
            && s.len() != 3
        {
            checks.push(ParamError::new(
                "pattern",
                format!(
                    "an image pattern needs image data [c,h,w]; this data is tabular \
                     (shape {s:?}); use pattern = \"noise\""
                ),
            ));
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &[usize] = &[3, 8, 8];

    fn keys(p: &BlendParams, shape: Option<&[usize]>, k: Option<usize>) -> Vec<String> {
        p.check(shape, k)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    #[test]
    fn defaults_pass_on_images_and_tables() {
        let p = BlendParams::default();
        assert!(p.check(Some(IMAGE), Some(10)).is_ok());
        assert!(p.check(Some(&[5]), Some(2)).is_ok());
        assert!(p.check(None, None).is_ok());
        assert_eq!(p.test_alpha(), 0.2);
    }

    #[test]
    fn rate_must_be_a_fraction() {
        for rate in [-0.01, 1.01, f64::NAN] {
            let p = BlendParams {
                rate,
                ..BlendParams::default()
            };
            assert_eq!(keys(&p, Some(IMAGE), Some(10)), ["rate"]);
        }
    }

    #[test]
    fn alpha_must_be_a_fraction() {
        for alpha in [-0.2, 1.2] {
            let p = BlendParams {
                alpha,
                ..BlendParams::default()
            };
            assert_eq!(keys(&p, Some(IMAGE), Some(10)), ["alpha"]);
        }
    }

    #[test]
    fn test_alpha_must_be_a_fraction() {
        let p = BlendParams {
            test_alpha: Some(2.0),
            ..BlendParams::default()
        };
        assert_eq!(keys(&p, Some(IMAGE), Some(10)), ["test-alpha"]);
        let ok = BlendParams {
            test_alpha: Some(1.0),
            ..BlendParams::default()
        };
        assert_eq!(ok.test_alpha(), 1.0);
        assert!(ok.check(Some(IMAGE), Some(10)).is_ok());
    }

    #[test]
    fn target_must_be_a_class() {
        let p = BlendParams {
            target: 10,
            ..BlendParams::default()
        };
        let errs = p.check(Some(IMAGE), Some(10)).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "target");
        assert!(
            errs[0].message.contains("10 classes"),
            "{}",
            errs[0].message
        );
        assert!(p.check(Some(IMAGE), None).is_ok());
    }

    #[test]
    fn image_pattern_requires_path() {
        let p = BlendParams {
            pattern: Pattern::Image,
            ..BlendParams::default()
        };
        assert_eq!(keys(&p, Some(IMAGE), Some(10)), ["path"]);
    }

    #[test]
    fn noise_pattern_refuses_path() {
        let p = BlendParams {
            path: Some("kitty.png".into()),
            ..BlendParams::default()
        };
        assert_eq!(keys(&p, Some(IMAGE), Some(10)), ["path"]);
    }

    #[test]
    fn image_pattern_needs_image_data() {
        let p = BlendParams {
            pattern: Pattern::Image,
            path: Some("kitty.png".into()),
            ..BlendParams::default()
        };
        let errs = p.check(Some(&[12]), Some(2)).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "pattern");
        assert!(errs[0].message.contains("tabular"), "{}", errs[0].message);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = BlendParams {
            rate: 3.0,
            alpha: -1.0,
            test_alpha: Some(9.0),
            target: 4,
            pattern: Pattern::Image,
            ..BlendParams::default()
        };
        assert_eq!(
            keys(&p, Some(&[7]), Some(2)),
            ["rate", "alpha", "test-alpha", "target", "path", "pattern"]
        );
    }

    #[test]
    fn reads_from_toml_with_defaults() {
        let p: BlendParams =
            toml::from_str("target = 1\nalpha = 0.1\ntest-alpha = 0.3\nmode = \"add\"").unwrap();
        assert_eq!(p.target, 1);
        assert_eq!(p.alpha, 0.1);
        assert_eq!(p.test_alpha, Some(0.3));
        assert_eq!(p.mode, Mode::Add);
        assert_eq!(p.rate, 0.02);
        assert_eq!(p.pattern, Pattern::Noise);
        let img: BlendParams = toml::from_str("pattern = \"image\"\npath = \"k.png\"").unwrap();
        assert_eq!(img.path.as_deref(), Some(std::path::Path::new("k.png")));
        assert_eq!(
            toml::from_str::<BlendParams>("").unwrap(),
            BlendParams::default()
        );
    }

    #[test]
    fn misspelled_keys_are_rejected() {
        let err = toml::from_str::<BlendParams>("alhpa = 0.1").unwrap_err();
        assert!(err.to_string().contains("unknown field `alhpa`"), "{err}");
        let err = toml::from_str::<BlendParams>("test_alpha = 0.1").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `test_alpha`"),
            "{err}"
        );
    }

    #[test]
    fn resolved_params_round_trip() {
        let p = BlendParams {
            test_alpha: Some(0.5),
            pattern: Pattern::Image,
            path: Some("a/b.png".into()),
            ..BlendParams::default()
        };
        let text = toml::to_string(&p).unwrap();
        assert_eq!(toml::from_str::<BlendParams>(&text).unwrap(), p);
    }
}
