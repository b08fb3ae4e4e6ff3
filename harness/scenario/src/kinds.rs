//! One table per family: every data source, model, training regime, update
//! aggregator, attack and defense a scenario can name, with its one-line
//! description (and paper) and the function that reads its parameters and
//! builds it. Parsing, the "expected one of" lists in error messages,
//! `poisonlab list`, `bench` and the docs' kinds section all read these
//! tables; adding a kind is a new crate and one entry here.

use std::fmt;
use std::sync::Arc;

use poisonlab_abl::Abl;
use poisonlab_activation_clustering::ActivationClustering;
use poisonlab_anomaly::Anomaly;
use poisonlab_badnets::BadNets;
use poisonlab_blend::Blend;
use poisonlab_bullseye_polytope::BullseyePolytope;
use poisonlab_core::{
    Aggregated, Attack, AttackInput, BuildContext, DataFacts, Dataset, DefenseInput, FilterVerdict,
    InputDetector, Inspection, Kind, LabelTest, ModelRepair, ModelVerdict, ParamError, Poisoned,
    ProvenanceCheck, ProvenanceVerdict, RepairInput, Rng, RoundCheck, RoundMonitor, RoundView,
    ScreenInput, Screening, TrainingFilter, UpdateAggregator, UpdateAttack, UpdateAttackInput,
    UpdateRound,
};
use poisonlab_drift::Drift;
use poisonlab_feature_collision::FeatureCollision;
use poisonlab_fine_pruning::FinePruning;
use poisonlab_knn_label::KnnLabel;
use poisonlab_label_consistent::LabelConsistent;
use poisonlab_label_flip::LabelFlip;
use poisonlab_loss_filter::LossFilter;
use poisonlab_metapoison::MetaPoison;
use poisonlab_model_poisoning::{Alie, Gaussian, Ipm, Scaling, SignFlip};
use poisonlab_monitor::{Canary, Cusum};
use poisonlab_neural_cleanse::NeuralCleanse;
use poisonlab_provenance::{Provenance, SignedSet};
use poisonlab_robust_aggregation::{
    Bulyan, FedAvg, FlTrust, FoolsGold, Krum, Median, MultiKrum, NormClipping, TolpeginPca,
    TrimmedMean,
};
use poisonlab_sig::Sig;
use poisonlab_spectral_signatures::SpectralSignatures;
use poisonlab_strip::Strip;
use poisonlab_wanet::Wanet;
use poisonlab_witches_brew::WitchesBrew;
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::spec::Reader;

/// One kind of a family: its name as a scenario writes it, a one-line
/// description with its paper, and what builds it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<B> {
    /// The `kind` (or `source`, `regime`) value that names it.
    pub name: &'static str,
    /// One line: what it does, and the paper it comes from.
    pub about: &'static str,
    /// Reads its parameters and builds it.
    pub build: B,
}

