use thiserror::Error;

/// Errors label flipping can hit at run time (the checked parameters rule out the rest).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LabelFlipError {
    /// A class index the parameters name is not in the dataset.
    #[error("class {class} is not in the dataset, which has {classes} classes")]
    ClassOutOfRange {
        /// The class named by `source` or `target`.
        class: usize,
        /// The dataset's class count.
        classes: usize,
    },
    /// Random flipping needs somewhere to flip to.
    #[error("random label flipping needs at least 2 classes")]
    SingleClass,
}
