//! Statistical anomaly detection: remove training samples that lie far from
//! the rest of their class.
//!
//! The defense of Paudice, Muñoz-González, György and Lupu 2018 ("Detection
//! of Adversarial Training Examples in Poisoning Attacks through Anomaly
//! Detection"): poisons that move a model must sit away from the clean
//! samples of the class they are labelled with, so a per-class outlier
//! detector removes them. It is also the data-dependent sphere / slab outlier
//! removal that Steinhardt, Koh and Liang 2017 ("Certified Defenses for Data
//! Poisoning Attacks", NeurIPS) analyse, with a robust centre and a shrinkage
//! covariance in place of a sphere. Unlike Paudice et al., no trusted data is
//! needed to fit the detector: each class is fitted robustly on its own
//! (possibly poisoned) samples.
//!
//! **Space.** `space = "embedding"` (default) examines the penultimate-layer
//! activations of the model trained on the training set; `"input"` the raw
//! features.
//!
//! **Raw statistic**, per class (by training label), by `method`:
//! - `"mahalanobis"` (default): the squared Mahalanobis distance to the class
//!   centre, under a covariance shrunk toward `μI` (`μ` = trace / d) with
//!   Ledoit and Wolf's (2004) intensity ([`ledoit_wolf`]) or a fixed
//!   `shrinkage`. Distances are solved through a Cholesky factor, never an
//!   inverse. Centre and covariance come from a robust majority core found by
//!   concentration steps (Rousseeuw and Van Driessen 1999), then one
//!   reweighting step: a plain fit on the whole class lets a poison cluster
//!   inflate the covariance along its own direction and hide (masking; a
//!   cluster holding a share `q` of a class can never reach a squared
//!   distance above about `(1 − q)/q + d`).
//! - `"mad"`: the mean over features of the squared modified z-score
//!   `(x − median) / (1.4826 · MAD)` (Iglewicz and Hoaglin 1993, "How to
//!   Detect and Handle Outliers"); a feature with MAD 0 uses `1.2533 · mean
//!   absolute deviation`, and is skipped when that is 0 too. Its square root
//!   is the root-mean-square z of the sample.
//!
//! **Scores.** Both statistics are χ²_d-like (up to scale) for a Gaussian
//! class, which is skewed when `d` is small: a z-score cut-off on them would
//! flag about 4 % of a clean 2-D Gaussian. So each statistic `q` is turned
//! into `t = q^{1/3}` (Wilson and Hilferty 1931: the cube root of a χ² is
//! close to normal), and the reported score is the robust z of `t` within the
//! class, `z = (t − median t) / (1.4826 · MAD t)` (same fallback; 0 when all
//! `t` are equal). The cube root is monotone, so within a class the ranking
//! is that of the distance. Scores are comparable across classes: a typical
//! sample scores about 0, half score below 0 (scores are signed), and a clean
//! Gaussian class has `z > 3.5` for about 0.02 % of its samples.
//!
//! **Flags**: `z > threshold` (default 3.5). Classes with fewer than
//! [`MIN_CLASS_SIZE`] (3) samples score 0 and are never flagged; no class
//! needs more samples than dimensions, since the shrunk covariance is
//! positive definite (with `shrinkage = 0` a singular covariance gets a
//! ridge of [`RIDGE`]` · μ`). The detector breaks down when poisons are half
//! of a class or more.
//!
//! **Label distribution.** When the defense input carries a trusted set,
//! [`Anomaly::inspect_full`] (and, for the runner,
//! [`poisonlab_core::TrainingFilter::label_test`]) also runs
//! [`label_shift_test`], Pearson's
//! chi-square test of the training labels against the trusted set's class
//! proportions, a set-level alarm for label-skewing attacks (it does not
//! change the flags; `alpha` is its significance level).
//!
//! Deterministic: the verdict does not depend on the random stream. Cost per
//! class is `O(n d² + d³)` per fit and up to [`MAX_C_STEPS`] + 1 fits for
//! `"mahalanobis"`, which matters for `space = "input"` on images.

mod algorithm;
mod covariance;
mod error;
mod label_shift;
mod params;
mod robust;

pub use algorithm::{Anomaly, MAX_C_STEPS, MIN_CLASS_SIZE};
pub use covariance::{RIDGE, ledoit_wolf};
pub use error::AnomalyError;
pub use label_shift::{LabelShiftTest, label_shift_test};
pub use params::{AnomalyParams, Method, Space};
