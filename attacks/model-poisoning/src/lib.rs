//! Model-poisoning attacks for the federated regime: a malicious client
//! trains normally on its local data (the runner does that, after any data
//! attack on it) and then sends a crafted update instead of the one it
//! computed. Each kind implements [`poisonlab_core::UpdateAttack`] and
//! [`poisonlab_core::Kind`]; what the attacker is assumed to know is read
//! from [`poisonlab_core::UpdateAttackInput`].
//!
//! - [`SignFlip`] (`sign-flip`): sends −s · own; sign flipping as evaluated
//!   in Li et al. 2019, "RSA: Byzantine-Robust Stochastic Aggregation
//!   Methods for Distributed Learning from Heterogeneous Datasets".
//!   Knows only its own update.
//! - [`Gaussian`] (`gaussian`): sends i.i.d. N(mean, std²) noise; the
//!   Gaussian attack of Blanchard et al. 2017, "Machine Learning with
//!   Adversaries: Byzantine Tolerant Gradient Descent". Knows nothing.
//! - [`Alie`] (`alie`): sends μ − z·σ of the benign updates; Baruch, Baruch
//!   and Goldberg 2019, "A Little Is Enough: Circumventing Defenses For
//!   Distributed Learning". Knows the benign updates and the client counts.
//! - [`Ipm`] (`ipm`): sends −ε · mean of the benign updates; Xie, Koyejo and
//!   Gupta 2020, "Fall of Empires: Breaking Byzantine-tolerant SGD by Inner
//!   Product Manipulation". Knows the benign updates.
//! - [`Scaling`] (`scaling`): sends γ · own with γ = n/η, model replacement
//!   of Bagdasaryan et al. 2020, "How To Backdoor Federated Learning".
//!   Knows the client count and the server learning rate.
//!
//! Every kind computes in `f64` and rounds to `f32` once; every crafted
//! update has as many values as the client's own. Crafting never panics: it
//! fails with an [`UpdateAttackError`] on an empty or non-finite own update,
//! on benign updates of another length or with a non-finite value (kinds
//! that read them), on impossible client counts or server learning rate
//! (kinds that need them), and on a crafted value beyond the `f32` range.
//! Only [`Gaussian`] draws from the `rng`.

mod algorithm;
mod error;
mod params;

pub use algorithm::{Alie, Gaussian, Ipm, Scaling, SignFlip};
pub use error::UpdateAttackError;
pub use params::{AlieParams, GaussianParams, IpmParams, ScalingParams, SignFlipParams};
