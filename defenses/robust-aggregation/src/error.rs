use thiserror::Error;

/// Errors an update aggregator can hit at run time. Parameters are checked
/// when a kind is built; these are about the round it is given.
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
    /// A per-update column of the round (client ids, sample counts) does not
    /// have one entry per update.
    #[error("the round has {got} {what} for {n} updates; it needs one per update")]
    ColumnLength {
        /// Which column: "client ids" or "sample counts".
        what: &'static str,
        /// Entries present.
        got: usize,
        /// Updates.
        n: usize,
    },
    /// Krum or Multi-Krum got a round with n ≤ 2f + 2 updates.
    #[error("{kind} with f = {f} needs more than 2f + 2 = {bound} updates in a round, got {n}")]
    TooFewForKrum {
        /// "krum" or "multi-krum".
        kind: &'static str,
        /// The assumed malicious count.
        f: usize,
        /// 2f + 2 (saturating).
        bound: usize,
        /// Updates given.
        n: usize,
    },
    /// Bulyan got a round with n < 4f + 3 updates.
    #[error("bulyan with f = {f} needs at least 4f + 3 = {needed} updates in a round, got {n}")]
    TooFewForBulyan {
        /// The assumed malicious count.
        f: usize,
        /// 4f + 3 (saturating).
        needed: usize,
        /// Updates given.
        n: usize,
    },
    /// Multi-Krum was told to average more updates than the round holds.
    #[error("multi-krum averages m = {m} updates but the round has only {n}; m must be at most n")]
    SelectTooMany {
        /// Updates to average (m).
        m: usize,
        /// Updates given.
        n: usize,
    },
    /// FLTrust got a round without the server's root update.
    #[error("fltrust needs the server's update on its root set, but the round has none")]
    RootMissing,
    /// The root update's length differs from the clients' updates'.
    #[error("the root update has {len} values but the clients' updates have {expected}")]
    RootLength {
        /// Its length.
        len: usize,
        /// The clients' update length.
        expected: usize,
    },
    /// The root update holds a NaN or an infinity.
    #[error("the root update holds {value} at coordinate {coordinate}; every value must be finite")]
    RootNonFinite {
        /// Position of the value.
        coordinate: usize,
        /// The value.
        value: f32,
    },
    /// One client id appears twice in a round (FoolsGold keys its history
    /// on the ids).
    #[error("client {client} sent more than one update this round; ids must be distinct")]
    DuplicateClient {
        /// The repeated id.
        client: usize,
    },
    /// A client's update length changed between rounds (FoolsGold sums them).
    #[error(
        "client {client} sent {len} values but {expected} in earlier rounds; updates must keep one length"
    )]
    HistoryLength {
        /// The client id.
        client: usize,
        /// This round's length.
        len: usize,
        /// The length of its history.
        expected: usize,
    },
    /// The round's output layer does not fit in the updates.
    #[error(
        "the output layer ends at parameter {end} but the updates have {len} values; it must lie inside them"
    )]
    OutputLayerOutside {
        /// One past the layer's last parameter.
        end: usize,
        /// The update length.
        len: usize,
    },
    /// The class to examine is not an output of the output layer.
    #[error("class {class} is not an output of the output layer, which has {n_classes} classes")]
    ClassOutsideOutputLayer {
        /// The class asked for.
        class: usize,
        /// The layer's class count.
        n_classes: usize,
    },
    /// The eigen-decomposition behind a PCA did not converge.
    #[error("the eigen-decomposition of the {n} × {n} Gram matrix did not converge")]
    EigenFailed {
        /// Updates (the Gram matrix's size).
        n: usize,
    },
}
