//! Clean-label Bullseye Polytope: "Bullseye Polytope: A Scalable Clean-Label
//! Poisoning Attack with Improved Transferability" (Aghakhani, Meng, Wang,
//! Kruegel, Vigna; IEEE EuroS&P 2021).
//!
//! The attacker picks target instances from the test set (class
//! `target-class`) and wants each classified as `base-class`. For every target
//! `t` it takes `k` training instances of `base-class` and perturbs them,
//! each within an L∞ ball of radius `epsilon` and the data's pixel range, so
//! that the *mean* of their penultimate-layer features φ sits on the target's:
//!
//! min over x₁..x_k of ½ ‖(1/k) Σᵢ φ(xᵢ) − φ(t)‖² / ‖φ(t)‖²,  ‖xᵢ − bᵢ‖∞ ≤ ε
//!
//! Unlike feature collision (each poison on the target) or Convex Polytope
//! (the target inside their convex hull with optimised weights), the weights
//! are fixed at 1/k, which puts the target at the centre ("bullseye") of the
//! poisons' polytope. The poisons start at their bases and are optimised
//! with Adam on the perturbation, projected onto the ε-ball and the pixel
//! range after each step; the lowest-loss iterate is kept.
//! Labels are never changed: the poisons keep their (correct) base label.
//! Success is the share of targets the retrained model assigns to the base class.
//!
//! # Threat model
//!
//! White-box transfer learning: the attacker knows the feature extractor φ
//! (the runner's surrogate: in the transfer regime the pretrained base model
//! the victim fine-tunes, ideally with its features frozen; when the victim
//! trains from scratch, the clean model stands in for the unknown victim). It
//! cannot touch labels, only perturb a few base-class training samples
//! imperceptibly. One surrogate is used; the paper's ensemble of feature
//! extractors and its multi-layer features for end-to-end training are not
//! modelled.

mod algorithm;
mod error;
mod params;

pub use algorithm::BullseyePolytope;
pub use error::BullseyePolytopeError;
pub use params::BullseyePolytopeParams;
