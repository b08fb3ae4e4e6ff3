//! [`Classifier`] for a trained Burn network.

use burn::module::Module;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Tensor, TensorData};
use poisonlab_core::{Classifier, Dataset, Matrix, Model, ParameterError};

use crate::backend;
use crate::net::{InputShape, Net};
use crate::train::TrainState;

/// Samples per forward pass at inference, unless [`TrainedModel::with_eval_batch`] says otherwise.
const EVAL_BATCH: usize = 512;

/// A trained model: the network as trained (for input gradients) and its
/// validation snapshot (for everything else), and, when a state-keeping call
/// made it, the training state it left: Adam's moments and step count and
/// the batch order (see
/// [`BurnTrainer::continue_training`](crate::BurnTrainer::continue_training)).
#[derive(Debug, Clone)]
pub struct TrainedModel {
    trained: Net,
    valid: Net,
    shape: InputShape,
    n_classes: usize,
    eval_batch: usize,
    /// Adam's moments and step count and the batch order, kept only when asked for.
    state: Option<TrainState>,
}

impl TrainedModel {
    pub(crate) fn new(trained: Net, shape: InputShape, n_classes: usize) -> Self {
        let valid = trained.valid();
        Self {
            trained,
            valid,
            shape,
            n_classes,
            eval_batch: EVAL_BATCH,
            state: None,
        }
    }

    /// The same model carrying `state`, the training state that made it.
    pub(crate) fn with_state(mut self, state: TrainState) -> Self {
        self.state = Some(state);
        self
    }

    /// Take the training state out, to continue training with it
    /// ([`TrainedModel::trained_on`] puts the advanced one back).
    pub(crate) fn take_state(&mut self) -> Option<TrainState> {
        self.state.take()
    }

    /// The network as trained and the input layout it was built for.
    pub(crate) fn network(&self) -> (&Net, &InputShape) {
        (&self.trained, &self.shape)
    }

    /// This model with the network `trained` (the network as trained, trained
    /// further) and its training state `state`; the inference batch is kept.
    pub(crate) fn trained_on(mut self, trained: Net, state: TrainState) -> Self {
        self.valid = trained.valid();
        self.trained = trained;
        self.state = Some(state);
        self
    }

    /// Adam steps taken by the training this model keeps the state of (one
    /// per batch, over all the calls it went through); `None` when it keeps none.
    pub fn adam_steps(&self) -> Option<usize> {
        self.state.as_ref().map(TrainState::steps)
    }

    /// The same model without its training state, if it had one (see
    /// [`Model::discard_training_state`]).
    pub fn without_training_state(mut self) -> Self {
        self.state = None;
        self
    }

    /// The same model doing inference (probabilities, losses, embeddings,
    /// gradients) `batch` samples per forward pass (at least 1; default 512).
    /// It is a speed setting: results can differ in the last bits.
    pub fn with_eval_batch(mut self, batch: usize) -> Self {
        self.eval_batch = batch.max(1);
        self
    }

    /// Run `f` over the data in batches on the inference device and stack the rows.
    fn batched(&self, data: &Dataset, f: impl Fn(Tensor<2>) -> Tensor<2>) -> Matrix {
        let device = backend::device();
        let dim = data.dim();
        let mut out = Vec::new();
        let mut cols = 0;
        for start in (0..data.len()).step_by(self.eval_batch) {
            let end = (start + self.eval_batch).min(data.len());
            let x = data.copy_rows(start..end);
            let t = Tensor::<2>::from_data(TensorData::new(x, [end - start, dim]), &device);
            let y = f(t);
            cols = y.dims()[1];
            if start == 0 {
                // Every row's output in one buffer, sized once.
                out.reserve_exact(data.len() * cols);
            }
            out.extend(to_vec(y));
        }
        Matrix::new(data.len(), cols, out)
    }
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .unwrap_or_else(|e| unreachable!("model output is f32: {e:?}"))
}

impl Classifier for TrainedModel {
    fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn predict_proba(&self, data: &Dataset) -> Matrix {
        self.batched(data, |x| softmax(self.valid.forward(x, &self.shape), 1))
    }

    fn losses(&self, data: &Dataset) -> Vec<f32> {
        let logp = self.batched(data, |x| log_softmax(self.valid.forward(x, &self.shape), 1));
        data.labels()
            .iter()
            .enumerate()
            .map(|(i, &y)| -logp.row(i)[y])
            .collect()
    }

    fn embed(&self, data: &Dataset) -> Matrix {
        self.batched(data, |x| self.valid.embed(x, &self.shape))
    }

