//! The run record: one JSON line per finished run (sweep point × repeat).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use poisonlab_core::LabelTest;

/// Everything measured in one run; `docs/scenario.md` (runs.jsonl) documents every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunRecord {
    /// The layout of this record ([`RECORD_SCHEMA`]); records written before
    /// the field existed read as 1.
    #[serde(default = "schema_before_versioning")]
    pub schema: u32,
    /// Swept key → value at this run's point (empty without a sweep).
    pub point: serde_json::Map<String, serde_json::Value>,
    /// Repeat index, from 0.
    pub repeat: u64,
    /// The seed derived for (scenario seed, repeat).
    pub seed: u64,
    /// The scenario's fingerprint: SHA-256 (hex) of the resolved scenario
    /// with its data identified by content, not path (see `docs/scenario.md`).
    /// Resuming and `merge` key on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The numeric kernel set the run's numbers came from (matrix products
    /// and SIMD layer as picked for this CPU), e.g. `x86-64-v4 (gemm avx512f,
    /// simd v4, L1d 48 KiB 12-way)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels: Option<String>,
    /// Training samples (after trusted samples are held out).
    pub n_train: usize,
    /// Poisoned training samples.
    pub n_poison: usize,
    /// The attack's kind and where in the custody chain it acts (`source` or `transit`).
    pub attack: AttackInfo,
    /// Test samples.
    pub n_test: usize,
    /// The model trained on clean data.
    pub clean: ModelEval,
    /// The model trained on poisoned data.
    pub poisoned: ModelEval,
    /// Each defense, then the `perfect` and `random` references.
    pub defenses: Vec<DefenseRecord>,
    /// Merkle root (hex) of the training set the poisoned model was trained on,
    /// as a manifest of it would carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_root: Option<String>,
    /// Merkle root (hex) of the clean training set the run started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_root: Option<String>,
    /// The generator recipe the data was loaded through (`[data] recipe`);
    /// absent for every other source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<RecipeRecord>,
    /// SHA-256 (hex) of the poisoned model's class probabilities on the test
    /// set (f32 bits, little-endian): a fingerprint of the trained model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_fingerprint: Option<String>,
    /// Round-by-round series of runs that train in rounds (drift) and of
    /// federated runs (the clean federation and FedAvg under attack); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<Vec<RoundRecord>>,
    /// Federated runs: the clients and what the server refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<FederationRecord>,
    /// Transfer runs: the base models and every fine-tuning epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferRecord>,
    /// Wall time of each step, in seconds (varies between runs; not a result).
    pub seconds: BTreeMap<String, f64>,
}

/// The layout version of the run records this poisonlab writes: 2 added
/// `schema`, `fingerprint` and `kernels`.
pub const RECORD_SCHEMA: u32 = 2;

fn schema_before_versioning() -> u32 {
    1
}

/// The generator recipe a run's data was loaded through and verified against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RecipeRecord {
    /// The generator's name.
    pub generator: String,
    /// The generator's version.
    pub generator_version: u32,
    /// The recipe's seed.
    pub seed: u64,
    /// The recipe's Merkle root over every record it makes (hex).
    pub root: String,
    /// Hex of the public key the recipe's signature was verified with, when
    /// the scenario named one (`[data] public-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

/// Which attack a run used and where it acted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackInfo {
    /// The `[attack] kind`.
    pub kind: String,
    /// `generator` (in the generator, before its recipe is signed), `source`
    /// (before the data is signed) or `transit` (after).
    pub at: poisonlab_scenario::Custody,
    /// Crafted clean-label attacks (feature collision, Bullseye Polytope,
    /// Witches' Brew, MetaPoison): what was crafted and how long it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crafting: Option<CraftingRecord>,
}

/// What a crafting attack made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CraftingRecord {
    /// Ids of the attacked test instances (the targets).
    pub targets: Vec<u64>,
    /// Poisons per training sample (the budget).
    pub budget: f64,
    /// The L∞ bound of the perturbations, when the kind has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// Crafting steps (or iterations) per target. (The crafting time is the
    /// run's `seconds.poison`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
}

