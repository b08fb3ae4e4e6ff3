use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The backdoor signal's waveform along each image row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    /// `v(i, j) = Δ·sin(2π·j·f / m)`: the paper's sinusoidal signal.
    #[default]
    Sine,
    /// `v(i, j) = Δ·j / m`: the paper's ramp signal.
    Ramp,
}

/// The `[attack]` table for `kind = "sig"` (the runner removes `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SigParams {
    /// The class whose samples carry the signal (labels unchanged) and that
    /// signalled inputs should be taken for. Default 0.
    pub target: usize,
    /// Fraction of the target class's training samples that get the signal,
    /// in [0, 1]. Default 0.5.
    pub rate: f64,
    /// `sine` (default) or `ramp`; see [`Signal`].
    pub signal: Signal,
    /// Amplitude Δ on training poisons, in (0, 1]. Default 0.2.
    pub delta: f64,
    /// Amplitude on the test inputs that measure the attack, in (0, 1].
    /// Default: `delta`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_delta: Option<f64>,
    /// Periods of the sine across the image width (sine only), > 0. Default 6.
    pub frequency: f64,
}

impl Default for SigParams {
    fn default() -> Self {
        Self {
            target: 0,
            rate: 0.5,
            signal: Signal::Sine,
            delta: 0.2,
            test_delta: None,
            frequency: 6.0,
        }
    }
}

impl SigParams {
    /// The amplitude on test inputs: `test-delta`, else `delta`.
    pub fn test_delta(&self) -> f64 {
        self.test_delta.unwrap_or(self.delta)
    }

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
        checks.in_range_left_open("delta", self.delta, 0.0, 1.0);
        if let Some(d) = self.test_delta {
            checks.in_range_left_open("test-delta", d, 0.0, 1.0);
        }
        checks.positive("frequency", self.frequency);
        if let Some(e) = ParamError::class_out_of_range("target", self.target, n_classes) {
            checks.push(e);
        }
        if let Some(s) = shape
            && s.len() != 3
        {
            checks.push(ParamError::new(
                "kind",
                format!("sig needs image data [c,h,w]; this data is tabular (shape {s:?})"),
            ));
        }
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: &SigParams) -> Vec<String> {
        p.check(Some(&[1, 8, 8]), Some(10))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    #[test]
    fn defaults_pass() {
        assert!(keys(&SigParams::default()).is_empty());
    }

    #[test]
    fn each_rule_names_its_key() {
        let d = SigParams::default;
        assert_eq!(keys(&SigParams { rate: 1.5, ..d() }), ["rate"]);
        assert_eq!(keys(&SigParams { delta: 0.0, ..d() }), ["delta"]);
        assert_eq!(
            keys(&SigParams {
                test_delta: Some(2.0),
                ..d()
            }),
            ["test-delta"]
        );
        assert_eq!(
            keys(&SigParams {
                frequency: 0.0,
                ..d()
            }),
            ["frequency"]
        );
        assert_eq!(keys(&SigParams { target: 10, ..d() }), ["target"]);
        let errs = d().check(Some(&[20]), Some(10)).unwrap_err();
        assert_eq!(errs[0].key, "kind");
    }

    #[test]
    fn reads_and_rejects_misspellings() {
        let p: SigParams =
            toml::from_str("signal = \"ramp\"\ndelta = 0.1\ntest-delta = 0.3").unwrap();
        assert_eq!(p.signal, Signal::Ramp);
        assert_eq!(p.test_delta(), 0.3);
        let err = toml::from_str::<SigParams>("delt = 0.1").unwrap_err();
        assert!(err.to_string().contains("unknown field `delt`"), "{err}");
    }
}
