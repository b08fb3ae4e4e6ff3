//! Anti-backdoor learning (Li, Lyu, Koren, Lyu, Li and Ma 2021,
//! "Anti-Backdoor Learning: Training Clean Models on Poisoned Data",
//! NeurIPS): backdoor samples are learned much faster than clean ones, so a
//! model trained for a few epochs with the local gradient ascent (LGA) loss,
//! which keeps every batch's loss from falling below a level γ, leaves the
//! poison with the lowest losses. The lowest-loss share is isolated (scored
//! as a training-set verdict) and the deployed model unlearns it by
//! gradient ascent. A member of the model-repair family
//! ([`poisonlab_core::ModelRepair`]).

mod algorithm;
mod error;
mod params;

pub use algorithm::Abl;
pub use error::AblError;
pub use params::AblParams;
