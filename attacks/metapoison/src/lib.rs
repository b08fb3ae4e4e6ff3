//! Clean-label MetaPoison: "MetaPoison: Practical General-purpose Clean-label
//! Data Poisoning" (Huang, Geiping, Fowl, Taylor, Goldstein, NeurIPS 2020).
//!
//! The attacker picks target instances from the test set (class
//! `target-class`) and wants each classified as `base-class`. For every
//! target it takes `poisons-per-target` training instances of `base-class`
//! and adds to each a perturbation Δ with ‖Δ‖∞ ≤ ε (pixels kept in the
//! data's range); labels are never changed. Where feature collision aims
//! the poisons at a fixed feature space, MetaPoison asks what training on
//! them does: Δ is optimised so that after K SGD steps of a surrogate on
//! batches holding the poisons, the target's loss at the base class,
//!
//! L_adv(θ_K) = CE(f_{θ_K}(t), base-class),
//!
//! is small. Its gradient goes through the training steps (a second-order
//! meta-gradient); Burn has no gradient of a gradient, so it is computed
//! from first-order gradients with finite-difference Hessian-vector products
//! (module `unroll` states exactly what and at what cost). The paper's key
//! ingredient is kept: the meta-gradient is averaged over an ensemble of
//! surrogates at staggered training stages (`surrogates` models trained to
//! epochs spread over `0..=epochs`), so the poisons work at whatever stage
//! of training the victim meets them. Δ is optimised with Adam for `steps`
//! steps, projected onto the ε-ball and the data's range after each.
//!
//! Simplifications, against the paper: the ensemble is trained on the clean
//! training set once and stays fixed (the paper trains each member further,
//! on the poisoned set, as crafting goes on, restarting it when it reaches
//! the last epoch); every unrolled batch holds all of a target's poisons;
//! the colour perturbation (ReColorAdv) is not implemented. Success is the
//! share of targets the victim, trained from scratch on the poisoned set,
//! assigns to the base class.
//!
//! # Threat model
//!
//! The attacker knows the victim's architecture and training procedure and
//! the data distribution (it trains its surrogates with the run's model
//! settings on the clean training set) and can perturb a few training
//! samples of the base class within ε. It does not know the victim's
//! initialisation or batch order: its surrogates draw their own, and the
//! unrolled steps use plain SGD whatever the victim's optimiser.

mod algorithm;
mod error;
mod params;
#[cfg(test)]
mod tests;
mod unroll;

pub use algorithm::MetaPoison;
pub use error::MetaPoisonError;
pub use params::MetaPoisonParams;
