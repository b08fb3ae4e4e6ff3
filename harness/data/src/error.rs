use thiserror::Error;

/// Errors from splitting a dataset.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum DataError {
    /// A holdout must leave at least one sample behind.
    #[error(
        "holdout size must be less than the sample count {len} so some samples remain, got {n}"
    )]
    HoldoutTooLarge {
        /// Samples asked for.
        n: usize,
        /// Samples in the dataset.
        len: usize,
    },
}