    fn input_gradient(&self, data: &Dataset) -> Matrix {
        let k = self.n_classes;
        self.gradient(data, |net, x, rows| {
            let mut one_hot = vec![0.0f32; rows.len() * k];
            for (r, &y) in data.labels()[rows].iter().enumerate() {
                one_hot[r * k + y] = 1.0;
            }
            let y = Tensor::<2>::from_data(TensorData::new(one_hot, [x.dims()[0], k]), &x.device());
            // The sum of per-sample losses: each row's gradient is its own loss's gradient.
            (log_softmax(net.forward(x, &self.shape), 1) * y)
                .sum()
                .neg()
        })
    }

    fn feature_gradient(&self, data: &Dataset, targets: &Matrix) -> Matrix {
        self.gradient(data, |net, x, rows| {
            let width = targets.cols;
            let t = targets.data[rows.start * width..rows.end * width].to_vec();
            let t = Tensor::<2>::from_data(TensorData::new(t, [x.dims()[0], width]), &x.device());
            // ½ Σ ‖embed(x) − t‖²: each row's gradient is its own distance's gradient.
            (net.embed(x, &self.shape) - t)
                .powf_scalar(2.0)
                .sum()
                .mul_scalar(0.5)
        })
    }
}

/// The parameters of the network as trained, in the order [`Model`] documents;
/// setting them replaces both the trained network and its inference snapshot
/// and discards the training state, if any.
impl Model for TrainedModel {
    fn n_parameters(&self) -> usize {
        self.valid.n_parameters()
    }

    fn parameters(&self) -> Vec<f32> {
        self.valid.parameters()
    }

    fn set_parameters(&mut self, values: &[f32]) -> Result<(), ParameterError> {
        let trained = self
            .trained
            .with_parameters(values, &backend::autodiff_device())?;
        self.valid = trained.valid();
        self.trained = trained;
        self.state = None;
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn Model> {
        Box::new(self.clone())
    }

    fn loss_gradient(&self, data: &Dataset) -> Vec<f32> {
        let device = backend::autodiff_device();
        let net = self.private_net();
        let (k, dim) = (self.n_classes, data.dim());
        let mut sum = vec![0.0f64; self.n_parameters()];
        for start in (0..data.len()).step_by(self.eval_batch) {
            let end = (start + self.eval_batch).min(data.len());
            let x = data.copy_rows(start..end);
            let x = Tensor::<2>::from_data(TensorData::new(x, [end - start, dim]), &device);
            let mut one_hot = vec![0.0f32; (end - start) * k];
            for (r, &y) in data.labels()[start..end].iter().enumerate() {
                one_hot[r * k + y] = 1.0;
            }
            let y = Tensor::<2>::from_data(TensorData::new(one_hot, [end - start, k]), &device);
            let loss = (log_softmax(net.forward(x, &self.shape), 1) * y)
                .sum()
                .neg();
            let grads = loss.backward();
            for (s, g) in sum.iter_mut().zip(net.parameter_gradient(&grads)) {
                *s += f64::from(g);
            }
        }
        let n = data.len().max(1) as f64;
        sum.into_iter().map(|s| (s / n) as f32).collect()
    }

    fn has_training_state(&self) -> bool {
        self.state.is_some()
    }

    fn discard_training_state(&mut self) {
        self.state = None;
    }
}

impl TrainedModel {
    /// A copy of the differentiable network with parameter tensors of its
    /// own, for one gradient computation: threads that differentiate the
    /// same model at once then share no autodiff graph (sharing the trained
    /// network's parameter nodes between threads could deadlock).
    fn private_net(&self) -> Net {
        self.trained
            .with_parameters(&self.valid.parameters(), &backend::autodiff_device())
            .unwrap_or_else(|e| unreachable!("a model's own parameters fit it: {e}"))
    }

    /// The gradient of `objective(net, x, rows)` (a scalar summed over the
    /// batch rows) with respect to the inputs, batch by batch, on a private
    /// copy of the network.
    fn gradient(
        &self,
        data: &Dataset,
        objective: impl Fn(&Net, Tensor<2>, std::ops::Range<usize>) -> Tensor<1>,
    ) -> Matrix {
        let device = backend::autodiff_device();
        let net = self.private_net();
        let dim = data.dim();
        let mut out = Vec::with_capacity(data.len() * dim);
        for start in (0..data.len()).step_by(self.eval_batch) {
            let end = (start + self.eval_batch).min(data.len());
            let x = data.copy_rows(start..end);
            let x = Tensor::<2>::from_data(TensorData::new(x, [end - start, dim]), &device)
                .require_grad();
            let grads = objective(&net, x.clone(), start..end).backward();
            let g = x
                .grad(&grads)
                .unwrap_or_else(|| unreachable!("the input requires a gradient"));
            out.extend(to_vec(g));
        }
        Matrix::new(data.len(), dim, out)
    }
}
