use thiserror::Error;

/// Errors the spectral-signatures defense can hit at run time.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpectralSignaturesError {
    /// The model's embedding must have one row per training sample.
    #[error("the model embedded {got} rows for {expected} training samples")]
    EmbeddingRows {
        /// Rows the model returned.
        got: usize,
        /// Training samples.
        expected: usize,
    },
    /// Every embedding value must be a finite number.
    #[error("the embedding of sample {index} is not finite; cannot compute its spectral score")]
    NonFiniteEmbedding {
        /// Sample position.
        index: usize,
    },
}
