//! One run: poison, train, defend, retrain, measure.

use std::collections::BTreeMap;
use std::time::Instant;

use poisonlab_core::metrics::{self, Confusion};
use poisonlab_core::seed::{run_seed, stream};
use poisonlab_core::{
    AttackInput, AttackTest, Classifier, Dataset, DefenseInput, FilterVerdict, Poisoned,
};
use poisonlab_data::{limit, stratified_holdout};
use poisonlab_drift::{Drift, class_mean};
use poisonlab_model::{BurnTrainer, ModelParams, TrainedModel};
use poisonlab_strip::Strip;
use rand::Rng as _;
use std::ops::Range;

use crate::RunError;
use crate::record::{AttackInfo, InputDetection, RoundRecord};
use crate::record::{
    DefenseRecord, Detection, ModelEval, MonitorRecord, ProvenanceRecord, RunRecord,
};
use crate::registry::Custody;
use crate::registry::DataFacts;
use crate::scenario::{DataSpec, Normalize, Point, Source};
use crate::scenario::{DefenseSpec, IntegritySpec};
use poisonlab_integrity::{Manifest, SigningKey, VerifyingKey, dataset_root};
use poisonlab_monitor::{Monitor, RoundCheck, RoundView, summarize};
use rand::RngCore as _;

/// The scenario's data, loaded once and shared by every run.
#[derive(Debug, Clone)]
pub struct LoadedData {
    /// Training samples (trusted ones removed).
    pub train: Dataset,
    /// Test samples.
    pub test: Dataset,
    /// Clean held-out samples for defenses that need them.
    pub trusted: Option<Dataset>,
    /// Names of the classes when a CSV file labelled them with strings.
    pub class_names: Option<Vec<String>>,
    /// Merkle root (hex) of the training samples, as a manifest would carry.
    pub train_root: String,
    /// Seconds it took.
    pub seconds: f64,
}

