//! Activation clustering (Chen, Carvalho, Baracaldo, Ludwig, Edwards, Lee,
//! Molloy and Srivastava 2018, "Detecting Backdoor Attacks on Deep Neural
//! Networks by Activation Clustering", AAAI SafeAI workshop).
//!
//! Backdoor poisons share a feature (the trigger) that the model learns to map
//! to the target label, so in the penultimate layer the target class holds two
//! groups: its genuine samples and the poisons. For each class (by training
//! label) the detector takes the embeddings of the model trained on the
//! (possibly poisoned) data, centres them and projects them on their top
//! `dims` principal components (covariance eigenvectors by power iteration
//! with deflation), splits them with 2-means (k-means++ starts, Lloyd to
//! convergence, the best of `restarts`), and decides by `rule` whether the
//! smaller cluster is poison. Only a cluster strictly smaller than the other
//! can be poison; an even split is never flagged.
//!
//! # Rules
//! - `relative-size` (the paper's): the smaller cluster is poison when below
//!   `size-threshold` (0.35) of its class. It misses poison that makes up
//!   close to half of the target class, as a 10 % BadNets poison does of one
//!   class in ten.
//! - `silhouette`: poison when the mean silhouette of the split exceeds
//!   `silhouette-threshold` (0.35). It measures separation, not size.
//! - `exclusionary-reclassification` (the paper's): retrain without the
//!   smaller cluster and predict it; poison when less than `er-threshold` (0.5)
//!   of it keeps its training label. Costs one retraining per class with a
//!   strictly smaller cluster, i.e. up to one per class.
//! - `combined` (default): poison when the silhouette exceeds the threshold,
//!   or when the cluster is small (relative-size vote) and the silhouette
//!   exceeds half the threshold. The silhouette vote catches separated poison
//!   of any size; the size vote lowers the separation a small cluster needs,
//!   but never flags on size alone, because 2-means also cuts unevenly through
//!   clean skewed classes.
//!
//! # Choosing `silhouette-threshold`
//! Mean silhouettes measured on synthetic 32-wide embeddings reduced to 10
//! dimensions (10 seeds each, `measure_silhouettes` in the tests):
//!
//! | class                                              | silhouette    |
//! |----------------------------------------------------|---------------|
//! | clean isotropic Gaussian                            | 0.072 – 0.094 |
//! | clean, sd ∝ 1/√k along axis k                       | 0.170 – 0.192 |
//! | clean, sd ∝ 1/k along axis k                        | 0.306 – 0.337 |
//! | clean, only 2 dimensions vary                       | 0.305 – 0.372 |
//! | 10 % of the class 5 sd away                         | 0.207 – 0.308 |
//! | 10 % of the class 6 sd away                         | 0.308 – 0.369 |
//! | 48 % of the class 6 sd away                         | 0.327 – 0.352 |
//! | 5 % / 10 % / 48 % of the class 8 sd away            | 0.416 – 0.471 |
//!
//! A clean class scores higher the fewer directions carry its variance, so no
//! threshold suits every model: 0.35 keeps clean classes whose spectrum decays
//! like 1/k unflagged and flags clusters 8 sd away whatever their share.
//! Raise it for models whose class embeddings are nearly one- or
//! two-dimensional; lower it when poisons sit closer.
//!
//! # Scores
//! Each sample's score is its silhouette in its class's split, negated for
//! members of the larger cluster: its margin towards the smaller cluster, in
//! [−1, 1], higher meaning more poison-like. Samples of classes that could not
//! be split (fewer than two distinct embeddings) score 0.
//!
//! `reduce = "ica"` (the paper's FastICA) is not implemented yet and is
//! rejected by [`ActivationClusteringParams::check`]. Silhouettes take
//! O(n²·dims) time per class of n samples.

mod algorithm;
mod cluster;
mod error;
mod ica;
mod params;

pub use algorithm::{ActivationClustering, ClassSplit};
pub use cluster::{Pca, TwoMeans, silhouettes};
pub use error::ActivationClusteringError;
pub use params::{ActivationClusteringParams, Reduce, Rule};
