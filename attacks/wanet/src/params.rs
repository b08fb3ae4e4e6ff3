use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// How poisoned samples enter the training set (`mode`): poisonlab-core's shared rule.
pub use poisonlab_core::Injection as Mode;

/// The `[attack]` table for `kind = "wanet"` (the runner removes `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct WanetParams {
    /// The class every warped backdoor sample is relabelled as. Default 0.
    pub target: usize,
    /// Fraction of the non-target training samples warped and relabelled
    /// (the paper's ρ_a), in [0, 1]. Default 0.1.
    pub rate: f64,
    /// Noise mode: further samples warped with a noisy grid, labels kept,
    /// as a multiple of the backdoor samples (the paper's ρ_n / ρ_a), ≥ 0;
    /// 0 turns noise mode off. Default 2.
    pub cross_ratio: f64,
    /// Side `k` of the random control grid, ≥ 2. Default 4 (the paper's).
    pub grid: usize,
    /// Warping strength `s`, > 0. Default 0.5 (the paper's).
    pub strength: f64,
    /// `replace` (default) or `add`, for the backdoor samples; noise-mode
    /// samples always replace theirs.
    pub mode: Mode,
}

impl Default for WanetParams {
    fn default() -> Self {
        Self {
            target: 0,
            rate: 0.1,
            cross_ratio: 2.0,
            grid: 4,
            strength: 0.5,
            mode: Mode::Replace,
        }
    }
}

impl WanetParams {
    /// Check every value against samples of `shape` and `n_classes` classes
    /// (each when known).
    pub fn check(
        &self,
        shape: Option<&[usize]>,
        n_classes: Option<usize>,
    ) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if !(0.0..=1.0).contains(&self.rate) {
            checks.push(ParamError::new(
                "rate",
                format!("must be in [0, 1], got {}", self.rate),
            ));
        }
        checks
            .non_negative("cross-ratio", self.cross_ratio)
            .at_least("grid", self.grid, 2)
            .positive("strength", self.strength);
        if let Some(e) = ParamError::class_out_of_range("target", self.target, n_classes) {
            checks.push(e);
        }
        match shape {
            Some(s) if s.len() != 3 => {
                checks.push(ParamError::new(
                    "kind",
                    format!("wanet needs image data [c,h,w]; this data is tabular (shape {s:?})"),
                ));
            }
            Some(s) if s[1] < 2 || s[2] < 2 => {
                checks.push(ParamError::new(
                    "kind",
                    format!(
                        "wanet needs images of at least 2×2 pixels; these are {}×{}",
                        s[1], s[2]
                    ),
                ));
            }
            _ => {}
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: &WanetParams) -> Vec<String> {
        p.check(Some(&[1, 8, 8]), Some(10))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    #[test]
    fn each_rule_names_its_key() {
        let d = WanetParams::default;
        assert!(keys(&d()).is_empty());
        assert_eq!(keys(&WanetParams { rate: -0.1, ..d() }), ["rate"]);
        assert_eq!(
            keys(&WanetParams {
                cross_ratio: -1.0,
                ..d()
            }),
            ["cross-ratio"]
        );
        assert_eq!(keys(&WanetParams { grid: 1, ..d() }), ["grid"]);
        assert_eq!(
            keys(&WanetParams {
                strength: 0.0,
                ..d()
            }),
            ["strength"]
        );
        assert_eq!(keys(&WanetParams { target: 10, ..d() }), ["target"]);
        assert_eq!(d().check(Some(&[5]), None).unwrap_err()[0].key, "kind");
        assert_eq!(
            d().check(Some(&[1, 1, 8]), None).unwrap_err()[0].key,
            "kind"
        );
    }

    #[test]
    fn reads_and_rejects_misspellings() {
        let p: WanetParams = toml::from_str("cross-ratio = 0\ngrid = 8").unwrap();
        assert_eq!((p.cross_ratio, p.grid), (0.0, 8));
        let err = toml::from_str::<WanetParams>("strenght = 1").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `strenght`"),
            "{err}"
        );
    }
}
