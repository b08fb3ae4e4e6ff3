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
//!   projection cannot tell them apart.
//! - `"oriented"` (default): the projections are split in two by exact 1-D
//!   2-means ([`Split::best`]); the poison is taken to be the smaller side, and
//!   a sample's score is its projection measured from the larger side's mean
//!   towards the smaller side, in standard deviations of the larger side.
//!   Under the split rule it is multiplied by `1 − explained` of the class's
//!   suspect side (below), so that a class whose smaller side is merely a
//!   way of writing ranks below one whose smaller side is assembled from many
//!   classes. Poison that outnumbers the clean samples of its class is scored
//!   the wrong way round.
//!
//! # Flags (`rule`)
//! - `"paper"`: in every class flag the `round(eps-multiplier · expected-rate ·
//!   n_class)` highest scores, as the paper removes 1.5ε of each class. Needs
//!   the poison rate in advance (as a share of the class), and clean classes
//!   lose that share too.
//! - `"split"` (default; needs no poison rate, leaves clean classes alone):
//!   per class, each of the top `directions` (3) singular directions is
//!   refined towards the mean difference of the two sides it splits the class
//!   into ([`refine`]: the poison is rarely aligned with one singular vector
//!   alone), the smaller side is the suspect group, and the direction whose
//!   suspects are most scattered in origin is kept. The suspects are judged
//!   by neighbour reclassification over the raw inputs
//!   ([`poisonlab_core::reclassify::judge_group`], shared with activation
//!   clustering): poison when their own label plus one other explain less
//!   than `explained-threshold` (0.35) of them, relative to the rest of the
//!   class. In a class judged poisoned, every member its neighbours outside
//!   the suspects call another label is flagged. Poison can outnumber the
//!   clean samples of its class, so the larger side of a direction is judged
//!   too wherever the smaller side is at least half its size (its scores
//!   then negated). Both sides of every direction are also candidates for
//!   the single-source evidence shared with activation clustering
//!   ([`poisonlab_core::reclassify::resolve_single_source`],
//!   `single-source-threshold`): a side its own label hardly calls, judged
//!   across classes with the poison found so far left out of the
//!   neighbours, is poison too (all-to-all and source-specific backdoors).
//!
//! Measured on synthetic digits (scenario `defenses-badnets`, MLP, BadNets
//! 3×3 pattern → 0): the paper's method (plain centring, squared score, top
//! 1.5ε of every class) reaches AUROC 0.57–0.67 and TPR 0.57–0.70 at an FPR
//! of 0.43–0.45; the default finds the poisoned class in most runs with FPR
//! ≤ 0.001 (see the issue note for the per-run figures).
//!
//! The verdict does not depend on the random stream: power iteration starts
//! from the class's largest-norm row, the split is exact and the
//! neighbour votes break ties by position.

mod algorithm;
mod error;
mod params;

pub use algorithm::{
    MAX_ITERATIONS, MAX_REFINEMENTS, MIN_SIDE, SpectralSignatures, Split, TOLERANCE, TopDirection,
    refine, singular_directions, top_singular_vector,
};
pub use error::SpectralSignaturesError;
pub use params::{SpectralRule, SpectralScore, SpectralSignaturesParams};
