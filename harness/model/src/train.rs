//! The hand-written training loop: Adam on cross-entropy, seeded batch order.

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use poisonlab_core::{Classifier, Dataset, Rng, Trainer};
use rand::seq::SliceRandom;

use crate::net::{InputShape, Net};
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
    /// Initial weights come first from `rng`, then one shuffle per epoch.
    pub fn fit(&self, data: &Dataset, rng: &mut Rng) -> Result<TrainedModel, ModelError> {
        self.fit_rows(data, None, rng)
    }

    /// Train a fresh model on the samples of `data` at `rows` (in that order),
    /// without copying them: the same model as `fit(&data.subset(rows), rng)`.
    ///
    /// # Panics
    /// When a row is out of range (a programming error).
    pub fn fit_subset(
        &self,
        data: &Dataset,
        rows: &[usize],
        rng: &mut Rng,
    ) -> Result<TrainedModel, ModelError> {
        self.fit_rows(data, Some(rows), rng)
    }

    fn fit_rows(
        &self,
        data: &Dataset,
        rows: Option<&[usize]>,
        rng: &mut Rng,
    ) -> Result<TrainedModel, ModelError> {
        if rows.map_or(data.len(), <[usize]>::len) == 0 {
            return Err(ModelError::EmptyData);
        }
        let device = backend::autodiff_device();
        let (net, shape) = Net::new(&self.params, data.shape(), data.n_classes(), rng, &device)?;
        let net = self.run_epochs(net, &shape, data, rows, rng, &device)?;
        Ok(TrainedModel::new(net, shape, data.n_classes()))
    }

    /// Continue training `model` on `data` (warm start, a fresh Adam state):
    /// the round-by-round training of continual scenarios. Batch order comes from `rng`.
    pub fn resume(
        &self,
        model: TrainedModel,
        data: &Dataset,
        rng: &mut Rng,
    ) -> Result<TrainedModel, ModelError> {
        if data.is_empty() {
            return Err(ModelError::EmptyData);
        }
        let (net, shape, n_classes) = model.into_parts();
        let device = backend::autodiff_device();
        let net = self.run_epochs(net, &shape, data, None, rng, &device)?;
        Ok(TrainedModel::new(net, shape, n_classes))
    }

    fn run_epochs(
        &self,
        mut net: Net,
        shape: &InputShape,
        data: &Dataset,
        rows: Option<&[usize]>,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Net, ModelError> {
        let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
        // Positions in the training set (or in `rows`), shuffled each epoch.
        let mut order: Vec<usize> = (0..rows.map_or(data.len(), <[usize]>::len)).collect();
        let k = data.n_classes();
        let dim = data.dim();
        let mut x_buf = Vec::with_capacity(self.params.batch_size * dim);
        let mut y_buf = Vec::with_capacity(self.params.batch_size * k);
        for epoch in 1..=self.params.epochs {
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
                let x = Tensor::<2>::from_data(TensorData::new(x_buf.clone(), [b, dim]), device);
                let y = Tensor::<2>::from_data(TensorData::new(y_buf.clone(), [b, k]), device);
                let logits = net.forward(x, shape); // [b, k]
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
        Ok(net)
    }
}

impl Trainer for BurnTrainer {
    type Error = ModelError;

    fn train(&self, data: &Dataset, rng: &mut Rng) -> Result<Box<dyn Classifier>, ModelError> {
        Ok(Box::new(self.fit(data, rng)?))
    }
}
