//! Clean-label gradient matching: "Witches' Brew: Industrial Scale Data
//! Poisoning via Gradient Matching" (Geiping, Fowl, Huang, Czaja, Taylor,
//! Moeller, Goldstein; ICLR 2021).
//!
//! The attacker picks target instances from the test set (class
//! `target-class`) and wants each classified as `base-class`. For every target
//! t it takes `poisons-per-target` training instances of `base-class` and adds
//! to each a perturbation Δᵢ with ‖Δᵢ‖∞ ≤ ε, chosen so that training on the
//! poisons pushes the surrogate's parameters θ the way that makes t look like
//! the base class. That is, the poisons' mean training gradient points along
//! the adversarial gradient of the target:
//!
//! g_adv = ∇θ L(θ; t, base-class),  g_p(Δ) = (1/k) Σᵢ ∇θ L(θ; xᵢ + Δᵢ, yᵢ),
//!
//! minimise 1 − cos(g_p(Δ), g_adv) over ‖Δ‖∞ ≤ ε (and the data's value range),
//! by signed Adam steps with the paper's step decay, from `restarts` random
//! starts, keeping the best poisons found. Labels are never changed: the poisons
//! keep their (correct) base label. Success is the share of targets the
//! retrained model assigns to the base class.
//!
//! The gradient of the cosine with respect to the inputs is second order (the
//! input gradient of a parameter gradient). With v = ∂c/∂g at g = g_p,
//! ∇ₓᵢ c = (1/k) ∇ₓᵢ[∇θ Lᵢ · v], computed as a central difference of
//! first-order input gradients at θ ± h v/‖v‖ with h = `fd-step` · ‖θ‖ (the
//! finite-difference Hessian-vector product of DARTS). A step costs one
//! parameter-gradient pass and two input-gradient passes over the k poisons.
//!
//! Threat model (the paper's): the attacker knows the architecture and the
//! training data distribution and trains its own surrogate (here: it gets
//! the clean model the run trained, or the pretrained base model in the
//! transfer regime); it does not know the victim's random seed, and it cannot
//! change labels or the training procedure.

mod algorithm;
mod error;
mod params;

pub use algorithm::WitchesBrew;
pub use error::WitchesBrewError;
pub use params::WitchesBrewParams;
