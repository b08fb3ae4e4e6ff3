use poisonlab_core::ParameterError;
use thiserror::Error;

/// Errors from building or training a model.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The CNN needs image-shaped data.
    #[error("the cnn model needs image data shaped [channels, height, width], got shape {0:?}")]
    CnnNeedsImages(Vec<usize>),
    /// The image is too small for two conv-pool stages.
    #[error("the cnn model needs images of at least 6×6 pixels, got {height}×{width}")]
    ImageTooSmall {
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
    /// Training data is empty.
    #[error("cannot train on an empty dataset")]
    EmptyData,
    /// The starting parameters do not fit the model.
    #[error("the starting parameters do not fit the model: {0}")]
    Parameters(#[from] ParameterError),
    /// Continuing training needs the training state (Adam's moments and
    /// step count, the batch order) a state-keeping call leaves.
    #[error(
        "the model keeps no training state to continue from: train it with a state-keeping \
         call (fit_from_keeping_state or train_from_keeping_state) and do not set its \
         parameters in between"
    )]
    NoTrainingState,
    /// The model to continue is not the network the trainer builds for the data.
    #[error(
        "the model's architecture does not fit this trainer and the data \
         (model kind, hidden widths, sample shape, class count)"
    )]
    ArchitectureMismatch,
    /// Training diverged (non-finite loss).
    #[error("training diverged: the loss became {loss} in epoch {epoch}; lower learning-rate")]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
        /// The loss value.
        loss: f32,
    },
}