/// A transfer run: which model each figure belongs to. `clean` and
/// `poisoned` of the run are the fine-tuned models (from the clean base on
/// the clean fine-tuning set, and from the attacked pipeline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TransferRecord {
    /// `pretrain` or `fine-tune`: where the attack acted.
    pub poison: String,
    /// Samples the base model was pretrained on.
    pub n_pretrain: usize,
    /// Samples it was fine-tuned on.
    pub n_fine_tune: usize,
    /// The clean base model on the test set, before fine-tuning.
    pub clean_base: ModelEval,
    /// The base model of the attacked pipeline before fine-tuning (the
    /// poisoned base when the attack acted in pretraining, else the clean one).
    pub base: ModelEval,
    /// After each fine-tuning epoch.
    pub epochs: Vec<FineTuneEpoch>,
}

/// One fine-tuning epoch of a transfer run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FineTuneEpoch {
    /// Epoch, from 1.
    pub epoch: usize,
    /// CA of the clean pipeline's model.
    pub clean_ca: Option<f64>,
    /// CA of the attacked pipeline's model.
    pub ca: Option<f64>,
    /// Its ASR.
    pub asr: Option<f64>,
}

/// The clients of a federated run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FederationRecord {
    /// Clients the training set was split among.
    pub clients: usize,
    /// The malicious clients' ids (from 0), fixed for the run.
    pub malicious: Vec<usize>,
    /// Local training samples of each client, by id.
    pub sizes: Vec<usize>,
    /// Clients the split left without a sample (they are never selected).
    pub empty: Vec<usize>,
    /// Poisoned samples on each malicious client (in `malicious` order; 0
    /// for one the split left empty).
    pub poisoned: Vec<usize>,
    /// Updates the server refused (not finite), in every federation of the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RejectedUpdate>,
}

/// An update the server refused (not finite, or its local training or
/// crafting failed), or a round it could not aggregate (`client` null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RejectedUpdate {
    /// The federation: `clean`, `poisoned` (FedAvg under attack) or the
    /// aggregator defense's name.
    pub federation: String,
    /// Round, from 1.
    pub round: usize,
    /// Client id; null when the server refused the aggregate itself.
    pub client: Option<usize>,
    /// Why: which value was not finite, or that local training diverged.
    pub reason: String,
}

/// One round of a federation under an aggregator defense: the global model after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AggregatorRound {
    /// Round number, from 1.
    pub round: usize,
    /// Clean accuracy of the global model.
    pub ca: Option<f64>,
    /// Its attack success rate.
    pub asr: Option<f64>,
    /// Its recall of the attack's source class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_recall: Option<f64>,
    /// Selected malicious clients the aggregator flagged or left out this round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_malicious: Option<usize>,
    /// Selected benign clients it flagged or left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_benign: Option<usize>,
}

/// One round of a run that trains in rounds: the model after that round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RoundRecord {
    /// Round number, from 1.
    pub round: usize,
    /// Training samples that arrived this round (federated: the selected
    /// clients' local samples).
    pub n: usize,
    /// Poisoned among them.
    pub n_poison: usize,
    /// n-poison / n.
    pub poison_share: f64,
    /// Clean accuracy of the model trained on clean rounds.
    pub clean_ca: Option<f64>,
    /// Its accuracy on test samples of every class but the drifting one.
    pub clean_ca_other: Option<f64>,
    /// Clean accuracy of the model trained on the poisoned rounds.
    pub ca: Option<f64>,
    /// Share of drifting-class test samples it assigns to the drift target.
    pub asr: Option<f64>,
    /// Its accuracy on test samples of every class but the drifting one.
    pub ca_other: Option<f64>,
    /// Federated: malicious clients among the selected ones (attacking from
    /// `attack-from-round`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malicious: Option<usize>,
    /// Federated: the global model's recall of the attack's source class
    /// (FedAvg under attack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_recall: Option<f64>,
    /// Federated: the same for the clean federation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_source_recall: Option<f64>,
}