impl LoadedData {
    /// Generate or read the data: stream `data` of (seed, 0) for generation,
    /// stream `trusted` for the held-out split; limits apply before the split.
    pub fn load(spec: &DataSpec, seed: u64) -> Result<Self, RunError> {
        let start = Instant::now();
        let mut rng = stream(seed, 0, "data");
        let mut class_names = None;
        let splits = match &spec.source {
            Source::SyntheticDigits(p) => p.generate(&mut rng),
            Source::Blobs(p) => p.generate(&mut rng),
            Source::Idx(paths) => poisonlab_data::load_idx(paths)?,
            Source::Cifar10(dir) => poisonlab_data::load_cifar10(dir)?,
            Source::Csv(paths) => {
                let csv = poisonlab_data::load_csv(paths)?;
                class_names = csv.class_names;
                csv.splits
            }
        };
        // Move, don't copy: a 60 000-image set is held once.
        let mut train = first(splits.train, spec.common.limit_train);
        let mut test = first(splits.test, spec.common.limit_test);
        if spec.common.normalize == Normalize::Standardize {
            poisonlab_data::standardize(&mut train, &mut [&mut test]);
        }
        let (train, trusted) = if spec.common.trusted > 0 {
            let (rest, held) =
                stratified_holdout(&train, spec.common.trusted, &mut stream(seed, 0, "trusted"))?;
            (rest, Some(held))
        } else {
            (train, None)
        };
        Ok(Self {
            train_root: dataset_root(&train),
            train,
            test,
            trusted,
            class_names,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// What the data turned out to be, for checks that need it.
    pub fn facts(&self) -> DataFacts {
        DataFacts {
            n_classes: Some(self.train.n_classes()),
            shape: Some(self.train.shape().to_vec()),
        }
    }
}

/// The first `n` samples (all when `n` is `None` or beyond the data), moving the data.
fn first(data: Dataset, n: Option<usize>) -> Dataset {
    match n {
        Some(n) if n < data.len() => limit(&data, Some(n)),
        _ => data,
    }
}

/// Measure `model` on the clean test set and the attack's test inputs.
fn evaluate(model: &dyn Classifier, test: &Dataset, attack: Option<&AttackTest>) -> ModelEval {
    let predicted = model.predict(test);
    let (asr, ra) = match attack {
        Some(a) => {
            let p = model.predict(&a.inputs);
            (
                metrics::agreement(&p, &a.targets),
                metrics::agreement(&p, a.inputs.labels()),
            )
        }
        None => (None, None),
    };
    ModelEval {
        ca: metrics::agreement(&predicted, test.labels()),
        asr,
        ra,
        per_class_recall: metrics::per_class_recall(&predicted, test.labels(), test.n_classes()),
    }
}

/// Everything a run needs besides the point.
pub(crate) struct RunContext<'a> {
    pub seed: u64,
    pub data: &'a LoadedData,
    /// The scenario's `[integrity]` table: the owner signs the training set.
    pub integrity: Option<&'a IntegritySpec>,
    /// Threads one run may use for its independent steps (clean and poisoned
    /// training, each defense, each retraining): `--threads` left over when
    /// fewer runs than threads are pending. Results do not depend on it.
    pub inner_threads: usize,
    /// `[scenario] clean-fpr`: run each filter on the clean training set too.
    pub clean_fpr: bool,
}

/// One unit of work for [`in_parallel`].
type ParallelJob<'a, T> = Box<dyn FnOnce() -> T + Send + 'a>;

/// Run `jobs` on up to `threads` threads (the caller's among them) and return
/// their results in the jobs' order.
fn in_parallel<'a, T: Send>(threads: usize, jobs: Vec<ParallelJob<'a, T>>) -> Vec<T> {
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

/// Trains every model of one run: at once, or round by round for drift runs.
struct Trainer {
    params: BurnTrainer,
    seed: u64,
    repeat: u64,
    /// Round-by-round training: the sample ranges of each round in the
    /// training set, and the trainer of one round (its epochs per round).
    rounds: Option<(Vec<Range<usize>>, BurnTrainer)>,
}

impl Trainer {
    /// Every training run starts from the same `model` stream (same initial
    /// weights; round r ≥ 2 shuffles with stream `round{r}`), so clean, poisoned
    /// and retrained models differ only by their data.
    fn train(&self, data: &Dataset, what: &str) -> Result<Box<dyn Classifier>, RunError> {
        let all: Vec<usize> = (0..data.len()).collect();
        self.train_kept(data, &all, what)
    }

    /// Train once on all of `data`, ignoring rounds: surrogates and the models
    /// defenses train internally (they see a subset, not the rounds).
    fn fit_once(&self, data: &Dataset, what: &str) -> Result<Box<dyn Classifier>, RunError> {
        let model = self
            .params
            .fit(data, &mut stream(self.seed, self.repeat, "model"))
            .map_err(|source| RunError::Train {
                what: what.to_string(),
                source,
            })?;
        Ok(Box::new(model))
    }

    /// Train on the samples `kept` (ascending) of `data`; in round mode each
    /// round keeps its own samples.
    fn train_kept(
        &self,
        data: &Dataset,
        kept: &[usize],
        what: &str,
    ) -> Result<Box<dyn Classifier>, RunError> {
        let model = match &self.rounds {
            // At once: straight from the kept rows of `data`, no copy of the training set.
            None if kept.len() == data.len() => return self.fit_once(data, what),
            None => {
                self.params
                    .fit_subset(data, kept, &mut stream(self.seed, self.repeat, "model"))
            }
            Some((ranges, per_round)) => {
                // Keeping everything trains on `data` itself.
                let owned;
                let subset = if kept.len() == data.len() {
                    data
                } else {
                    owned = data.subset(kept);
                    &owned
                };
                let mut start = 0;
                let bounds: Vec<Range<usize>> = ranges
                    .iter()
                    .map(|r| {
                        let n = kept.iter().filter(|&&i| r.contains(&i)).count();
                        start += n;
                        start - n..start
                    })
                    .collect();
                self.fit_rounds(per_round, subset, &bounds, |_, _| {})
            }
        };
        let model = model.map_err(|source| RunError::Train {
            what: what.to_string(),
            source,
        })?;
        Ok(Box::new(model))
    }

    /// Train round by round on `bounds` of `data`, warm-starting each round;
    /// `each(round, model)` sees the model after every round.
    fn fit_rounds(
        &self,
        per_round: &BurnTrainer,
        data: &Dataset,
        bounds: &[Range<usize>],
        mut each: impl FnMut(usize, &TrainedModel),
    ) -> Result<TrainedModel, poisonlab_model::ModelError> {
        let mut model: Option<TrainedModel> = None;
        for (r, range) in bounds.iter().enumerate() {
            let chunk = data.subset(&range.clone().collect::<Vec<_>>());
            let next = match model.take() {
                None => per_round.fit(&chunk, &mut stream(self.seed, self.repeat, "model"))?,
                Some(m) if chunk.is_empty() => m,
                Some(m) => per_round.resume(
                    m,
                    &chunk,
                    &mut stream(self.seed, self.repeat, &format!("round{}", r + 1)),
                )?,
            };
            each(r + 1, &next);
            model = Some(next);
        }
        model.ok_or(poisonlab_model::ModelError::EmptyData)
    }
}

/// Split `n` samples into `rounds` contiguous ranges of (nearly) equal size.
fn round_ranges(n: usize, rounds: usize) -> Vec<Range<usize>> {
    (0..rounds)
        .map(|r| r * n / rounds..(r + 1) * n / rounds)
        .collect()
}

/// Poison each round's share of the training set; returns the poisoned set
/// (attack test inputs included) and each round's (poisons, samples).
fn drift_poison(
    ctx: &RunContext<'_>,
    drift: &Drift,
    ranges: &[Range<usize>],
    repeat: u64,
) -> Result<(Poisoned, Vec<(usize, usize)>), RunError> {
    let data = ctx.data;
    let p = drift.params();
    // The attacker knows the clean target-class mean (for method = "shift").
    let target_mean = class_mean(&data.train, p.target);
    let mut poisoned_data = data.train.clone();
    let mut is_poison = vec![false; data.train.len()];
    let mut shares = Vec::new();
    for (r, range) in ranges.iter().enumerate() {
        let idx: Vec<usize> = range.clone().collect();
        let chunk = data.train.subset(&idx);
        let rng = &mut stream(ctx.seed, repeat, &format!("attack:round{}", r + 1));
        let round = drift
            .poison_round(r + 1, &chunk, &target_mean, rng)
            .map_err(|e| RunError::Attack {
                kind: "drift",
                message: e.to_string(),
            })?;
        for (k, &i) in idx.iter().enumerate() {
            poisoned_data
                .sample_mut(i)
                .copy_from_slice(round.data.sample(k));
            poisoned_data.set_label(i, round.data.labels()[k]);
            is_poison[i] = round.is_poison[k];
        }
        shares.push((round.n_poison(), chunk.len()));
    }
    let attack_test = Some(drift.attack_test(&data.test));
    Ok((
        Poisoned {
            data: poisoned_data,
            is_poison,
            attack_test,
        },
        shares,
    ))
}

/// What a drift run's round loop produces.
struct DriftOutcome {
    poisoned: Poisoned,
    clean_model: Box<dyn Classifier>,
    poisoned_model: Box<dyn Classifier>,
    rounds: Vec<RoundRecord>,
    /// Per round monitor of the point (in defense order): its checks on the
    /// poisoned run and on the clean run, or why it failed.
    monitors: Vec<Result<MonitorChecks, String>>,
}

/// A round monitor's checks on the poisoned run and on the clean run.
type MonitorChecks = (Vec<RoundCheck>, Vec<RoundCheck>);

/// Round monitors watching one round-based training run.
struct Watch<'a> {
    monitors: Vec<Box<dyn Monitor>>,
    checks: Vec<Result<Vec<RoundCheck>, String>>,
    reference: Option<TrainedModel>,
    audit: Option<&'a Dataset>,
}

impl<'a> Watch<'a> {
    fn new(point: &Point, audit: Option<&'a Dataset>) -> Self {
        let monitors: Vec<Box<dyn Monitor>> = point
            .defenses
            .iter()
            .filter_map(|d| d.kind.monitor())
            .collect();
        let checks = monitors.iter().map(|_| Ok(Vec::new())).collect();
        Self {
            monitors,
            checks,
            reference: None,
            audit,
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
            };
            match monitor.observe(view) {
                Ok(check) => list.push(check),
                Err(e) => *checks = Err(format!("round {round}: {e}")),
            }
        }
    }
}

