use poisonlab_core::ParameterError;
use thiserror::Error;

/// Why fine-pruning could not repair a model.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum FinePruningError {
    /// It needs trusted clean samples to measure activations and fine-tune.
    #[error("fine-pruning needs trusted clean samples ([data] trusted = N); the run has none")]
    NoTrusted,
    /// Fine-tuning made a parameter non-finite.
    #[error("fine-tuning diverged: {0}")]
    Diverged(#[from] ParameterError),
}
