use poisonlab_core::CoreError;
use thiserror::Error;

/// Errors running the label-consistent attack (the checked parameters rule out most).
#[derive(Debug, Error, PartialEq)]
pub enum LabelConsistentError {
    /// The runner gave no surrogate model.
    #[error("label-consistent needs a surrogate model to craft its perturbations")]
    NoSurrogate,
    /// The data is not images the trigger fits.
    #[error(
        "label-consistent needs image data [c,h,w] of at least {need}×{need} pixels; this data has shape {shape:?}"
    )]
    NotImage {
        /// Shape of a sample.
        shape: Vec<usize>,
        /// Side the trigger and its margin need.
        need: usize,
    },
    /// The target class is not in the dataset.
    #[error("target class {target} is not in the dataset, which has {classes} classes")]
    TargetOutOfRange {
        /// The `target` parameter.
        target: usize,
        /// The dataset's class count.
        classes: usize,
    },
    /// Training and test samples differ in shape.
    #[error("train samples have shape {train:?} but test samples {test:?}")]
    ShapeMismatch {
        /// Shape of a training sample.
        train: Vec<usize>,
        /// Shape of a test sample.
        test: Vec<usize>,
    },
    /// Building the poisoned dataset failed.
    #[error(transparent)]
    Dataset(#[from] CoreError),
}
