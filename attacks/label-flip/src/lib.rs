//! Label-flipping poisoning: the oldest and simplest data-poisoning attack.
//!
//! Random flipping relabels a share of the training set to uniformly drawn
//! other classes (the label-noise attack of Biggio, Nelson and Laskov 2011,
//! "Support Vector Machines Under Adversarial Label Noise"); targeted flipping
//! relabels a share of one source class as a chosen target class, the
//! class-pair flip studied by Tolpegin et al. 2020 ("Data Poisoning Attacks
//! Against Federated Learning Systems"). Targeted success is measured on the
//! source-class test samples: the share the model assigns to the target.

mod algorithm;
mod error;
mod params;

pub use algorithm::LabelFlip;
pub use error::LabelFlipError;
pub use params::{Flip, LabelFlipParams};
