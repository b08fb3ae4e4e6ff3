use poisonlab_core::tune::{Direction, Tuning, tune};
use poisonlab_core::{
    BuildContext, Dataset, Kind, Model, ModelRepair, ModelVerdict, OutputLayer, ParamError,
    RepairInput, Rng,
};

use crate::{FinePruningError, FinePruningParams};

/// Fine-pruning (Liu, Dolan-Gavitt and Garg 2018, RAID).
///
/// 1. The trusted samples are embedded (the last hidden layer's activations,
///    [`Classifier::embed`]) and each neuron's mean activation taken.
/// 2. Neurons are pruned one by one, least active first: a pruned neuron's
///    outgoing weights (its row of the output layer) are set to zero, so it
///    no longer reaches any class. Pruning stops before the first neuron
///    whose removal would bring the accuracy on the trusted samples more
///    than `max-accuracy-drop` below the unpruned model's, or at
///    `max-pruned` of the layer.
/// 3. The pruned model is fine-tuned on the trusted samples (Adam,
///    `epochs` passes) with the pruned weights held at zero, so pruned
///    neurons stay pruned.
///
/// The paper prunes the last convolutional layer's channels; here the layer
/// is the one the output layer reads (the last dense hidden layer of the
/// MLP and the CNN), which [`poisonlab_core::Model`]'s parameter order
/// locates without knowing the architecture.
#[derive(Debug, Clone)]
pub struct FinePruning {
    params: FinePruningParams,
}

impl FinePruning {
    /// Fine-pruning with checked `params`.
    pub fn new(params: FinePruningParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// Prune `model` by the activations on `trusted`; returns the pruned
    /// neurons (in the order pruned) and the indices of their outgoing
    /// weights in the parameter vector.
    pub fn prune(
        &self,
        model: &mut dyn Model,
        trusted: &Dataset,
    ) -> Result<(Vec<usize>, Vec<usize>), FinePruningError> {
        let activations = model.embed(trusted);
        let width = activations.cols;
        let k = model.n_classes();
        let mut mean = vec![0.0f64; width];
        for i in 0..activations.rows {
            for (m, &a) in mean.iter_mut().zip(activations.row(i)) {
                *m += f64::from(a);
            }
        }
        let mut order: Vec<usize> = (0..width).collect();
        order.sort_by(|&a, &b| mean[a].total_cmp(&mean[b]).then(a.cmp(&b)));
        let layer = OutputLayer::last(model.n_parameters(), width, k);
        let floor = accuracy(model, trusted) - self.params.max_accuracy_drop;
        let limit = (self.params.max_pruned * width as f64).floor() as usize;
        let mut params = model.parameters();
        let mut pruned = Vec::new();
        let mut frozen = Vec::new();
        for &j in order.iter().take(limit) {
            let outgoing: Vec<usize> = (0..k).map(|c| layer.weight_start + j * k + c).collect();
            let kept: Vec<f32> = outgoing.iter().map(|&i| params[i]).collect();
            outgoing.iter().for_each(|&i| params[i] = 0.0);
            model.set_parameters(&params)?;
            if accuracy(model, trusted) < floor {
                outgoing.iter().zip(kept).for_each(|(&i, v)| params[i] = v);
                model.set_parameters(&params)?;
                break;
            }
            pruned.push(j);
            frozen.extend(outgoing);
        }
        Ok((pruned, frozen))
    }
}

/// Share of `data` that `model` classifies right.
fn accuracy(model: &dyn Model, data: &Dataset) -> f64 {
    let right = model
        .predict(data)
        .iter()
        .zip(data.labels())
        .filter(|(p, y)| p == y)
        .count();
    right as f64 / data.len().max(1) as f64
}

impl Kind for FinePruning {
    type Params = FinePruningParams;

    fn build(params: FinePruningParams, _: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &FinePruningParams {
        &self.params
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "fine-pruning: prune the last hidden layer's least active neurons on the trusted samples while their accuracy falls at most {}, then fine-tune {} epochs",
            p.max_accuracy_drop, p.epochs
        )
    }
}

impl ModelRepair for FinePruning {
    type Error = FinePruningError;

    fn repair(&self, input: RepairInput<'_>, rng: &mut Rng) -> Result<ModelVerdict, Self::Error> {
        let trusted = input
            .trusted
            .filter(|t| !t.is_empty())
            .ok_or(FinePruningError::NoTrusted)?;
        let mut model = input.model.clone_box();
        let (_, frozen) = self.prune(model.as_mut(), trusted)?;
        let tuning = Tuning {
            learning_rate: self.params.learning_rate,
            batch_size: self.params.batch_size,
            epochs: self.params.epochs,
        };
        tune(
            model.as_mut(),
            trusted,
            &tuning,
            Direction::Descend,
            &frozen,
            rng,
        )?;
        Ok(ModelVerdict {
            repaired: Some(model),
            ..ModelVerdict::default()
        })
    }
}
