//! The defenses of one run, each by its family: filters are scored against
//! the poison mask and retrained on what they keep, input-time detectors
//! screen the test inputs, round monitors report the rounds they alarmed
//! on, provenance checks verify the signed training set. Every defense, its
//! inspection of the clean training set and the two reference filters are
//! independent jobs with their own streams, run on the run's spare threads.

use std::time::Instant;

use poisonlab_core::metrics::{self, Confusion};
use poisonlab_core::reclassify::SharedReferences;
use poisonlab_core::seed::stream;
use poisonlab_core::{
    Classifier, Dataset, DefenseInput, FilterVerdict, Inspection, RepairInput, RoundCheck,
    ScreenInput, SharedEmbedding,
};
use poisonlab_integrity::SignedSet;
use poisonlab_results::{
    DefenseRecord, Detection, ModelEval, MonitorRecord, ProvenanceRecord, RepairRecord,
};
use poisonlab_scenario::kinds::AnyRepair;
use poisonlab_scenario::{DefenseSpec, Family, Point};
use rand::Rng as _;

use super::common::{Models, MonitorChecks, RunContext, evaluate};
use crate::RunError;
use crate::train::Trainer;

/// One unit of work for [`in_parallel`].
pub(super) type ParallelJob<'a, T> = Box<dyn FnOnce() -> T + Send + 'a>;

/// Run `jobs` on up to `threads` threads (the caller's among them) and return
/// their results in the jobs' order.
pub(super) fn in_parallel<'a, T: Send>(threads: usize, jobs: Vec<ParallelJob<'a, T>>) -> Vec<T> {
    let threads = threads.clamp(1, jobs.len().max(1));
    if threads == 1 {
        return jobs.into_iter().map(|job| job()).collect();
    }
    let n = jobs.len();
    let queue: std::sync::Mutex<Vec<(usize, ParallelJob<'a, T>)>> =
        std::sync::Mutex::new(jobs.into_iter().enumerate().rev().collect());
    let results: std::sync::Mutex<Vec<Option<T>>> =
        std::sync::Mutex::new((0..n).map(|_| None).collect());
    let work = || {
        loop {
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some((i, job)) = next else { break };
            let value = job();
            results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(value);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| unreachable!("every job ran")))
        .collect()
}

/// The models and data a run shares between its defenses.
pub(crate) struct Baseline<'a> {
    ctx: &'a RunContext<'a>,
    trainer: Trainer,
    pub models: Models,
    pub poisoned_eval: ModelEval,
}

impl<'a> Baseline<'a> {
    /// The baseline of a run whose models are trained.
    pub fn new(ctx: &'a RunContext<'a>, trainer: Trainer, models: Models) -> Self {
        let poisoned_eval = evaluate(
            models.poisoned_model.as_ref(),
            &ctx.data.test,
            models.poisoned.attack_test.as_ref(),
        );
        Self {
            ctx,
            trainer,
            models,
            poisoned_eval,
        }
    }

    /// Accuracy recovery and DER of a defended model measured as `defended`.
    fn recovery_and_der(&self, defended: &ModelEval) -> (Option<f64>, Option<f64>) {
        let (clean, poisoned) = (&self.models.clean_eval, &self.poisoned_eval);
        let recovery = match (defended.ca, poisoned.ca, clean.ca) {
            (Some(d), Some(p), Some(c)) => metrics::recovery(d, p, c, self.ctx.data.test.len()),
            _ => None,
        };
        let der = match (poisoned.asr, defended.asr, poisoned.ca, defended.ca) {
            (Some(ap), Some(ad), Some(cp), Some(cd)) => Some(metrics::der(ap, ad, cp, cd)),
            _ => None,
        };
        (recovery, der)
    }

