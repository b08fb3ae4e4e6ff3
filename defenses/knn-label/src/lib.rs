//! Deep k-NN label consistency (Peri et al. 2020, "Deep k-NN Defense Against
//! Clean-label Data Poisoning Attacks", ECCV workshops).
//!
//! Each training sample is compared with its `k` nearest neighbours in the
//! penultimate-layer embedding of the model trained on the (possibly poisoned)
//! training set. A sample whose label is not among the most common labels of
//! its neighbours is flagged. Its score is the share of neighbours whose label
//! differs from its own.

mod algorithm;
mod error;
mod params;

pub use algorithm::{KnnLabel, nearest_neighbours};
pub use error::KnnLabelError;
pub use params::KnnLabelParams;
