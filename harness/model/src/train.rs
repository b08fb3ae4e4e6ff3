//! The hand-written training loop: Adam on cross-entropy, seeded batch order.

use std::any::Any;
use std::fmt;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Tensor, TensorData};
use poisonlab_core::{Classifier, Dataset, Model, ModelTrainer, Rng, Trainer};
use rand::seq::SliceRandom;

use crate::net::{InputShape, Net, Weights};
use crate::optim::{FusedAdam, FusedSgd};
use crate::{ModelError, ModelParams, TrainedModel, backend};

/// Training part-way: what a state-keeping call leaves for the next one.
///
/// Adam's first and second moment estimates of every parameter and its step
/// count (burn keeps them per parameter, keyed by the parameter's id in the
/// network as trained), and the batch order: the permutation of row
/// positions the last epoch's shuffle left, which the next epoch's shuffle
/// permutes further, as it does within one call.
#[derive(Clone)]
pub(crate) struct TrainState {
    optim: ModuleOptimizer,
    steps: usize,
    order: Vec<usize>,
}

impl TrainState {
    /// A fresh state of `optimizer` for `n` rows: no step taken (the
    /// moments are made at the first step), the rows in the order given.
    fn fresh(n: usize, optimizer: Optimizer) -> Self {
        Self {
            optim: match optimizer {
                Optimizer::Adam => ModuleOptimizer::from(FusedAdam::new(1e-8)),
                Optimizer::Sgd => ModuleOptimizer::from(FusedSgd),
            },
            steps: 0,
            order: (0..n).collect(),
        }
    }

    /// Adam steps taken (batches trained on).
    pub(crate) fn steps(&self) -> usize {
        self.steps
    }
}

impl fmt::Debug for TrainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrainState")
            .field("steps", &self.steps)
            .field("rows", &self.order.len())
            .finish_non_exhaustive()
    }
}

/// Trains the model a scenario's `[model]` table describes.
///
/// Every call but [`BurnTrainer::continue_training`] starts a fresh Adam
/// state and batch order; only [`BurnTrainer::train_from_keeping_state`] and
/// `continue_training` return models that keep theirs.
#[derive(Debug, Clone)]
pub struct BurnTrainer {
    params: ModelParams,
    optimizer: Optimizer,
}

/// The optimiser a [`BurnTrainer`] steps with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Optimizer {
    /// Adam (Kingma and Ba 2015), ε = 1e-8, β = (0.9, 0.999): the default.
    #[default]
    Adam,
    /// Plain stochastic gradient descent: w ← w − lr · g, no momentum.
    Sgd,
}

impl BurnTrainer {
    /// A trainer for checked `params` (see [`ModelParams::check`]), with Adam.
    pub fn new(params: ModelParams) -> Self {
        Self {
            params,
            optimizer: Optimizer::Adam,
        }
    }

    /// The same trainer stepping with `optimizer`.
    pub fn with_optimizer(self, optimizer: Optimizer) -> Self {
        Self { optimizer, ..self }
    }

    /// The parameters this trainer uses.
    pub fn params(&self) -> &ModelParams {
        &self.params
    }

    /// Train a fresh model; the concrete type, for callers that want it.
    ///
    /// Initial weights come first from `rng`, then one shuffle per epoch:
    /// `fit_from(None, data, None, params.epochs, rng)`.
    pub fn fit(&self, data: &Dataset, rng: &mut Rng) -> Result<TrainedModel, ModelError> {
        self.train_from(None, data, None, self.params.epochs, rng)
    }

    /// Train a fresh model on the samples of `data` at `rows` (in that order),
    /// without copying them: the same model as `fit(&data.subset(rows), rng)`;
    /// `fit_from(None, data, Some(rows), params.epochs, rng)`.
    ///
    /// # Panics
    /// When a row is out of range (a programming error).
    pub fn fit_subset(
        &self,
        data: &Dataset,
        rows: &[usize],
        rng: &mut Rng,
    ) -> Result<TrainedModel, ModelError> {
        self.train_from(None, data, Some(rows), self.params.epochs, rng)
    }

