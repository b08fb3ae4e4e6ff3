//! poisonlab-core: the vocabulary every poisonlab crate shares.
//!
//! - [`Dataset`] and [`Poisoned`]: samples with stable ids, and the ground-truth
//!   poison mask that travels with them.
//! - The families as traits: [`Attack`]; the defense families
//!   [`TrainingFilter`], [`InputDetector`], [`RoundMonitor`],
//!   [`ProvenanceCheck`], [`ModelRepair`]; [`UpdateAggregator`]; and [`Classifier`] /
//!   [`Trainer`] for models; [`Model`] / [`ModelTrainer`] hand out and take
//!   a model's parameters as one flat vector and train from given weights
//!   (the base of federated and transfer regimes). [`Kind`] is a named member built from its
//!   checked parameters. Attacks and defenses reach a model only
//!   through [`Classifier`]; nothing here depends on Burn.
//! - [`metrics`]: detection and model metrics as `docs/scenario.md` (Metrics) defines them.
//! - [`seed`]: ChaCha8 streams derived from (seed, repeat, stream name).
//! - [`whiten`]: class-relative whitening of embeddings for the embedding defenses.
//! - [`reclassify`]: nearest-neighbour reclassification of a suspect group, outside it.
//! - [`tune`]: gradient steps on a [`Model`]'s flat parameters (fine-tuning,
//!   unlearning, flooded training) for the model-repair defenses.

pub mod clean_label;
mod dataset;
mod error;
mod kind;
pub mod metrics;
mod model;
mod model_params;
pub mod png_image;
mod poisoned;
pub mod reclassify;
pub mod seed;
pub mod testing;
mod traits;
pub mod tune;
pub mod whiten;

pub use dataset::{Dataset, Matrix};
pub use error::{CoreError, ParamChecks, ParamError};
pub use kind::{BuildContext, DataFacts, Kind};
pub use model::{Model, ModelTrainer, ParameterError};
pub use model_params::{ModelKind, ModelParams};
pub use poisoned::{AttackTest, Injection, Poisoned, inject, poison_count};
pub use seed::{Rng, stream};
pub use traits::{
    Aggregated, Attack, AttackInput, Classifier, DefenseInput, FilterVerdict, InputDetector,
    Inspection, LabelTest, ModelRepair, ModelVerdict, OutputLayer, ProvenanceCheck,
    ProvenanceVerdict, RepairInput, Retrain, RoundCheck, RoundMonitor, RoundPlan, RoundView,
    ScreenInput, Screening, SharedEmbedding, Streams, SurrogateTrainer, Trainer, TrainingFilter,
    UpdateAggregator, UpdateAttack, UpdateAttackInput, UpdateRound,
};