/// Poison a drift run round by round and train clean and poisoned models in
/// rounds, measuring both after every round.
fn drift_rounds(
    ctx: &RunContext<'_>,
    drift: &Drift,
    trainer: &Trainer,
    point: &Point,
    repeat: u64,
    step: &(dyn Fn(&str) + Sync),
) -> Result<DriftOutcome, RunError> {
    let data = ctx.data;
    let Some((ranges, per_round)) = &trainer.rounds else {
        unreachable!("drift runs train in rounds")
    };
    let p = drift.params();
    let (poisoned, shares) = drift_poison(ctx, drift, ranges, repeat)?;
    let Poisoned {
        data: poisoned_data,
        is_poison,
        ..
    } = poisoned;
    let attack_test = drift.attack_test(&data.test);
    let others: Vec<usize> = (0..data.test.len())
        .filter(|&i| data.test.labels()[i] != p.source)
        .collect();
    let other_test = data.test.subset(&others);
    let mut clean_watch = Watch::new(point, data.trusted.as_ref());
    let mut watch = Watch::new(point, data.trusted.as_ref());
    let batch = |d: &Dataset, r: usize| d.subset(&ranges[r - 1].clone().collect::<Vec<_>>());
    let measure = |m: &TrainedModel| {
        let ca = metrics::agreement(&m.predict(&data.test), data.test.labels());
        let asr = metrics::agreement(&m.predict(&attack_test.inputs), &attack_test.targets);
        let other = metrics::agreement(&m.predict(&other_test), other_test.labels());
        (ca, asr, other)
    };
    step("training the clean model in rounds");
    let mut clean_series = Vec::new();
    let clean = trainer
        .fit_rounds(per_round, &data.train, ranges, |r, m| {
            clean_series.push(measure(m));
            clean_watch.observe(r, &batch(&data.train, r), m);
        })
        .map_err(|source| RunError::Train {
            what: "clean".into(),
            source,
        })?;
    step("training the poisoned model in rounds");
    let mut series = Vec::new();
    let poisoned_model = trainer
        .fit_rounds(per_round, &poisoned_data, ranges, |r, m| {
            series.push(measure(m));
            watch.observe(r, &batch(&poisoned_data, r), m);
        })
        .map_err(|source| RunError::Train {
            what: "poisoned".into(),
            source,
        })?;
    let rounds = (0..ranges.len())
        .map(|r| RoundRecord {
            round: r + 1,
            n: shares[r].1,
            n_poison: shares[r].0,
            poison_share: shares[r].0 as f64 / shares[r].1.max(1) as f64,
            clean_ca: clean_series[r].0,
            clean_ca_other: clean_series[r].2,
            ca: series[r].0,
            asr: series[r].1,
            ca_other: series[r].2,
        })
        .collect();
    let poisoned = Poisoned {
        data: poisoned_data,
        is_poison,
        attack_test: Some(attack_test),
    };
    let monitors = watch
        .checks
        .into_iter()
        .zip(clean_watch.checks)
        .map(|(p, c)| Ok((p?, c.map_err(|e| format!("on the clean run, {e}"))?)))
        .collect();
    Ok(DriftOutcome {
        poisoned,
        clean_model: Box::new(clean),
        poisoned_model: Box::new(poisoned_model),
        rounds,
        monitors,
    })
}

