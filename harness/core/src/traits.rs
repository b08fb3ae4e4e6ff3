use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::reclassify::{Neighbours, SharedReferences};
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
    /// A model trained on the clean training set (in the transfer regime:
    /// the base model), for attacks that need gradients (feature collision,
    /// gradient matching); `None` for black-box attacks. As a [`crate::Model`]
    /// its parameters can be read, moved and differentiated.
    pub surrogate: Option<&'a dyn crate::Model>,
    /// Trains further surrogates (ensembles, staggered training stages) with
    /// the run's model settings; present when the attack needs a surrogate.
    pub trainer: Option<&'a dyn SurrogateTrainer>,
    /// Hears how far a long crafting is: (targets done, targets in all).
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
    /// The training regime's rounds, when the run trains in rounds
    /// (`[training] regime = "rounds"`): attacks that poison round by round
    /// (drift) need them; `None` when the run trains at once.
    pub rounds: Option<RoundPlan<'a>>,
}

impl<'a> AttackInput<'a> {
    /// The input for poisoning `train` and measuring on `test`, without a surrogate.
    pub fn new(train: &'a Dataset, test: &'a Dataset) -> Self {
        Self {
            train,
            test,
            surrogate: None,
            trainer: None,
            progress: None,
            rounds: None,
        }
    }

    /// The same input with a listener for crafting progress.
    pub fn with_progress(self, progress: &'a (dyn Fn(usize, usize) + Sync)) -> Self {
        Self {
            progress: Some(progress),
            ..self
        }
    }

    /// Tell the listener, if any, that `done` of `total` targets are crafted.
    pub fn report(&self, done: usize, total: usize) {
        if let Some(p) = self.progress {
            p(done, total);
        }
    }

    /// The same input with a surrogate model the attack may query.
    pub fn with_surrogate(self, surrogate: &'a dyn crate::Model) -> Self {
        Self {
            surrogate: Some(surrogate),
            ..self
        }
    }

    /// The same input with a trainer for further surrogates.
    pub fn with_trainer(self, trainer: &'a dyn SurrogateTrainer) -> Self {
        Self {
            trainer: Some(trainer),
            ..self
        }
    }

    /// The same input for a run that trains in the rounds of `plan`.
    pub fn with_rounds(self, plan: RoundPlan<'a>) -> Self {
        Self {
            rounds: Some(plan),
            ..self
        }
    }
}

/// Trains models for an attack's own use, with the run's model settings
/// (object-safe: every [`crate::ModelTrainer`] is one).
pub trait SurrogateTrainer: Send + Sync {
    /// See [`crate::ModelTrainer::fit_from`]; the error as text.
    fn train_from(
        &self,
        start: Option<&[f32]>,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<Box<dyn crate::Model>, String>;
}

impl<T> SurrogateTrainer for T
where
    T: crate::ModelTrainer + Send + Sync,
    T::Error: std::fmt::Display,
{
    fn train_from(
        &self,
        start: Option<&[f32]>,
        data: &Dataset,
        rows: Option<&[usize]>,
        epochs: usize,
        rng: &mut Rng,
    ) -> Result<Box<dyn crate::Model>, String> {
        self.fit_from(start, data, rows, epochs, rng)
            .map_err(|e| e.to_string())
    }
}

/// How a round-based run splits its training set: round r (1-based) holds the
/// samples `ranges[r - 1]`, and the run's named streams for per-round choices.
#[derive(Debug, Clone, Copy)]
pub struct RoundPlan<'a> {
    /// Contiguous sample ranges of the training set, one per round, in order.
    pub ranges: &'a [Range<usize>],
    /// The run's streams: round r's attack choices come from `attack:round{r}`.
    pub streams: Streams,
}

/// The named streams of one run (scenario seed and repeat): a component that
/// needs several independent streams derives them by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams {
    /// The scenario seed.
    pub seed: u64,
    /// The repeat.
    pub repeat: u64,
}

