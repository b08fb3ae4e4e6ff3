//! poisonlab-model: the only poisonlab crate that depends on Burn.
//!
//! It builds the three model families a scenario can name (logistic
//! regression, MLP, the small CNN), trains them with Adam and cross-entropy in a
//! hand-written loop whose every random choice (initial weights, batch order)
//! comes from the caller's seeded stream, and exposes the trained model through
//! [`poisonlab_core::Classifier`] and [`poisonlab_core::Model`] (its parameters
//! as one flat vector). [`BurnTrainer`] is a [`poisonlab_core::ModelTrainer`]:
//! it trains from fresh or given weights, on all rows or some, for any number
//! of epochs, each call with a fresh Adam state, or, when asked
//! ([`BurnTrainer::train_from_keeping_state`],
//! [`BurnTrainer::continue_training`]), carrying the Adam state and batch
//! order in the model from one call to the next, so that two calls equal one.
//!
//! The Burn backend is chosen in one place, [`backend`]: burn's pure-Rust
//! `flex` CPU backend by default, burn's `ndarray` backend with the cargo
//! feature `ndarray`. Training runs on the calling thread only; parallelism
//! comes from running several runs at once.

pub mod backend;
mod classifier;
#[cfg(feature = "flex-portable")]
mod conv;
mod error;
mod net;
mod optim;
mod train;

pub use classifier::TrainedModel;

/// Run `f` compiled for the widest SIMD level this CPU has (AVX-512, AVX2 +
/// FMA or the baseline), chosen at run time: the hand-written loops inside
/// are vectorised for it. Only the instruction set changes, never the
/// arithmetic: no operations are fused or reordered, so results are the same
/// bits on every level.
#[inline(always)]
pub(crate) fn simd<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}
pub use error::ModelError;
pub use poisonlab_core::{ModelKind, ModelParams};
pub use train::{BurnTrainer, Optimizer};

#[cfg(test)]
mod tests;
