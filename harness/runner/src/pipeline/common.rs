//! What every step of a run shares: its context, its models, how a model is
//! measured and how the training set is poisoned.

use std::ops::Range;

use poisonlab_core::metrics;
use poisonlab_core::seed::stream;
use poisonlab_core::{
    AttackInput, AttackTest, Classifier, Dataset, Model, Poisoned, RoundCheck, RoundPlan, Streams,
    SurrogateTrainer,
};
use poisonlab_results::ModelEval;
use poisonlab_scenario::{IntegritySpec, Point};

use crate::RunError;
use crate::data::LoadedData;

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

/// The poisoned training set and the models trained with and without it.
pub(crate) struct Models {
    pub poisoned: Poisoned,
    /// `None` when the attack changed nothing (then it is `poisoned_model`).
    pub clean_model: Option<Box<dyn Model>>,
    pub poisoned_model: Box<dyn Model>,
    pub clean_eval: ModelEval,
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
    let per_class_recall = metrics::per_class_recall(&predicted, test.labels(), test.n_classes());
    let source_recall = attack
        .and_then(|a| source_class(&a.inputs))
        .and_then(|s| per_class_recall.get(s).copied().flatten());
    ModelEval {
        ca: metrics::agreement(&predicted, test.labels()),
        asr,
        ra,
        per_class_recall,
        source_recall,
    }
}

/// The one class every input of `inputs` comes from, if they share one
/// (targeted label flipping's source class).
pub(crate) fn source_class(inputs: &Dataset) -> Option<usize> {
    let (&first, rest) = inputs.labels().split_first()?;
    rest.iter().all(|&y| y == first).then_some(first)
}

/// Poison the training set with the run's `attack` stream; `surrogate` (a
/// model trained on the clean data) goes to attacks that need one, `rounds`
/// (the clean training set's round ranges) to attacks that poison by round.
pub(crate) fn poison(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    surrogate: Option<Surrogate<'_>>,
    rounds: Option<&[Range<usize>]>,
    step: &(dyn Fn(&str) + Sync),
) -> Result<Poisoned, RunError> {
    let attack = point.attack.attack();
    let progress = |done: usize, total: usize| {
        step(&format!(
            "poisoning: crafting target {} of {total}",
            done + 1
        ));
    };
    let mut input = AttackInput::new(&ctx.data.train, &ctx.data.test).with_progress(&progress);
    if let (true, Some(s)) = (attack.needs_surrogate(), surrogate) {
        input = input.with_surrogate(s.model).with_trainer(s.trainer);
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

/// What an attack that needs gradients gets: the clean model and a trainer
/// for further surrogates with the run's model settings.
#[derive(Clone, Copy)]
pub(crate) struct Surrogate<'a> {
    pub model: &'a dyn Model,
    pub trainer: &'a dyn SurrogateTrainer,
}

/// A round monitor's checks on the poisoned run and on the clean run.
pub(crate) type MonitorChecks = (Vec<RoundCheck>, Vec<RoundCheck>);
