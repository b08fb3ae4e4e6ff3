use std::path::PathBuf;

use poisonlab_core::CoreError;
use thiserror::Error;

/// Errors building or running the blend attack (the checked parameters rule out most).
#[derive(Debug, Error, PartialEq)]
pub enum BlendError {
    /// An image pattern without a `path` (`check` reports this up front).
    #[error("path is required for pattern = \"image\"")]
    MissingPath,
    /// The pattern PNG could not be opened or decoded.
    #[error("cannot read the blend pattern {}: {message}", path.display())]
    Png {
        /// The file, as resolved against the scenario's folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The pattern does not fit the data (tabular data, another image size,
    /// a colour pattern on data that is neither grey nor RGB).
    #[error("{key}: {message}")]
    PatternDoesNotFit {
        /// The key to change.
        key: String,
        /// The pattern's size and the data's.
        message: String,
    },
    /// The training and test samples have different shapes.
    #[error("train samples have shape {train:?} but test samples {test:?}")]
    ShapeMismatch {
        /// Training sample shape.
        train: Vec<usize>,
        /// Test sample shape.
        test: Vec<usize>,
    },
    /// The target class is not in the dataset.
    #[error("target class {target} is not in the dataset, which has {classes} classes")]
    TargetOutOfRange {
        /// The `target` parameter.
        target: usize,
        /// The dataset's class count.
        classes: usize,
    },
    /// Building the poisoned dataset failed.
    #[error(transparent)]
    Dataset(#[from] CoreError),
}
