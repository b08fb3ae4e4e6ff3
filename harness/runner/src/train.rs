//! How a run trains its models: the `[training]` regime decides.

use std::ops::Range;

use poisonlab_core::seed::stream;
use poisonlab_core::{Dataset, Model, ModelParams};
use poisonlab_model::{BurnTrainer, ModelError, TrainedModel};
use poisonlab_scenario::Training;

use crate::RunError;

/// Trains every model of one run: at once, or round by round.
pub(crate) struct Trainer {
    params: BurnTrainer,
    seed: u64,
    repeat: u64,
    /// Round-by-round training: the number of rounds and the trainer of one
    /// round (its epochs per round).
    rounds: Option<(usize, BurnTrainer)>,
    /// Transfer learning: the base model and how to fine-tune it.
    transfer: Option<std::sync::Arc<crate::transfer::TransferSetup>>,
}

impl Trainer {
    /// The trainer of one run of `model` under `training`.
    pub fn new(model: &ModelParams, training: &Training, seed: u64, repeat: u64) -> Self {
        Self {
            params: BurnTrainer::new(model.clone()),
            seed,
            repeat,
            rounds: training.rounds().map(|p| {
                let per_round = ModelParams {
                    epochs: p.epochs_per_round,
                    ..model.clone()
                };
                (p.rounds, BurnTrainer::new(per_round))
            }),
            transfer: None,
        }
    }

    /// The same trainer for a transfer run: every model of the run (but
    /// surrogates and defenses' internal models) is pretrained and
    /// fine-tuned as `setup` says.
    pub fn with_transfer(self, setup: std::sync::Arc<crate::transfer::TransferSetup>) -> Self {
        Self {
            transfer: Some(setup),
            ..self
        }
    }

    /// The trainer of one whole training run, for attacks' own surrogates.
    pub fn surrogate_trainer(&self) -> &BurnTrainer {
        &self.params
    }

    /// The round ranges of `n` samples, when training in rounds.
    pub fn ranges(&self, n: usize) -> Option<Vec<Range<usize>>> {
        self.rounds.as_ref().map(|(r, _)| round_ranges(n, *r))
    }

    /// Every training run starts from the same `model` stream (same initial
    /// weights; round r ≥ 2 shuffles with stream `round{r}`), so clean, poisoned
    /// and retrained models differ only by their data.
    pub fn train(&self, data: &Dataset, what: &str) -> Result<Box<dyn Model>, RunError> {
        if let Some(t) = &self.transfer {
            return t
                .train(data, None, what, self.seed, self.repeat)
                .map_err(|source| RunError::Train {
                    what: what.to_string(),
                    source,
                });
        }
        let all: Vec<usize> = (0..data.len()).collect();
        self.train_kept(data, &all, what)
    }

    /// Train once on all of `data`, ignoring rounds: surrogates and the models
    /// defenses train internally (they see a subset, not the rounds).
    pub fn fit_once(&self, data: &Dataset, what: &str) -> Result<Box<dyn Model>, RunError> {
        let model = self
            .params
            .fit(data, &mut stream(self.seed, self.repeat, "model"))
            .map_err(|source| RunError::Train {
                what: what.to_string(),
                source,
            })?;
        Ok(Box::new(model))
    }

    /// Train on the samples `kept` (ascending) of `data`; in rounds each
    /// round keeps its own samples.
    pub fn train_kept(
        &self,
        data: &Dataset,
        kept: &[usize],
        what: &str,
    ) -> Result<Box<dyn Model>, RunError> {
        if let Some(t) = &self.transfer {
            return t
                .train(data, Some(kept), what, self.seed, self.repeat)
                .map_err(|source| RunError::Train {
                    what: what.to_string(),
                    source,
                });
        }
        let model = match &self.rounds {
            // At once: straight from the kept rows of `data`, no copy of the training set.
            None if kept.len() == data.len() => return self.fit_once(data, what),
            None => {
                self.params
                    .fit_subset(data, kept, &mut stream(self.seed, self.repeat, "model"))
            }
            Some((rounds, per_round)) => {
                // Keeping everything trains on `data` itself.
                let owned;
                let subset = if kept.len() == data.len() {
                    data
                } else {
                    owned = data.subset(kept);
                    &owned
                };
                let mut start = 0;
                let bounds: Vec<Range<usize>> = round_ranges(data.len(), *rounds)
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

    /// The trainer of one round, when training in rounds.
    pub fn per_round(&self) -> Option<&BurnTrainer> {
        self.rounds.as_ref().map(|(_, t)| t)
    }

    /// Train round by round on `bounds` of `data`, warm-starting each round;
    /// `each(round, model)` sees the model after every round.
    pub fn fit_rounds(
        &self,
        per_round: &BurnTrainer,
        data: &Dataset,
        bounds: &[Range<usize>],
        mut each: impl FnMut(usize, &TrainedModel),
    ) -> Result<TrainedModel, ModelError> {
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
        model.ok_or(ModelError::EmptyData)
    }
}

/// Split `n` samples into `rounds` contiguous ranges of (nearly) equal size.
pub(crate) fn round_ranges(n: usize, rounds: usize) -> Vec<Range<usize>> {
    (0..rounds)
        .map(|r| r * n / rounds..(r + 1) * n / rounds)
        .collect()
}