impl Streams {
    /// The stream `name` of this run.
    pub fn named(&self, name: &str) -> Rng {
        crate::seed::stream(self.seed, self.repeat, name)
    }
}

/// A data-poisoning attack (the attack family).
pub trait Attack {
    /// The error poisoning can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Poison the training set. The result carries the ground-truth mask and the
    /// test-time inputs that measure the attack.
    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, Self::Error>;

    /// True when the attack needs a surrogate model trained on clean data
    /// ([`AttackInput::surrogate`]); declared up front, so the runner trains
    /// one only for such attacks. Default false (black-box).
    fn needs_surrogate(&self) -> bool {
        false
    }

    /// True when the attack poisons round by round and needs
    /// [`AttackInput::rounds`]. Default false.
    fn needs_rounds(&self) -> bool {
        false
    }

    /// For attacks that craft clean-label poisons per target: their bound
    /// and steps, for the record. Default `None`.
    fn crafting(&self) -> Option<crate::clean_label::Crafting> {
        None
    }
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
    /// Neighbour reference samples shared with the other defenses inspecting
    /// `train` at the same time, when the runner offers them (see
    /// [`DefenseInput::neighbours`]).
    pub references: Option<&'a SharedReferences<'a>>,
    /// The model's embedding of `train`, shared with the other defenses
    /// inspecting them at the same time, when the runner offers it (see
    /// [`DefenseInput::embed`]).
    pub embedding: Option<&'a SharedEmbedding<'a>>,
}

/// A model's embedding of a training set ([`Classifier::embed`]), made once
/// for the defenses that need it at the same time (defenses inspecting the
/// same training set and model on several threads) and dropped with the
/// last of them: defenses that run one after another each make their own,
/// so sharing never holds it longer than a defense does.
pub struct SharedEmbedding<'a> {
    train: &'a Dataset,
    model: &'a dyn Classifier,
    made: Mutex<Weak<Matrix>>,
}

impl<'a> SharedEmbedding<'a> {
    /// Nothing made yet, for `model`'s embedding of `train`.
    pub fn new(train: &'a Dataset, model: &'a dyn Classifier) -> Self {
        Self {
            train,
            model,
            made: Mutex::new(Weak::new()),
        }
    }

    /// True when this is the embedding of `train` by `model` (the same
    /// objects, not equal ones).
    fn is_of(&self, train: &Dataset, model: &dyn Classifier) -> bool {
        std::ptr::eq(self.train, train) && std::ptr::addr_eq(self.model, model)
    }

    /// The embedding a defense still holds, or a new one (a defense asking
    /// meanwhile waits for it rather than making its own).
    fn get(&self) -> Arc<Matrix> {
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(embedding) = made.upgrade() {
            return embedding;
        }
        let embedding = Arc::new(self.model.embed(self.train));
        *made = Arc::downgrade(&embedding);
        embedding
    }
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
            references: None,
            embedding: None,
        }
    }

    /// The same input with the model's embedding of the training set to
    /// share; it is used only where it is of `train` by `model` (the same
    /// objects, not equal ones).
    pub fn with_embedding(self, embedding: &'a SharedEmbedding<'a>) -> Self {
        Self {
            embedding: Some(embedding),
            ..self
        }
    }

    /// `model`'s embedding of `train` ([`Classifier::embed`]), the shared
    /// one when the input carries it: the same values either way.
    pub fn embed(&self) -> Arc<Matrix> {
        match self.embedding {
            Some(shared) if shared.is_of(self.train, self.model) => shared.get(),
            _ => Arc::new(self.model.embed(self.train)),
        }
    }

    /// The same input with neighbour reference samples to share; they are
    /// used only where they are of `train` (the same dataset, not an equal one).
    pub fn with_references(self, references: &'a SharedReferences<'a>) -> Self {
        Self {
            references: Some(references),
            ..self
        }
    }

    /// A nearest-neighbour index over `train` with no query indexed yet
    /// ([`Neighbours::new`]), on the shared reference samples when the input
    /// carries those of `train`: the same neighbours either way.
    pub fn neighbours(&self, max_reference: usize) -> Neighbours<'a> {
        match self.references {
            Some(shared) if std::ptr::eq(shared.data(), self.train) => {
                Neighbours::shared(shared, &[], max_reference)
            }
            _ => Neighbours::new(self.train, &[], max_reference),
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

/// Per-sample suspicion scores (higher = more suspicious) and the samples flagged
/// for removal, one entry per training sample.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterVerdict {
    /// Suspicion score per sample; higher means more likely poison.
    pub scores: Vec<f64>,
    /// True for every sample the defense removes.
    pub flags: Vec<bool>,
}

