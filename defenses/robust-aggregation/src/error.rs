use thiserror::Error;

/// Errors an update aggregator can hit at run time.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AggregationError {
    /// There is nothing to aggregate.
    #[error("no updates to aggregate; at least one is needed")]
    NoUpdates,
    /// The updates do not all have one length.
    #[error(
        "update {index} has {len} values but update 0 has {expected}; all updates must have one length"
    )]
    LengthMismatch {
        /// Position of the first update whose length differs from update 0's.
        index: usize,
        /// Its length.
        len: usize,
        /// The length of update 0.
        expected: usize,
    },
    /// An update holds a NaN or an infinity.
    #[error("update {update} holds {value} at coordinate {coordinate}; every value must be finite")]
    NonFinite {
        /// Position of the update.
        update: usize,
        /// Position of the value in the update.
        coordinate: usize,
        /// The value.
        value: f32,
    },
    /// The trimmed mean would remove every value of a coordinate.
    #[error(
        "trim {trim} removes {removed} of {n} values from each end, leaving none; at least one value must remain"
    )]
    NothingLeft {
        /// The share removed from each end.
        trim: f64,
        /// Updates given.
        n: usize,
        /// Values removed from each end.
        removed: usize,
    },
    /// Krum needs n ≥ 2f + 3 updates.
    #[error("krum with f = {byzantine} needs n ≥ 2f + 3 = {needed} updates, got n = {n}")]
    TooFewForKrum {
        /// Updates given.
        n: usize,
        /// The number of Byzantine updates tolerated (f).
        byzantine: usize,
        /// 2f + 3.
        needed: usize,
    },
    /// Multi-Krum cannot select more updates than it is given.
    #[error("krum selects {select} updates but got n = {n}; select must be at most n")]
    SelectTooMany {
        /// Updates to select (m).
        select: usize,
        /// Updates given.
        n: usize,
    },
}