/// The names of a table's entries as "a, b or c", for error messages.
pub fn expected<B>(table: &[Entry<B>]) -> String {
    let names: Vec<&str> = table.iter().map(|e| e.name).collect();
    match names.as_slice() {
        [] => "nothing (no kind yet)".into(),
        [one] => (*one).into(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The entry named `name`, if any.
pub fn find<'t, B>(table: &'t [Entry<B>], name: &str) -> Option<&'t Entry<B>> {
    table.iter().find(|e| e.name == name)
}

// ---------------------------------------------------------------- data, models, regimes

/// Data sources (`[data] source`); [`crate::Source`] reads each one's keys.
pub static DATA_SOURCES: &[Entry<()>] = &[
    Entry {
        name: "synthetic-digits",
        about: "embedded MNIST-like 28×28 digits generated from the seed (default)",
        build: (),
    },
    Entry {
        name: "blobs",
        about: "Gaussian clusters in any dimension and class count",
        build: (),
    },
    Entry {
        name: "idx",
        about: "MNIST-family IDX files (MNIST, Fashion-MNIST; raw or .gz), LeCun et al. 1998",
        build: (),
    },
    Entry {
        name: "cifar10",
        about: "CIFAR-10 binary batches in a folder (Krizhevsky 2009)",
        build: (),
    },
    Entry {
        name: "csv",
        about: "tabular train.csv and test.csv with a label column",
        build: (),
    },
    Entry {
        name: "recipe",
        about: "generated data read through its signed generator recipe (`poisonlab generate`), checked by making it again",
        build: (),
    },
];

/// Models (`[model] kind`); read with [`poisonlab_core::ModelParams`].
pub static MODELS: &[Entry<poisonlab_core::ModelKind>] = &[
    Entry {
        name: "logreg",
        about: "multinomial logistic regression",
        build: poisonlab_core::ModelKind::Logreg,
    },
    Entry {
        name: "mlp",
        about: "multi-layer perceptron, ReLU hidden layers (default [128, 64])",
        build: poisonlab_core::ModelKind::Mlp,
    },
    Entry {
        name: "cnn",
        about: "conv3×3·16 – pool – conv3×3·32 – pool – dense 128 – dense classes",
        build: poisonlab_core::ModelKind::Cnn,
    },
];

/// Training regimes (`[training] regime`); [`crate::Training`] reads their keys.
pub static REGIMES: &[Entry<()>] = &[
    Entry {
        name: "central",
        about: "one training run on the whole training set (default)",
        build: (),
    },
    Entry {
        name: "rounds",
        about: "the training set arrives in `rounds` contiguous parts; the model is warm-started on each (continual learning)",
        build: (),
    },
    Entry {
        name: "federated",
        about: "clients train locally from the global weights, a server aggregates their updates; malicious clients poison (Tolpegin et al. 2020)",
        build: (),
    },
    Entry {
        name: "transfer",
        about: "a base model is pretrained, then its last layer (or every layer) fine-tuned; the attack poisons either stage",
        build: (),
    },
];

/// Update aggregators (`[[defense]] kind`, the aggregator family,
/// [`poisonlab_core::UpdateAggregator`]): the defenses of the federated
/// regime. Each runs the same federation as FedAvg under attack.
pub static AGGREGATORS: &[Entry<DefenseEntry>] = &[
    Entry {
        name: "fedavg",
        about: "mean of the client updates weighted by their sample counts, not robust (McMahan et al. 2017)",
        build: DefenseEntry {
            read: aggregator::<FedAvg>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "median",
        about: "coordinate-wise median (Yin et al. 2018)",
        build: DefenseEntry {
            read: aggregator::<Median>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "trimmed-mean",
        about: "coordinate-wise mean after removing the beta share from each end (Yin et al. 2018)",
        build: DefenseEntry {
            read: aggregator::<TrimmedMean>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "krum",
        about: "the update nearest its n − f − 2 closest others (Blanchard et al. 2017)",
        build: DefenseEntry {
            read: aggregator::<Krum>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "multi-krum",
        about: "the mean of the m best Krum-scored updates (Blanchard et al. 2017)",
        build: DefenseEntry {
            read: aggregator::<MultiKrum>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "bulyan",
        about: "Krum-selected updates, then a coordinate-wise mean around the median (El Mhamdi et al. 2018)",
        build: DefenseEntry {
            read: aggregator::<Bulyan>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "norm-clipping",
        about: "updates clipped to an L2 bound, optional Gaussian noise (Sun et al. 2019)",
        build: DefenseEntry {
            read: aggregator::<NormClipping>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "fltrust",
        about: "updates weighted by their cosine with the server's update on a trusted root set (Cao et al. 2021)",
        build: DefenseEntry {
            read: aggregator::<FlTrust>,
            needs: Needs { trusted: 1 },
        },
    },
    Entry {
        name: "foolsgold",
        about: "clients whose update histories look alike (sybils) lose weight (Fung et al. 2020)",
        build: DefenseEntry {
            read: aggregator::<FoolsGold>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "tolpegin-pca",
        about: "PCA of the source class's output-layer updates, the smaller cluster flagged (Tolpegin et al. 2020)",
        build: DefenseEntry {
            read: aggregator::<TolpeginPca>,
            needs: Needs { trusted: 0 },
        },
    },
];

fn aggregator<G: Kind + UpdateAggregator>(
    r: &mut Reader<'_>,
    path: &[&str],
    table: &Table,
    ctx: &BuildContext<'_>,
) -> Option<Arc<dyn AnyDefense>> {
    build::<G>(r, path, table, ctx).map(|g| Arc::new(AsAggregator(g)) as Arc<dyn AnyDefense>)
}

/// Builds an attack from its table (without `kind` and `at`).
pub type AttackBuild =
    fn(&mut Reader<'_>, &[&str], &Table, &BuildContext<'_>) -> Option<AttackParts>;

/// What an attack kind is built into: the attack on the training data (for
/// model-poisoning kinds, the data attack the malicious client trains with
/// first: none, or scaling's backdoor) and, for model-poisoning kinds, the
/// update attack.
#[derive(Clone)]
pub struct AttackParts {
    data: Arc<dyn AnyAttack>,
    update: Option<Arc<dyn AnyUpdateAttack>>,
}

/// Attacks (`[attack] kind`).
pub static ATTACKS: &[Entry<AttackBuild>] = &[
    Entry {
        name: "none",
        about: "no attack: the poisoned model is trained on clean data",
        build: attack::<NoAttack>,
    },
    Entry {
        name: "label-flip",
        about: "random or targeted source→target label flipping (Biggio et al. 2011)",
        build: attack::<LabelFlip>,
    },
    Entry {
        name: "badnets",
        about: "pixel / pattern / square / image trigger backdoor, all-to-one, source-specific or all-to-all (Gu et al. 2017)",
        build: attack::<BadNets>,
    },
    Entry {
        name: "blend",
        about: "noise or image pattern blended in with ratio alpha (Chen et al. 2017)",
        build: attack::<Blend>,
    },
    Entry {
        name: "wanet",
        about: "a smooth warping field as the trigger, with the noise mode's cross samples (Nguyen and Tran 2021)",
        build: attack::<Wanet>,
    },
    Entry {
        name: "sig",
        about: "clean-label sinusoidal or ramp signal added to target-class samples (Barni et al. 2019)",
        build: attack::<Sig>,
    },
    Entry {
        name: "label-consistent",
        about: "clean-label: target-class images hardened by PGD on a surrogate, then triggered (Turner et al. 2019)",
        build: attack::<LabelConsistent>,
    },
    Entry {
        name: "feature-collision",
        about: "clean-label poisons that collide with a target in embedding space (Shafahi et al. 2018)",
        build: attack::<FeatureCollision>,
    },
    Entry {
        name: "bullseye-polytope",
        about: "clean-label poisons whose mean feature vector sits on the target, ε-bounded (Aghakhani et al. 2021)",
        build: attack::<BullseyePolytope>,
    },
    Entry {
        name: "witches-brew",
        about: "clean-label poisons whose training gradient matches the target's adversarial gradient, ε-bounded (Geiping et al. 2021)",
        build: attack::<WitchesBrew>,
    },
    Entry {
        name: "metapoison",
        about: "clean-label poisons optimised through unrolled training steps of a staggered surrogate ensemble, ε-bounded (Huang et al. 2020)",
        build: attack::<MetaPoison>,
    },
    Entry {
        name: "drift",
        about: "gradual concept drift A → B injected over training rounds (boiling frog, Kloft and Laskov 2010); needs [training] regime = \"rounds\"",
        build: attack::<Drift>,
    },
    Entry {
        name: "sign-flip",
        about: "model poisoning: malicious clients send their update negated and scaled (federated only)",
        build: update_attack::<SignFlip>,
    },
    Entry {
        name: "gaussian",
        about: "model poisoning: malicious clients send Gaussian noise (Blanchard et al. 2017; federated only)",
        build: update_attack::<Gaussian>,
    },
    Entry {
        name: "alie",
        about: "model poisoning: mean − z·std of the benign updates, \"A Little Is Enough\" (Baruch et al. 2019; federated only)",
        build: update_attack::<Alie>,
    },
    Entry {
        name: "ipm",
        about: "model poisoning: −ε × the benign mean, inner-product manipulation (Xie et al. 2020; federated only)",
        build: update_attack::<Ipm>,
    },
    Entry {
        name: "scaling",
        about: "model replacement: a backdoored update boosted by the round's selected clients / server rate (Bagdasaryan et al. 2020; federated only)",
        build: scaling,
    },
];

/// The data attack a scaling client trains with when `[attack.backdoor]` is absent.
const DEFAULT_BACKDOOR: &str = "badnets";

/// Builds a defense from its `[[defense]]` table (without `kind` and `name`).
pub type DefenseBuild =
    fn(&mut Reader<'_>, &[&str], &Table, &BuildContext<'_>) -> Option<Arc<dyn AnyDefense>>;

/// What a defense needs of the scenario besides its own keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    /// Trusted clean samples (`[data] trusted`) it needs at least.
    pub trusted: usize,
}

/// A defense's entry: the builder and what it needs.
#[derive(Debug, Clone, Copy)]
pub struct DefenseEntry {
    /// Reads its parameters and builds it.
    pub read: DefenseBuild,
    /// What it needs of the scenario.
    pub needs: Needs,
}

/// Defenses (`[[defense]] kind`), in every family.
pub static DEFENSES: &[Entry<DefenseEntry>] = &[
    Entry {
        name: "knn-label",
        about: "flag labels that disagree with their k nearest neighbours in embedding space (Peri et al. 2020)",
        build: DefenseEntry {
            read: filter::<KnnLabel>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "loss-filter",
        about: "flag the highest-loss fraction of the training set (Koh et al. 2018)",
        build: DefenseEntry {
            read: filter::<LossFilter>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "spectral-signatures",
        about: "split each class along its top singular directions; flags a side gathered from many classes (Tran et al. 2018)",
        build: DefenseEntry {
            read: filter::<SpectralSignatures>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "activation-clustering",
        about: "k-means on each class's whitened, PCA-reduced embeddings; flags clusters gathered from many classes (Chen et al. 2018)",
        build: DefenseEntry {
            read: filter::<ActivationClustering>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "anomaly",
        about: "per-class Mahalanobis (shrinkage) or MAD outliers; chi-square test of the labels against trusted ones",
        build: DefenseEntry {
            read: filter::<Anomaly>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "provenance",
        about: "verify the training set against the Merkle manifest signed at [integrity] sign-at (ed25519)",
        build: DefenseEntry {
            read: provenance::<Provenance>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "strip",
        about: "input-time: low prediction entropy under superimposition marks triggered inputs (Gao et al. 2019)",
        build: DefenseEntry {
            read: detector::<Strip>,
            needs: Needs { trusted: 2 },
        },
    },
    Entry {
        name: "canary",
        about: "round monitor: alarm when a class's accuracy on the trusted audit set falls below round 1",
        build: DefenseEntry {
            read: monitor::<Canary>,
            needs: Needs { trusted: 1 },
        },
    },
    Entry {
        name: "cusum",
        about: "round monitor: CUSUM of class shares and class means against an early fixed reference (Page 1954)",
        build: DefenseEntry {
            read: monitor::<Cusum>,
            needs: Needs { trusted: 0 },
        },
    },
    // Model repair: defenses that act on the trained model.
    Entry {
        name: "abl",
        about: "model repair: isolate the lowest-loss samples under the LGA loss, unlearn them by gradient ascent (Li et al. 2021)",
        build: DefenseEntry {
            read: repair::<Abl>,
            needs: Needs { trusted: 0 },
        },
    },
    Entry {
        name: "neural-cleanse",
        about: "model repair: reverse-engineer a minimal trigger per class, flag the model by the MAD anomaly index, unlearn the trigger (Wang et al. 2019)",
        build: DefenseEntry {
            read: repair::<NeuralCleanse>,
            needs: Needs { trusted: 10 },
        },
    },
    Entry {
        name: "fine-pruning",
        about: "model repair: prune the last hidden layer's neurons dormant on trusted data, fine-tune (Liu et al. 2018)",
        build: DefenseEntry {
            read: repair::<FinePruning>,
            needs: Needs { trusted: 10 },
        },
    },
];

/// The reference filters every run scores (not kinds a scenario names).
pub static REFERENCES: &[Entry<()>] = &[
    Entry {
        name: "perfect",
        about: "removes exactly the poison (scored in every run; federated: FedAvg without the attacking clients' updates)",
        build: (),
    },
    Entry {
        name: "random",
        about: "removes as many samples as there are poisons, at random (scored in every run; federated: as many updates, at random)",
        build: (),
    },
];

/// Every family as (family name, kind name, description), for `poisonlab list`
/// and the docs.
pub fn catalogue() -> Vec<(&'static str, &'static str, &'static str)> {
    fn rows<B>(
        family: &'static str,
        t: &[Entry<B>],
    ) -> Vec<(&'static str, &'static str, &'static str)> {
        t.iter().map(|e| (family, e.name, e.about)).collect()
    }
    let mut out = rows("data", DATA_SOURCES);
    out.extend(rows("model", MODELS));
    out.extend(rows("regime", REGIMES));
    out.extend(rows("aggregator", AGGREGATORS));
    out.extend(rows("attack", ATTACKS));
    out.extend(rows("defense", DEFENSES));
    out.extend(rows("reference", REFERENCES));
    out
}

// ---------------------------------------------------------------- building

/// Read `K::Params` from `table` at `path` and build `K`, reporting every
/// problem with its key.
fn build<K: Kind>(
    r: &mut Reader<'_>,
    path: &[&str],
    table: &Table,
    ctx: &BuildContext<'_>,
) -> Option<K> {
    let params: K::Params = r.read(path, table)?;
    match K::build(params, ctx) {
        Ok(k) => Some(k),
        Err(e) => {
            r.param_errors(path, e);
            None
        }
    }
}

/// The parameters of `k` as a TOML table (for the resolved scenario).
fn params_table<K: Kind>(k: &K) -> Table {
    match Value::try_from(k.params()) {
        Ok(Value::Table(t)) => t,
        _ => Table::new(),
    }
}

fn attack<A: Kind + Attack>(
    r: &mut Reader<'_>,
    path: &[&str],
    table: &Table,
    ctx: &BuildContext<'_>,
) -> Option<AttackParts> {
    build::<A>(r, path, table, ctx).map(|a| AttackParts {
        data: Arc::new(a),
        update: None,
    })
}

fn update_attack<U: Kind + UpdateAttack>(
    r: &mut Reader<'_>,
    path: &[&str],
    table: &Table,
    ctx: &BuildContext<'_>,
) -> Option<AttackParts> {
    build::<U>(r, path, table, ctx).map(|u| AttackParts {
        data: Arc::new(NoAttack::default()),
        update: Some(Arc::new(u)),
    })
}

/// Scaling: the update attack, and the backdoor of `[attack.backdoor]`
/// (a data attack kind and its keys; badnets with its defaults when absent).
fn scaling(
    r: &mut Reader<'_>,
    path: &[&str],
    table: &Table,
    ctx: &BuildContext<'_>,
) -> Option<AttackParts> {
    let mut table = table.clone();
    let mut inner = path.to_vec();
    inner.push("backdoor");
    let mut backdoor = match table.remove("backdoor") {
        None => Table::new(),
        Some(Value::Table(t)) => t,
        Some(other) => {
            r.problem(
                &inner,
                format!(
                    "must be a table ([attack.backdoor] with a kind), got {}",
                    other.type_str()
                ),
            );
            return None;
        }
    };
    let kind = match backdoor.remove("kind") {
        None => DEFAULT_BACKDOOR.to_string(),
        Some(Value::String(k)) => k,
        Some(other) => {
            let mut key = inner.clone();
            key.push("kind");
            r.problem(&key, format!("must be a string, got {}", other.type_str()));
            return None;
        }
    };
    let update = build::<Scaling>(r, path, &table, ctx);
    let Some(entry) = find(ATTACKS, &kind) else {
        let mut key = inner.clone();
        key.push("kind");
        r.problem(
            &key,
            format!("unknown attack {kind:?}; expected {}", expected(ATTACKS)),
        );
        return None;
    };
    let data = (entry.build)(r, &inner, &backdoor, ctx)?;
    if data.update.is_some() {
        let mut key = inner.clone();
        key.push("kind");
        r.problem(
            &key,
            format!("must be an attack on the data (badnets, blend, label-flip, …), got the model-poisoning kind {kind:?}"),
        );
        return None;
    }
    let update = update?;
    Some(AttackParts {
        data: Arc::new(Backdoor {
            kind: entry.name,
            attack: data.data,
        }),
        update: Some(Arc::new(update)),
    })
}

/// Scaling's backdoor: a data attack that renders as `[attack.backdoor]`.
#[derive(Debug)]
struct Backdoor {
    kind: &'static str,
    attack: Arc<dyn AnyAttack>,
}

impl AnyAttack for Backdoor {
    fn params_table(&self) -> Table {
        let mut t = Table::new();
        t.insert("kind".into(), Value::String(self.kind.into()));
        t.extend(self.attack.params_table());
        let mut outer = Table::new();
        outer.insert("backdoor".into(), Value::Table(t));
        outer
    }
    fn describe(&self) -> String {
        self.attack.describe()
    }
    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.attack.check_data(facts)
    }
    fn needs_surrogate(&self) -> bool {
        self.attack.needs_surrogate()
    }
    fn needs_rounds(&self) -> bool {
        self.attack.needs_rounds()
    }
    fn crafting(&self) -> Option<poisonlab_core::clean_label::Crafting> {
        self.attack.crafting()
    }
    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, String> {
        self.attack.poison(input, rng)
    }
}

/// A model-poisoning attack of any kind.
pub trait AnyUpdateAttack: Send + Sync + fmt::Debug {
    /// The parameters as a TOML table.
    fn params_table(&self) -> Table;
    /// One line for reports.
    fn describe(&self) -> String;
    /// See [`UpdateAttack::craft`]; the error as text.
    fn craft(&self, input: UpdateAttackInput<'_>, rng: &mut Rng) -> Result<Vec<f32>, String>;
}

impl<U: Kind + UpdateAttack> AnyUpdateAttack for U {
    fn params_table(&self) -> Table {
        params_table(self)
    }
    fn describe(&self) -> String {
        Kind::describe(self)
    }
    fn craft(&self, input: UpdateAttackInput<'_>, rng: &mut Rng) -> Result<Vec<f32>, String> {
        UpdateAttack::craft(self, input, rng).map_err(|e| e.to_string())
    }
}

fn filter<F: Kind + TrainingFilter>(
    r: &mut Reader<'_>,
    path: &[&str],
    table: &Table,
    ctx: &BuildContext<'_>,
) -> Option<Arc<dyn AnyDefense>> {
    build::<F>(r, path, table, ctx).map(|f| Arc::new(AsFilter(f)) as Arc<dyn AnyDefense>)
}

fn detector<D: Kind + InputDetector>(
    r: &mut Reader<'_>,
    path: &[&str],
    table: &Table,
    ctx: &BuildContext<'_>,
) -> Option<Arc<dyn AnyDefense>> {
    build::<D>(r, path, table, ctx).map(|d| Arc::new(AsDetector(d)) as Arc<dyn AnyDefense>)
}

fn monitor<M: Kind + RoundMonitor>(
    r: &mut Reader<'_>,
    path: &[&str],
    table: &Table,
    ctx: &BuildContext<'_>,
) -> Option<Arc<dyn AnyDefense>> {
    build::<M>(r, path, table, ctx).map(|m| Arc::new(AsMonitor(m)) as Arc<dyn AnyDefense>)
}

fn repair<R: Kind + ModelRepair>(
    r: &mut Reader<'_>,
    path: &[&str],
    table: &Table,
    ctx: &BuildContext<'_>,
) -> Option<Arc<dyn AnyDefense>> {
    build::<R>(r, path, table, ctx).map(|m| Arc::new(AsRepair(m)) as Arc<dyn AnyDefense>)
}

fn provenance<P: Kind + ProvenanceCheck<Signed = SignedSet>>(
    r: &mut Reader<'_>,
    path: &[&str],
    table: &Table,
    ctx: &BuildContext<'_>,
) -> Option<Arc<dyn AnyDefense>> {
    build::<P>(r, path, table, ctx).map(|p| Arc::new(AsProvenance(p)) as Arc<dyn AnyDefense>)
}

/// No attack (`kind = "none"`): the training set as it is.
#[derive(Debug, Clone, Default)]
pub struct NoAttack(NoParams);

/// A kind without parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// No attack fails: this never occurs.
#[derive(Debug, thiserror::Error)]
#[error("no attack cannot fail")]
pub struct Never;

impl Kind for NoAttack {
    type Params = NoParams;
    fn build(params: NoParams, _: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Ok(NoAttack(params))
    }
    fn params(&self) -> &NoParams {
        &self.0
    }
    fn describe(&self) -> String {
        "none".into()
    }
}

impl Attack for NoAttack {
    type Error = Never;
    fn poison(&self, input: AttackInput<'_>, _: &mut Rng) -> Result<Poisoned, Never> {
        Ok(Poisoned {
            data: input.train.clone(),
            is_poison: vec![false; input.train.len()],
            attack_test: None,
        })
    }
}

// ---------------------------------------------------------------- attacks

/// An attack of any kind, as the runner holds it.
pub trait AnyAttack: Send + Sync + fmt::Debug {
    /// The parameters as a TOML table (for the resolved scenario).
    fn params_table(&self) -> Table;
    /// One line for reports.
    fn describe(&self) -> String;
    /// Check again against the loaded data.
    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>>;
    /// See [`Attack::needs_surrogate`].
    fn needs_surrogate(&self) -> bool;
    /// See [`Attack::needs_rounds`].
    fn needs_rounds(&self) -> bool;
    /// See [`Attack::crafting`].
    fn crafting(&self) -> Option<poisonlab_core::clean_label::Crafting>;
    /// Poison the training set; the error as text.
    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, String>;
}

impl<A: Kind + Attack> AnyAttack for A {
    fn params_table(&self) -> Table {
        params_table(self)
    }
    fn describe(&self) -> String {
        Kind::describe(self)
    }
    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        Kind::check_data(self, facts)
    }
    fn needs_surrogate(&self) -> bool {
        Attack::needs_surrogate(self)
    }
    fn needs_rounds(&self) -> bool {
        Attack::needs_rounds(self)
    }
    fn crafting(&self) -> Option<poisonlab_core::clean_label::Crafting> {
        Attack::crafting(self)
    }
    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, String> {
        Attack::poison(self, input, rng).map_err(|e| e.to_string())
    }
}

/// The checked `[attack]` table: its kind name and the built attack.
#[derive(Clone)]
pub struct AttackSpec {
    kind: &'static str,
    attack: Arc<dyn AnyAttack>,
    update: Option<Arc<dyn AnyUpdateAttack>>,
}

impl AttackSpec {
    /// No attack.
    pub fn none() -> Self {
        Self {
            kind: "none",
            attack: Arc::new(NoAttack::default()),
            update: None,
        }
    }

    /// Read `[attack]` (without `kind` and `at`, already taken) for `kind`.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        kind: &str,
        table: &Table,
        ctx: &BuildContext<'_>,
    ) -> Option<AttackSpec> {
        let Some(entry) = find(ATTACKS, kind) else {
            r.problem(
                &["attack", "kind"],
                format!("unknown attack {kind:?}; expected {}", expected(ATTACKS)),
            );
            return None;
        };
        let parts = (entry.build)(r, &["attack"], table, ctx)?;
        Some(AttackSpec {
            kind: entry.name,
            attack: parts.data,
            update: parts.update,
        })
    }

    /// Build the attack `kind` with its default parameters (for `bench`).
    pub fn with_defaults(kind: &str) -> Result<AttackSpec, String> {
        let lines = crate::problem::Lines::index("");
        let facts = DataFacts::default();
        let here = std::path::Path::new(".");
        let mut r = Reader::new(&lines, here);
        let ctx = BuildContext::new(here, &facts);
        AttackSpec::read(&mut r, kind, &Table::new(), &ctx)
            .ok_or_else(|| format!("{kind}: {:?}", r.problems))
    }

    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// True for `kind = "none"`: the training set stays as it is.
    pub fn is_none(&self) -> bool {
        self.kind == "none"
    }

    /// The attack on the data (for a model-poisoning kind: the data attack
    /// its clients train with first, none or scaling's backdoor).
    pub fn attack(&self) -> &dyn AnyAttack {
        self.attack.as_ref()
    }

    /// The model-poisoning attack, for kinds that act on federated updates.
    pub fn update_attack(&self) -> Option<&dyn AnyUpdateAttack> {
        self.update.as_deref()
    }

    /// The parameters as a TOML table (for the resolved scenario).
    pub fn params_table(&self) -> Table {
        let mut t = match &self.update {
            Some(u) => u.params_table(),
            None => Table::new(),
        };
        t.extend(self.attack.params_table());
        t
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        match &self.update {
            Some(u) if self.kind == "scaling" => {
                format!("{}, on a {} backdoor", u.describe(), self.attack.describe())
            }
            Some(u) => u.describe(),
            None => self.attack.describe(),
        }
    }
}

impl PartialEq for AttackSpec {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.params_table() == other.params_table()
    }
}

impl fmt::Debug for AttackSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.attack)
    }
}

// ---------------------------------------------------------------- defenses

/// Which family a defense belongs to, with the member itself: the runner
/// asks this, never the kind name.
pub enum Family<'a> {
    /// Filters the training set: a verdict per sample, scored and retrained on.
    Filter(&'a dyn AnyFilter),
    /// Screens inputs at test time.
    InputDetector(&'a dyn AnyDetector),
    /// Watches the rounds of a round-based run.
    Monitor(&'a dyn AnyMonitorMaker),
    /// Verifies the training set against what its owner signed.
    Provenance(&'a dyn AnyProvenance),
    /// Combines federated clients' updates (the federated regime's defenses).
    Aggregator(&'a dyn AnyAggregatorMaker),
    /// Inspects and repairs the trained model.
    Repair(&'a dyn AnyRepair),
}

/// A model-repair defense of any kind.
pub trait AnyRepair: Send + Sync {
    /// See [`ModelRepair::repair`]; the error as text.
    fn repair(&self, input: RepairInput<'_>, rng: &mut Rng) -> Result<ModelVerdict, String>;
    /// See [`ModelRepair::inspects`].
    fn inspects(&self) -> bool;
    /// See [`ModelRepair::inspect`]; the error as text.
    fn inspect(&self, input: RepairInput<'_>, rng: &mut Rng) -> Result<Option<Inspection>, String>;
}

/// Makes fresh update aggregators (they may keep state through one federation).
pub trait AnyAggregatorMaker: Send + Sync {
    /// An aggregator that has seen no round yet.
    fn fresh(&self) -> Box<dyn AnyAggregator>;
    /// See [`UpdateAggregator::needs_root`].
    fn needs_root(&self) -> bool;
}

/// An update aggregator of any kind.
pub trait AnyAggregator: Send {
    /// See [`UpdateAggregator::aggregate`]; the error as text.
    fn aggregate(&mut self, round: UpdateRound<'_>, rng: &mut Rng) -> Result<Aggregated, String>;
}

/// A defense of any kind and family.
pub trait AnyDefense: Send + Sync + fmt::Debug {
    /// The parameters as a TOML table.
    fn params_table(&self) -> Table;
    /// One line for reports.
    fn describe(&self) -> String;
    /// Its family.
    fn family(&self) -> Family<'_>;
}

/// A training-set filter of any kind.
pub trait AnyFilter: Send + Sync {
    /// See [`TrainingFilter::inspect`]; the error as text.
    fn inspect(&self, input: DefenseInput<'_>, rng: &mut Rng) -> Result<FilterVerdict, String>;
    /// See [`TrainingFilter::label_test`].
    fn label_test(&self, train: &Dataset, trusted: Option<&Dataset>) -> Option<LabelTest>;
}

/// An input-time detector of any kind.
pub trait AnyDetector: Send + Sync {
    /// See [`InputDetector::screen`]; the error as text.
    fn screen(&self, input: ScreenInput<'_>, rng: &mut Rng) -> Result<Screening, String>;
}

/// Makes fresh round monitors (they keep state through one training run).
pub trait AnyMonitorMaker: Send + Sync {
    /// A monitor that has seen no round yet.
    fn fresh(&self) -> Box<dyn AnyMonitor>;
}

/// A round monitor of any kind.
pub trait AnyMonitor {
    /// See [`RoundMonitor::observe`]; the error as text.
    fn observe(&mut self, view: RoundView<'_>) -> Result<RoundCheck, String>;
}

/// A provenance check over a [`SignedSet`].
pub trait AnyProvenance: Send + Sync {
    /// See [`ProvenanceCheck::verify`].
    fn verify(&self, signed: &SignedSet, train: &Dataset) -> ProvenanceVerdict;
}

#[derive(Debug)]
struct AsFilter<F>(F);
#[derive(Debug)]
struct AsDetector<D>(D);
#[derive(Debug)]
struct AsMonitor<M>(M);
#[derive(Debug)]
struct AsProvenance<P>(P);
#[derive(Debug)]
struct AsAggregator<G>(G);
#[derive(Debug)]
struct AsRepair<R>(R);

macro_rules! any_defense {
    ($wrapper:ident, $bound:path, $family:ident) => {
        impl<K: Kind + $bound> AnyDefense for $wrapper<K>
        where
            $wrapper<K>: 'static,
        {
            fn params_table(&self) -> Table {
                params_table(&self.0)
            }
            fn describe(&self) -> String {
                self.0.describe()
            }
            fn family(&self) -> Family<'_> {
                Family::$family(self)
            }
        }
    };
}

any_defense!(AsFilter, TrainingFilter, Filter);
any_defense!(AsDetector, InputDetector, InputDetector);
any_defense!(AsMonitor, RoundMonitor, Monitor);
any_defense!(AsAggregator, UpdateAggregator, Aggregator);
any_defense!(AsRepair, ModelRepair, Repair);

impl<R: Kind + ModelRepair> AnyRepair for AsRepair<R> {
    fn repair(&self, input: RepairInput<'_>, rng: &mut Rng) -> Result<ModelVerdict, String> {
        self.0.repair(input, rng).map_err(|e| e.to_string())
    }
    fn inspects(&self) -> bool {
        self.0.inspects()
    }
    fn inspect(&self, input: RepairInput<'_>, rng: &mut Rng) -> Result<Option<Inspection>, String> {
        self.0.inspect(input, rng).map_err(|e| e.to_string())
    }
}

impl<G: Kind + UpdateAggregator> AnyAggregatorMaker for AsAggregator<G> {
    fn fresh(&self) -> Box<dyn AnyAggregator> {
        Box::new(Fresh(self.0.clone()))
    }
    fn needs_root(&self) -> bool {
        self.0.needs_root()
    }
}

impl<G: UpdateAggregator + Send> AnyAggregator for Fresh<G> {
    fn aggregate(&mut self, round: UpdateRound<'_>, rng: &mut Rng) -> Result<Aggregated, String> {
        self.0.aggregate(round, rng).map_err(|e| e.to_string())
    }
}

impl<P: Kind + ProvenanceCheck<Signed = SignedSet>> AnyDefense for AsProvenance<P> {
    fn params_table(&self) -> Table {
        params_table(&self.0)
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn family(&self) -> Family<'_> {
        Family::Provenance(self)
    }
}

impl<F: Kind + TrainingFilter> AnyFilter for AsFilter<F> {
    fn inspect(&self, input: DefenseInput<'_>, rng: &mut Rng) -> Result<FilterVerdict, String> {
        self.0.inspect(input, rng).map_err(|e| e.to_string())
    }
    fn label_test(&self, train: &Dataset, trusted: Option<&Dataset>) -> Option<LabelTest> {
        self.0.label_test(train, trusted)
    }
}

impl<D: Kind + InputDetector> AnyDetector for AsDetector<D> {
    fn screen(&self, input: ScreenInput<'_>, rng: &mut Rng) -> Result<Screening, String> {
        self.0.screen(input, rng).map_err(|e| e.to_string())
    }
}

impl<M: Kind + RoundMonitor> AnyMonitorMaker for AsMonitor<M> {
    fn fresh(&self) -> Box<dyn AnyMonitor> {
        Box::new(Fresh(self.0.clone()))
    }
}

struct Fresh<M>(M);

impl<M: RoundMonitor + Kind> AnyMonitor for Fresh<M> {
    fn observe(&mut self, view: RoundView<'_>) -> Result<RoundCheck, String> {
        self.0.observe(view).map_err(|e| e.to_string())
    }
}

impl<P: Kind + ProvenanceCheck<Signed = SignedSet>> AnyProvenance for AsProvenance<P> {
    fn verify(&self, signed: &SignedSet, train: &Dataset) -> ProvenanceVerdict {
        self.0.verify(signed, train)
    }
}

/// The checked defense of one `[[defense]]` table: its kind name and the built defense.
#[derive(Clone)]
pub struct DefenseKind {
    kind: &'static str,
    needs: Needs,
    defense: Arc<dyn AnyDefense>,
}

impl DefenseKind {
    /// Read a `[[defense]]` table (without `kind` and `name`) for `kind`.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        kind: &str,
        table: &Table,
        path: &[&str],
        ctx: &BuildContext<'_>,
    ) -> Option<DefenseKind> {
        let Some(entry) = find(DEFENSES, kind).or_else(|| find(AGGREGATORS, kind)) else {
            let mut key = path.to_vec();
            key.push("kind");
            r.problem(
                &key,
                format!(
                    "unknown defense {kind:?}; expected {}, or in the federated regime the aggregator {}",
                    expected(DEFENSES),
                    expected(AGGREGATORS)
                ),
            );
            return None;
        };
        let defense = (entry.build.read)(r, path, table, ctx)?;
        Some(DefenseKind {
            kind: entry.name,
            needs: entry.build.needs,
            defense,
        })
    }

    /// Build the defense `kind` with its default parameters (for `bench`).
    pub fn with_defaults(kind: &str) -> Result<DefenseKind, String> {
        let lines = crate::problem::Lines::index("");
        let facts = DataFacts::default();
        let here = std::path::Path::new(".");
        let mut r = Reader::new(&lines, here);
        let ctx = BuildContext::new(here, &facts);
        DefenseKind::read(&mut r, kind, &Table::new(), &["defense"], &ctx)
            .ok_or_else(|| format!("{kind}: {:?}", r.problems))
    }

    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// What it needs of the scenario.
    pub fn needs(&self) -> Needs {
        self.needs
    }

    /// Its family, with the member.
    pub fn family(&self) -> Family<'_> {
        self.defense.family()
    }

    /// True for training-set filters.
    pub fn is_filter(&self) -> bool {
        matches!(self.family(), Family::Filter(_))
    }

    /// The parameters as a TOML table (for the resolved scenario).
    pub fn params_table(&self) -> Table {
        self.defense.params_table()
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        self.defense.describe()
    }
}

impl PartialEq for DefenseKind {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.params_table() == other.params_table()
    }
}

impl fmt::Debug for DefenseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.defense)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_within_each_table() {
        let all = catalogue();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(a.0 != b.0 || a.1 != b.1, "{} {} is listed twice", a.0, a.1);
            }
        }
    }

    #[test]
    fn model_entries_are_the_model_kinds() {
        for e in MODELS {
            let parsed: poisonlab_core::ModelKind = Value::String(e.name.into())
                .try_into()
                .expect("a model kind");
            assert_eq!(parsed, e.build, "{}", e.name);
        }
    }

    #[test]
    fn every_defense_builds_with_defaults_and_has_one_family() {
        for e in DEFENSES {
            let d = DefenseKind::with_defaults(e.name).expect("defaults are valid");
            assert_eq!(d.kind(), e.name);
            assert!(!d.describe().is_empty());
        }
    }

    #[test]
    fn expected_lists_every_name() {
        let text = expected(ATTACKS);
        for e in ATTACKS {
            assert!(text.contains(e.name), "{text}");
        }
        assert!(text.ends_with("or scaling"), "{text}");
    }
}
