use crate::{Dataset, Matrix, Poisoned, Rng};

/// A trained model as attacks and defenses see it.
///
/// Every method takes a whole dataset and answers for each sample in order.
/// Implementations batch internally. Shapes are the caller's responsibility:
/// pass data with the shape the model was trained on.
pub trait Classifier: Send + Sync {
    /// Number of classes the model predicts.
    fn n_classes(&self) -> usize;

    /// Class probabilities, `len × n_classes`.
    fn predict_proba(&self, data: &Dataset) -> Matrix;

    /// Predicted class per sample (the most probable one).
    fn predict(&self, data: &Dataset) -> Vec<usize> {
        self.predict_proba(data).argmax_rows()
    }

    /// Cross-entropy loss of each sample against its label in `data`.
    fn losses(&self, data: &Dataset) -> Vec<f32> {
        let p = self.predict_proba(data);
        data.labels()
            .iter()
            .enumerate()
            .map(|(i, &y)| -p.row(i)[y].max(1e-12).ln())
            .collect()
    }

    /// Penultimate-layer activations, `len × embedding width`.
    fn embed(&self, data: &Dataset) -> Matrix;

    /// Gradient of each sample's loss (against its label in `data`) with respect
    /// to its input features, `len × dim`.
    fn input_gradient(&self, data: &Dataset) -> Matrix;

    /// Gradient of ½‖embed(x) − target‖² with respect to each input `x`, where
    /// `targets` holds one embedding-width row per sample, `len × dim`.
    /// Feature-collision attacks (Poison Frogs) descend it.
    fn feature_gradient(&self, data: &Dataset, targets: &Matrix) -> Matrix;
}

/// Something that turns a training set into a [`Classifier`].
pub trait Trainer {
    /// The error training can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Train a fresh model on `data`; every random choice (initial weights, batch
    /// order) comes from `rng`.
    fn train(&self, data: &Dataset, rng: &mut Rng) -> Result<Box<dyn Classifier>, Self::Error>;
}

/// What an attack gets to work with.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct AttackInput<'a> {
    /// The clean training set, to be poisoned.
    pub train: &'a Dataset,
    /// The clean test set, from which the attack builds its test-time inputs.
    pub test: &'a Dataset,
    /// A model trained on the clean training set, for attacks that need
    /// gradients (feature collision); `None` for black-box attacks.
    pub surrogate: Option<&'a dyn Classifier>,
}

impl<'a> AttackInput<'a> {
    /// The input for poisoning `train` and measuring on `test`, without a surrogate.
    pub fn new(train: &'a Dataset, test: &'a Dataset) -> Self {
        Self {
            train,
            test,
            surrogate: None,
        }
    }

    /// The same input with a surrogate model the attack may query.
    pub fn with_surrogate(self, surrogate: &'a dyn Classifier) -> Self {
        Self {
            surrogate: Some(surrogate),
            ..self
        }
    }
}

/// A data-poisoning attack.
pub trait Attack {
    /// The error poisoning can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Poison the training set. The result carries the ground-truth mask and the
    /// test-time inputs that measure the attack.
    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, Self::Error>;
}

/// What a defense gets to work with: only what a defender has.
///
/// Never the poison mask, never the clean model.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct DefenseInput<'a> {
    /// The (possibly poisoned) training set.
    pub train: &'a Dataset,
    /// The model trained on `train`.
    pub model: &'a dyn Classifier,
    /// Clean samples held out of training, when the scenario sets `trusted`.
    pub trusted: Option<&'a Dataset>,
    /// Trains a fresh model the way the scenario does (same model, same
    /// seeded initial weights), for defenses that retrain on part of the data
    /// (exclusionary reclassification); `None` where the runner offers none.
    pub retrain: Option<&'a Retrain<'a>>,
}

/// Trains a fresh model on the given samples, or says why it could not.
pub type Retrain<'a> = dyn Fn(&Dataset) -> Result<Box<dyn Classifier>, String> + 'a;

impl<'a> DefenseInput<'a> {
    /// The input for inspecting `train` with `model` trained on it.
    pub fn new(
        train: &'a Dataset,
        model: &'a dyn Classifier,
        trusted: Option<&'a Dataset>,
    ) -> Self {
        Self {
            train,
            model,
            trusted,
            retrain: None,
        }
    }

    /// The same input with a way to train fresh models.
    pub fn with_retrain(self, retrain: &'a Retrain<'a>) -> Self {
        Self {
            retrain: Some(retrain),
            ..self
        }
    }
}

/// A defense's answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Verdict {
    /// A training-set filter: which samples to remove.
    Filter(FilterVerdict),
}

impl Verdict {
    /// The filter verdict, when this is one.
    pub fn as_filter(&self) -> Option<&FilterVerdict> {
        match self {
            Verdict::Filter(v) => Some(v),
        }
    }
}

/// Per-sample suspicion scores (higher = more suspicious) and the samples flagged
/// for removal, one entry per training sample.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterVerdict {
    /// Suspicion score per sample; higher means more likely poison.
    pub scores: Vec<f64>,
    /// True for every sample the defense removes.
    pub flags: Vec<bool>,
}

/// A defense against data poisoning.
pub trait Defense {
    /// The error a defense can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Inspect what the defender has and return a verdict.
    fn inspect(&self, input: DefenseInput<'_>, rng: &mut Rng) -> Result<Verdict, Self::Error>;
}
