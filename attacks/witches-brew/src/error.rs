use poisonlab_core::ParameterError;
use thiserror::Error;

/// Errors the Witches' Brew attack can hit at run time.
#[derive(Debug, Error, PartialEq)]
pub enum WitchesBrewError {
    /// The attack needs a surrogate model's gradients.
    #[error("witches' brew needs a surrogate model; the runner passes the clean model")]
    NoSurrogate,
    /// The surrogate has no trainable parameters, so there is no gradient to match.
    #[error("witches' brew matches parameter gradients, but the surrogate has no parameters")]
    NoParameters,
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
    /// The surrogate refused the moved parameters of a finite-difference
    /// Hessian-vector product (they were not finite).
    #[error("the surrogate refused the finite-difference parameters: {0}")]
    Probe(#[from] ParameterError),
}

impl From<poisonlab_core::clean_label::PlanError> for WitchesBrewError {
    fn from(e: poisonlab_core::clean_label::PlanError) -> Self {
        use poisonlab_core::clean_label::PlanError as P;
        match e {
            P::ShapeMismatch { train, test } => WitchesBrewError::ShapeMismatch { train, test },
            P::ClassOutOfRange { class, classes } => {
                WitchesBrewError::ClassOutOfRange { class, classes }
            }
            P::TooFewTargets {
                class,
                wanted,
                available,
            } => WitchesBrewError::TooFewTargets {
                class,
                wanted,
                available,
            },
            P::TooFewBases {
                class,
                wanted,
                available,
            } => WitchesBrewError::TooFewBases {
                class,
                wanted,
                available,
            },
        }
    }
}
