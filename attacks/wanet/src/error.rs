use poisonlab_core::CoreError;
use thiserror::Error;

/// Errors running WaNet (the checked parameters rule out most).
#[derive(Debug, Error, PartialEq)]
pub enum WanetError {
    /// The data is not images, so there is nothing to warp.
    #[error("wanet needs image data [c,h,w]; this data has shape {0:?}")]
    NotImage(Vec<usize>),
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