/// A test of the training labels' distribution against the trusted labels
/// (chi-square), which some filters report besides their verdict.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LabelTest {
    /// The test statistic; `None` when it is not finite.
    pub statistic: Option<f64>,
    /// Degrees of freedom.
    pub dof: usize,
    /// The p-value.
    pub p_value: f64,
    /// True when the test rejects "same distribution" at the filter's level.
    pub rejects: bool,
}

/// The training-set filter family: inspect the (possibly poisoned) training
/// set with the model trained on it, score every sample and flag the ones to
/// remove; the runner scores the flags against the poison mask and retrains
/// on what is kept.
pub trait TrainingFilter {
    /// The error a filter can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Inspect what the defender has and return a verdict per sample.
    fn inspect(&self, input: DefenseInput<'_>, rng: &mut Rng)
    -> Result<FilterVerdict, Self::Error>;

    /// A test of the training labels against the trusted labels, for filters
    /// that make one (anomaly); `None` by default or without trusted samples.
    fn label_test(&self, train: &Dataset, trusted: Option<&Dataset>) -> Option<LabelTest> {
        let _ = (train, trusted);
        None
    }
}

/// What an input-time detector measured: how many attack inputs it let
/// through and how many clean inputs it rejected, at the threshold it set on
/// trusted samples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Screening {
    /// False acceptance rate: share of the attack's test inputs not rejected.
    pub far: Option<f64>,
    /// False rejection rate: share of clean test inputs rejected.
    pub frr: Option<f64>,
    /// The decision threshold set on the trusted samples.
    pub threshold: Option<f64>,
}

/// What an input-time detector gets: the deployed (poisoned) model, trusted
/// clean samples to calibrate on, and the inputs to screen.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct ScreenInput<'a> {
    /// The model trained on the (possibly poisoned) training set.
    pub model: &'a dyn Classifier,
    /// Clean held-out samples (`[data] trusted`).
    pub trusted: &'a Dataset,
    /// Clean test inputs (for the false rejection rate).
    pub clean: &'a Dataset,
    /// The attack's test inputs (for the false acceptance rate), if any.
    pub attack: Option<&'a Dataset>,
}

impl<'a> ScreenInput<'a> {
    /// Screen `clean` and `attack` with `model`, calibrated on `trusted`.
    pub fn new(
        model: &'a dyn Classifier,
        trusted: &'a Dataset,
        clean: &'a Dataset,
        attack: Option<&'a Dataset>,
    ) -> Self {
        Self {
            model,
            trusted,
            clean,
            attack,
        }
    }
}

