use thiserror::Error;

/// Errors drift injection can hit at run time.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DriftError {
    /// The run does not train in rounds, so there is nothing to drift over.
    #[error(
        "drift poisons over training rounds, and this run trains at once; \
         set `[training] regime = \"rounds\"`"
    )]
    NoRounds,
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
        /// Rounds the run trains in.
        rounds: usize,
    },
    /// The `step` schedule starts after the last round.
    #[error("step-at = {step_at} is not one of the run's rounds 1..={rounds}")]
    StepAt {
        /// The `step-at` parameter.
        step_at: usize,
        /// Rounds the run trains in.
        rounds: usize,
    },
    /// A round of the plan reaches past the training set.
    #[error("round {round} holds samples {start}..{end}, but the training set has {len}")]
    RoundOutOfData {
        /// The round (1-based).
        round: usize,
        /// First sample of the round.
        start: usize,
        /// One past its last sample.
        end: usize,
        /// Samples in the training set.
        len: usize,
    },
}
