use thiserror::Error;

/// Errors the feature-collision attack can hit at run time.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FeatureCollisionError {
    /// The attack needs a surrogate model's gradients.
    #[error("feature collision needs a surrogate model; the runner passes the clean model")]
    NoSurrogate,
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
}
