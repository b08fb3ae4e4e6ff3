//! Blend: backdoor poisoning with a faint, full-size key pattern.
//!
//! Chen, Liu, Li, Lu and Song 2017, "Targeted Backdoor Attacks on Deep
//! Learning Systems Using Data Poisoning" (arXiv:1712.05526), the
//! blended-injection strategy: a key pattern (random noise, or an image such as
//! the paper's Hello Kitty) is mixed into a share of the non-target training
//! inputs, `x' = (1 − α)·x + α·pattern`, which are relabelled as the target
//! class. A small α keeps the poisons hard to see; the attack is measured on
//! non-target test inputs blended with a (possibly larger) test-time α.
//!
//! The noise pattern works on tabular data as well as images.
//!
//! Use: deserialize [`BlendParams`] from the `[attack]` table and build it
//! with [`poisonlab_core::Kind::build`], which checks every parameter against
//! what is known of the data, reads an image pattern's PNG relative to the
//! scenario's folder and checks its size; once the data is loaded,
//! [`poisonlab_core::Kind::check_data`] checks again. Then
//! [`poisonlab_core::Attack::poison`]. [`Blend::new`] builds without data
//! facts.

mod algorithm;
mod error;
mod params;
mod pattern;

pub use algorithm::Blend;
pub use error::BlendError;
pub use params::{BlendParams, Mode, Pattern};
pub use pattern::blend;