    /// Continue training `model` on `data` (warm start: a fresh Adam state and
    /// batch order, whatever state `model` keeps; see
    /// [`BurnTrainer::continue_training`] for carrying it):
    /// the round-by-round training of continual scenarios. Batch order comes
    /// from `rng`: `fit_from(Some(&model.parameters()), data, None, params.epochs, rng)`.
    /// The result infers with the default inference batch.
    pub fn resume(
        &self,
        model: TrainedModel,
        data: &Dataset,
        rng: &mut Rng,
    ) -> Result<TrainedModel, ModelError> {
        self.train_from(
            Some(&model.parameters()),
            data,
            None,
            self.params.epochs,
            rng,
        )
    }

    /// [`ModelTrainer::fit_from`] with the concrete model type: train on the
    /// samples of `data` at `rows` (all when `None`, read in place) for
    /// `epochs` passes with a fresh Adam state, starting from the parameter
    /// vector `start` or, when `None`, from fresh weights drawn from `rng`
    /// first. Each epoch then draws one shuffle from `rng`. The model
    /// returned does not keep the Adam state.
    ///
    /// # Panics
    /// When a row is out of range (a programming error).
    pub fn train_from(
        &self,
        start: Option<&[f32]>,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<TrainedModel, ModelError> {
        Ok(self.start(start, data, rows, epochs, rng)?.0)
    }

    /// [`BurnTrainer::train_from`], keeping the training state (Adam's
    /// moments and step count, about twice the memory of the parameters, and
    /// the batch order) in the model returned so that
    /// [`BurnTrainer::continue_training`] can continue it; the same weights
    /// and the same draws from `rng` ([`ModelTrainer::fit_from_keeping_state`]).
    ///
    /// # Panics
    /// When a row is out of range (a programming error).
    pub fn train_from_keeping_state(
        &self,
        start: Option<&[f32]>,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<TrainedModel, ModelError> {
        let (model, state) = self.start(start, data, rows, epochs, rng)?;
        Ok(model.with_state(state))
    }

    /// Train `model` for `epochs` more passes over the samples of `data` at
    /// `rows` (all when `None`) with the training state it keeps, as if the call
    /// that made it had run on ([`ModelTrainer::fit_more`]): with the same
    /// data, rows and settings and one `rng` passed through,
    /// `train_from_keeping_state(None, …, E₁, rng)` then
    /// `continue_training(…, E₂, rng)` is bit for bit
    /// `train_from(None, …, E₁ + E₂, rng)`.
    ///
    /// Carried over: the weights (the network as trained), Adam's first and
    /// second moments of every parameter and its step count (so the bias
    /// correction goes on from there), the batch order the last shuffle left
    /// (each epoch's shuffle, drawn from `rng`, permutes it further, as within
    /// one call; it is a permutation of row positions, so with another
    /// number of rows it starts again from the rows as given), and the
    /// inference batch. Not carried: the random stream (pass the same one on),
    /// the data and rows, the batch size and learning rate (this trainer's).
    /// Each epoch draws one shuffle from `rng` and nothing else;
    /// `epochs = 0` returns `model` as it is. The model returned keeps the
    /// advanced state.
    ///
    /// Fails with [`ModelError::EmptyData`] for empty rows,
    /// [`ModelError::NoTrainingState`] when `model` keeps no training state
    /// ([`TrainedModel::adam_steps`] is `None`), [`ModelError::ArchitectureMismatch`]
    /// when it is not the network this trainer builds for `data`, and
    /// [`ModelError::Diverged`] (epochs counted in this call).
    ///
    /// # Panics
    /// When a row is out of range (a programming error).
    pub fn continue_training(
        &self,
        mut model: TrainedModel,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<TrainedModel, ModelError> {
        if rows.map_or(data.len(), <[usize]>::len) == 0 {
            return Err(ModelError::EmptyData);
        }
        let (net, shape) = model.network();
        if !model.has_training_state() {
            return Err(ModelError::NoTrainingState);
        }
        if !net.fits(shape, &self.params, data.shape(), data.n_classes())? {
            return Err(ModelError::ArchitectureMismatch);
        }
        let (net, shape) = (net.clone(), shape.clone());
        let mut state = model
            .take_state()
            .unwrap_or_else(|| unreachable!("checked above"));
        let n = rows.map_or(data.len(), <[usize]>::len);
        if state.order.len() != n {
            state.order = (0..n).collect();
        }
        let net = self.run(net, &shape, &mut state, data, rows, epochs, rng)?;
        Ok(model.trained_on(net, state))
    }

    /// Build the network (weights given or drawn from `rng`) and train it
    /// with a fresh training state: the model (without the state) and the state.
    fn start(
        &self,
        start: Option<&[f32]>,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<(TrainedModel, TrainState), ModelError> {
        if rows.map_or(data.len(), <[usize]>::len) == 0 {
            return Err(ModelError::EmptyData);
        }
        let device = backend::autodiff_device();
        let weights = match start {
            Some(values) => Weights::Given(values),
            None => Weights::Fresh(rng),
        };
        let (net, shape) = Net::new(
            &self.params,
            data.shape(),
            data.n_classes(),
            weights,
            &device,
        )?;
        let mut state = TrainState::fresh(rows.map_or(data.len(), <[usize]>::len), self.optimizer);
        let net = self.run(net, &shape, &mut state, data, rows, epochs, rng)?;
        Ok((TrainedModel::new(net, shape, data.n_classes()), state))
    }

    /// The training loop: `epochs` passes of Adam steps on `net` from
    /// `state`, over the samples of `data` at `rows` (all when `None`), each
    /// pass in the state's order after one more shuffle drawn from `rng`.
    /// The state's order has one position per row.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        mut net: Net,
        shape: &InputShape,
        state: &mut TrainState,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<Net, ModelError> {
        let device = backend::autodiff_device();
        // Positions in the training set (or in `rows`), shuffled each epoch.
        let order = &mut state.order;
        let k = data.n_classes();
        let dim = data.dim();
        for epoch in 1..=epochs {
            order.shuffle(rng);
            let mut last_loss = None;
            for batch in order.chunks(self.params.batch_size) {
                // Fresh buffers each batch: the tensors take them over (no copy).
                let b = batch.len();
                let mut x_buf = Vec::with_capacity(b * dim);
                let mut y_buf = vec![0.0f32; b * k];
                for (j, &position) in batch.iter().enumerate() {
                    let i = rows.map_or(position, |r| r[position]);
                    x_buf.extend_from_slice(data.sample(i));
                    y_buf[j * k + data.labels()[i]] = 1.0;
                }
                let x = Tensor::<2>::from_data(TensorData::new(x_buf, [b, dim]), &device);
                let y = Tensor::<2>::from_data(TensorData::new(y_buf, [b, k]), &device);
                let logits = net.forward(x, shape); // [b, k]
                // Mean cross-entropy: −Σ y · log softmax(logits) / b
                let loss = (log_softmax(logits, 1) * y)
                    .sum()
                    .mul_scalar(-1.0 / b as f32);
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = state.optim.step(self.params.learning_rate, net, grads);
                state.steps += 1;
                last_loss = Some(loss);
            }
            if let Some(loss) = last_loss {
                let value: f32 = loss.into_scalar::<f32>();
                if !value.is_finite() {
                    return Err(ModelError::Diverged { epoch, loss: value });
                }
            }
        }
        Ok(net)
    }
}

impl Trainer for BurnTrainer {
    type Error = ModelError;

    fn train(&self, data: &Dataset, rng: &mut Rng) -> Result<Box<dyn Classifier>, ModelError> {
        Ok(Box::new(self.fit(data, rng)?))
    }
}

impl ModelTrainer for BurnTrainer {
    fn fit_from(
        &self,
        start: Option<&[f32]>,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<Box<dyn Model>, ModelError> {
        Ok(Box::new(self.train_from(start, data, rows, epochs, rng)?))
    }

    fn fit_from_keeping_state(
        &self,
        start: Option<&[f32]>,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<Box<dyn Model>, ModelError> {
        Ok(Box::new(self.train_from_keeping_state(
            start, data, rows, epochs, rng,
        )?))
    }

    /// [`BurnTrainer::continue_training`] for a model this trainer (or one
    /// with the same architecture) made keeping its state; any other model
    /// fails with [`ModelError::NoTrainingState`].
    fn fit_more(
        &self,
        model: Box<dyn Model>,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<Box<dyn Model>, ModelError> {
        let model: Box<dyn Any> = model;
        let model = model
            .downcast::<TrainedModel>()
            .map_err(|_| ModelError::NoTrainingState)?;
        Ok(Box::new(
            self.continue_training(*model, data, rows, epochs, rng)?,
        ))
    }
}
