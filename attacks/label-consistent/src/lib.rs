//! Label-consistent backdoors: clean-label poisons made hard to learn from
//! their content, so the model leans on the trigger.
//!
//! Turner, Tsipras and Madry 2019, "Label-Consistent Backdoor Attacks"
//! (arXiv:1912.02771). A share of the target class's training images is
//! perturbed by projected gradient descent on a surrogate model (an L∞ ball
//! of radius ε, ascending the loss of the true label), then stamped with a
//! checkerboard trigger; labels stay correct, so the samples pass a label
//! audit. At test time the trigger on inputs of other classes should make
//! the model answer the target.
//!
//! Needs a surrogate trained on clean data ([`poisonlab_core::Attack::needs_surrogate`]).

mod algorithm;
mod error;
mod params;

pub use algorithm::LabelConsistent;
pub use error::LabelConsistentError;
pub use params::LabelConsistentParams;
