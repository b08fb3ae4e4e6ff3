//! Spectral signatures (Tran, Li and Madry 2018, "Spectral Signatures in
//! Backdoor Attacks", NeurIPS).
//!
//! A backdoor leaves a trace in the learned representation: within the target
//! class, the poisoned samples' penultimate-layer embeddings are shifted along
//! a common direction, which becomes the top singular vector of the class's
//! centred embeddings. For each class (by training label) the defense takes the
//! embeddings of the class's samples from the model trained on the (possibly
//! poisoned) training set, centres them, finds the top right singular vector
//! `v` by power iteration ([`top_singular_vector`]) and projects every sample
//! on it.
//!
//! # Whitening (`whiten`, default on)
//! The paper takes the top direction of the plain centred embeddings. On our
//! models that direction is overall activation scale, not the poison: with a
//! BadNets pattern at 5 % of the non-target synthetic digits (MLP
//! 784-128-64-10) the poisons are linearly separable from the clean target
//! samples, yet the plain top direction scores AUROC 0.49. Each class is
//! therefore first whitened against the pooled covariance of the other classes
//! ([`poisonlab_core::whiten`], after SPECTRE, Hayase et al. 2021), which makes
//! ordinary within-class variation unit-sized so the poison direction comes
//! out on top (AUROC 0.999 on the same case). `whiten = false` is the paper's
//! method.
//!
//! # Scores (`score`)
//! - `"squared"` (the paper's): `⟨x − μ, v⟩²`. When the poison makes up close
//!   to half its class (a 10 % BadNets poison is 47 % of the target class)
//!   both groups sit about equally far from the class mean and the squared
//!   projection cannot tell them apart (AUROC 0.55 in that case, whitened).
//! - `"oriented"` (default): the projections are split in two by exact 1-D
//!   2-means ([`Split::best`]); the poison is taken to be the smaller side, and
//!   a sample's score is its projection measured from the larger side's mean
//!   towards the smaller side, in whitened units (in standard deviations of
//!   the projections without whitening). A clean sample scores around 0 to 3,
//!   a poison as far out as the poison cluster lies. Poison that outnumbers
//!   the clean samples of its class is scored the wrong way round: that
//!   class's label is then effectively the poison's.
//!
//! # Flags (`rule`)
//! - `"paper"`: in every class flag the `round(eps-multiplier · expected-rate ·
//!   n_class)` highest scores, as the paper removes 1.5ε of each class. Needs
//!   the poison rate in advance, and clean classes lose that share too.
//! - `"split"` (default; needs no poison rate): flag the smaller side of the
//!   class's split when the sides are at least `min-separation` apart in
//!   Ashman's D (mean gap over the root mean of the two variances; a Gaussian
//!   class cut at its median scores about 2.7, so the default 4 leaves
//!   unimodal classes alone) and the smaller side has at least [`MIN_SIDE`]
//!   samples. Even splits are never flagged.
//!
//! The verdict does not depend on the random stream: power iteration starts
//! from the class's largest-norm row and the split is exact.

mod algorithm;
mod error;
mod params;

pub use algorithm::{
    MAX_ITERATIONS, MIN_SIDE, SpectralSignatures, Split, TOLERANCE, TopDirection,
    top_singular_vector,
};
pub use error::SpectralSignaturesError;
pub use params::{SpectralRule, SpectralScore, SpectralSignaturesParams};
