//! WaNet: a backdoor whose trigger is a smooth, nearly invisible warp.
//!
//! Nguyen and Tran 2021, "WaNet – Imperceptible Warping-based Backdoor
//! Attack" (ICLR 2021, arXiv:2102.10369). A random `k × k` field of
//! offsets in [−1, 1], normalised by its mean absolute value, is upsampled
//! (bicubic) to the image size and scaled by the strength `s`; adding it to
//! the identity sampling grid (normalised coordinates, divided by the image
//! height) and resampling bilinearly gives the warped image. A share of the
//! training set is warped and relabelled as the target; in the paper's
//! *noise mode* a further `cross-ratio` times as many samples are warped with
//! the grid plus random noise and keep their labels, so the model learns the
//! exact warp rather than any warp.
//!
//! Use: deserialize [`WanetParams`] from the `[attack]` table, build
//! [`Wanet`] with [`poisonlab_core::Kind::build`], then
//! [`poisonlab_core::Attack::poison`].

mod algorithm;
mod error;
mod params;
mod warp;

pub use algorithm::Wanet;
pub use error::WanetError;
pub use params::WanetParams;
pub use warp::Warp;
