use thiserror::Error;

/// Errors a round monitor can hit at run time. A call that fails leaves the
/// monitor's state unchanged.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MonitorError {
    /// Rounds passed to one monitor must increase (and start at 1 or later).
    #[error("round {got} came after round {previous}; rounds must increase")]
    RoundOrder {
        /// The last round the monitor saw (0 before the first).
        previous: usize,
        /// The round given.
        got: usize,
    },
    /// The canary audit needs the scenario's trusted set.
    #[error("the canary audit needs a trusted audit set; the scenario has none")]
    NoAudit,
    /// The canary audit needs at least one audit sample.
    #[error("the trusted audit set is empty; the canary audit needs samples")]
    EmptyAudit,
    /// The audit set must stay the same for the whole run.
    #[error(
        "the audit set's class counts changed from {expected:?} to {got:?}; it must stay fixed"
    )]
    AuditChanged {
        /// Class counts when the reference was set.
        expected: Vec<usize>,
        /// Class counts now.
        got: Vec<usize>,
    },
    /// The model must predict one class per audit sample.
    #[error("the model predicted {got} classes for {expected} audit samples")]
    PredictionLength {
        /// Predictions returned.
        got: usize,
        /// Audit samples.
        expected: usize,
    },
    /// A batch must have the class count of the first round's batch.
    #[error("the batch has {got} classes but the reference round had {expected}")]
    ClassCount {
        /// Classes in the reference round.
        expected: usize,
        /// Classes in this batch.
        got: usize,
    },
    /// The reference model's embedding must have one row per batch sample.
    #[error(
        "the reference model embedded {rows} rows of width {cols} ({values} values) for {expected} batch samples"
    )]
    EmbeddingShape {
        /// Rows returned.
        rows: usize,
        /// Columns returned.
        cols: usize,
        /// Values the embedding holds.
        values: usize,
        /// Batch samples.
        expected: usize,
    },
    /// The embedding width must stay that of the reference round.
    #[error(
        "the reference model embedded rows of width {got}, but {expected} in the reference round"
    )]
    EmbeddingWidth {
        /// Width in the reference round.
        expected: usize,
        /// Width now.
        got: usize,
    },
    /// Every embedding value must be a finite number.
    #[error("the embedding of batch sample {index} in round {round} is not finite")]
    NonFinite {
        /// The round.
        round: usize,
        /// Sample position in the batch.
        index: usize,
    },
}