    /// AUROC of `scores` over the samples whose training label is a class
    /// that holds poison.
    fn auroc_within_poisoned_classes(&self, scores: &[f64]) -> Option<f64> {
        let poisoned = &self.models.poisoned;
        let labels = poisoned.data.labels();
        let mut holds = vec![false; poisoned.data.n_classes()];
        for (i, &p) in poisoned.is_poison.iter().enumerate() {
            holds[labels[i]] |= p;
        }
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| holds[labels[i]]).collect();
        let s: Vec<f64> = rows.iter().map(|&i| scores[i]).collect();
        let m: Vec<bool> = rows.iter().map(|&i| poisoned.is_poison[i]).collect();
        metrics::auroc(&s, &m)
    }

    /// Score a filter's verdict, retrain on what it keeps and measure.
    fn score(
        &self,
        name: &str,
        kind: &str,
        verdict: &FilterVerdict,
    ) -> Result<DefenseRecord, RunError> {
        let start = Instant::now();
        let mask = &self.models.poisoned.is_poison;
        let c = Confusion::count(&verdict.flags, mask);
        let detection = Detection {
            tp: c.tp,
            fp: c.fp,
            tn: c.tn,
            fn_: c.fn_,
            tpr: c.tpr(),
            fpr: c.fpr(),
            precision: c.precision(),
            f1: c.f1(),
            auroc: metrics::auroc(&verdict.scores, mask),
            roc_tpr: metrics::roc_tpr(&verdict.scores, mask, &metrics::ROC_FPRS)
                .unwrap_or_default(),
            auroc_class: self.auroc_within_poisoned_classes(&verdict.scores),
        };
        let kept: Vec<usize> = (0..mask.len()).filter(|&i| !verdict.flags[i]).collect();
        let test = &self.ctx.data.test;
        let attack_test = self.models.poisoned.attack_test.as_ref();
        let retrained = if kept.len() == mask.len() {
            // Same data, same stream: the retrained model is the poisoned model.
            self.poisoned_eval.clone()
        } else if kept.is_empty() {
            return Ok(DefenseRecord {
                detection: Some(detection),
                error: Some(
                    "the filter removed every training sample; nothing to retrain on".into(),
                ),
                seconds: start.elapsed().as_secs_f64(),
                ..DefenseRecord::new(name, kind)
            });
        } else {
            let model = self.trainer.train_kept(
                &self.models.poisoned.data,
                &kept,
                &format!("{name}-retrained"),
            )?;
            evaluate(model.as_ref(), test, attack_test)
        };
        let (recovery, der) = self.recovery_and_der(&retrained);
        Ok(DefenseRecord {
            detection: Some(detection),
            retrained: Some(retrained),
            recovery,
            der,
            seconds: start.elapsed().as_secs_f64(),
            ..DefenseRecord::new(name, kind)
        })
    }
}

