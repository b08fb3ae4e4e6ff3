use thiserror::Error;

/// Errors STRIP can hit at run time.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum StripError {
    /// STRIP needs clean held-out samples to blend with and to set its threshold.
    #[error("strip needs trusted clean samples: set [data] trusted = N (at least {needed})")]
    NoTrusted {
        /// Trusted samples needed.
        needed: usize,
    },
    /// Inputs and trusted samples must have the same shape.
    #[error("inputs have shape {inputs:?} but the trusted samples {trusted:?}")]
    Shape {
        /// Input shape.
        inputs: Vec<usize>,
        /// Trusted shape.
        trusted: Vec<usize>,
    },
}
