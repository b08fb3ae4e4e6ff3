use poisonlab_core::ParameterError;
use thiserror::Error;

/// Why Neural Cleanse could not inspect or repair a model.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NeuralCleanseError {
    /// It needs trusted clean samples to reverse-engineer triggers on.
    #[error("neural-cleanse needs trusted clean samples ([data] trusted = N); the run has none")]
    NoTrusted,
    /// It needs at least two classes.
    #[error("neural-cleanse needs at least 2 classes, the model has {0}")]
    TooFewClasses(usize),
    /// Unlearning made a parameter non-finite.
    #[error("unlearning diverged: {0}")]
    Diverged(#[from] ParameterError),
}
