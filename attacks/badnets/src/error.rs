use std::path::PathBuf;

use poisonlab_core::CoreError;
use thiserror::Error;

/// Errors building or running BadNets (the checked parameters rule out most).
#[derive(Debug, Error, PartialEq)]
pub enum BadNetsError {
    /// An image trigger without a `path` (`check` reports this up front).
    #[error("trigger.path is required for shape = \"image\"")]
    MissingPath,
    /// The trigger's PNG could not be opened or decoded.
    #[error("cannot read the trigger image {}: {message}", path.display())]
    Png {
        /// The file, as resolved against the scenario's folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The data is not images, so there is nowhere to put a trigger.
    #[error("badnets triggers need image data [c,h,w]; this data has shape {0:?}")]
    NotImage(Vec<usize>),
    /// The trigger does not fit the images.
    #[error("{key}: {message}")]
    TriggerDoesNotFit {
        /// The trigger key to change.
        key: String,
        /// The trigger's extent and the image size.
        message: String,
    },
    /// The target class is not in the dataset.
    #[error("target class {target} is not in the dataset, which has {classes} classes")]
    TargetOutOfRange {
        /// The `target` parameter.
        target: usize,
        /// The dataset's class count.
        classes: usize,
    },
    /// A `source` class is not in the dataset.
    #[error("source class {class} is not in the dataset, which has {classes} classes")]
    SourceOutOfRange {
        /// The `source` class.
        class: usize,
        /// The dataset's class count.
        classes: usize,
    },
    /// All-to-all relabelling needs another class to move to.
    #[error("all-to-all badnets needs at least 2 classes")]
    SingleClass,
    /// Building the poisoned dataset failed.
    #[error(transparent)]
    Dataset(#[from] CoreError),
}
