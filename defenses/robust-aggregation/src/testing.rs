//! Helpers for this crate's tests: rounds built from plain vectors.

use std::path::Path;

use poisonlab_core::{BuildContext, DataFacts, OutputLayer, Rng, UpdateRound, stream};

static FACTS: DataFacts = DataFacts {
    n_classes: None,
    shape: None,
};

/// A build context that knows nothing (no data facts, no federated regime).
pub(crate) fn ctx() -> BuildContext<'static> {
    BuildContext::new(Path::new("."), &FACTS)
}

/// The stream tests aggregate with.
pub(crate) fn rng() -> Rng {
    stream(0, 0, "aggregate")
}

/// One-coordinate updates from `values`.
pub(crate) fn column(values: &[f32]) -> Vec<Vec<f32>> {
    values.iter().map(|&v| vec![v]).collect()
}

/// An owned round, viewed as an [`UpdateRound`].
#[derive(Debug, Clone)]
pub(crate) struct Round {
    pub(crate) number: usize,
    pub(crate) clients: Vec<usize>,
    pub(crate) updates: Vec<Vec<f32>>,
    pub(crate) samples: Vec<usize>,
    pub(crate) root: Option<Vec<f32>>,
    pub(crate) output_layer: OutputLayer,
}

impl Round {
    /// The round as an aggregator receives it.
    pub(crate) fn view(&self) -> UpdateRound<'_> {
        UpdateRound {
            round: self.number,
            clients: &self.clients,
            updates: &self.updates,
            samples: &self.samples,
            root: self.root.as_deref(),
            output_layer: self.output_layer,
        }
    }
}

/// Round 1 of `updates` from clients 0, 1, …, one sample each, without a
/// root update; the output layer is the last value (one class, no inputs).
pub(crate) fn round(updates: &[Vec<f32>]) -> Round {
    round_with(updates, &vec![1; updates.len()])
}

/// As [`round`], with these sample counts.
pub(crate) fn round_with(updates: &[Vec<f32>], samples: &[usize]) -> Round {
    let dim = updates.first().map_or(0, Vec::len);
    Round {
        number: 1,
        clients: (0..updates.len()).collect(),
        updates: updates.to_vec(),
        samples: samples.to_vec(),
        root: None,
        output_layer: if dim == 0 {
            OutputLayer {
                weight_start: 0,
                n_in: 0,
                n_classes: 0,
            }
        } else {
            OutputLayer::last(dim, 0, 1)
        },
    }
}