/// The models and data a run shares between its defenses.
struct Baseline<'a> {
    ctx: &'a RunContext<'a>,
    trainer: Trainer,
    poisoned: Poisoned,
    poisoned_model: Box<dyn Classifier>,
    /// The model trained on the clean training set; `None` when the attack
    /// changed nothing (then it is `poisoned_model`).
    clean_model: Option<Box<dyn Classifier>>,
    clean_eval: ModelEval,
    poisoned_eval: ModelEval,
}

impl Baseline<'_> {
    /// Score a filter's verdict, retrain on what it keeps and measure.
    fn score(
        &self,
        name: &str,
        kind: &str,
        verdict: &FilterVerdict,
    ) -> Result<DefenseRecord, RunError> {
        let start = Instant::now();
        let mask = &self.poisoned.is_poison;
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
        };
        let kept: Vec<usize> = (0..mask.len()).filter(|&i| !verdict.flags[i]).collect();
        let test = &self.ctx.data.test;
        let attack_test = self.poisoned.attack_test.as_ref();
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
                &self.poisoned.data,
                &kept,
                &format!("{name}-retrained"),
            )?;
            evaluate(model.as_ref(), test, attack_test)
        };
        let (clean, poisoned) = (&self.clean_eval, &self.poisoned_eval);
        let recovery = match (retrained.ca, poisoned.ca, clean.ca) {
            (Some(d), Some(p), Some(c)) => metrics::recovery(d, p, c, test.len()),
            _ => None,
        };
        let der = match (poisoned.asr, retrained.asr, poisoned.ca, retrained.ca) {
            (Some(ap), Some(ad), Some(cp), Some(cd)) => Some(metrics::der(ap, ad, cp, cd)),
            _ => None,
        };
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

