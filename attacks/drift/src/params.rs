use poisonlab_core::ParamError;
use serde::{Deserialize, Serialize};

/// How the poison budget grows over the rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// rate(r) = max-rate · r / rounds.
    #[default]
    Linear,
    /// rate(r) = 0 before round `step-at`, max-rate from it on.
    Step,
    /// rate(r) = max-rate · 2^(r − rounds): doubling every round.
    Exponential,
}

/// What a poison does to a source-class sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Relabel it as the target class.
    #[default]
    Relabel,
    /// Move its features a fraction rate(r) of the way to the target-class mean, and relabel it.
    Shift,
}

/// The `[attack]` table for `kind = "drift"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DriftParams {
    /// Rounds the training data arrives in (the training set is split evenly). Default 5.
    pub rounds: usize,
    /// The concept that drifts (class A). Default 7.
    pub source: usize,
    /// Where it drifts to (class B). Default 1.
    pub target: usize,
    /// Share of a round's source-class samples poisoned in the last round, in (0, 1]. Default 0.5.
    pub max_rate: f64,
    /// `linear` (default), `step` or `exponential`.
    pub schedule: Schedule,
    /// First poisoned round of the `step` schedule. Default: the middle round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_at: Option<usize>,
    /// `relabel` (default) or `shift`.
    pub method: Method,
    /// Epochs of (warm-started) training per round. Default 2.
    pub epochs_per_round: usize,
}

impl Default for DriftParams {
    fn default() -> Self {
        Self {
            rounds: 5,
            source: 7,
            target: 1,
            max_rate: 0.5,
            schedule: Schedule::Linear,
            step_at: None,
            method: Method::Relabel,
            epochs_per_round: 2,
        }
    }
}

impl DriftParams {
    /// Check every value against a dataset of `n_classes` classes (when known).
    pub fn check(&self, n_classes: Option<usize>) -> Result<(), Vec<ParamError>> {
        let mut p = Vec::new();
        if self.rounds < 2 {
            p.push(ParamError::new(
                "rounds",
                format!("must be at least 2, got {}", self.rounds),
            ));
        }
        for (key, c) in [("source", self.source), ("target", self.target)] {
            p.extend(ParamError::class_out_of_range(key, c, n_classes));
        }
        if self.source == self.target {
            p.push(ParamError::new("target", "must differ from source"));
        }
        if !(self.max_rate > 0.0 && self.max_rate <= 1.0) {
            p.push(ParamError::new(
                "max-rate",
                format!("must be in (0, 1], got {}", self.max_rate),
            ));
        }
        match (self.schedule, self.step_at) {
            (Schedule::Step, Some(s)) if s == 0 || s > self.rounds => {
                p.push(ParamError::new(
                    "step-at",
                    format!("must be a round in 1..={}, got {s}", self.rounds),
                ));
            }
            (Schedule::Linear | Schedule::Exponential, Some(_)) => {
                p.push(ParamError::new(
                    "step-at",
                    "applies to schedule = \"step\" only",
                ));
            }
            _ => {}
        }
        if self.epochs_per_round == 0 {
            p.push(ParamError::new(
                "epochs-per-round",
                "must be at least 1, got 0",
            ));
        }
        if p.is_empty() { Ok(()) } else { Err(p) }
    }

    /// The share of round `round`'s (1-based) source-class samples poisoned.
    pub fn rate(&self, round: usize) -> f64 {
        let (r, n) = (round as f64, self.rounds as f64);
        match self.schedule {
            Schedule::Linear => self.max_rate * r / n,
            Schedule::Step => {
                let at = self.step_at.unwrap_or(self.rounds.div_ceil(2));
                if round >= at { self.max_rate } else { 0.0 }
            }
            Schedule::Exponential => self.max_rate * 2f64.powf(r - n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: DriftParams) -> Vec<String> {
        p.check(Some(10))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    #[test]
    fn each_rule_names_its_key() {
        let d = DriftParams::default();
        assert!(keys(d.clone()).is_empty());
        assert_eq!(
            keys(DriftParams {
                rounds: 1,
                ..d.clone()
            }),
            ["rounds"]
        );
        assert_eq!(
            keys(DriftParams {
                source: 12,
                ..d.clone()
            }),
            ["source"]
        );
        assert_eq!(
            keys(DriftParams {
                target: 7,
                ..d.clone()
            }),
            ["target"]
        );
        assert_eq!(
            keys(DriftParams {
                max_rate: 0.0,
                ..d.clone()
            }),
            ["max-rate"]
        );
        assert_eq!(
            keys(DriftParams {
                step_at: Some(2),
                ..d.clone()
            }),
            ["step-at"]
        );
        assert_eq!(
            keys(DriftParams {
                schedule: Schedule::Step,
                step_at: Some(6),
                ..d.clone()
            }),
            ["step-at"]
        );
        assert_eq!(
            keys(DriftParams {
                epochs_per_round: 0,
                ..d
            }),
            ["epochs-per-round"]
        );
    }

    #[test]
    fn schedules_golden() {
        let lin = DriftParams {
            rounds: 4,
            max_rate: 0.4,
            ..DriftParams::default()
        };
        let rates: Vec<f64> = (1..=4).map(|r| lin.rate(r)).collect();
        assert_eq!(rates, [0.1, 0.2, 0.30000000000000004, 0.4]);
        let step = DriftParams {
            schedule: Schedule::Step,
            step_at: Some(3),
            ..lin.clone()
        };
        assert_eq!(
            (1..=4).map(|r| step.rate(r)).collect::<Vec<_>>(),
            [0.0, 0.0, 0.4, 0.4]
        );
        let exp = DriftParams {
            schedule: Schedule::Exponential,
            ..lin
        };
        assert_eq!(
            (1..=4).map(|r| exp.rate(r)).collect::<Vec<_>>(),
            [0.05, 0.1, 0.2, 0.4]
        );
    }
}
