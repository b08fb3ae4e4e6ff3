use poisonlab_core::{ParamChecks, ParamError};
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
///
/// The rounds themselves (how many, epochs per round) belong to the
/// scenario's `[training]` table (`regime = "rounds"`): the schedule spreads
/// over however many rounds the run trains in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DriftParams {
    /// The concept that drifts (class A). Default 7.
    pub source: usize,
    /// Where it drifts to (class B). Default 1.
    pub target: usize,
    /// Share of a round's source-class samples poisoned in the last round, in (0, 1]. Default 0.5.
    pub max_rate: f64,
    /// `linear` (default), `step` or `exponential`.
    pub schedule: Schedule,
    /// First poisoned round of the `step` schedule, at least 1 and at most
    /// the run's rounds. Default: the middle round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_at: Option<usize>,
    /// `relabel` (default) or `shift`.
    pub method: Method,
}

impl Default for DriftParams {
    fn default() -> Self {
        Self {
            source: 7,
            target: 1,
            max_rate: 0.5,
            schedule: Schedule::Linear,
            step_at: None,
            method: Method::Relabel,
        }
    }
}

impl DriftParams {
    /// Check every value against a dataset of `n_classes` classes (when known).
    ///
    /// Whether `step-at` falls within the run's rounds is checked by
    /// [`Self::check_rounds`] once the round count is known.
    pub fn check(&self, n_classes: Option<usize>) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        for (key, c) in [("source", self.source), ("target", self.target)] {
            if let Some(e) = ParamError::class_out_of_range(key, c, n_classes) {
                checks.push(e);
            }
        }
        if self.source == self.target {
            checks.push(ParamError::new("target", "must differ from source"));
        }
        checks.in_range_left_open("max-rate", self.max_rate, 0.0, 1.0);
        match (self.schedule, self.step_at) {
            (Schedule::Step, Some(s)) => {
                checks.at_least("step-at", s, 1);
            }
            (Schedule::Linear | Schedule::Exponential, Some(_)) => {
                checks.push(ParamError::new(
                    "step-at",
                    "applies to schedule = \"step\" only",
                ));
            }
            _ => {}
        }
        checks.finish()
    }

    /// Check the parameters against a run of `rounds` training rounds:
    /// `step-at` must be one of them.
    pub fn check_rounds(&self, rounds: usize) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        if let (Schedule::Step, Some(s)) = (self.schedule, self.step_at)
            && (s == 0 || s > rounds)
        {
            checks.push(ParamError::new(
                "step-at",
                format!("must be a round in 1..={rounds}, got {s}"),
            ));
        }
        checks.finish()
    }

    /// The share of round `round`'s (1-based) source-class samples poisoned
    /// in a run of `rounds` rounds.
    pub fn rate(&self, round: usize, rounds: usize) -> f64 {
        let (r, n) = (round as f64, rounds as f64);
        match self.schedule {
            Schedule::Linear => self.max_rate * r / n,
            Schedule::Step => {
                let at = self.step_at.unwrap_or(rounds.div_ceil(2));
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

    fn d() -> DriftParams {
        DriftParams::default()
    }

    #[test]
    fn defaults_pass() {
        assert!(keys(d()).is_empty());
        assert!(d().check(None).is_ok());
        assert!(d().check_rounds(2).is_ok());
    }

    #[test]
    fn classes_must_be_in_the_data() {
        assert_eq!(keys(DriftParams { source: 12, ..d() }), ["source"]);
        assert_eq!(keys(DriftParams { target: 10, ..d() }), ["target"]);
        assert!(DriftParams { source: 12, ..d() }.check(None).is_ok());
    }

    #[test]
    fn target_must_differ_from_source() {
        assert_eq!(keys(DriftParams { target: 7, ..d() }), ["target"]);
    }

    #[test]
    fn max_rate_must_be_in_zero_one() {
        for max_rate in [0.0, -0.5, 1.5, f64::NAN] {
            assert_eq!(keys(DriftParams { max_rate, ..d() }), ["max-rate"]);
        }
        assert!(
            keys(DriftParams {
                max_rate: 1.0,
                ..d()
            })
            .is_empty()
        );
        let e = DriftParams {
            max_rate: 0.0,
            ..d()
        }
        .check(None)
        .unwrap_err();
        assert_eq!(e[0].message, "must be in (0, 1], got 0");
    }

    #[test]
    fn step_at_applies_to_the_step_schedule_only() {
        assert_eq!(
            keys(DriftParams {
                step_at: Some(2),
                ..d()
            }),
            ["step-at"]
        );
        let exp = DriftParams {
            schedule: Schedule::Exponential,
            step_at: Some(2),
            ..d()
        };
        assert_eq!(keys(exp), ["step-at"]);
    }

    #[test]
    fn step_at_must_be_at_least_one() {
        let p = DriftParams {
            schedule: Schedule::Step,
            step_at: Some(0),
            ..d()
        };
        assert_eq!(keys(p.clone()), ["step-at"]);
        assert_eq!(
            p.check(None).unwrap_err()[0].message,
            "must be at least 1, got 0"
        );
    }

    #[test]
    fn step_at_must_be_one_of_the_rounds() {
        let p = DriftParams {
            schedule: Schedule::Step,
            step_at: Some(6),
            ..d()
        };
        // Without the round count, any round from 1 on may exist.
        assert!(keys(p.clone()).is_empty());
        assert!(p.check_rounds(6).is_ok());
        let e = p.check_rounds(5).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].key, "step-at");
        assert_eq!(e[0].message, "must be a round in 1..=5, got 6");
        // Other schedules take no step-at, so any round count fits.
        assert!(d().check_rounds(1).is_ok());
    }

    #[test]
    fn rounds_and_epochs_belong_to_the_training_table() {
        use serde::de::value::{Error, MapDeserializer};
        for key in ["rounds", "epochs-per-round"] {
            let table = MapDeserializer::<_, Error>::new([(key, 5u64)].into_iter());
            let err = DriftParams::deserialize(table).unwrap_err().to_string();
            assert!(err.contains(&format!("unknown field `{key}`")), "{err}");
        }
        let table = MapDeserializer::<_, Error>::new([("max-rate", 0.25f64)].into_iter());
        let p = DriftParams::deserialize(table).unwrap();
        assert_eq!(
            p,
            DriftParams {
                max_rate: 0.25,
                ..d()
            }
        );
    }

    #[test]
    fn schedules_golden() {
        let lin = DriftParams {
            max_rate: 0.4,
            ..DriftParams::default()
        };
        let rates: Vec<f64> = (1..=4).map(|r| lin.rate(r, 4)).collect();
        assert_eq!(rates, [0.1, 0.2, 0.30000000000000004, 0.4]);
        let step = DriftParams {
            schedule: Schedule::Step,
            step_at: Some(3),
            ..lin.clone()
        };
        assert_eq!(
            (1..=4).map(|r| step.rate(r, 4)).collect::<Vec<_>>(),
            [0.0, 0.0, 0.4, 0.4]
        );
        let exp = DriftParams {
            schedule: Schedule::Exponential,
            ..lin
        };
        assert_eq!(
            (1..=4).map(|r| exp.rate(r, 4)).collect::<Vec<_>>(),
            [0.05, 0.1, 0.2, 0.4]
        );
    }
}
