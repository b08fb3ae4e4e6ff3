//! `[training]`: how a run trains — the regime, not the attack, decides.

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::kinds::{self, REGIMES};
use crate::spec::{Reader, sub_table};

/// The checked `[training]` table.
#[derive(Debug, Clone, PartialEq)]
pub enum Training {
    /// One training run on the whole training set (`regime = "central"`, the default).
    Central,
    /// The training set arrives in rounds (`regime = "rounds"`).
    Rounds(RoundsParams),
    /// Clients train locally and a server aggregates their updates
    /// (`regime = "federated"`, keys in `[federated]`).
    Federated(FederatedParams),
    /// A base model is pretrained, then fine-tuned (`regime = "transfer"`).
    Transfer(TransferParams),
}

/// Which data the base model is pretrained on (`[training] pretrain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pretrain {
    /// The first half of the training set pretrains, the second half fine-tunes.
    Half,
    /// The samples of `pretrain-classes` pretrain, the other classes fine-tune.
    Classes,
}

/// Which parameters fine-tuning trains (`[training] fine-tune`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FineTune {
    /// Only the last dense layer, on the frozen base model's features.
    LastLayer,
    /// Every parameter, from the base model's weights.
    Full,
}

/// Where the attack acts in the transfer regime (`[training] poison`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoisonStage {
    /// In the pretraining data: does the base model carry the poison through
    /// clean fine-tuning?
    Pretrain,
    /// In the fine-tuning data, crafted against the base model.
    FineTune,
}

/// Keys of `regime = "transfer"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct TransferParams {
    /// `half` (default) or `classes`.
    pub pretrain: Pretrain,
    /// With `pretrain = "classes"`: the classes the base model learns; the
    /// other classes are the fine-tuning task. Default [].
    pub pretrain_classes: Vec<usize>,
    /// Epochs of pretraining. Default 5.
    pub pretrain_epochs: usize,
    /// `last-layer` (default) or `full`.
    pub fine_tune: FineTune,
    /// Epochs of fine-tuning, each measured. Default 5.
    pub fine_tune_epochs: usize,
    /// `fine-tune` (default) or `pretrain`.
    pub poison: PoisonStage,
}

impl Default for TransferParams {
    fn default() -> Self {
        Self {
            pretrain: Pretrain::Half,
            pretrain_classes: Vec::new(),
            pretrain_epochs: 5,
            fine_tune: FineTune::LastLayer,
            fine_tune_epochs: 5,
            poison: PoisonStage::FineTune,
        }
    }
}

impl TransferParams {
    /// Every problem with the values, as (key, message).
    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.pretrain_epochs == 0 {
            out.push(("pretrain-epochs", "must be at least 1, got 0".to_string()));
        }
        if self.fine_tune_epochs == 0 {
            out.push(("fine-tune-epochs", "must be at least 1, got 0".to_string()));
        }
        match self.pretrain {
            Pretrain::Classes if self.pretrain_classes.is_empty() => out.push((
                "pretrain-classes",
                "is required with pretrain = \"classes\": the classes the base model learns"
                    .to_string(),
            )),
            Pretrain::Half if !self.pretrain_classes.is_empty() => out.push((
                "pretrain-classes",
                "applies to pretrain = \"classes\" only".to_string(),
            )),
            _ => {}
        }
        let mut seen = self.pretrain_classes.clone();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            out.push(("pretrain-classes", "lists a class twice".to_string()));
        }
        out
    }
}

/// How the training set is dealt out to the clients (`[federated] split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// Shuffled and dealt out evenly (sizes differ by at most one).
    Iid,
    /// Per class, the shares of the clients drawn from Dirichlet(alpha)
    /// (Hsu et al. 2019): small alpha, few classes per client.
    Dirichlet,
    /// Sorted by label, cut into clients × shards-per-client equal shards,
    /// each client given shards-per-client of them at random (McMahan et
    /// al. 2017's pathological non-IID split).
    Shards,
}

/// The client's local optimiser (`[federated] optimizer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientOptimizer {
    /// Plain SGD (the default): a client's update is its summed gradient
    /// steps, no optimiser state lives across rounds.
    Sgd,
    /// Adam, a fresh state each round.
    Adam,
}

/// Keys of `regime = "federated"`, in the `[federated]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct FederatedParams {
    /// Clients the training set is split among. Default 50 (Tolpegin et al. 2020).
    pub clients: usize,
    /// Clients sampled (without replacement) to train in each round.
    /// Default 5, at most `clients`.
    pub per_round: usize,
    /// Federated rounds. Default 50.
    pub rounds: usize,
    /// Passes over its local data a selected client makes. Default 1.
    pub local_epochs: usize,
    /// Local mini-batch size. Default 32.
    pub local_batch_size: usize,
    /// `sgd` (default) or `adam`.
    pub optimizer: ClientOptimizer,
    /// The client optimiser's learning rate. Default 0.05 (SGD).
    pub learning_rate: f64,
    /// The server adds `server-learning-rate` × the aggregate to the global
    /// weights. Default 1.0.
    pub server_learning_rate: f64,
    /// `iid` (default), `dirichlet` or `shards`.
    pub split: Split,
    /// Dirichlet concentration (split = "dirichlet"), > 0. Default 0.5.
    pub alpha: f64,
    /// Shards per client (split = "shards"), ≥ 1. Default 2.
    pub shards_per_client: usize,
    /// Share of clients that are malicious, in [0, 1): round(share × clients)
    /// clients, drawn once per run. Default 0.1.
    pub malicious: f64,
    /// First round in which malicious clients attack (before it they train
    /// honestly). Default 1.
    pub attack_from_round: usize,
    /// Measure the global models every this many rounds (and after the
    /// last): 1 (default) gives the full per-round series; a larger value
    /// saves the test-set passes (timing protocols that only need the end).
    pub evaluate_every: usize,
}

