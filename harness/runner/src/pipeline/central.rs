//! The central regime: one clean and one poisoned training run.

use std::time::Instant;

use poisonlab_core::{Model, Poisoned};
use poisonlab_scenario::Point;

use super::common::{Models, RunContext, Surrogate, evaluate, poison};
use crate::RunError;
use crate::train::Trainer;

/// Seconds of each step that ran, by name.
pub(super) type StepSeconds = Vec<(&'static str, f64)>;

/// One clean and one poisoned training run, on two
/// threads when the run has them and the attack needs no surrogate.
pub(super) fn train_central(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    trainer: &Trainer,
    step: &(dyn Fn(&str) + Sync),
) -> Result<(Models, StepSeconds), RunError> {
    let data = ctx.data;
    let train_clean = || -> Result<(Box<dyn Model>, f64), RunError> {
        let t = Instant::now();
        let model = trainer.train(&data.train, "clean")?;
        Ok((model, t.elapsed().as_secs_f64()))
    };
    let attack = |surrogate: Option<&dyn Model>| {
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
    let seconds = vec![
        ("train-clean", clean_seconds),
        ("poison", attacked.poison_seconds),
        ("train-poisoned", attacked.train_seconds),
    ];
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
    let models = Models {
        poisoned,
        clean_model,
        poisoned_model,
        clean_eval,
    };
    Ok((models, seconds))
}

/// The attack's outcome and the model trained on it.
struct Attacked {
    poisoned: Poisoned,
    /// `None` when the attack changed nothing (the clean model is the poisoned one).
    model: Option<Box<dyn Model>>,
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
    surrogate: Option<&dyn Model>,
    step: &(dyn Fn(&str) + Sync),
) -> Result<Attacked, RunError> {
    step("poisoning");
    let t = Instant::now();
    let surrogate = surrogate.map(|model| Surrogate {
        model,
        trainer: trainer.surrogate_trainer(),
    });
    let poisoned = poison(ctx, point, repeat, surrogate, None, step)?;
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
