use thiserror::Error;

/// Errors the k-NN defense can hit at run time.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KnnLabelError {
    /// There must be more samples than neighbours.
    #[error("k = {k} needs at least {} training samples, got {n}", k + 1)]
    TooFewSamples {
        /// Neighbours per sample.
        k: usize,
        /// Training samples.
        n: usize,
    },
}
