//! Models as flat parameter vectors, and training that starts from given weights.
//!
//! A [`Model`] is a [`Classifier`] whose trainable parameters can be read out
//! and written back as one flat `Vec<f32>`; a [`ModelTrainer`] trains "from
//! these weights, on these rows, for E epochs". Together they let code that
//! knows nothing of the model library move weights around: federated
//! clients start from the global weights, train locally and send
//! `weights − global`; the server averages the updates
//! ([`crate::UpdateAggregator`]) and writes the result back.
//!
//! The order of the vector is documented on [`Model`].

use thiserror::Error;

use crate::{Classifier, Dataset, Rng, Trainer};

/// Why a parameter vector was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParameterError {
    /// The vector does not have one value per parameter.
    #[error("expected {expected} parameter values, got {got}")]
    WrongLength {
        /// Parameters the model has.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A value is NaN or infinite.
    #[error("parameter value {index} is {value}; parameters must be finite")]
    NonFinite {
        /// Position of the first non-finite value.
        index: usize,
        /// The value.
        value: f32,
    },
}

impl ParameterError {
    /// Check that `values` can be the parameters of a model with `expected`
    /// parameters: the right length, every value finite (the first problem wins).
    pub fn check(expected: usize, values: &[f32]) -> Result<(), ParameterError> {
        if values.len() != expected {
            return Err(ParameterError::WrongLength {
                expected,
                got: values.len(),
            });
        }
        match values.iter().position(|v| !v.is_finite()) {
            Some(index) => Err(ParameterError::NonFinite {
                index,
                value: values[index],
            }),
            None => Ok(()),
        }
    }
}

/// A [`Classifier`] whose trainable parameters can be read and replaced as
/// one flat vector.
///
/// Reading and writing move values exactly: `set_parameters(&parameters())`
/// leaves the model predicting bit for bit as before.
///
/// # Parameter order
///
/// The flat vector holds every trainable tensor of the network, layer by
/// layer in forward order (convolutions first, then dense layers), each
/// layer's weight before its bias. Each tensor is laid out row-major
/// (last index fastest) in the shape the model library stores it:
///
/// - dense layer `in → out`: weight `[in, out]` (element `(i, o)` at
///   `i · out + o`; the layer computes `y = x W + b`), then bias `[out]`;
/// - convolution `c_in → c_out` with a `kh × kw` kernel: weight
///   `[c_out, c_in, kh, kw]` (element `(o, c, r, s)` at
///   `((o · c_in + c) · kh + r) · kw + s`), then bias `[c_out]`.
///
/// So a logistic regression on `d` features and `k` classes is
/// `[W (d × k), b (k)]`; an MLP `d → h₁ → h₂ → k` is
/// `[W₁ (d × h₁), b₁, W₂ (h₁ × h₂), b₂, W₃ (h₂ × k), b₃]`; the CNN is
/// `[conv₁ weight, conv₁ bias, conv₂ weight, conv₂ bias, dense₁ …, dense₂ …]`,
/// its first dense layer reading the last feature map `[channels, h, w]`
/// flattened row-major.
/// Two models built for the same data and model parameters have vectors of
/// the same length and meaning, so vectors can be added, subtracted and
/// averaged element by element.
pub trait Model: Classifier {
    /// Number of trainable parameters: the length of [`Model::parameters`].
    fn n_parameters(&self) -> usize;

    /// Every trainable parameter, in the documented order.
    fn parameters(&self) -> Vec<f32>;

    /// Replace every trainable parameter with `values` (documented order).
    /// Refuses, leaving the model as it was, a vector of the wrong length or
    /// one with a non-finite value ([`ParameterError::check`]).
    fn set_parameters(&mut self, values: &[f32]) -> Result<(), ParameterError>;

    /// An independent copy of this model, behind the trait.
    fn clone_box(&self) -> Box<dyn Model>;
}

impl Clone for Box<dyn Model> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// A [`Trainer`] that can also start from given weights, train on part of a
/// dataset in place, and train for a given number of epochs.
///
/// Everything else (model family, batch size, learning rate) comes from the
/// trainer's own settings; each call starts a fresh optimiser state.
pub trait ModelTrainer: Trainer {
    /// Train on the samples of `data` at `rows` (in that order; all of
    /// `data` when `None`), read in place, for `epochs` passes.
    ///
    /// Starts from the parameter vector `start` (documented order, checked
    /// like [`Model::set_parameters`]) or, when `None`, from fresh initial
    /// weights drawn from `rng` first. Then each epoch draws one shuffle of
    /// the rows from `rng`. `epochs = 0` returns the starting weights
    /// unchanged (and draws no shuffle). The model's architecture follows
    /// from the trainer's settings and the shape and class count of `data`.
    ///
    /// Fails when the rows are empty (even for zero epochs), when `start`
    /// does not fit the architecture, or when training fails.
    fn fit_from(
        &self,
        start: Option<&[f32]>,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<Box<dyn Model>, Self::Error>;

    /// A fresh, untrained model for `data`: the initial weights [`fit_from`]
    /// draws from `rng` with `start = None` (`fit_from(None, data, None, 0, rng)`).
    ///
    /// [`fit_from`]: ModelTrainer::fit_from
    fn initial(&self, data: &Dataset, rng: &mut Rng) -> Result<Box<dyn Model>, Self::Error> {
        self.fit_from(None, data, None, 0, rng)
    }
}
