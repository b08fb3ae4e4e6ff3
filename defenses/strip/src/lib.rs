//! STRIP: "STRIP: A Defence Against Trojan Attacks on Deep Neural Networks"
//! (Gao, Xu, Wang, Chen, Ranasinghe, Nepal 2019).
//!
//! An input-time detector. Each incoming input is superimposed with `n` clean
//! images drawn from a trusted held-out set and the model classifies every
//! blend. A clean input's prediction moves with what it is blended with, so the
//! predictions' entropy is high; a triggered input keeps being classified as
//! the attacker's target whatever it is blended with, so its entropy is low.
//! The threshold is set on the trusted clean samples themselves for a chosen
//! false-rejection rate (default 1 %): inputs whose mean entropy falls below it
//! are rejected. Scored as FAR (triggered inputs accepted) and FRR (clean
//! inputs rejected).

mod algorithm;
mod error;
mod params;

pub use algorithm::{Strip, StripScores};
pub use error::StripError;
pub use params::StripParams;
