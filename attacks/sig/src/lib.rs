//! SIG: a clean-label backdoor whose trigger is a faint signal over the
//! whole image.
//!
//! Barni, Kallas and Tondi 2019, "A new Backdoor Attack in CNNs by training
//! set corruption without label poisoning" (ICIP 2019, arXiv:1902.11237). A
//! horizontal sinusoid `v(i, j) = Δ·sin(2π·j·f / m)` or a horizontal ramp
//! `v(i, j) = Δ·j / m` (m the image width) is added to a share of the
//! *target class's* training images, whose labels stay correct. The model
//! learns to associate the signal with the target class; at test time the
//! signal (often stronger) is added to inputs of the other classes.
//!
//! Use: deserialize [`SigParams`] from the `[attack]` table, build [`Sig`]
//! with [`poisonlab_core::Kind::build`], then
//! [`poisonlab_core::Attack::poison`].

mod algorithm;
mod error;
mod params;

pub use algorithm::Sig;
pub use error::SigError;
pub use params::{SigParams, Signal};
