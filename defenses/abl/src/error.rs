use poisonlab_core::ParameterError;
use thiserror::Error;

/// Why anti-backdoor learning could not isolate or unlearn.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AblError {
    /// The isolation model could not be trained.
    #[error("training the isolation model failed: {0}")]
    Train(String),
    /// Isolation or unlearning made a parameter non-finite.
    #[error("training diverged: {0}")]
    Diverged(#[from] ParameterError),
}