/// Every defense of the point on the poisoned training set (its record, in
/// scenario order), then the references `perfect` and `random`.
pub(super) fn all(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    base: &Baseline<'_>,
    manifest: Option<&SignedSet>,
    monitor_checks: Vec<Result<MonitorChecks, String>>,
    step: &(dyn Fn(&str) + Sync),
) -> Result<Vec<DefenseRecord>, RunError> {
    let data = ctx.data;
    // Round monitors take the checks of the round runs in their order.
    let mut monitor_checks = monitor_checks.into_iter();
    let checks: Vec<_> = point
        .defenses
        .iter()
        .map(|d| match d.kind.family() {
            Family::Monitor(_) => monitor_checks.next(),
            _ => None,
        })
        .collect();
    // Defenses that retrain (exclusionary reclassification) train the way the run does.
    let retrain = |subset: &Dataset| {
        base.trainer
            .fit_once(subset, "defense-internal")
            .map(|m| m as Box<dyn Classifier>)
            .map_err(|e| e.to_string())
    };
    let retrain = &retrain;
    // Filters inspecting one training set at once share its embedding and
    // its neighbour reference samples (each made once while in use).
    let models = &base.models;
    let poisoned_shared = (
        SharedEmbedding::new(&models.poisoned.data, models.poisoned_model.as_ref()),
        SharedReferences::new(&models.poisoned.data),
    );
    let clean_shared = (
        models
            .clean_model
            .as_ref()
            .map(|m| SharedEmbedding::new(&data.train, m.as_ref())),
        SharedReferences::new(&data.train),
    );
    let (poisoned_shared, clean_shared) = (&poisoned_shared, &clean_shared);

    // Every defense, its run on the clean training set and the two reference
    // filters are independent jobs, each with its own stream: they run on the
    // run's threads and come back in this order.
    type Job<'j> = Box<dyn FnOnce() -> Result<Option<DefenseRecord>, RunError> + Send + 'j>;
    let mut jobs: Vec<Job<'_>> = Vec::new();
    for (d, check) in point.defenses.iter().zip(checks) {
        jobs.push(Box::new(move || {
            step(&format!("defense {}", d.name));
            let shared = Shared {
                retrain,
                embedding: &poisoned_shared.0,
                references: &poisoned_shared.1,
            };
            defense_record(ctx, base, d, check, manifest, shared, repeat).map(Some)
        }));
    }
    let clean_runs: Vec<bool> = point
        .defenses
        .iter()
        .map(|d| ctx.clean_fpr && d.kind.is_filter() && base.models.clean_model.is_some())
        .collect();
    for (d, _) in point.defenses.iter().zip(&clean_runs).filter(|(_, c)| **c) {
        jobs.push(Box::new(move || {
            let (Some(clean_model), Family::Filter(filter)) =
                (&base.models.clean_model, d.kind.family())
            else {
                return Ok(None);
            };
            step(&format!("defense {} on the clean training set", d.name));
            let mut input =
                DefenseInput::new(&data.train, clean_model.as_ref(), data.trusted.as_ref())
                    .with_retrain(retrain)
                    .with_references(&clean_shared.1);
            if let Some(embedding) = &clean_shared.0 {
                input = input.with_embedding(embedding);
            }
            let rng = &mut stream(ctx.seed, repeat, &format!("defense:{}:clean", d.name));
            let fpr = filter.inspect(input, rng).ok().and_then(|f| {
                let flagged = f.flags.iter().filter(|&&x| x).count();
                (!f.flags.is_empty()).then(|| flagged as f64 / f.flags.len() as f64)
            });
            Ok(Some(DefenseRecord {
                clean_fpr: fpr,
                ..DefenseRecord::new(&d.name, "clean")
            }))
        }));
    }
    // References: the ceiling (exactly the poison) and the floor (as many at random).
    let mask = &base.models.poisoned.is_poison;
    jobs.push(Box::new(move || {
        step("reference filters");
        let perfect = FilterVerdict {
            scores: mask.iter().map(|&p| if p { 1.0 } else { 0.0 }).collect(),
            flags: mask.clone(),
        };
        base.score("perfect", "reference", &perfect).map(Some)
    }));
    jobs.push(Box::new(move || {
        let mut rng = stream(ctx.seed, repeat, "defense:random");
        let scores: Vec<f64> = (0..mask.len()).map(|_| rng.random::<f64>()).collect();
        base.score(
            "random",
            "reference",
            &top_k(scores, base.models.poisoned.n_poison()),
        )
        .map(Some)
    }));
    let mut results = in_parallel(ctx.inner_threads, jobs).into_iter();
    let mut defenses = Vec::new();
    for _ in &point.defenses {
        defenses.push(results.next().transpose()?.flatten());
    }
    for (record, clean) in defenses.iter_mut().zip(&clean_runs) {
        let clean_fpr = match clean {
            true => results
                .next()
                .transpose()?
                .flatten()
                .and_then(|r| r.clean_fpr),
            false => None,
        };
        if let Some(record) = record
            && record.error.is_none()
            && record.kind == "filter"
        {
            record.clean_fpr = match &base.models.clean_model {
                // The attack changed nothing: the clean run is this run.
                None if ctx.clean_fpr => record.detection.as_ref().and_then(|det| det.fpr),
                _ => clean_fpr,
            };
        }
    }
    let mut defenses: Vec<DefenseRecord> = defenses.into_iter().flatten().collect();
    for reference in results {
        defenses.extend(reference?);
    }
    Ok(defenses)
}

/// A defense's retraining callback that several threads may call.
type SharedRetrain<'a> = dyn Fn(&Dataset) -> Result<Box<dyn Classifier>, String> + Sync + 'a;

/// What the defenses of a run on the poisoned training set share.
#[derive(Clone, Copy)]
struct Shared<'s, 'a> {
    /// Trains a fresh model the way the run does.
    retrain: &'s SharedRetrain<'a>,
    /// The poisoned model's embedding of the poisoned training set.
    embedding: &'s SharedEmbedding<'a>,
    /// The neighbour reference samples of the poisoned training set.
    references: &'s SharedReferences<'a>,
}

