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
//!
//! Training in several calls: [`ModelTrainer::fit_from`] starts a fresh
//! optimiser state each call (the warm start of round-based training), so
//! two calls of E epochs are not one call of 2E. When they should be, train
//! with [`ModelTrainer::fit_from_keeping_state`] and continue with
//! [`ModelTrainer::fit_more`]: the model then carries its optimiser state
//! and batch order from one call to the next.

use std::any::Any;

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
///
/// # Training state
///
/// A model made by [`ModelTrainer::fit_from_keeping_state`] or
/// [`ModelTrainer::fit_more`] also carries the training state it left: the
/// optimiser state (for Adam: both moment estimates of every parameter and
/// the step count, about twice the memory of the parameters) and the batch
/// order, which `fit_more` needs to continue. Every other model carries
/// none. The state is not part of [`Model::parameters`]; replacing the
/// parameters discards it (it belongs to the weights it was computed for),
/// and so does [`Model::discard_training_state`]. Copies
/// ([`Model::clone_box`]) keep it.
///
/// `Model` is [`Any`] so that a trainer can recognise its own models.
pub trait Model: Classifier + Any {
    /// Number of trainable parameters: the length of [`Model::parameters`].
    fn n_parameters(&self) -> usize;

    /// Every trainable parameter, in the documented order.
    fn parameters(&self) -> Vec<f32>;

    /// Replace every trainable parameter with `values` (documented order),
    /// discarding any training state. Refuses, leaving the model as it was, a
    /// vector of the wrong length or one with a non-finite value
    /// ([`ParameterError::check`]).
    fn set_parameters(&mut self, values: &[f32]) -> Result<(), ParameterError>;

    /// An independent copy of this model (with its training state, if any),
    /// behind the trait.
    fn clone_box(&self) -> Box<dyn Model>;

    /// The gradient of the mean cross-entropy of the samples of `data` (at
    /// their labels) with respect to every parameter, in the documented
    /// order: the direction first-order training steps against, and the
    /// building block of gradient matching and of finite-difference
    /// Hessian-vector products. Empty data gives zeros.
    fn loss_gradient(&self, data: &Dataset) -> Vec<f32>;

    /// Whether the model carries the training state that
    /// [`ModelTrainer::fit_more`] continues from (see "Training state").
    /// `false` unless the model's type keeps one.
    fn has_training_state(&self) -> bool {
        false
    }

    /// Drop the training state, if any, to free its memory; the model
    /// predicts as before. Does nothing unless the model's type keeps one.
    fn discard_training_state(&mut self) {}
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
/// trainer's own settings. [`fit_from`] starts a fresh optimiser state each
/// call; [`fit_more`] continues the state a model carries.
///
/// # Two calls as one
///
/// With one `rng` passed through both calls (it yields the initial weights,
/// then one shuffle per epoch, in the same order either way), the same data
/// and rows and the same trainer,
///
/// ```text
/// let m = fit_from_keeping_state(None, data, rows, E₁, rng)?;
/// let m = fit_more(m, data, rows, E₂, rng)?;
/// ```
///
/// is bit for bit the model of `fit_from(None, data, rows, E₁ + E₂, rng)`.
/// What the model carries between the calls: the weights, the whole
/// optimiser state (Adam's first and second moments of every parameter and
/// its step count, so its bias correction continues) and the batch order
/// the last epoch left (each epoch's shuffle permutes the previous order, in
/// one call as across calls). What it does not carry: the random stream
/// (pass the same one on), the data and rows, the batch size and the
/// learning rate, which are each call's (change them and the result is a
/// continuation under new settings, not one call).
/// `fit_from(Some(&m.parameters()), …)` instead restarts the optimiser and
/// the order (as round-based training does on purpose), so it differs from
/// one call.
///
/// [`fit_from`]: ModelTrainer::fit_from
/// [`fit_more`]: ModelTrainer::fit_more
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
    /// Each call starts a fresh optimiser state, and the model returned
    /// carries none ([`Model::has_training_state`] is `false`).
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

    /// [`fit_from`], but the model returned keeps the training state (the
    /// optimiser state, about twice the memory of its parameters, and the
    /// batch order) so that [`fit_more`] can continue it: the same weights,
    /// the same draws from `rng`, the same failures. With `epochs = 0` the
    /// state is a fresh one.
    ///
    /// [`fit_from`]: ModelTrainer::fit_from
    /// [`fit_more`]: ModelTrainer::fit_more
    fn fit_from_keeping_state(
        &self,
        start: Option<&[f32]>,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<Box<dyn Model>, Self::Error>;

    /// Continue training `model` for `epochs` more passes over the samples
    /// of `data` at `rows` (all when `None`), from its weights and the
    /// training state it carries, as if the call that made it had run on
    /// (see "Two calls as one"). Draws one shuffle per epoch from `rng` and
    /// nothing else; `epochs = 0` returns `model` unchanged. The model
    /// returned carries the advanced state.
    ///
    /// Fails when `model` carries no training state of this trainer (it did
    /// not come from [`fit_from_keeping_state`] or `fit_more`, or its
    /// parameters were set since), when its architecture does not fit this
    /// trainer and `data`, when the rows are empty, or when training fails.
    ///
    /// [`fit_from_keeping_state`]: ModelTrainer::fit_from_keeping_state
    fn fit_more(
        &self,
        model: Box<dyn Model>,
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