/// How a model does on the test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ModelEval {
    /// Clean accuracy on the test set.
    pub ca: Option<f64>,
    /// Attack success rate on the attack's test inputs (null when the attack has none).
    pub asr: Option<f64>,
    /// Robust accuracy: attack test inputs still classified as their true class.
    pub ra: Option<f64>,
    /// Recall of each class on the clean test set.
    pub per_class_recall: Vec<Option<f64>>,
    /// Recall of the attack's source class on the clean test set, when the
    /// attack's test inputs all come from one class (targeted label flipping:
    /// Tolpegin et al.'s headline metric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_recall: Option<f64>,
}

/// Detection scores of a training-set filter against the poison mask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Poisoned and flagged.
    pub tp: usize,
    /// Clean but flagged.
    pub fp: usize,
    /// Clean and kept.
    pub tn: usize,
    /// Poisoned but kept.
    #[serde(rename = "fn")]
    pub fn_: usize,
    /// TP / (TP + FN).
    pub tpr: Option<f64>,
    /// FP / (FP + TN).
    pub fpr: Option<f64>,
    /// TP / (TP + FP).
    pub precision: Option<f64>,
    /// Harmonic mean of precision and TPR.
    pub f1: Option<f64>,
    /// Area under the ROC curve of the scores.
    pub auroc: Option<f64>,
    /// Area under the ROC curve of the scores within the classes that hold
    /// poison (by training label): for an all-to-one backdoor, within the
    /// target class, as IBM ART reports it. `None` when undefined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auroc_class: Option<f64>,
    /// The ROC curve's TPR at each false-positive rate of
    /// `poisonlab_core::metrics::ROC_FPRS`; empty when undefined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roc_tpr: Vec<f64>,
}

/// An input-time detector's screening of the test inputs.
pub type InputDetection = poisonlab_core::Screening;

/// A defense (or reference filter) in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DefenseRecord {
    /// The defense's name (its kind unless the scenario named it).
    pub name: String,
    /// Its family: `filter` (training-set filter), `input-detector`, `monitor`,
    /// `provenance` or `aggregator`; `reference` for perfect and random.
    pub kind: String,
    /// How the flags compare with the poison mask.
    pub detection: Option<Detection>,
    /// The model retrained on the samples the filter kept.
    pub retrained: Option<ModelEval>,
    /// (CA_def − CA_poisoned) / (CA_clean − CA_poisoned); null when poisoning cost
    /// less than one test sample of accuracy.
    pub recovery: Option<f64>,
    /// Defense effectiveness rating (BackdoorBench); null without an ASR.
    pub der: Option<f64>,
    /// Input-time detectors (STRIP): how they screen test inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputDetection>,
    /// Training-set filters: the share of the clean (unpoisoned) training set
    /// the defense flags when run on it with the clean model; null when that
    /// run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_fpr: Option<f64>,
    /// The anomaly defense with a trusted set: the chi-square test of the
    /// training labels against the trusted labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_test: Option<LabelTest>,
    /// Round monitors: when they alarmed, on the poisoned run and on the clean
    /// run of the same length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<MonitorRecord>,
    /// Provenance: what verifying the training set against the signed
    /// manifest found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<ProvenanceRecord>,
    /// Aggregators: the global model after each round of their federation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<Vec<AggregatorRound>>,
    /// Model-repair defenses: their verdict on the model and the repaired
    /// model (their `recovery` and `der` are the repaired model's; their
    /// `detection` and `retrained`, when present, score the samples they
    /// isolated, like a filter's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<RepairRecord>,
    /// Why the defense produced no result, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time of the defense's own work, without retraining on what it
    /// kept or the clean-set run (not a result).
    pub seconds: f64,
}

impl DefenseRecord {
    /// A record with only its name and kind, every result empty.
    pub fn new(name: &str, kind: &str) -> Self {
        Self {
            name: name.to_string(),
            kind: kind.to_string(),
            detection: None,
            retrained: None,
            recovery: None,
            der: None,
            input: None,
            clean_fpr: None,
            label_test: None,
            monitor: None,
            provenance: None,
            rounds: None,
            repair: None,
            error: None,
            seconds: 0.0,
        }
    }
}