/// The record of one defense on the poisoned training set, by its family.
/// `check` is a round monitor's observations; `manifest` the signed training set.
fn defense_record(
    ctx: &RunContext<'_>,
    base: &Baseline<'_>,
    d: &DefenseSpec,
    check: Option<Result<MonitorChecks, String>>,
    manifest: Option<&SignedSet>,
    shared: Shared<'_, '_>,
    repeat: u64,
) -> Result<DefenseRecord, RunError> {
    let data = ctx.data;
    let models = &base.models;
    let t = Instant::now();
    let rng = &mut stream(ctx.seed, repeat, &format!("defense:{}", d.name));
    Ok(match d.kind.family() {
        // The scenario's checks keep aggregators to the federated regime.
        Family::Aggregator(_) => failed(
            &d.name,
            "aggregator",
            "aggregators combine federated updates; this run is not federated".into(),
            t,
        ),
        Family::Provenance(check) => match manifest {
            Some(signed) => {
                let v = check.verify(signed, &models.poisoned.data);
                let own = t.elapsed().as_secs_f64();
                let mut r = base.score(&d.name, "provenance", &v.filter)?;
                r.provenance = Some(ProvenanceRecord {
                    modified: v.modified,
                    added: v.added,
                    removed: v.removed,
                    signature_valid: v.signature_valid,
                });
                r.seconds = own;
                r
            }
            None => failed(
                &d.name,
                "provenance",
                "provenance needs [integrity] sign-at".into(),
                t,
            ),
        },
        Family::Monitor(_) => match check {
            Some(Ok((poisoned, clean))) => DefenseRecord {
                monitor: Some(monitor_record(&poisoned, &clean)),
                ..DefenseRecord::new(&d.name, "monitor")
            },
            Some(Err(message)) => failed(&d.name, "monitor", message, t),
            None => failed(
                &d.name,
                "monitor",
                "round monitors need a round-based run".into(),
                t,
            ),
        },
        Family::InputDetector(detector) => {
            let Some(trusted) = data.trusted.as_ref() else {
                return Ok(failed(
                    &d.name,
                    "input-detector",
                    format!(
                        "{} needs [data] trusted = N clean held-out samples",
                        d.kind.kind()
                    ),
                    t,
                ));
            };
            let attack = models.poisoned.attack_test.as_ref().map(|a| &a.inputs);
            let input =
                ScreenInput::new(models.poisoned_model.as_ref(), trusted, &data.test, attack);
            match detector.screen(input, rng) {
                Ok(input) => DefenseRecord {
                    input: Some(input),
                    seconds: t.elapsed().as_secs_f64(),
                    ..DefenseRecord::new(&d.name, "input-detector")
                },
                Err(message) => failed(&d.name, "input-detector", message, t),
            }
        }
        Family::Repair(repair) => repair_record(ctx, base, d, repair, repeat, t)?,
        Family::Filter(filter) => {
            let input = DefenseInput::new(
                &models.poisoned.data,
                models.poisoned_model.as_ref(),
                data.trusted.as_ref(),
            )
            .with_retrain(shared.retrain)
            .with_embedding(shared.embedding)
            .with_references(shared.references);
            let verdict = filter.inspect(input, rng);
            let own = t.elapsed().as_secs_f64();
            let mut record = match verdict {
                Ok(f) => base.score(&d.name, "filter", &f)?,
                Err(message) => failed(&d.name, "filter", message, t),
            };
            record.seconds = own;
            record.label_test = filter.label_test(&models.poisoned.data, data.trusted.as_ref());
            record
        }
    })
}