/// The input-time detector family: judge inputs when the model is used,
/// not the training set (STRIP).
pub trait InputDetector {
    /// The error a detector can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Set the threshold on the trusted samples, then screen the clean and
    /// the attack's inputs.
    fn screen(&self, input: ScreenInput<'_>, rng: &mut Rng) -> Result<Screening, Self::Error>;
}

/// What a round monitor sees after round `round` (1-based).
#[derive(Clone, Copy)]
pub struct RoundView<'a> {
    /// The round just trained on, 1-based; rounds passed to one monitor must
    /// increase.
    pub round: usize,
    /// The samples that arrived this round, labels as delivered (possibly
    /// poisoned).
    pub batch: &'a Dataset,
    /// The model after training on this round.
    pub model: &'a dyn Classifier,
    /// The model after round 1, fixed for the whole run.
    pub reference: &'a dyn Classifier,
    /// The scenario's trusted clean set (the same every round), if any.
    pub audit: Option<&'a Dataset>,
    /// The run's streams, for monitors that draw at random (CUSUM's
    /// permutations): round r's draws come from a stream named after it.
    pub streams: Streams,
}

/// One round's verdict of a monitor.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RoundCheck {
    /// The round it is about (1-based).
    pub round: usize,
    /// The monitor's statistic this round (always finite); what it measures
    /// is documented on each monitor.
    pub statistic: f64,
    /// The alarm threshold the statistic is compared with.
    pub threshold: f64,
    /// True when the monitor raises an alarm this round.
    pub alarm: bool,
}

impl RoundCheck {
    /// A run's checks summarized: the round of the first alarm (1-based, as
    /// in [`RoundCheck::round`]; `None` when no round alarmed) and the number
    /// of alarmed rounds.
    pub fn summarize(checks: &[RoundCheck]) -> (Option<usize>, usize) {
        let first = checks.iter().find(|c| c.alarm).map(|c| c.round);
        let count = checks.iter().filter(|c| c.alarm).count();
        (first, count)
    }
}

/// The round monitor family: sees every round of a round-based run in order
/// and says, each round, whether something is wrong. Monitors keep state
/// between calls; the runner builds a fresh one per training run.
pub trait RoundMonitor {
    /// The error a monitor can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Audit round `view.round`. The first call sets the monitor's reference
    /// (normally round 1) and never alarms.
    fn observe(&mut self, view: RoundView<'_>) -> Result<RoundCheck, Self::Error>;
}

/// What a provenance check found: the training samples that do not match
/// what the owner signed, as a filter verdict, and the counts behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvenanceVerdict {
    /// Flags (and 0/1 scores) for every training sample that is not as signed.
    pub filter: FilterVerdict,
    /// Samples whose content differs from the signed record with their id.
    pub modified: usize,
    /// Samples with ids the signed set does not have.
    pub added: usize,
    /// Signed ids missing from the training set.
    pub removed: usize,
    /// Whether the signature over the signed set is valid.
    pub signature_valid: bool,
}

/// The provenance family: verify the training set against a record its owner
/// signed (`Signed`: for example a Merkle manifest and the owner's public key).
pub trait ProvenanceCheck {
    /// What the owner signed and the defender holds.
    type Signed;

    /// Compare `train` with `signed`.
    fn verify(&self, signed: &Self::Signed, train: &Dataset) -> ProvenanceVerdict;
}

/// Where a model's output layer (the last dense layer, `in → classes`)
/// sits in its flat parameter vector (see [`crate::Model`]'s order): its
/// weight `[n_in, n_classes]` from `weight_start`, its bias `[n_classes]`
/// right after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLayer {
    /// Index of the first weight of the layer.
    pub weight_start: usize,
    /// Inputs of the layer.
    pub n_in: usize,
    /// Classes (outputs).
    pub n_classes: usize,
}

impl OutputLayer {
    /// The output layer of a model with `n_parameters` parameters whose last
    /// layer maps `n_in` inputs to `n_classes` classes.
    pub fn last(n_parameters: usize, n_in: usize, n_classes: usize) -> Self {
        Self {
            weight_start: n_parameters - (n_in + 1) * n_classes,
            n_in,
            n_classes,
        }
    }

    /// The parameters that feed class `class`'s output: its weight column
    /// (`n_in` values) and its bias, taken from `params`.
    pub fn class_parameters(&self, params: &[f32], class: usize) -> Vec<f32> {
        let mut out: Vec<f32> = (0..self.n_in)
            .map(|i| params[self.weight_start + i * self.n_classes + class])
            .collect();
        out.push(params[self.weight_start + self.n_in * self.n_classes + class]);
        out
    }
}

