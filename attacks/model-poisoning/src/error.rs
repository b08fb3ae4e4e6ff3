use thiserror::Error;

/// Errors crafting a malicious update can hit at run time (the checked
/// parameters rule out the rest).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum UpdateAttackError {
    /// The client's own update has no values.
    #[error("the client's own update is empty; it must hold at least one value")]
    EmptyOwn,
    /// The client's own update holds a NaN or an infinity.
    #[error(
        "the client's own update holds {value} at coordinate {coordinate}; every value must be finite"
    )]
    NonFiniteOwn {
        /// Position of the value.
        coordinate: usize,
        /// The value.
        value: f32,
    },
    /// A benign update's length differs from the client's own update's.
    #[error(
        "benign update {index} has {len} values but the client's own update has {expected}; all updates must have one length"
    )]
    LengthMismatch {
        /// Position of the benign update.
        index: usize,
        /// Its length.
        len: usize,
        /// The length of the client's own update.
        expected: usize,
    },
    /// A benign update holds a NaN or an infinity.
    #[error(
        "benign update {index} holds {value} at coordinate {coordinate}; every value must be finite"
    )]
    NonFiniteBenign {
        /// Position of the benign update.
        index: usize,
        /// Position of the value in it.
        coordinate: usize,
        /// The value.
        value: f32,
    },
    /// The client counts of the round are impossible.
    #[error(
        "{n_malicious} malicious among {n_selected} selected clients; at least one client must be selected and no more malicious than selected"
    )]
    ClientCounts {
        /// Clients aggregated this round.
        n_selected: usize,
        /// Malicious clients among them.
        n_malicious: usize,
    },
    /// The server learning rate cannot be divided by.
    #[error("the server learning rate must be a finite number > 0, got {0}")]
    ServerLearningRate(f64),
    /// A crafted value does not fit in an `f32`.
    #[error(
        "the crafted update's coordinate {coordinate} is {value}, beyond the f32 range; lower the attack's scale"
    )]
    Overflow {
        /// Position of the value.
        coordinate: usize,
        /// The value as computed in f64.
        value: f64,
    },
}