/// A model-repair defense's verdict and the model it repaired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RepairRecord {
    /// Whether it flagged the poisoned model as backdoored; null when the
    /// defense makes no model-level detection or the attack changed nothing
    /// (no backdoored model to find). Its mean over runs is the model-level TPR.
    pub model_tpr: Option<bool>,
    /// Whether it flagged the clean model (trained without the attack); null
    /// when it makes no model-level detection. Its mean over runs is the
    /// model-level FPR.
    pub model_fpr: Option<bool>,
    /// The class it named as the backdoor's target on the poisoned model.
    pub target: Option<usize>,
    /// Whether that is the attack's target (all-to-one attacks only).
    pub target_correct: Option<bool>,
    /// Its anomaly index on the poisoned model.
    pub anomaly_index: Option<f64>,
    /// Its anomaly index on the clean model.
    pub clean_anomaly_index: Option<f64>,
    /// Per class, what it measured on the poisoned model (Neural Cleanse:
    /// the reversed mask's L1 norm).
    pub class_scores: Option<Vec<f64>>,
    /// The repaired model on the clean test set and the attack's inputs.
    pub repaired: Option<ModelEval>,
}

/// The provenance defense's verification of the training set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ProvenanceRecord {
    /// Records whose bytes or label differ from the signed ones.
    pub modified: usize,
    /// Records the manifest does not hold.
    pub added: usize,
    /// Signed records missing from the training set.
    pub removed: usize,
    /// Whether the manifest's signature held under the owner's key.
    pub signature_valid: bool,
}

/// A round monitor's alarms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MonitorRecord {
    /// The first round (from 1) whose check alarmed on the poisoned run; null
    /// when none did.
    pub first_alarm_round: Option<usize>,
    /// Rounds that alarmed on the poisoned run.
    pub alarms: usize,
    /// Rounds that alarmed on the clean run of the same length.
    pub false_alarms: usize,
    /// The monitor's statistic after each round of the poisoned run.
    pub statistic: Vec<f64>,
    /// The same on the clean run.
    pub clean_statistic: Vec<f64>,
    /// The alarm threshold the statistic is compared with.
    pub threshold: f64,
}

impl RunRecord {
    /// The run's key, `point=..., repeat r`: a sweep point and a repeat name
    /// one run of a plan (resuming and `merge` match records by it).
    pub fn key(&self) -> String {
        format!(
            "{}, repeat {}",
            crate::summary::point_label(&self.point),
            self.repeat
        )
    }

    /// The record with every wall time set to zero: what two runs of the same
    /// plan entry must agree on.
    pub fn without_timings(&self) -> RunRecord {
        let mut r = self.clone();
        r.seconds.values_mut().for_each(|s| *s = 0.0);
        r.defenses.iter_mut().for_each(|d| d.seconds = 0.0);
        r
    }

