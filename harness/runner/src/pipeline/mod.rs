//! One run: poison, train, defend, retrain, measure — as named steps.
//!
//! [`run_one`] reads as the run does: [`train_models`] (the `[training]`
//! regime decides how: [`train_central`] or [`rounds::train_in_rounds`]),
//! [`evaluate`], [`sign_training_set`] (`[integrity]`), [`defend::all`] (each
//! defense by its family, the clean-set inspections, the references), then
//! [`record`].

mod defend;
mod rounds;

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Instant;

use poisonlab_core::metrics;
use poisonlab_core::seed::{run_seed, stream};
use poisonlab_core::{AttackInput, AttackTest, Classifier, Dataset, Poisoned, RoundPlan, Streams};
use poisonlab_integrity::{Manifest, SigningKey, dataset_root};
use poisonlab_provenance::SignedSet;
use poisonlab_results::{AttackInfo, ModelEval, RoundRecord, RunRecord, toml_to_json};
use poisonlab_scenario::{Custody, IntegritySpec, Point, Training};
use rand::RngCore as _;

use crate::RunError;
use crate::data::LoadedData;
use crate::train::Trainer;

use defend::Baseline;
use rounds::MonitorChecks;

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

/// Seconds per step of one run, by step name.
type Timings = BTreeMap<String, f64>;

/// Run one (point, repeat) and return its record. `step` hears what is happening.
pub(crate) fn run_one(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    step: &(dyn Fn(&str) + Sync),
) -> Result<RunRecord, RunError> {
    let mut seconds = Timings::new();
    seconds.insert("load".to_string(), ctx.data.seconds);
    let trainer = Trainer::new(&point.model, &point.training, ctx.seed, repeat);
    let trained = train_models(ctx, point, repeat, &trainer, step, &mut seconds)?;
    let base = Baseline::new(ctx, trainer, trained.models);
    let manifest = sign_training_set(ctx, point, repeat, &base)?;
    let defenses = defend::all(
        ctx,
        point,
        repeat,
        &base,
        manifest.as_ref(),
        trained.monitors,
        step,
    )?;
    Ok(record(ctx, point, repeat, &base, defenses, trained.rounds, seconds))
}

/// The models of a run and what its regime measured on the way.
struct Trained {
    models: Models,
    rounds: Option<Vec<RoundRecord>>,
    monitors: Vec<Result<MonitorChecks, String>>,
}

/// The poisoned training set and the models trained with and without it.
pub(crate) struct Models {
    pub poisoned: Poisoned,
    /// `None` when the attack changed nothing (then it is `poisoned_model`).
    pub clean_model: Option<Box<dyn Classifier>>,
    pub poisoned_model: Box<dyn Classifier>,
    pub clean_eval: ModelEval,
}

/// Poison and train the clean and the poisoned model as the regime says.
fn train_models(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    trainer: &Trainer,
    step: &(dyn Fn(&str) + Sync),
    seconds: &mut Timings,
) -> Result<Trained, RunError> {
    match &point.training {
        Training::Central => train_central(ctx, point, repeat, trainer, step, seconds),
        Training::Rounds(_) => {
            let t = Instant::now();
            let out = rounds::train_in_rounds(ctx, trainer, point, repeat, step)?;
            seconds.insert("train-rounds".into(), t.elapsed().as_secs_f64());
            let clean_eval = evaluate(
                out.clean_model.as_ref(),
                &ctx.data.test,
                out.poisoned.attack_test.as_ref(),
            );
            Ok(Trained {
                models: Models {
                    poisoned: out.poisoned,
                    clean_model: Some(out.clean_model),
                    poisoned_model: out.poisoned_model,
                    clean_eval,
                },
                rounds: Some(out.rounds),
                monitors: out.monitors,
            })
        }
    }
}

