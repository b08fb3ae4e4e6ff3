//! The run record: one JSON line per finished run (sweep point × repeat).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use poisonlab_core::LabelTest;

/// Everything measured in one run; `docs/scenario.md` (runs.jsonl) documents every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunRecord {
    /// Swept key → value at this run's point (empty without a sweep).
    pub point: serde_json::Map<String, serde_json::Value>,
    /// Repeat index, from 0.
    pub repeat: u64,
    /// The seed derived for (scenario seed, repeat).
    pub seed: u64,
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
    /// SHA-256 (hex) of the poisoned model's class probabilities on the test
    /// set (f32 bits, little-endian): a fingerprint of the trained model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_fingerprint: Option<String>,
    /// Round-by-round series of runs that train in rounds (drift); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<Vec<RoundRecord>>,
    /// Wall time of each step, in seconds (varies between runs; not a result).
    pub seconds: BTreeMap<String, f64>,
}

/// Which attack a run used and where it acted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackInfo {
    /// The `[attack] kind`.
    pub kind: String,
    /// `source` (before the data is signed) or `transit` (after).
    pub at: poisonlab_scenario::Custody,
}

/// One round of a run that trains in rounds: the model after that round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RoundRecord {
    /// Round number, from 1.
    pub round: usize,
    /// Training samples that arrived this round.
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
    /// Its family: `filter` (training-set filter), `input-detector`, `monitor`
    /// or `provenance`; `reference` for perfect and random.
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
            error: None,
            seconds: 0.0,
        }
    }
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
                    (format!("{p}.flagged"), Some((det.tp + det.fp) as f64)),
                ]);
            }
            if let Some(r) = &d.retrained {
                eval_metrics(&mut out, &format!("{p}.retrained"), r);
            }
            if let Some(i) = &d.input {
                out.push((format!("{p}.far"), i.far));
                out.push((format!("{p}.frr"), i.frr));
            }
            if d.detection.is_some() {
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

fn eval_metrics(out: &mut Vec<(String, Option<f64>)>, prefix: &str, e: &ModelEval) {
    out.push((format!("{prefix}.ca"), e.ca));
    out.push((format!("{prefix}.asr"), e.asr));
    out.push((format!("{prefix}.ra"), e.ra));
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
