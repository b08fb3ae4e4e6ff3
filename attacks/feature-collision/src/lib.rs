//! Clean-label feature collision: "Poison Frogs! Targeted Clean-Label Poisoning
//! Attacks on Neural Networks" (Shafahi, Huang, Najibi, Suciu, Studer, Dumitras,
//! Goldstein 2018).
//!
//! The attacker picks target instances from the test set (class `target-class`)
//! and wants each classified as `base-class`. For every target it takes base
//! instances of `base-class` from the training set and moves each a little so
//! that, in the penultimate-layer embedding of a surrogate model, it sits on the
//! target, while staying close to its base in input space:
//!
//! p = argmin_x ‖f(x) − f(t)‖² + β‖x − b‖²
//!
//! solved by forward–backward splitting (a gradient step on the feature term,
//! then the closed-form proximal step of the input term), starting from the
//! base blended with the target at `opacity` (the paper's watermarking, 0.3).
//! Labels are never changed: the poisons keep their (correct) base label.
//! Success is the share of targets the retrained model assigns to the base class.

mod algorithm;
mod error;
mod params;

pub use algorithm::FeatureCollision;
pub use error::FeatureCollisionError;
pub use params::FeatureCollisionParams;