/// The central regime: one clean and one poisoned training run, on two
/// threads when the run has them and the attack needs no surrogate.
fn train_central(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    trainer: &Trainer,
    step: &(dyn Fn(&str) + Sync),
    seconds: &mut Timings,
) -> Result<Trained, RunError> {
    let data = ctx.data;
    let train_clean = || -> Result<(Box<dyn Classifier>, f64), RunError> {
        let t = Instant::now();
        let model = trainer.train(&data.train, "clean")?;
        Ok((model, t.elapsed().as_secs_f64()))
    };
    let attack = |surrogate: Option<&dyn Classifier>| {
        attack_and_train(ctx, point, repeat, trainer, surrogate, step)
    };
    let needs_surrogate = point.attack.attack().needs_surrogate();
    let ((clean_model, clean_seconds), attacked) = if needs_surrogate || ctx.inner_threads < 2 {
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
    seconds.insert("train-clean".into(), clean_seconds);
    seconds.insert("poison".into(), attacked.poison_seconds);
    seconds.insert("train-poisoned".into(), attacked.train_seconds);
    let poisoned = attacked.poisoned;
    let clean_eval = evaluate(
        clean_model.as_ref(),
        &data.test,
        poisoned.attack_test.as_ref(),
    );
    let (clean_model, poisoned_model) = match attacked.model {
        // Nothing changed: the same data and stream give the same model.
        None => (None, clean_model),
        Some(model) => (Some(clean_model), model),
    };
    Ok(Trained {
        models: Models {
            poisoned,
            clean_model,
            poisoned_model,
            clean_eval,
        },
        rounds: None,
        monitors: Vec::new(),
    })
}

/// Measure `model` on the clean test set and the attack's test inputs.
pub(crate) fn evaluate(
    model: &dyn Classifier,
    test: &Dataset,
    attack: Option<&AttackTest>,
) -> ModelEval {
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

/// Poison the training set with the run's `attack` stream; `surrogate` (a
/// model trained on the clean data) goes to attacks that need one, `rounds`
/// (the clean training set's round ranges) to attacks that poison by round.
fn poison(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    surrogate: Option<&dyn Classifier>,
    rounds: Option<&[Range<usize>]>,
) -> Result<Poisoned, RunError> {
    let attack = point.attack.attack();
    let mut input = AttackInput::new(&ctx.data.train, &ctx.data.test);
    if let (true, Some(model)) = (attack.needs_surrogate(), surrogate) {
        input = input.with_surrogate(model);
    }
    if let Some(ranges) = rounds {
        input = input.with_rounds(RoundPlan {
            ranges,
            streams: Streams {
                seed: ctx.seed,
                repeat,
            },
        });
    }
    attack
        .poison(input, &mut stream(ctx.seed, repeat, "attack"))
        .map_err(|message| RunError::Attack {
            kind: point.attack.kind(),
            message,
        })
}

/// The poisoned training set of one (point, repeat), exactly as its run sees it.
pub(crate) fn poisoned_set(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
) -> Result<Poisoned, RunError> {
    let trainer = Trainer::new(&point.model, &point.training, ctx.seed, repeat);
    let surrogate = match point.attack.attack().needs_surrogate() {
        true => Some(trainer.fit_once(&ctx.data.train, "clean")?),
        false => None,
    };
    let ranges = trainer.ranges(ctx.data.train.len());
    poison(ctx, point, repeat, surrogate.as_deref(), ranges.as_deref())
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
    let poisoned = poison(ctx, point, repeat, surrogate, None)?;
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

/// The owner signs the training set where it is produced: before an attack
/// at the source, after one in transit. The key comes from the run's own
/// stream (a simulation: nothing secret is at stake).
fn sign_training_set(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    base: &Baseline<'_>,
) -> Result<Option<SignedSet>, RunError> {
    if ctx.integrity.is_none() {
        return Ok(None);
    }
    let mut secret = [0u8; 32];
    stream(ctx.seed, repeat, "integrity").fill_bytes(&mut secret);
    let key = SigningKey::from_bytes(&secret);
    let signed = match point.attack_at {
        Custody::Source => &base.models.poisoned.data,
        Custody::Transit => &ctx.data.train,
    };
    let manifest = Manifest::sign(signed, "training set", "run", &key)
        .map_err(|e| RunError::Integrity(e.to_string()))?;
    Ok(Some(SignedSet {
        manifest,
        public: key.verifying_key(),
    }))
}

/// The run's record.
fn record(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    base: &Baseline<'_>,
    defenses: Vec<poisonlab_results::DefenseRecord>,
    rounds: Option<Vec<RoundRecord>>,
    seconds: Timings,
) -> RunRecord {
    let data = ctx.data;
    let m = &base.models;
    RunRecord {
        point: point
            .assignments
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect(),
        repeat,
        seed: run_seed(ctx.seed, repeat),
        n_train: data.train.len(),
        n_poison: m.poisoned.n_poison(),
        attack: AttackInfo {
            kind: point.attack.kind().to_string(),
            at: point.attack_at,
        },
        n_test: data.test.len(),
        clean: m.clean_eval.clone(),
        poisoned: base.poisoned_eval.clone(),
        defenses,
        data_root: Some(dataset_root(&m.poisoned.data)),
        clean_root: Some(data.train_root.clone()),
        model_fingerprint: Some(fingerprint(m.poisoned_model.as_ref(), &data.test)),
        rounds,
        seconds,
    }
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
