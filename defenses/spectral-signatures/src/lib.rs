//! Spectral signatures (Tran, Li and Madry 2018, "Spectral Signatures in
//! Backdoor Attacks", NeurIPS).
//!
//! A backdoor leaves a trace in the learned representation: within the target
//! class, the poisoned samples' penultimate-layer embeddings are shifted along
//! a common direction, which becomes the top singular vector of the class's
//! centred embeddings. For each class (by training label) the defense takes the
//! embeddings `x` of the class's samples from the model trained on the
//! (possibly poisoned) training set, subtracts the class mean `μ`, finds the top
//! right singular vector `v` of the centred matrix by power iteration
//! ([`top_singular_vector`]), and scores each sample by `⟨x − μ, v⟩²`.
//!
//! **Scores.** The reported score is that squared projection divided by the
//! median squared projection of the sample's class (by the mean where the
//! median is 0), so scores are comparable across classes: a typical sample
//! scores about 1 in every class.
//!
//! **Flags**, by `rule`:
//! - `"paper"`: in every class flag the `round(eps-multiplier · expected-rate ·
//!   n_class)` highest scores, as the paper removes 1.5ε of each class. Clean
//!   classes lose that share too.
//! - `"outlier"` (default; needs no poison rate): in each class compute the
//!   modified z-score (Iglewicz and Hoaglin) of the signed projection,
//!   `z = (p − median p) / (1.4826 · MAD p)` with `p = ⟨x − μ, v⟩`. The z-score
//!   is taken of `p`, not of `p²`: for a clean, roughly Gaussian class `p²` is
//!   χ²₁-tailed and about a tenth of the class would exceed 3.5, while `|z| >
//!   3.5` happens for about 0.05 % of a Gaussian. Samples with `|z| > threshold`
//!   are flagged only if the class looks poisoned, which needs both
//!   - at least [`MIN_OUTLIER_FRACTION`] (1 %) of the class beyond the
//!     threshold, and
//!   - the class's top-direction share of variance, `σ₁² / Σ‖x − μ‖²`,
//!     above [`SHARE_RATIO`] (1.5) times the median share of the other classes
//!     (skipped when there is no other class with at least two samples).
//!
//!   A poison cluster of fraction `q` at distance `d` adds `q(1 − q)d²` of
//!   variance along one direction, so the poisoned class's share stands out
//!   while a clean class with a few stray points does not. Limits: when most
//!   classes are poisoned (all-to-all backdoors) the median share is itself
//!   inflated and the rule can stay silent; poison below 1 % of a class is
//!   never flagged.
//!
//! The verdict does not depend on the random stream: power iteration starts
//! from the class's largest-norm centred embedding.

mod algorithm;
mod error;
mod params;

pub use algorithm::{
    MAX_ITERATIONS, MIN_OUTLIER_FRACTION, SHARE_RATIO, SpectralSignatures, TOLERANCE, TopDirection,
    top_singular_vector,
};
pub use error::SpectralSignaturesError;
pub use params::{SpectralRule, SpectralSignaturesParams};
