use thiserror::Error;

/// Errors drift injection can hit at run time.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DriftError {
    /// A class the parameters name is not in the data.
    #[error("class {class} is not in the dataset, which has {classes} classes")]
    ClassOutOfRange {
        /// The class.
        class: usize,
        /// The class count.
        classes: usize,
    },
    /// The round number is outside 1..=rounds.
    #[error("round {round} is outside 1..={rounds}")]
    Round {
        /// The round asked for.
        round: usize,
        /// Rounds in the scenario.
        rounds: usize,
    },
}
