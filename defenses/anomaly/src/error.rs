use thiserror::Error;

use crate::Space;

/// Errors the anomaly defense can hit at run time.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AnomalyError {
    /// The model's embedding must have one row per training sample.
    #[error(
        "the model embedded {rows} rows of width {cols} ({values} values) for {expected} training samples"
    )]
    EmbeddingShape {
        /// Rows the model returned.
        rows: usize,
        /// Columns the model returned.
        cols: usize,
        /// Values the embedding holds.
        values: usize,
        /// Training samples.
        expected: usize,
    },
    /// Every examined value must be a finite number.
    #[error("the {space} features of sample {index} are not finite; cannot score it")]
    NonFinite {
        /// Sample position in the training set.
        index: usize,
        /// The space that held the value.
        space: Space,
    },
}
