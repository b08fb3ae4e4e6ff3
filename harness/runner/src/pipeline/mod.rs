//! One run: poison, train, defend, retrain, measure — as named steps.
//!
//! [`run_one`] reads as the run does: [`train_models`] (the `[training]`
//! regime decides how: [`train_central`] or [`rounds::train_in_rounds`]),
//! [`evaluate`], [`sign_training_set`] (`[integrity]`), [`defend::all`] (each
//! defense by its family, the clean-set inspections, the references), then
//! [`record`].

mod central;
mod common;
mod defend;
mod federated;
mod rounds;
mod transfer;

use std::collections::BTreeMap;
use std::time::Instant;

use poisonlab_core::seed::{run_seed, stream};
use poisonlab_core::{Classifier, Dataset, Poisoned};
use poisonlab_integrity::{Manifest, SignedSet, SigningKey, dataset_root};
use poisonlab_results::{AttackInfo, RoundRecord, RunRecord, toml_to_json};
use poisonlab_scenario::{Custody, Point, SignAt, Training};
use rand::RngCore as _;

use crate::RunError;
use crate::train::Trainer;

pub(crate) use common::RunContext;
use common::{Models, MonitorChecks, evaluate, poison};
use defend::Baseline;

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
    if point.training.federated().is_some() {
        return run_federated(ctx, point, repeat, step, seconds);
    }
    if let Some(p) = point.training.transfer() {
        return transfer::run(ctx, point, p, repeat, step, seconds);
    }
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
    Ok(record(
        ctx,
        point,
        repeat,
        &base,
        defenses,
        trained.rounds,
        seconds,
    ))
}

/// A federated run: its federations, then its record.
fn run_federated(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    step: &(dyn Fn(&str) + Sync),
    mut seconds: Timings,
) -> Result<RunRecord, RunError> {
    let t = Instant::now();
    let out = federated::run(ctx, point, repeat, step)?;
    seconds.insert("federations".into(), t.elapsed().as_secs_f64());
    Ok(RunRecord {
        schema: poisonlab_results::RECORD_SCHEMA,
        fingerprint: None,
        kernels: None,
        point: point
            .assignments
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect(),
        repeat,
        seed: run_seed(ctx.seed, repeat),
        n_train: ctx.data.train.len(),
        n_poison: out.n_poison,
        attack: AttackInfo {
            kind: point.attack.kind().to_string(),
            at: point.attack_at,
            crafting: None,
        },
        n_test: ctx.data.test.len(),
        clean: out.clean,
        poisoned: out.poisoned,
        defenses: out.defenses,
        data_root: None,
        clean_root: Some(ctx.data.train_root.clone()),
        recipe: ctx.data.recipe.clone(),
        model_fingerprint: Some(fingerprint(out.poisoned_model.as_ref(), &ctx.data.test)),
        rounds: Some(out.rounds),
        federation: Some(out.federation),
        transfer: None,
        seconds,
    })
}

/// The models of a run and what its regime measured on the way.
struct Trained {
    models: Models,
    rounds: Option<Vec<RoundRecord>>,
    monitors: Vec<Result<MonitorChecks, String>>,
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
        Training::Federated(_) | Training::Transfer(_) => {
            unreachable!("federated and transfer runs take their own path")
        }
        Training::Central => {
            let (models, timed) = central::train_central(ctx, point, repeat, trainer, step)?;
            for (name, value) in timed {
                seconds.insert(name.into(), value);
            }
            Ok(Trained {
                models,
                rounds: None,
                monitors: Vec::new(),
            })
        }
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
    let surrogate = surrogate.as_deref().map(|model| common::Surrogate {
        model,
        trainer: trainer.surrogate_trainer(),
    });
    poison(ctx, point, repeat, surrogate, ranges.as_deref(), &|_| {})
}

/// The owner signs the training set's trust anchor where `[integrity]
/// sign-at` says: at the source (a manifest of the data as produced: before
/// an attack at the generator or the source, after one in transit) or at the
/// generator (its recipe: the data the generator makes, which holds the
/// poison only when the attack is in the generator itself). The key comes
/// from the run's own stream (a simulation: nothing secret is at stake).
fn sign_training_set(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    base: &Baseline<'_>,
) -> Result<Option<SignedSet>, RunError> {
    let Some(integrity) = ctx.integrity else {
        return Ok(None);
    };
    let mut secret = [0u8; 32];
    stream(ctx.seed, repeat, "integrity").fill_bytes(&mut secret);
    let key = SigningKey::from_bytes(&secret);
    let poisoned = &base.models.poisoned.data;
    let clean = &ctx.data.train;
    let (signed, what) = match (integrity.sign_at, point.attack_at) {
        (SignAt::Source, Custody::Generator | Custody::Source) => (poisoned, "training set"),
        (SignAt::Source, Custody::Transit) => (clean, "training set"),
        (SignAt::Generator, Custody::Generator) => (poisoned, "generator output"),
        (SignAt::Generator, Custody::Source | Custody::Transit) => (clean, "generator output"),
    };
    let manifest = Manifest::sign(signed, what, "run", &key)
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
        schema: poisonlab_results::RECORD_SCHEMA,
        fingerprint: None,
        kernels: None,
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
            crafting: crafting(point, &m.poisoned, data.train.len()),
        },
        n_test: data.test.len(),
        clean: m.clean_eval.clone(),
        poisoned: base.poisoned_eval.clone(),
        defenses,
        data_root: Some(dataset_root(&m.poisoned.data)),
        clean_root: Some(data.train_root.clone()),
        recipe: ctx.data.recipe.clone(),
        model_fingerprint: Some(fingerprint(m.poisoned_model.as_ref(), &data.test)),
        rounds,
        federation: None,
        transfer: None,
        seconds,
    }
}

/// What a crafting attack made: the targets' ids and the budget from the
/// poisoned set, ε and steps as the attack declares them.
fn crafting(
    point: &Point,
    poisoned: &Poisoned,
    n_train: usize,
) -> Option<poisonlab_results::CraftingRecord> {
    let c = point.attack.attack().crafting()?;
    Some(poisonlab_results::CraftingRecord {
        targets: poisoned
            .attack_test
            .as_ref()
            .map(|a| a.inputs.ids().to_vec())
            .unwrap_or_default(),
        budget: poisoned.n_poison() as f64 / n_train.max(1) as f64,
        epsilon: c.epsilon,
        steps: Some(c.steps as u64),
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
