//! The transfer regime: a base model is pretrained on one part of the
//! training set; the run then goes as a central one on the attacked stage's
//! part (the pretraining or the fine-tuning set), every model of it
//! pretrained and fine-tuned by the transfer trainer; defenses see that
//! stage's set.

use std::sync::Arc;
use std::time::Instant;

use poisonlab_integrity::dataset_root;
use poisonlab_results::{FineTuneEpoch, ModelEval, RunRecord, TransferRecord};
use poisonlab_scenario::{Point, PoisonStage, Pretrain, TransferParams};

use super::common::{Models, RunContext, evaluate};
use super::defend::Baseline;
use super::{Timings, central, defend, record, sign_training_set};
use crate::RunError;
use crate::data::LoadedData;
use crate::train::Trainer;
use crate::transfer::{TransferSetup, split_rows};

/// One transfer run (point, repeat) and its record.
pub(super) fn run(
    ctx: &RunContext<'_>,
    point: &Point,
    p: &TransferParams,
    repeat: u64,
    step: &(dyn Fn(&str) + Sync),
    mut seconds: Timings,
) -> Result<RunRecord, RunError> {
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
        PoisonStage::Pretrain => (Some(fine_tune), None),
        PoisonStage::FineTune => (None, Some(fine_tune)),
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
    let stage = stage_data(ctx, p, stage_fine_tune.unwrap_or(pretrain));
    seconds.insert("pretrain".into(), t.elapsed().as_secs_f64());
    let setup = Arc::new(setup);
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
    let (clean_base, base, epochs) = measure(&setup, &models, &stage.test)?;
    let transfer = TransferRecord {
        poison: match p.poison {
            PoisonStage::Pretrain => "pretrain".into(),
            PoisonStage::FineTune => "fine-tune".into(),
        },
        n_pretrain: pre_rows.len(),
        n_fine_tune: tune_rows.len(),
        clean_base,
        base,
        epochs,
    };
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
    record.transfer = Some(transfer);
    Ok(record)
}

/// The run's data for the attacked stage: its training set, and the test
/// set of the fine-tuning task (with a class split, the test samples of the
/// fine-tuning classes).
fn stage_data(
    ctx: &RunContext<'_>,
    p: &TransferParams,
    train: poisonlab_core::Dataset,
) -> LoadedData {
    let test = match p.pretrain {
        Pretrain::Classes => {
            let rows: Vec<usize> = (0..ctx.data.test.len())
                .filter(|&i| !p.pretrain_classes.contains(&ctx.data.test.labels()[i]))
                .collect();
            ctx.data.test.subset(&rows)
        }
        Pretrain::Half => ctx.data.test.clone(),
    };
    LoadedData {
        train_root: dataset_root(&train),
        train,
        test,
        trusted: ctx.data.trusted.clone(),
        class_names: ctx.data.class_names.clone(),
        recipe: ctx.data.recipe.clone(),
        seconds: ctx.data.seconds,
    }
}

/// The clean base and the attacked pipeline's base before fine-tuning, and
/// both pipelines after every fine-tuning epoch, measured on `test`.
fn measure(
    setup: &TransferSetup,
    models: &Models,
    test: &poisonlab_core::Dataset,
) -> Result<(ModelEval, ModelEval, Vec<FineTuneEpoch>), RunError> {
    let seen = setup.take_seen();
    let attack_test = models.poisoned.attack_test.as_ref();
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
    Ok((clean_base, base, epochs))
}
