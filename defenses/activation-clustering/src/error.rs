use thiserror::Error;

/// Errors activation clustering can hit at run time.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ActivationClusteringError {
    /// The model's embedding does not have one row per training sample.
    #[error("the model embedded {got} rows for {expected} training samples")]
    EmbeddingRows {
        /// Rows returned.
        got: usize,
        /// Training samples.
        expected: usize,
    },
    /// An embedding value is NaN or infinite.
    #[error("the model's embedding of sample {index} is not finite; cannot cluster")]
    NonFiniteEmbedding {
        /// Sample position.
        index: usize,
    },
    /// `rule = "exclusionary-reclassification"` needs a way to retrain.
    #[error(
        "rule \"exclusionary-reclassification\" retrains the model, but this run offers no retraining"
    )]
    NoRetrain,
    /// Retraining without a class's smaller cluster failed.
    #[error("retraining without the smaller cluster of class {class} failed: {message}")]
    RetrainFailed {
        /// The class whose cluster was left out.
        class: usize,
        /// The trainer's error.
        message: String,
    },
    /// The retrained model answered for the wrong number of samples.
    #[error(
        "the retrained model predicted {got} labels for the {expected} left-out samples of class {class}"
    )]
    PredictionLength {
        /// The class whose cluster was left out.
        class: usize,
        /// Predictions returned.
        got: usize,
        /// Samples left out.
        expected: usize,
    },
}