impl Default for FederatedParams {
    fn default() -> Self {
        Self {
            clients: 50,
            per_round: 5,
            rounds: 50,
            local_epochs: 1,
            local_batch_size: 32,
            optimizer: ClientOptimizer::Sgd,
            learning_rate: 0.05,
            server_learning_rate: 1.0,
            split: Split::Iid,
            alpha: 0.5,
            shards_per_client: 2,
            malicious: 0.1,
            attack_from_round: 1,
            evaluate_every: 1,
        }
    }
}

impl FederatedParams {
    /// Whether the global models are measured after round `r` (from 1).
    pub fn evaluates(&self, r: usize) -> bool {
        r.is_multiple_of(self.evaluate_every.max(1)) || r == self.rounds
    }

    /// The malicious clients' count: round(malicious × clients).
    pub fn n_malicious(&self) -> usize {
        (self.malicious * self.clients as f64).round() as usize
    }

    /// Every problem with the values, as (key, message).
    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut at_least = |key: &'static str, v: usize, min: usize| {
            if v < min {
                out.push((key, format!("must be at least {min}, got {v}")));
            }
        };
        at_least("clients", self.clients, 1);
        at_least("per-round", self.per_round, 1);
        at_least("rounds", self.rounds, 1);
        at_least("local-epochs", self.local_epochs, 1);
        at_least("local-batch-size", self.local_batch_size, 1);
        at_least("shards-per-client", self.shards_per_client, 1);
        at_least("attack-from-round", self.attack_from_round, 1);
        at_least("evaluate-every", self.evaluate_every, 1);
        if self.attack_from_round > self.rounds {
            out.push((
                "attack-from-round",
                format!(
                    "must be at most rounds = {}, got {} (no round would be attacked)",
                    self.rounds, self.attack_from_round
                ),
            ));
        }
        if self.per_round > self.clients {
            out.push((
                "per-round",
                format!(
                    "must be at most clients = {}, got {}",
                    self.clients, self.per_round
                ),
            ));
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.learning_rate) {
            out.push((
                "learning-rate",
                format!("must be a positive number, got {}", self.learning_rate),
            ));
        }
        if !positive(self.server_learning_rate) {
            out.push((
                "server-learning-rate",
                format!(
                    "must be a positive number, got {}",
                    self.server_learning_rate
                ),
            ));
        }
        if !positive(self.alpha) {
            out.push((
                "alpha",
                format!(
                    "must be a positive number (Dirichlet concentration), got {}",
                    self.alpha
                ),
            ));
        }
        if !(self.malicious.is_finite() && (0.0..1.0).contains(&self.malicious)) {
            out.push((
                "malicious",
                format!("must be a share in [0, 1), got {}", self.malicious),
            ));
        }
        out
    }
}

/// Keys of `regime = "rounds"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RoundsParams {
    /// Rounds the training set is split into, as contiguous parts of equal
    /// size (the last ones one larger when it does not divide). Default 5,
    /// at least 2.
    pub rounds: usize,
    /// Epochs on each round's part; round 1 trains a fresh model, every later
    /// round continues from the previous model (a fresh Adam state). Default 2,
    /// at least 1.
    pub epochs_per_round: usize,
}

impl Default for RoundsParams {
    fn default() -> Self {
        Self {
            rounds: 5,
            epochs_per_round: 2,
        }
    }
}

/// Keys of `regime = "central"`: none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CentralKeys {}

