//! The hand-written training loop: Adam on cross-entropy, seeded batch order.

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Tensor, TensorData};
use poisonlab_core::{Classifier, Dataset, Model, ModelTrainer, Rng, Trainer};
use rand::seq::SliceRandom;

use crate::net::{Net, Weights};
use crate::{ModelError, ModelParams, TrainedModel, backend};

/// Trains the model a scenario's `[model]` table describes.
#[derive(Debug, Clone)]
pub struct BurnTrainer {
    params: ModelParams,
}

impl BurnTrainer {
    /// A trainer for checked `params` (see [`ModelParams::check`]).
    pub fn new(params: ModelParams) -> Self {
        Self { params }
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

    /// Continue training `model` on `data` (warm start, a fresh Adam state):
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
    /// first. Each epoch then draws one shuffle from `rng`.
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
        if rows.map_or(data.len(), <[usize]>::len) == 0 {
            return Err(ModelError::EmptyData);
        }
        let device = backend::autodiff_device();
        let weights = match start {
            Some(values) => Weights::Given(values),
            None => Weights::Fresh(rng),
        };
        let (mut net, shape) = Net::new(
            &self.params,
            data.shape(),
            data.n_classes(),
            weights,
            &device,
        )?;
        let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
        // Positions in the training set (or in `rows`), shuffled each epoch.
        let mut order: Vec<usize> = (0..rows.map_or(data.len(), <[usize]>::len)).collect();
        let k = data.n_classes();
        let dim = data.dim();
        let mut x_buf = Vec::with_capacity(self.params.batch_size * dim);
        let mut y_buf = Vec::with_capacity(self.params.batch_size * k);
        for epoch in 1..=epochs {
            order.shuffle(rng);
            let mut last_loss = None;
            for batch in order.chunks(self.params.batch_size) {
                x_buf.clear();
                y_buf.clear();
                for &position in batch {
                    let i = rows.map_or(position, |r| r[position]);
                    x_buf.extend_from_slice(data.sample(i));
                    let mut one_hot = vec![0.0f32; k];
                    one_hot[data.labels()[i]] = 1.0;
                    y_buf.extend_from_slice(&one_hot);
                }
                let b = batch.len();
                let x = Tensor::<2>::from_data(TensorData::new(x_buf.clone(), [b, dim]), &device);
                let y = Tensor::<2>::from_data(TensorData::new(y_buf.clone(), [b, k]), &device);
                let logits = net.forward(x, &shape); // [b, k]
                // Mean cross-entropy: −Σ y · log softmax(logits) / b
                let loss = (log_softmax(logits, 1) * y)
                    .sum()
                    .mul_scalar(-1.0 / b as f32);
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(self.params.learning_rate, net, grads);
                last_loss = Some(loss);
            }
            if let Some(loss) = last_loss {
                let value: f32 = loss.into_scalar::<f32>();
                if !value.is_finite() {
                    return Err(ModelError::Diverged { epoch, loss: value });
                }
            }
        }
        Ok(TrainedModel::new(net, shape, data.n_classes()))
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
}
