//! Transfer learning: a base model pretrained on one part of the data, then
//! fine-tuned on the other, its last layer only (the base's features frozen)
//! or every layer.

use std::sync::Mutex;

use poisonlab_core::seed::stream;
use poisonlab_core::{Dataset, Model, ModelKind, ModelParams, ModelTrainer, OutputLayer};
use poisonlab_model::{BurnTrainer, ModelError};
use poisonlab_scenario::{FineTune, PoisonStage, Pretrain, TransferParams};

/// The pretraining and the fine-tuning set of a transfer run, as row lists
/// of the training set.
pub(crate) fn split_rows(labels: &[usize], p: &TransferParams) -> (Vec<usize>, Vec<usize>) {
    let n = labels.len();
    match p.pretrain {
        Pretrain::Half => ((0..n / 2).collect(), (n / 2..n).collect()),
        Pretrain::Classes => (0..n).partition(|&i| p.pretrain_classes.contains(&labels[i])),
    }
}

/// What a transfer run trains with: its settings, the clean base model and
/// the clean fine-tuning set, and the models it saw on the way.
pub(crate) struct TransferSetup {
    pub params: TransferParams,
    /// The base model pretrained on the clean pretraining set.
    pub base: Box<dyn Model>,
    /// The clean fine-tuning set, when the attack acts in pretraining (the
    /// pipeline then fine-tunes on it; otherwise it is the run's own set).
    fine_tune: Option<Dataset>,
    pretrainer: BurnTrainer,
    tuner: BurnTrainer,
    head: BurnTrainer,
    /// The parameters after each fine-tuning epoch of the `clean` and the
    /// `poisoned` training, and the poisoned pipeline's base.
    seen: Mutex<Seen>,
}

/// Snapshots of the two main trainings.
#[derive(Default)]
pub(crate) struct Seen {
    pub clean: Vec<Vec<f32>>,
    pub poisoned: Vec<Vec<f32>>,
    pub poisoned_base: Option<Vec<f32>>,
}

impl TransferSetup {
    /// Pretrain the clean base on `pretrain` with the run's `model` stream.
    pub fn new(
        params: &TransferParams,
        model: &ModelParams,
        pretrain: &Dataset,
        fine_tune: Option<Dataset>,
        seed: u64,
        repeat: u64,
    ) -> Result<Self, ModelError> {
        let pretrainer = BurnTrainer::new(ModelParams {
            epochs: params.pretrain_epochs,
            ..model.clone()
        });
        let tuner = BurnTrainer::new(ModelParams {
            epochs: params.fine_tune_epochs,
            ..model.clone()
        });
        let head = BurnTrainer::new(ModelParams {
            kind: ModelKind::Logreg,
            hidden: Vec::new(),
            epochs: params.fine_tune_epochs,
            ..model.clone()
        });
        let base = pretrainer.fit(pretrain, &mut stream(seed, repeat, "model"))?;
        Ok(Self {
            params: params.clone(),
            base: Box::new(base),
            fine_tune,
            pretrainer,
            tuner,
            head,
            seen: Mutex::new(Seen::default()),
        })
    }

    /// Train the model of the pipeline that sees `data` at `rows` (all when
    /// `None`): the attacked stage's set. Fine-tuning-stage runs fine-tune
    /// the clean base on it; pretraining-stage runs pretrain a base on it and
    /// fine-tune that on the clean fine-tuning set. `what` = `clean` or
    /// `poisoned` keeps every epoch's weights for the record.
    pub fn train(
        &self,
        data: &Dataset,
        rows: Option<&[usize]>,
        what: &str,
        seed: u64,
        repeat: u64,
    ) -> Result<Box<dyn Model>, ModelError> {
        let mut epochs = Vec::new();
        let model = match self.params.poison {
            PoisonStage::FineTune => {
                self.fine_tune_from(self.base.as_ref(), data, rows, &mut epochs, seed, repeat)?
            }
            PoisonStage::Pretrain => {
                let mut rng = stream(seed, repeat, "model");
                let base = match rows {
                    None => self.pretrainer.fit(data, &mut rng)?,
                    Some(r) => self.pretrainer.fit_subset(data, r, &mut rng)?,
                };
                if what == "poisoned" {
                    self.seen_lock().poisoned_base = Some(base.parameters());
                }
                let Some(tune) = &self.fine_tune else {
                    unreachable!("a pretraining-stage setup keeps the fine-tuning set")
                };
                self.fine_tune_from(&base, tune, None, &mut epochs, seed, repeat)?
            }
        };
        match what {
            "clean" => self.seen_lock().clean = epochs,
            "poisoned" => self.seen_lock().poisoned = epochs,
            _ => {}
        }
        Ok(model)
    }

    /// What the two main trainings left.
    pub fn take_seen(&self) -> Seen {
        std::mem::take(&mut *self.seen_lock())
    }

    fn seen_lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fine-tune `base` on `data` at `rows` for the fine-tuning epochs, one
    /// optimiser run carried across epochs (`fit_more`), pushing each
    /// epoch's parameters to `epochs`.
    fn fine_tune_from(
        &self,
        base: &dyn Model,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: &mut Vec<Vec<f32>>,
        seed: u64,
        repeat: u64,
    ) -> Result<Box<dyn Model>, ModelError> {
        let mut rng = stream(seed, repeat, "fine-tune");
        let n_epochs = self.params.fine_tune_epochs;
        match self.params.fine_tune {
            FineTune::Full => {
                let start = base.parameters();
                let mut m =
                    self.tuner
                        .fit_from_keeping_state(Some(&start), data, rows, 1, &mut rng)?;
                epochs.push(m.parameters());
                for _ in 1..n_epochs {
                    m = self.tuner.fit_more(m, data, rows, 1, &mut rng)?;
                    epochs.push(m.parameters());
                }
                m.discard_training_state();
                Ok(m)
            }
            FineTune::LastLayer => {
                // The base's features of the samples, and its last layer as
                // a softmax regression on them (the same parameter layout).
                let owned;
                let set = match rows {
                    None => data,
                    Some(r) => {
                        owned = data.subset(r);
                        &owned
                    }
                };
                let features = base.embed(set);
                let width = features.cols;
                let features = Dataset::new(
                    features.data,
                    vec![width],
                    set.labels().to_vec(),
                    set.n_classes(),
                    None,
                )
                .map_err(|_| ModelError::EmptyData)?;
                let all = base.parameters();
                let layer = OutputLayer::last(all.len(), width, set.n_classes());
                let start = &all[layer.weight_start..];
                let with_head = |head: &[f32]| -> Result<Box<dyn Model>, ModelError> {
                    let mut full = all.clone();
                    full[layer.weight_start..].copy_from_slice(head);
                    let mut m = base.clone_box();
                    m.set_parameters(&full)
                        .map_err(|_| ModelError::ArchitectureMismatch)?;
                    Ok(m)
                };
                let mut head =
                    self.head
                        .fit_from_keeping_state(Some(start), &features, None, 1, &mut rng)?;
                epochs.push(with_head(&head.parameters())?.parameters());
                for _ in 1..n_epochs {
                    head = self.head.fit_more(head, &features, None, 1, &mut rng)?;
                    epochs.push(with_head(&head.parameters())?.parameters());
                }
                with_head(&head.parameters())
            }
        }
    }
}
