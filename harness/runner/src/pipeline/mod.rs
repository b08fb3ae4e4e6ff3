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

use std::collections::BTreeMap;
use std::time::Instant;

use poisonlab_core::seed::{run_seed, stream};
use poisonlab_core::{Classifier, Dataset, Poisoned};
use poisonlab_integrity::{Manifest, SignedSet, SigningKey, dataset_root};
use poisonlab_results::{
    AttackInfo, FineTuneEpoch, ModelEval, RoundRecord, RunRecord, TransferRecord, toml_to_json,
};
use poisonlab_scenario::{Custody, Point, Training};
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
        return run_transfer(ctx, point, p, repeat, step, seconds);
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
        model_fingerprint: Some(fingerprint(out.poisoned_model.as_ref(), &ctx.data.test)),
        rounds: Some(out.rounds),
        federation: Some(out.federation),
        transfer: None,
        seconds,
    })
}

/// A transfer run: the base model is pretrained on one part of the training
/// set; the run then goes as a central one on the attacked stage's part
/// (pretraining or fine-tuning set), every model of it pretrained and
/// fine-tuned by the transfer trainer; defenses see that stage's set.
fn run_transfer(
    ctx: &RunContext<'_>,
    point: &Point,
    p: &poisonlab_scenario::TransferParams,
    repeat: u64,
    step: &(dyn Fn(&str) + Sync),
    mut seconds: Timings,
) -> Result<RunRecord, RunError> {
    use crate::transfer::{TransferSetup, split_rows};
    let train = &ctx.data.train;
    let (pre_rows, tune_rows) = split_rows(train.labels(), p);
    let (pretrain, fine_tune) = (train.subset(&pre_rows), train.subset(&tune_rows));
    if pretrain.is_empty() || fine_tune.is_empty() {
        return Err(RunError::Transfer(format!(
            "the split leaves {} pretraining and {} fine-tuning samples; both need some",
            pretrain.len(),
            fine_tune.len()
        )));
    }
    step("pretraining the base model");
    let t = Instant::now();
    // The attacked stage's set is the run's training set; the setup keeps
    // the clean fine-tuning set only when pretraining is attacked.
    let (clean_fine_tune, stage_fine_tune) = match p.poison {
        poisonlab_scenario::PoisonStage::Pretrain => (Some(fine_tune), None),
        poisonlab_scenario::PoisonStage::FineTune => (None, Some(fine_tune)),
    };
    let setup = TransferSetup::new(
        p,
        &point.model,
        &pretrain,
        clean_fine_tune,
        ctx.seed,
        repeat,
    )
    .map_err(|source| RunError::Train {
        what: "base".into(),
        source,
    })?;
    let stage_train = stage_fine_tune.unwrap_or(pretrain);
    seconds.insert("pretrain".into(), t.elapsed().as_secs_f64());
    let setup = std::sync::Arc::new(setup);
    let (n_pretrain, n_fine_tune) = (pre_rows.len(), tune_rows.len());
    // The fine-tuned models are measured on the fine-tuning task: with a
    // class split, the test samples of the fine-tuning classes.
    let test = match p.pretrain {
        poisonlab_scenario::Pretrain::Classes => {
            let rows: Vec<usize> = (0..ctx.data.test.len())
                .filter(|&i| !p.pretrain_classes.contains(&ctx.data.test.labels()[i]))
                .collect();
            ctx.data.test.subset(&rows)
        }
        poisonlab_scenario::Pretrain::Half => ctx.data.test.clone(),
    };
    let stage = crate::data::LoadedData {
        train_root: dataset_root(&stage_train),
        train: stage_train,
        test,
        trusted: ctx.data.trusted.clone(),
        class_names: ctx.data.class_names.clone(),
        seconds: ctx.data.seconds,
    };
    let stage_ctx = RunContext {
        data: &stage,
        ..*ctx
    };
    let trainer =
        Trainer::new(&point.model, &point.training, ctx.seed, repeat).with_transfer(setup.clone());
    let (models, timed) = central::train_central(&stage_ctx, point, repeat, &trainer, step)?;
    for (name, value) in timed {
        seconds.insert(name.into(), value);
    }
    let seen = setup.take_seen();
    let attack_test = models.poisoned.attack_test.as_ref();
    let test = &stage.test;
    let at = |params: &[f32]| -> Result<ModelEval, RunError> {
        let mut m = setup.base.clone_box();
        m.set_parameters(params)
            .map_err(|e| RunError::Transfer(e.to_string()))?;
        Ok(evaluate(m.as_ref(), test, attack_test))
    };
    let clean_base = evaluate(setup.base.as_ref(), test, attack_test);
    let base = match &seen.poisoned_base {
        Some(b) => at(b)?,
        None => clean_base.clone(),
    };
    // With nothing changed the poisoned model is the clean one.
    let poisoned_epochs = match seen.poisoned.is_empty() {
        true => &seen.clean,
        false => &seen.poisoned,
    };
    let mut epochs = Vec::new();
    for (i, (c, q)) in seen.clean.iter().zip(poisoned_epochs).enumerate() {
        let (c, q) = (at(c)?, at(q)?);
        epochs.push(FineTuneEpoch {
            epoch: i + 1,
            clean_ca: c.ca,
            ca: q.ca,
            asr: q.asr,
        });
    }
    let base_model = Baseline::new(&stage_ctx, trainer, models);
    let manifest = sign_training_set(&stage_ctx, point, repeat, &base_model)?;
    let defenses = defend::all(
        &stage_ctx,
        point,
        repeat,
        &base_model,
        manifest.as_ref(),
        Vec::new(),
        step,
    )?;
    let mut record = record(
        &stage_ctx,
        point,
        repeat,
        &base_model,
        defenses,
        None,
        seconds,
    );
    record.transfer = Some(TransferRecord {
        poison: match p.poison {
            poisonlab_scenario::PoisonStage::Pretrain => "pretrain".into(),
            poisonlab_scenario::PoisonStage::FineTune => "fine-tune".into(),
        },
        n_pretrain,
        n_fine_tune,
        clean_base,
        base,
        epochs,
    });
    Ok(record)
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
            crafting: crafting(point, &m.poisoned, data.train.len()),
        },
        n_test: data.test.len(),
        clean: m.clean_eval.clone(),
        poisoned: base.poisoned_eval.clone(),
        defenses,
        data_root: Some(dataset_root(&m.poisoned.data)),
        clean_root: Some(data.train_root.clone()),
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