/// The record of a model-repair defense: its verdict on the poisoned model
/// (isolated samples scored like a filter's, model-level detection against
/// the attack's target), the repaired model measured, and, for defenses
/// that inspect models, their detection on the clean model (the negatives).
fn repair_record(
    ctx: &RunContext<'_>,
    base: &Baseline<'_>,
    d: &DefenseSpec,
    repair: &dyn AnyRepair,
    repeat: u64,
    t: Instant,
) -> Result<DefenseRecord, RunError> {
    const KIND: &str = "model-repair";
    let data = ctx.data;
    let models = &base.models;
    let trainer = base.trainer.surrogate_trainer();
    let input = RepairInput::new(
        models.poisoned_model.as_ref(),
        &models.poisoned.data,
        data.trusted.as_ref(),
        trainer,
    );
    let rng = &mut stream(ctx.seed, repeat, &format!("defense:{}", d.name));
    let verdict = match repair.repair(input, rng) {
        Ok(v) => v,
        Err(message) => return Ok(failed(&d.name, KIND, message, t)),
    };
    // The clean model's inspection: where the attack changed nothing the
    // poisoned model is the clean one.
    let backdoored = models.clean_model.is_some();
    let clean_inspection = match (&models.clean_model, repair.inspects()) {
        (Some(clean), true) => {
            let input =
                RepairInput::new(clean.as_ref(), &data.train, data.trusted.as_ref(), trainer);
            let rng = &mut stream(ctx.seed, repeat, &format!("defense:{}:clean", d.name));
            match repair.inspect(input, rng) {
                Ok(i) => i,
                Err(message) => return Ok(failed(&d.name, KIND, message, t)),
            }
        }
        (None, true) => verdict.inspection.clone(),
        _ => None,
    };
    let own = t.elapsed().as_secs_f64();
    let mut record = match &verdict.isolation {
        Some(isolation) => base.score(&d.name, KIND, isolation)?,
        None => DefenseRecord::new(&d.name, KIND),
    };
    let test = &data.test;
    let attack_test = models.poisoned.attack_test.as_ref();
    let repaired = verdict
        .repaired
        .as_ref()
        .map(|m| evaluate(m.as_ref(), test, attack_test));
    let (recovery, der) = match &repaired {
        Some(r) => base.recovery_and_der(r),
        None => (None, None),
    };
    let truth = attack_test.and_then(|a| {
        let (&first, rest) = a.targets.split_first()?;
        rest.iter().all(|&y| y == first).then_some(first)
    });
    let inspection = verdict.inspection.as_ref();
    record.repair = Some(RepairRecord {
        model_tpr: inspection.filter(|_| backdoored).map(|i| i.flagged),
        model_fpr: clean_inspection.as_ref().map(|i: &Inspection| i.flagged),
        target: inspection.and_then(|i| i.target),
        target_correct: match (inspection.and_then(|i| i.target), truth) {
            (Some(named), Some(truth)) if backdoored => Some(named == truth),
            _ => None,
        },
        anomaly_index: inspection.map(|i| i.anomaly_index),
        clean_anomaly_index: clean_inspection.as_ref().map(|i| i.anomaly_index),
        class_scores: inspection.map(|i| i.class_scores.clone()),
        repaired,
    });
    record.recovery = recovery;
    record.der = der;
    record.seconds = own;
    Ok(record)
}

/// A monitor's record from its checks on the poisoned and the clean run.
fn monitor_record(poisoned: &[RoundCheck], clean: &[RoundCheck]) -> MonitorRecord {
    let (first_alarm_round, alarms) = RoundCheck::summarize(poisoned);
    let (_, false_alarms) = RoundCheck::summarize(clean);
    MonitorRecord {
        first_alarm_round,
        alarms,
        false_alarms,
        statistic: poisoned.iter().map(|c| c.statistic).collect(),
        clean_statistic: clean.iter().map(|c| c.statistic).collect(),
        threshold: poisoned
            .first()
            .or(clean.first())
            .map_or(0.0, |c| c.threshold),
    }
}

/// Flag the `k` highest scores (ties to the lower index).
fn top_k(scores: Vec<f64>, k: usize) -> FilterVerdict {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut flags = vec![false; scores.len()];
    for &i in order.iter().take(k) {
        flags[i] = true;
    }
    FilterVerdict { scores, flags }
}

fn failed(name: &str, kind: &str, message: String, start: Instant) -> DefenseRecord {
    DefenseRecord {
        error: Some(message),
        seconds: start.elapsed().as_secs_f64(),
        ..DefenseRecord::new(name, kind)
    }
}
