//! The rounds regime: the training set arrives in contiguous parts, the
//! model is warm-started on each, and both the clean and the poisoned model
//! are measured (and watched by the round monitors) after every round.

use poisonlab_core::metrics;
use poisonlab_core::{Classifier, Dataset, Model, Poisoned, RoundCheck, RoundView, Streams};
use poisonlab_model::TrainedModel;
use poisonlab_results::RoundRecord;
use poisonlab_scenario::kinds::AnyMonitor;
use poisonlab_scenario::{Family, Point};

use super::common::{MonitorChecks, RunContext, poison};
use crate::RunError;
use crate::train::Trainer;

/// What a round-based run's loop produces.
pub(super) struct RoundsOutcome {
    pub poisoned: Poisoned,
    pub clean_model: Box<dyn Model>,
    pub poisoned_model: Box<dyn Model>,
    pub rounds: Vec<RoundRecord>,
    /// Per round monitor of the point (in defense order): its checks on the
    /// poisoned run and on the clean run, or why it failed.
    pub monitors: Vec<Result<MonitorChecks, String>>,
}

/// Round monitors watching one round-based training run.
struct Watch<'a> {
    monitors: Vec<Box<dyn AnyMonitor>>,
    checks: Vec<Result<Vec<RoundCheck>, String>>,
    reference: Option<TrainedModel>,
    audit: Option<&'a Dataset>,
    streams: Streams,
}

impl<'a> Watch<'a> {
    fn new(point: &Point, audit: Option<&'a Dataset>, streams: Streams) -> Self {
        let monitors: Vec<Box<dyn AnyMonitor>> = point
            .defenses
            .iter()
            .filter_map(|d| match d.kind.family() {
                Family::Monitor(m) => Some(m.fresh()),
                _ => None,
            })
            .collect();
        let checks = monitors.iter().map(|_| Ok(Vec::new())).collect();
        Self {
            monitors,
            checks,
            reference: None,
            audit,
            streams,
        }
    }

    /// Show every monitor the model after `round` (from 1) and its batch.
    fn observe(&mut self, round: usize, batch: &Dataset, model: &TrainedModel) {
        if self.monitors.is_empty() {
            return;
        }
        if self.reference.is_none() {
            self.reference = Some(model.clone());
        }
        let Some(reference) = &self.reference else {
            return;
        };
        for (monitor, checks) in self.monitors.iter_mut().zip(&mut self.checks) {
            let Ok(list) = checks else {
                continue;
            };
            let view = RoundView {
                round,
                batch,
                model,
                reference,
                audit: self.audit,
                streams: self.streams,
            };
            match monitor.observe(view) {
                Ok(check) => list.push(check),
                Err(e) => *checks = Err(format!("round {round}: {e}")),
            }
        }
    }
}

/// Train the clean model in rounds, poison the training set (round-based
/// attacks poison each round's part with the plan), train the poisoned model
/// in rounds, measuring both after every round.
pub(super) fn train_in_rounds(
    ctx: &RunContext<'_>,
    trainer: &Trainer,
    point: &Point,
    repeat: u64,
    step: &(dyn Fn(&str) + Sync),
) -> Result<RoundsOutcome, RunError> {
    let data = ctx.data;
    let (Some(per_round), Some(clean_ranges)) =
        (trainer.per_round(), trainer.ranges(data.train.len()))
    else {
        unreachable!("a round-based run trains in rounds")
    };
    // Both runs' monitors draw from the same streams (common random numbers).
    let streams = Streams {
        seed: ctx.seed,
        repeat,
    };
    let mut clean_watch = Watch::new(point, data.trusted.as_ref(), streams);
    let mut watch = Watch::new(point, data.trusted.as_ref(), streams);
    let mut clean_series = Vec::new();
    let mut series = Vec::new();
    // Accuracy on the test classes the attack's inputs do not come from.
    let measure = |m: &TrainedModel, poisoned: &Poisoned, other: &Dataset| {
        let ca = metrics::agreement(&m.predict(&data.test), data.test.labels());
        let asr = poisoned
            .attack_test
            .as_ref()
            .and_then(|a| metrics::agreement(&m.predict(&a.inputs), &a.targets));
        let ca_other = metrics::agreement(&m.predict(other), other.labels());
        (ca, asr, ca_other)
    };
    let batch =
        |d: &Dataset, range: &std::ops::Range<usize>| d.subset(&range.clone().collect::<Vec<_>>());

    step("poisoning");
    // Attacks that need gradients get a model trained once on the clean data.
    let surrogate = match point.attack.attack().needs_surrogate() {
        true => Some(trainer.fit_once(&data.train, "surrogate")?),
        false => None,
    };
    let poisoned = poison(
        ctx,
        point,
        repeat,
        surrogate.as_deref().map(|model| super::common::Surrogate {
            model,
            trainer: trainer.surrogate_trainer(),
        }),
        Some(&clean_ranges),
        step,
    )?;
    drop(surrogate);
    let other = other_classes(&data.test, &poisoned);
    step("training the clean model in rounds");
    let clean = trainer
        .fit_rounds(per_round, &data.train, &clean_ranges, |r, m| {
            clean_series.push(measure(m, &poisoned, &other));
            clean_watch.observe(r, &batch(&data.train, &clean_ranges[r - 1]), m);
        })
        .map_err(|source| RunError::Train {
            what: "clean".into(),
            source,
        })?;
    let ranges = trainer
        .ranges(poisoned.data.len())
        .unwrap_or_else(|| unreachable!("a round-based run trains in rounds"));
    step("training the poisoned model in rounds");
    let poisoned_model = trainer
        .fit_rounds(per_round, &poisoned.data, &ranges, |r, m| {
            series.push(measure(m, &poisoned, &other));
            watch.observe(r, &batch(&poisoned.data, &ranges[r - 1]), m);
        })
        .map_err(|source| RunError::Train {
            what: "poisoned".into(),
            source,
        })?;
    let rounds = ranges
        .iter()
        .enumerate()
        .map(|(r, range)| {
            let n_poison = poisoned.is_poison[range.clone()]
                .iter()
                .filter(|&&p| p)
                .count();
            RoundRecord {
                round: r + 1,
                n: range.len(),
                n_poison,
                poison_share: n_poison as f64 / range.len().max(1) as f64,
                clean_ca: clean_series[r].0,
                clean_ca_other: clean_series[r].2,
                ca: series[r].0,
                asr: series[r].1,
                ca_other: series[r].2,
                malicious: None,
                source_recall: None,
                clean_source_recall: None,
            }
        })
        .collect();
    let monitors = watch
        .checks
        .into_iter()
        .zip(clean_watch.checks)
        .map(|(p, c)| Ok((p?, c.map_err(|e| format!("on the clean run, {e}"))?)))
        .collect();
    Ok(RoundsOutcome {
        poisoned,
        clean_model: Box::new(clean),
        poisoned_model: Box::new(poisoned_model),
        rounds,
        monitors,
    })
}

/// The test samples of classes the attack's test inputs do not come from
/// (for drift: every class but the drifting one).
fn other_classes(test: &Dataset, poisoned: &Poisoned) -> Dataset {
    let mut attacked = vec![false; test.n_classes()];
    if let Some(a) = &poisoned.attack_test {
        for &y in a.inputs.labels() {
            if let Some(seen) = attacked.get_mut(y) {
                *seen = true;
            }
        }
    }
    let others: Vec<usize> = (0..test.len())
        .filter(|&i| !attacked[test.labels()[i]])
        .collect();
    test.subset(&others)
}
