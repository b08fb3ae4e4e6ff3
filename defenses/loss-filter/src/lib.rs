//! Loss filtering: remove the training samples the poisoned model fits worst.
//!
//! The loss defense of Koh, Steinhardt and Liang 2018 ("Stronger Data
//! Poisoning Attacks Break Data Sanitization Defenses"): poisoned samples that
//! contradict the clean majority (flipped labels in particular) keep a high
//! training loss, so the highest-loss `fraction` of the training set is
//! flagged. Its score is the sample's cross-entropy loss under the model
//! trained on the (possibly poisoned) training set.

mod algorithm;
mod error;
mod params;

pub use algorithm::LossFilter;
pub use error::LossFilterError;
pub use params::LossFilterParams;