/// One federated round's updates as the server receives them.
///
/// Each update is a client's weights after local training minus the global
/// weights it started from (a flat vector in the model's documented order).
/// The runner refuses non-finite updates before the aggregator sees them
/// (and records the round and client), so every value here is finite.
#[derive(Debug, Clone, Copy)]
pub struct UpdateRound<'a> {
    /// Round number, from 1.
    pub round: usize,
    /// The id of the client that sent each update (ids are stable across
    /// rounds: stateful aggregators such as FoolsGold key their history on them).
    pub clients: &'a [usize],
    /// The updates, at least one, all of one length.
    pub updates: &'a [Vec<f32>],
    /// Local training samples of each client (FedAvg weights).
    pub samples: &'a [usize],
    /// The server's own update this round, trained from the same global
    /// weights on its trusted root set; present when the aggregator asks for
    /// one ([`UpdateAggregator::needs_root`]).
    pub root: Option<&'a [f32]>,
    /// Where the output layer sits in the updates.
    pub output_layer: OutputLayer,
}

/// What an aggregator made of one round.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregated {
    /// The update the server applies (times its learning rate).
    pub update: Vec<f32>,
    /// Per update: how suspicious the aggregator finds it (higher = more
    /// likely malicious), when it scores clients (Krum's score, one minus a
    /// trust or FoolsGold weight, distance in Tolpegin's PCA). Scored against
    /// the truth as an AUROC over the rounds.
    pub suspicion: Option<Vec<f64>>,
    /// Per update: true when the aggregator left it out or flagged it (not
    /// picked by Krum, clipped away, flagged by PCA). Scored as TPR / FPR.
    pub flagged: Option<Vec<bool>>,
}

impl Aggregated {
    /// An aggregate that scores no client.
    pub fn plain(update: Vec<f32>) -> Self {
        Self {
            update,
            suspicion: None,
            flagged: None,
        }
    }
}

/// The update-aggregator family: a federated server combines the model
/// updates its clients send into the one update it applies (members: the
/// crate poisonlab-robust-aggregation; `[[defense]]` entries of the
/// federated regime).
///
/// An aggregator may keep state across the rounds of one federation
/// (FoolsGold's per-client history); the runner gives every federation a
/// fresh copy.
pub trait UpdateAggregator {
    /// The error aggregation can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Combine the round's updates into one.
    fn aggregate(
        &mut self,
        round: UpdateRound<'_>,
        rng: &mut Rng,
    ) -> Result<Aggregated, Self::Error>;

    /// True when the aggregator needs the server's own update on a trusted
    /// root set ([`UpdateRound::root`], FLTrust). Default false.
    fn needs_root(&self) -> bool {
        false
    }
}

/// What a malicious federated client knows when it crafts its update.
///
/// The simulation gives the attacker the strongest position its papers
/// assume; each attack kind documents which of these it reads.
#[derive(Debug, Clone, Copy)]
pub struct UpdateAttackInput<'a> {
    /// Round number, from 1.
    pub round: usize,
    /// The update this client computed by ordinary local training (on its
    /// local data, after any data attack on it).
    pub own: &'a [f32],
    /// The updates the benign clients selected this round computed
    /// (omniscient knowledge: ALIE and IPM read them).
    pub benign: &'a [Vec<f32>],
    /// Clients aggregated this round (benign and malicious).
    pub n_selected: usize,
    /// Malicious clients among them.
    pub n_malicious: usize,
    /// The server's learning rate (model replacement divides by it).
    pub server_learning_rate: f64,
}