impl Training {
    /// Read `[training]` from the scenario (central when absent).
    pub(crate) fn read(r: &mut Reader<'_>, root: &Table) -> Option<Training> {
        let mut table = sub_table(r, root, "training").unwrap_or_default();
        let federated = sub_table(r, root, "federated");
        let regime = match table.remove("regime") {
            None => "central".to_string(),
            Some(Value::String(s)) => s,
            Some(other) => {
                r.problem(
                    &["training", "regime"],
                    format!("must be a string, got {}", other.type_str()),
                );
                return None;
            }
        };
        if federated.is_some() && regime != "federated" {
            r.problem(
                &["federated"],
                format!("applies to [training] regime = \"federated\" only; this scenario's regime is {regime:?}"),
            );
            return None;
        }
        match regime.as_str() {
            "transfer" => {
                let p = r.read::<TransferParams>(&["training"], &table)?;
                let problems = p.problems();
                for (key, message) in &problems {
                    r.problem(&["training", key], message.clone());
                }
                problems.is_empty().then_some(Training::Transfer(p))
            }
            "federated" => {
                r.read::<CentralKeys>(&["training"], &table)?;
                let p =
                    r.read::<FederatedParams>(&["federated"], &federated.unwrap_or_default())?;
                let problems = p.problems();
                for (key, message) in &problems {
                    r.problem(&["federated", key], message.clone());
                }
                problems.is_empty().then_some(Training::Federated(p))
            }
            "central" => {
                r.read::<CentralKeys>(&["training"], &table)?;
                Some(Training::Central)
            }
            "rounds" => {
                let p = r.read::<RoundsParams>(&["training"], &table)?;
                let mut ok = true;
                if p.rounds < 2 {
                    r.problem(
                        &["training", "rounds"],
                        format!("must be at least 2, got {}", p.rounds),
                    );
                    ok = false;
                }
                if p.epochs_per_round == 0 {
                    r.problem(
                        &["training", "epochs-per-round"],
                        "must be at least 1, got 0",
                    );
                    ok = false;
                }
                ok.then_some(Training::Rounds(p))
            }
            other => {
                r.problem(
                    &["training", "regime"],
                    format!(
                        "unknown regime {other:?}; expected {}",
                        kinds::expected(REGIMES)
                    ),
                );
                None
            }
        }
    }

    /// The `regime` name.
    pub fn regime(&self) -> &'static str {
        match self {
            Training::Central => "central",
            Training::Rounds(_) => "rounds",
            Training::Federated(_) => "federated",
            Training::Transfer(_) => "transfer",
        }
    }

    /// The rounds, when the run trains in rounds.
    pub fn rounds(&self) -> Option<&RoundsParams> {
        match self {
            Training::Rounds(p) => Some(p),
            Training::Central | Training::Federated(_) | Training::Transfer(_) => None,
        }
    }

    /// The transfer settings, when the run pretrains and fine-tunes.
    pub fn transfer(&self) -> Option<&TransferParams> {
        match self {
            Training::Transfer(p) => Some(p),
            _ => None,
        }
    }

    /// The federation, when the run is federated.
    pub fn federated(&self) -> Option<&FederatedParams> {
        match self {
            Training::Federated(p) => Some(p),
            Training::Central | Training::Rounds(_) | Training::Transfer(_) => None,
        }
    }

    /// The `[federated]` table as resolved, when the run is federated.
    pub fn federated_table(&self) -> Option<Table> {
        match Value::try_from(self.federated()?) {
            Ok(Value::Table(t)) => Some(t),
            _ => None,
        }
    }

    /// The table as resolved (every default filled in).
    pub fn to_table(&self) -> Table {
        let mut t = Table::new();
        t.insert("regime".into(), Value::String(self.regime().into()));
        let keys = match self {
            Training::Rounds(p) => Value::try_from(p).ok(),
            Training::Transfer(p) => Value::try_from(p).ok(),
            Training::Central | Training::Federated(_) => None,
        };
        if let Some(Value::Table(keys)) = keys {
            t.extend(keys);
        }
        t
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Training::Central => "central: one run on the whole training set".into(),
            Training::Rounds(p) => format!(
                "in {} rounds of contiguous parts, {} epoch(s) per round, warm-started",
                p.rounds, p.epochs_per_round
            ),
            Training::Transfer(p) => {
                let data = match p.pretrain {
                    Pretrain::Half => "the first half of the training set".to_string(),
                    Pretrain::Classes => format!("classes {:?}", p.pretrain_classes),
                };
                let tune = match p.fine_tune {
                    FineTune::LastLayer => "the last layer (features frozen)",
                    FineTune::Full => "every layer",
                };
                let poison = match p.poison {
                    PoisonStage::Pretrain => "the pretraining data",
                    PoisonStage::FineTune => "the fine-tuning data",
                };
                format!(
                    "transfer: base model pretrained on {data} for {} epoch(s), then {tune} fine-tuned on the rest for {} epoch(s); the attack poisons {poison}",
                    p.pretrain_epochs, p.fine_tune_epochs
                )
            }
            Training::Federated(p) => {
                let split = match p.split {
                    Split::Iid => "IID".to_string(),
                    Split::Dirichlet => format!("Dirichlet(α = {})", p.alpha),
                    Split::Shards => format!("{} label-sorted shards each", p.shards_per_client),
                };
                let optimizer = match p.optimizer {
                    ClientOptimizer::Sgd => "SGD",
                    ClientOptimizer::Adam => "Adam",
                };
                format!(
                    "federated: {} clients ({split}), {} malicious ({} %) from round {}; {} of them a round for {} rounds, {} local epoch(s) of {optimizer} (lr {}, batch {}), server rate {}",
                    p.clients,
                    p.n_malicious(),
                    p.malicious * 100.0,
                    p.attack_from_round,
                    p.per_round,
                    p.rounds,
                    p.local_epochs,
                    p.learning_rate,
                    p.local_batch_size,
                    p.server_learning_rate
                )
            }
        }
    }
}
