use poisonlab_core::ParameterError;
use thiserror::Error;

/// Errors the MetaPoison attack can hit at run time.
#[derive(Debug, Error, PartialEq)]
pub enum MetaPoisonError {
    /// The attack needs a surrogate model's gradients, or a trainer to make some.
    #[error(
        "metapoison needs a surrogate model or a surrogate trainer; the runner passes both to attacks that need a surrogate"
    )]
    NoSurrogate,
    /// The training and test samples have different shapes.
    #[error("train samples have shape {train:?} but test samples {test:?}")]
    ShapeMismatch {
        /// Shape of a training sample.
        train: Vec<usize>,
        /// Shape of a test sample.
        test: Vec<usize>,
    },
    /// A class the parameters name is not in the dataset.
    #[error("class {class} is not in the dataset, which has {classes} classes")]
    ClassOutOfRange {
        /// The class named by `target-class` or `base-class`.
        class: usize,
        /// The dataset's class count.
        classes: usize,
    },
    /// Not enough test instances of the target class.
    #[error("wanted {wanted} target instances of class {class}, the test set has {available}")]
    TooFewTargets {
        /// Class of the targets.
        class: usize,
        /// Targets asked for.
        wanted: usize,
        /// Test instances of that class.
        available: usize,
    },
    /// Not enough training instances of the base class.
    #[error("wanted {wanted} base instances of class {class}, the training set has {available}")]
    TooFewBases {
        /// The base class.
        class: usize,
        /// Bases asked for (targets × poisons per target).
        wanted: usize,
        /// Training instances of that class.
        available: usize,
    },
    /// Training a surrogate of the ensemble failed.
    #[error("training surrogate {index} (to epoch {epochs}) failed: {message}")]
    SurrogateTraining {
        /// Position of the surrogate in the ensemble, from 0.
        index: usize,
        /// Epochs it was being trained for.
        epochs: usize,
        /// The trainer's error, as text.
        message: String,
    },
    /// An unrolled SGD step (or a finite-difference probe around one) gave
    /// parameters the surrogate refuses, typically non-finite ones.
    #[error(
        "an unrolled training step gave unusable parameters ({0}); lower unroll-learning-rate or fd-step"
    )]
    Unroll(#[from] ParameterError),
}

impl From<poisonlab_core::clean_label::PlanError> for MetaPoisonError {
    fn from(e: poisonlab_core::clean_label::PlanError) -> Self {
        use poisonlab_core::clean_label::PlanError as P;
        match e {
            P::ShapeMismatch { train, test } => MetaPoisonError::ShapeMismatch { train, test },
            P::ClassOutOfRange { class, classes } => {
                MetaPoisonError::ClassOutOfRange { class, classes }
            }
            P::TooFewTargets {
                class,
                wanted,
                available,
            } => MetaPoisonError::TooFewTargets {
                class,
                wanted,
                available,
            },
            P::TooFewBases {
                class,
                wanted,
                available,
            } => MetaPoisonError::TooFewBases {
                class,
                wanted,
                available,
            },
        }
    }
}