/// The model-poisoning family: a malicious federated client replaces the
/// update it would send with a crafted one (members: the crate
/// poisonlab-model-poisoning).
pub trait UpdateAttack {
    /// The error crafting can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The update to send instead of `input.own`.
    fn craft(&self, input: UpdateAttackInput<'_>, rng: &mut Rng) -> Result<Vec<f32>, Self::Error>;
}

/// What a model-level defense gets: the deployed model and what a defender
/// holds besides it. Never the poison mask, never the clean model.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct RepairInput<'a> {
    /// The model to inspect or repair (trained on the possibly poisoned
    /// training set), with its parameters.
    pub model: &'a dyn crate::Model,
    /// The training set the model was trained on, as delivered (anti-backdoor
    /// learning isolates samples of it).
    pub train: &'a Dataset,
    /// Clean samples held out of training (`[data] trusted`), if any.
    pub trusted: Option<&'a Dataset>,
    /// Trains models with the run's model settings (fresh initial weights
    /// for a defense's own training).
    pub trainer: &'a dyn SurrogateTrainer,
}

impl<'a> RepairInput<'a> {
    /// The input for repairing `model`, trained on `train`.
    pub fn new(
        model: &'a dyn crate::Model,
        train: &'a Dataset,
        trusted: Option<&'a Dataset>,
        trainer: &'a dyn SurrogateTrainer,
    ) -> Self {
        Self {
            model,
            train,
            trusted,
            trainer,
        }
    }
}

/// A model-level detection: is this model backdoored, and towards which class?
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// True when the defense calls the model backdoored.
    pub flagged: bool,
    /// The class it names as the backdoor's target (the most anomalous one),
    /// when it names one.
    pub target: Option<usize>,
    /// The statistic the decision is made on (Neural Cleanse: the anomaly
    /// index of the most anomalous class), always finite.
    pub anomaly_index: f64,
    /// Per class, the size of what the defense reverse-engineered (Neural
    /// Cleanse: the L1 norm of the class's mask).
    pub class_scores: Vec<f64>,
}

/// What a model-level defense made of a model.
#[derive(Default)]
pub struct ModelVerdict {
    /// Its model-level detection, for defenses that make one.
    pub inspection: Option<Inspection>,
    /// A verdict per training sample, for defenses that single samples out
    /// on the way (anti-backdoor learning's isolated set): scored against
    /// the poison mask like a training-set filter's.
    pub isolation: Option<FilterVerdict>,
    /// The model the defender deploys instead (the input model unchanged
    /// when the defense saw nothing to repair); `None` when the defense
    /// only inspects.
    pub repaired: Option<Box<dyn crate::Model>>,
}

impl std::fmt::Debug for ModelVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelVerdict")
            .field("inspection", &self.inspection)
            .field("isolation", &self.isolation)
            .field(
                "repaired",
                &self.repaired.as_ref().map(|m| m.n_parameters()),
            )
            .finish()
    }
}

/// The model-repair family: inspect the trained model (and, where the
/// defense needs it, the training set) and hand back a verdict on the
/// model, samples it isolated and a repaired model (Neural Cleanse,
/// fine-pruning, anti-backdoor learning). The runner measures the repaired
/// model; a defense that [`ModelRepair::inspects`] models is also run on the
/// clean model, so that its model-level detection has negatives.
pub trait ModelRepair {
    /// The error a repair can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Inspect and repair `input.model`.
    fn repair(&self, input: RepairInput<'_>, rng: &mut Rng) -> Result<ModelVerdict, Self::Error>;

    /// True when the defense makes a model-level detection
    /// ([`ModelVerdict::inspection`]). Default false.
    fn inspects(&self) -> bool {
        false
    }

    /// The model-level detection alone (no repair), for running on the clean
    /// model; `None` for defenses that make none (the default).
    fn inspect(
        &self,
        input: RepairInput<'_>,
        rng: &mut Rng,
    ) -> Result<Option<Inspection>, Self::Error> {
        let _ = (input, rng);
        Ok(None)
    }
}