    /// Every metric as `(key, value)`, keyed as in summary.json and `[expect]`:
    /// `clean.ca`, `poisoned.asr`, `defense.<name>.tpr`, `defense.<name>.retrained.ca`, ...
    /// Timings are left out.
    pub fn metrics(&self) -> Vec<(String, Option<f64>)> {
        let mut out = vec![("n-poison".to_string(), Some(self.n_poison as f64))];
        eval_metrics(&mut out, "clean", &self.clean);
        eval_metrics(&mut out, "poisoned", &self.poisoned);
        for r in self.rounds.iter().flatten() {
            let p = format!("round.{}", r.round);
            out.extend([
                (format!("{p}.poison-share"), Some(r.poison_share)),
                (format!("{p}.clean-ca"), r.clean_ca),
                (format!("{p}.clean-ca-other"), r.clean_ca_other),
                (format!("{p}.ca"), r.ca),
                (format!("{p}.asr"), r.asr),
                (format!("{p}.ca-other"), r.ca_other),
            ]);
            if r.malicious.is_some() {
                out.extend([
                    (format!("{p}.malicious"), r.malicious.map(|m| m as f64)),
                    (format!("{p}.source-recall"), r.source_recall),
                    (format!("{p}.clean-source-recall"), r.clean_source_recall),
                ]);
            }
        }
        if let Some(t) = &self.transfer {
            eval_metrics(&mut out, "base", &t.base);
            eval_metrics(&mut out, "clean-base", &t.clean_base);
            for e in &t.epochs {
                let p = format!("fine-tune.{}", e.epoch);
                out.push((format!("{p}.clean-ca"), e.clean_ca));
                out.push((format!("{p}.ca"), e.ca));
                out.push((format!("{p}.asr"), e.asr));
            }
        }
        for d in &self.defenses {
            let p = format!("defense.{}", d.name);
            if let Some(det) = &d.detection {
                out.extend([
                    (format!("{p}.tpr"), det.tpr),
                    (format!("{p}.fpr"), det.fpr),
                    (format!("{p}.precision"), det.precision),
                    (format!("{p}.f1"), det.f1),
                    (format!("{p}.auroc"), det.auroc),
                    (format!("{p}.auroc-class"), det.auroc_class),
                    (format!("{p}.flagged"), Some((det.tp + det.fp) as f64)),
                ]);
            }
            match (&d.retrained, d.kind.as_str()) {
                // An aggregator's model is its federation's global model.
                (Some(r), AGGREGATOR) => eval_metrics(&mut out, &p, r),
                (Some(r), _) => eval_metrics(&mut out, &format!("{p}.retrained"), r),
                (None, _) => {}
            }
            for r in d.rounds.iter().flatten() {
                let q = format!("{p}.round.{}", r.round);
                out.push((format!("{q}.ca"), r.ca));
                out.push((format!("{q}.asr"), r.asr));
                if r.source_recall.is_some() {
                    out.push((format!("{q}.source-recall"), r.source_recall));
                }
            }
            if let Some(i) = &d.input {
                out.push((format!("{p}.far"), i.far));
                out.push((format!("{p}.frr"), i.frr));
            }
            if d.detection.is_some() && d.kind != AGGREGATOR {
                out.push((format!("{p}.clean-fpr"), d.clean_fpr));
            }
            if let Some(t) = &d.label_test {
                out.push((format!("{p}.label-test.p-value"), Some(t.p_value)));
            }
            if let Some(pr) = &d.provenance {
                out.push((format!("{p}.modified"), Some(pr.modified as f64)));
                out.push((format!("{p}.added"), Some(pr.added as f64)));
                out.push((format!("{p}.removed"), Some(pr.removed as f64)));
            }
            if let Some(r) = &d.repair {
                let flag = |b: Option<bool>| b.map(|b| if b { 1.0 } else { 0.0 });
                out.push((format!("{p}.model-tpr"), flag(r.model_tpr)));
                out.push((format!("{p}.model-fpr"), flag(r.model_fpr)));
                out.push((format!("{p}.target-correct"), flag(r.target_correct)));
                out.push((format!("{p}.anomaly-index"), r.anomaly_index));
                out.push((format!("{p}.clean-anomaly-index"), r.clean_anomaly_index));
                if let Some(e) = &r.repaired {
                    eval_metrics(&mut out, &format!("{p}.repaired"), e);
                }
            }
            if let Some(m) = &d.monitor {
                out.push((
                    format!("{p}.first-alarm-round"),
                    m.first_alarm_round.map(|r| r as f64),
                ));
                out.push((format!("{p}.alarms"), Some(m.alarms as f64)));
                out.push((format!("{p}.false-alarms"), Some(m.false_alarms as f64)));
            }
            out.push((format!("{p}.recovery"), d.recovery));
            out.push((format!("{p}.der"), d.der));
        }
        out
    }
}

/// The `kind` of an aggregator defense's record.
pub const AGGREGATOR: &str = "aggregator";

fn eval_metrics(out: &mut Vec<(String, Option<f64>)>, prefix: &str, e: &ModelEval) {
    out.push((format!("{prefix}.ca"), e.ca));
    out.push((format!("{prefix}.asr"), e.asr));
    out.push((format!("{prefix}.ra"), e.ra));
    if e.source_recall.is_some() {
        out.push((format!("{prefix}.source-recall"), e.source_recall));
    }
}

/// A TOML scalar as JSON (sweep point values in records).
pub fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        other => serde_json::Value::String(other.to_string()),
    }
}
