use thiserror::Error;

/// Errors the loss filter can hit at run time.
#[derive(Debug, Error, PartialEq)]
pub enum LossFilterError {
    /// The model returned a loss that is not a number.
    #[error("the model's loss for sample {index} is {loss}; cannot rank samples")]
    NonFiniteLoss {
        /// Sample position.
        index: usize,
        /// The loss.
        loss: f32,
    },
}