/// Poison the training set with the run's `attack` stream; `clean` (a model
/// trained on the clean data) is handed to attacks that need a surrogate.
fn poison(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    clean: Option<&dyn Classifier>,
) -> Result<Poisoned, RunError> {
    let mut input = AttackInput::new(&ctx.data.train, &ctx.data.test);
    if let (true, Some(model)) = (point.attack.needs_surrogate(), clean) {
        input = input.with_surrogate(model);
    }
    point
        .attack
        .poison(input, &mut stream(ctx.seed, repeat, "attack"))
}

/// The poisoned training set of one (point, repeat), exactly as its run sees it.
pub(crate) fn poisoned_set(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
) -> Result<Poisoned, RunError> {
    let data = ctx.data;
    if let Some(drift) = point.attack.rounds() {
        let ranges = round_ranges(data.train.len(), drift.params().rounds);
        return Ok(drift_poison(ctx, drift, &ranges, repeat)?.0);
    }
    let clean = if point.attack.needs_surrogate() {
        let trainer = Trainer {
            params: BurnTrainer::new(point.model.clone()),
            seed: ctx.seed,
            repeat,
            rounds: None,
        };
        Some(trainer.fit_once(&data.train, "clean")?)
    } else {
        None
    };
    poison(ctx, point, repeat, clean.as_deref())
}

/// The attack's outcome and the model trained on it.
struct Attacked {
    poisoned: Poisoned,
    /// `None` when the attack changed nothing (the clean model is the poisoned one).
    model: Option<Box<dyn Classifier>>,
    poison_seconds: f64,
    train_seconds: f64,
}

/// Poison the training set (`surrogate`: the clean model, for attacks that
/// need gradients) and train the poisoned model.
fn attack_and_train(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    trainer: &Trainer,
    surrogate: Option<&dyn Classifier>,
    step: &(dyn Fn(&str) + Sync),
) -> Result<Attacked, RunError> {
    step("poisoning");
    let t = Instant::now();
    let poisoned = poison(ctx, point, repeat, surrogate)?;
    let poison_seconds = t.elapsed().as_secs_f64();
    step("training the poisoned model");
    let t = Instant::now();
    let model = if poisoned.data == ctx.data.train {
        None
    } else {
        Some(trainer.train(&poisoned.data, "poisoned")?)
    };
    Ok(Attacked {
        poisoned,
        model,
        poison_seconds,
        train_seconds: t.elapsed().as_secs_f64(),
    })
}

/// Run one (point, repeat) and return its record. `step` hears what is happening.
pub(crate) fn run_one(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    step: &(dyn Fn(&str) + Sync),
) -> Result<RunRecord, RunError> {
    let data = ctx.data;
    let mut seconds = BTreeMap::new();
    seconds.insert("load".to_string(), data.seconds);
    // Steps timed on other threads, added once `timed` is done with `seconds`.
    let mut measured: Vec<(&str, f64)> = Vec::new();
    let mut timed = |name: &str, start: Instant| {
        seconds.insert(name.to_string(), start.elapsed().as_secs_f64());
    };

    let drift = point.attack.rounds();
    let trainer = Trainer {
        params: BurnTrainer::new(point.model.clone()),
        seed: ctx.seed,
        repeat,
        rounds: drift.map(|d| {
            let per_round = ModelParams {
                epochs: d.params().epochs_per_round,
                ..point.model.clone()
            };
            (
                round_ranges(data.train.len(), d.params().rounds),
                BurnTrainer::new(per_round),
            )
        }),
    };
    let mut monitor_checks = Vec::new();
    let (poisoned, clean_eval, clean_model, poisoned_model, rounds) = match drift {
        Some(d) => {
            let t = Instant::now();
            let DriftOutcome {
                poisoned,
                clean_model,
                poisoned_model,
                rounds,
                monitors,
            } = drift_rounds(ctx, d, &trainer, point, repeat, step)?;
            monitor_checks = monitors;
            timed("train-rounds", t);
            let clean_eval = evaluate(
                clean_model.as_ref(),
                &data.test,
                poisoned.attack_test.as_ref(),
            );
            (
                poisoned,
                clean_eval,
                Some(clean_model),
                poisoned_model,
                Some(rounds),
            )
        }
        None => {
            let train_clean = || -> Result<(Box<dyn Classifier>, f64), RunError> {
                let t = Instant::now();
                let model = trainer.train(&data.train, "clean")?;
                Ok((model, t.elapsed().as_secs_f64()))
            };
            let attack = |surrogate: Option<&dyn Classifier>| {
                attack_and_train(ctx, point, repeat, &trainer, surrogate, step)
            };
            let ((clean_model, clean_seconds), attacked) =
                if point.attack.needs_surrogate() || ctx.inner_threads < 2 {
                    // The clean model doubles as the surrogate of attacks that need gradients.
                    step("training the clean model");
                    let clean = train_clean()?;
                    let attacked = attack(Some(clean.0.as_ref()))?;
                    (clean, attacked)
                } else {
                    // Two threads: the clean model on one, poisoning and the poisoned
                    // model on the other (each from its own stream, as in sequence).
                    step("training the clean and the poisoned model");
                    let (clean, attacked) = std::thread::scope(|s| {
                        let clean = s.spawn(train_clean);
                        let attacked = attack(None);
                        let clean = clean
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                        (clean, attacked)
                    });
                    (clean?, attacked?)
                };
            let Attacked {
                poisoned,
                model: poisoned_model,
                poison_seconds,
                train_seconds,
            } = attacked;
            measured.extend([
                ("train-clean", clean_seconds),
                ("poison", poison_seconds),
                ("train-poisoned", train_seconds),
            ]);
            let clean_eval = evaluate(
                clean_model.as_ref(),
                &data.test,
                poisoned.attack_test.as_ref(),
            );
            let (clean_model, poisoned_model) = match poisoned_model {
                // Nothing changed: the same data and stream give the same model.
                None => (None, clean_model),
                Some(model) => (Some(clean_model), model),
            };
            (poisoned, clean_eval, clean_model, poisoned_model, None)
        }
    };
    for (name, value) in measured {
        seconds.insert(name.to_string(), value);
    }
    let poisoned_eval = evaluate(
        poisoned_model.as_ref(),
        &data.test,
        poisoned.attack_test.as_ref(),
    );
    let base = Baseline {
        ctx,
        trainer,
        poisoned,
        poisoned_model,
        clean_model,
        clean_eval,
        poisoned_eval,
    };

    // The owner signs the training set where it is produced: before an attack
    // at the source, after one in transit. The key comes from the run's own
    // stream (a simulation: nothing secret is at stake).
    let manifest = match ctx.integrity {
        None => None,
        Some(_) => {
            let mut secret = [0u8; 32];
            stream(ctx.seed, repeat, "integrity").fill_bytes(&mut secret);
            let key = SigningKey::from_bytes(&secret);
            let signed = match point.attack_at {
                Custody::Source => &base.poisoned.data,
                Custody::Transit => &data.train,
            };
            let m = Manifest::sign(signed, "training set", "run", &key)
                .map_err(|e| RunError::Integrity(e.to_string()))?;
            Some((m, key.verifying_key()))
        }
    };
    let data_root = Some(dataset_root(&base.poisoned.data));
    let model_fingerprint = Some(fingerprint(base.poisoned_model.as_ref(), &data.test));

    // Round monitors take the checks of the round runs in their order.
    let mut monitor_checks = monitor_checks.into_iter();
    let checks: Vec<_> = point
        .defenses
        .iter()
        .map(|d| d.kind.is_monitor().then(|| monitor_checks.next()).flatten())
        .collect();
    // Defenses that retrain (exclusionary reclassification) train the way the run does.
    let retrain = |subset: &Dataset| {
        base.trainer
            .fit_once(subset, "defense-internal")
            .map_err(|e| e.to_string())
    };
    let retrain = &retrain;
    let (base, manifest) = (&base, &manifest);

    // Every defense, its run on the clean training set and the two reference
    // filters are independent jobs, each with its own stream: they run on the
    // run's threads and come back in this order.
    type Job<'j> = Box<dyn FnOnce() -> Result<Option<DefenseRecord>, RunError> + Send + 'j>;
    let mut jobs: Vec<Job<'_>> = Vec::new();
    for (d, check) in point.defenses.iter().zip(checks) {
        jobs.push(Box::new(move || {
            step(&format!("defense {}", d.name));
            defense_record(ctx, base, d, check, manifest.as_ref(), retrain, repeat).map(Some)
        }));
    }
    let clean_runs: Vec<bool> = point
        .defenses
        .iter()
        .map(|d| ctx.clean_fpr && d.kind.is_filter() && base.clean_model.is_some())
        .collect();
    for (d, _) in point.defenses.iter().zip(&clean_runs).filter(|(_, c)| **c) {
        jobs.push(Box::new(move || {
            let Some(clean_model) = &base.clean_model else {
                return Ok(None);
            };
            step(&format!("defense {} on the clean training set", d.name));
            let input = DefenseInput::new(&data.train, clean_model.as_ref(), data.trusted.as_ref())
                .with_retrain(retrain);
            let rng = &mut stream(ctx.seed, repeat, &format!("defense:{}:clean", d.name));
            let fpr = d.kind.inspect(input, rng).ok().and_then(|v| {
                let f = v.as_filter()?;
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
    let mask = &base.poisoned.is_poison;
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
            &top_k(scores, base.poisoned.n_poison()),
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
            record.clean_fpr = match &base.clean_model {
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

    Ok(RunRecord {
        point: point
            .assignments
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect(),
        repeat,
        seed: run_seed(ctx.seed, repeat),
        n_train: data.train.len(),
        n_poison: base.poisoned.n_poison(),
        attack: AttackInfo {
            kind: point.attack.kind().to_string(),
            at: point.attack_at,
        },
        n_test: data.test.len(),
        clean: base.clean_eval.clone(),
        poisoned: base.poisoned_eval.clone(),
        defenses,
        data_root,
        clean_root: Some(data.train_root.clone()),
        model_fingerprint,
        rounds,
        seconds,
    })
}

/// A defense's retraining callback that several threads may call.
type SharedRetrain<'a> = dyn Fn(&Dataset) -> Result<Box<dyn Classifier>, String> + Sync + 'a;

/// The record of one defense on the poisoned training set: its verdict
/// scored and its retrained model evaluated. `check` is a round monitor's
/// observations; `manifest` the signed manifest and its owner's key.
fn defense_record(
    ctx: &RunContext<'_>,
    base: &Baseline<'_>,
    d: &DefenseSpec,
    check: Option<Result<MonitorChecks, String>>,
    manifest: Option<&(Manifest, VerifyingKey)>,
    retrain: &SharedRetrain<'_>,
    repeat: u64,
) -> Result<DefenseRecord, RunError> {
    let data = ctx.data;
    let t = Instant::now();
    if d.kind.kind() == "provenance" {
        return Ok(match manifest {
            Some((m, public)) => {
                let v = poisonlab_provenance::inspect(m, public, &base.poisoned.data);
                let own = t.elapsed().as_secs_f64();
                let mut r = base.score(&d.name, "provenance", &v.filter)?;
                r.provenance = Some(ProvenanceRecord {
                    modified: v.modified.len(),
                    added: v.added.len(),
                    removed: v.removed.len(),
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
        });
    }
    if d.kind.is_monitor() {
        return Ok(match check {
            Some(Ok((poisoned, clean))) => DefenseRecord {
                monitor: Some(monitor_record(&poisoned, &clean)),
                ..DefenseRecord::new(&d.name, "monitor")
            },
            Some(Err(message)) => failed(&d.name, "monitor", message, t),
            None => failed(
                &d.name,
                "monitor",
                "round monitors need a round-based attack".into(),
                t,
            ),
        });
    }
    if let Some(strip) = d.kind.input_detector() {
        let rng = &mut stream(ctx.seed, repeat, &format!("defense:{}", d.name));
        return Ok(
            match screen(
                &strip,
                base.poisoned_model.as_ref(),
                data,
                base.poisoned.attack_test.as_ref(),
                rng,
            ) {
                Ok(input) => DefenseRecord {
                    input: Some(input),
                    seconds: t.elapsed().as_secs_f64(),
                    ..DefenseRecord::new(&d.name, "input-detector")
                },
                Err(message) => failed(&d.name, "input-detector", message, t),
            },
        );
    }
    let input = DefenseInput::new(
        &base.poisoned.data,
        base.poisoned_model.as_ref(),
        data.trusted.as_ref(),
    )
    .with_retrain(retrain);
    let verdict = d.kind.inspect(
        input,
        &mut stream(ctx.seed, repeat, &format!("defense:{}", d.name)),
    );
    let own = t.elapsed().as_secs_f64();
    let mut record = match verdict {
        Ok(v) => match v.as_filter() {
            Some(f) => base.score(&d.name, "filter", f)?,
            None => failed(
                &d.name,
                "filter",
                "the defense returned no filter verdict".into(),
                t,
            ),
        },
        Err(message) => failed(&d.name, "filter", message, t),
    };
    record.seconds = own;
    if let Some(test) = d
        .kind
        .label_test(&base.poisoned.data, data.trusted.as_ref())
    {
        record.label_test = Some(test);
    }
    Ok(record)
}

/// Screen the clean test inputs and the attack's test inputs with an
/// input-time detector whose threshold is set on the trusted samples.
fn screen(
    strip: &Strip,
    model: &dyn Classifier,
    data: &LoadedData,
    attack: Option<&AttackTest>,
    rng: &mut poisonlab_core::Rng,
) -> Result<InputDetection, String> {
    let trusted = data
        .trusted
        .as_ref()
        .ok_or("strip needs [data] trusted = N clean held-out samples")?;
    let calibrate = strip
        .entropy(model, trusted, trusted, true, rng)
        .map_err(|e| e.to_string())?;
    let threshold = strip.threshold(&calibrate.entropy);
    let rejected = |h: &[f64]| threshold.map_or(0, |t| h.iter().filter(|&&x| x <= t).count());
    let clean = strip
        .entropy(model, &data.test, trusted, false, rng)
        .map_err(|e| e.to_string())?;
    let frr = (!clean.entropy.is_empty())
        .then(|| rejected(&clean.entropy) as f64 / clean.entropy.len() as f64);
    let far = match attack {
        Some(a) if !a.inputs.is_empty() => {
            let h = strip
                .entropy(model, &a.inputs, trusted, false, rng)
                .map_err(|e| e.to_string())?
                .entropy;
            Some((h.len() - rejected(&h)) as f64 / h.len() as f64)
        }
        _ => None,
    };
    Ok(InputDetection {
        far,
        frr,
        threshold,
    })
}

/// SHA-256 (hex) of the model's class probabilities on `test`.
fn fingerprint(model: &dyn Classifier, test: &Dataset) -> String {
    use sha2::{Digest, Sha256};
    let proba = model.predict_proba(test);
    let mut hasher = Sha256::new();
    for p in &proba.data {
        hasher.update(p.to_le_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A monitor's record from its checks on the poisoned and the clean run.
fn monitor_record(poisoned: &[RoundCheck], clean: &[RoundCheck]) -> MonitorRecord {
    let (first_alarm_round, alarms) = summarize(poisoned);
    let (_, false_alarms) = summarize(clean);
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

/// A TOML scalar as JSON.
pub(crate) fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        other => serde_json::Value::String(other.to_string()),
    }
}
