//! The view of a transfer-learning sweep point that report.md and
//! report.html both render: how the training set was split and where the
//! attack acted, which model is which (the two base models before
//! fine-tuning, the two fine-tuned ones), and the models after every
//! fine-tuning epoch. The tables are built here once, as text cells; each
//! report only lays them out.

use poisonlab_scenario::Scenario;

use crate::federated::Table;
use crate::record::RunRecord;
use crate::summary::PointSummary;
use crate::summary::indexmap_like::OrderedMap;
use crate::view::{Stat, cell, stat};

/// Whether every point of `scenario` pretrains and fine-tunes (report-wide
/// wording; points are told apart by their records).
pub(crate) fn transfer_scenario(scenario: &Scenario) -> bool {
    !scenario.points.is_empty()
        && scenario
            .points
            .iter()
            .all(|p| p.training.transfer().is_some())
}

/// What the reports say under a transfer scenario's tables: which models
/// `clean` and `poisoned` are, and how the defenses see and retrain. `em`
/// emphasises a model's name (the rest is plain text, nothing to escape).
pub(crate) fn note(em: impl Fn(&str) -> String) -> String {
    format!(
        "In the transfer regime {} and {} are the fine-tuned models of the clean and the \
         attacked pipeline. The defenses inspect the set the attack acted on (the pretraining or \
         the fine-tuning set) with the poisoned fine-tuned model, and retraining re-runs the \
         pipeline on the samples they keep: a new base pretrained on them and fine-tuned on the \
         clean fine-tuning set when the attack acted in pretraining, the clean base fine-tuned on \
         them when it acted in fine-tuning.",
        em("clean"),
        em("poisoned")
    )
}

/// One quantity measured over the fine-tuning epochs; epoch 0 is the base
/// model before fine-tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    /// Clean accuracy of the clean pipeline's model.
    CleanCa,
    /// Clean accuracy of the attacked pipeline's model.
    Ca,
    /// The attacked pipeline's attack success rate.
    Asr,
}

impl Curve {
    /// Every curve, in table and legend order.
    pub(crate) const ALL: [Curve; 3] = [Curve::CleanCa, Curve::Ca, Curve::Asr];

    /// Its column header and legend entry.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Curve::CleanCa => "clean CA",
            Curve::Ca => "poisoned CA",
            Curve::Asr => "ASR",
        }
    }

    /// Its metric key after fine-tuning epoch `epoch` (0: the base model).
    pub(crate) fn key(self, epoch: usize) -> String {
        match (self, epoch) {
            (Curve::CleanCa, 0) => "clean-base.ca".into(),
            (Curve::Ca, 0) => "base.ca".into(),
            (Curve::Asr, 0) => "base.asr".into(),
            (Curve::CleanCa, e) => format!("fine-tune.{e}.clean-ca"),
            (Curve::Ca, e) => format!("fine-tune.{e}.ca"),
            (Curve::Asr, e) => format!("fine-tune.{e}.asr"),
        }
    }
}

/// The four models of a transfer point: row label and metric key prefix.
const MODELS: [(&str, &str); 4] = [
    ("clean base (before fine-tuning)", "clean-base"),
    ("attacked pipeline's base (before fine-tuning)", "base"),
    ("clean (fine-tuned)", "clean"),
    ("poisoned (fine-tuned)", "poisoned"),
];

/// A transfer sweep point: its summary, its runs and what they measured.
pub(crate) struct TransferPoint<'a> {
    metrics: &'a OrderedMap,
    runs: Vec<&'a RunRecord>,
    /// The fine-tuning epochs measured (from 1), ascending, over every run.
    pub(crate) epochs: Vec<usize>,
}

impl<'a> TransferPoint<'a> {
    /// The view of `point`, whose records are `runs`; none unless a run
    /// pretrained and fine-tuned.
    pub(crate) fn new(point: &'a PointSummary, runs: &[&'a RunRecord]) -> Option<Self> {
        let runs: Vec<&RunRecord> = runs
            .iter()
            .copied()
            .filter(|r| r.transfer.is_some())
            .collect();
        if runs.is_empty() {
            return None;
        }
        let mut epochs: Vec<usize> = runs
            .iter()
            .filter_map(|r| r.transfer.as_ref())
            .flat_map(|t| t.epochs.iter().map(|e| e.epoch))
            .collect();
        epochs.sort_unstable();
        epochs.dedup();
        Some(TransferPoint {
            metrics: &point.metrics,
            runs,
            epochs,
        })
    }

    /// The split and where the attack acted, in one line.
    pub(crate) fn split(&self) -> String {
        let transfers = || self.runs.iter().filter_map(|r| r.transfer.as_ref());
        let pretrain = sizes(transfers().map(|t| t.n_pretrain));
        let fine_tune = sizes(transfers().map(|t| t.n_fine_tune));
        let stage = transfers().next().map_or("", |t| t.poison.as_str());
        let attack = match stage {
            "pretrain" => {
                "The attack poisoned the pretraining set (poisoned samples and the defenses count \
                 and inspect it); fine-tuning is clean."
                    .to_string()
            }
            "fine-tune" => {
                "The attack poisoned the fine-tuning set (poisoned samples and the defenses count \
                 and inspect it); the base model is clean."
                    .to_string()
            }
            other => format!("The attack acted at the stage {other:?}."),
        };
        format!(
            "Split: {pretrain} samples pretrain the base model, {fine_tune} fine-tune it. {attack}"
        )
    }

    /// Which model is which: the clean and the attacked pipeline's base
    /// before fine-tuning, then the two fine-tuned models (CA, ASR, RA).
    pub(crate) fn models_table(&self) -> Table {
        let head = ["model", "CA", "ASR", "RA"].map(String::from).to_vec();
        let rows = MODELS
            .iter()
            .map(|(label, prefix)| {
                let mut row = vec![label.to_string()];
                row.extend(
                    ["ca", "asr", "ra"]
                        .iter()
                        .map(|m| cell(self.metrics, &format!("{prefix}.{m}"))),
                );
                row
            })
            .collect();
        Table { head, rows }
    }

    /// Epoch by epoch: the base models (epoch 0), then after every
    /// fine-tuning epoch.
    pub(crate) fn epochs_table(&self) -> Table {
        let mut head = vec!["epoch".to_string()];
        head.extend(Curve::ALL.iter().map(|c| c.label().to_string()));
        let rows = self
            .all_epochs()
            .map(|e| {
                let mut row = vec![if e == 0 {
                    "0 (base)".to_string()
                } else {
                    e.to_string()
                }];
                row.extend(Curve::ALL.iter().map(|c| cell(self.metrics, &c.key(e))));
                row
            })
            .collect();
        Table { head, rows }
    }

    /// The last epoch measured (0 when none was).
    pub(crate) fn last_epoch(&self) -> usize {
        self.epochs.last().copied().unwrap_or(0)
    }

    /// `curve` at epoch 0 and every measured epoch, as (epoch, mean, 95 %
    /// CI half-width), where defined.
    pub(crate) fn series(&self, curve: Curve) -> Vec<(f64, Stat)> {
        self.all_epochs()
            .filter_map(|e| stat(self.metrics, &curve.key(e)).map(|s| (e as f64, s)))
            .collect()
    }

    fn all_epochs(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(0).chain(self.epochs.iter().copied())
    }
}

/// `2000` when every run agrees, else `1990–2010`.
fn sizes(values: impl Iterator<Item = usize>) -> String {
    let values: Vec<usize> = values.collect();
    match (values.iter().min(), values.iter().max()) {
        (Some(lo), Some(hi)) if lo == hi => lo.to_string(),
        (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
        _ => "—".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_zero_is_the_base_model() {
        assert_eq!(Curve::Asr.key(0), "base.asr");
        assert_eq!(Curve::CleanCa.key(0), "clean-base.ca");
        assert_eq!(Curve::Ca.key(3), "fine-tune.3.ca");
        assert_eq!(Curve::CleanCa.key(1), "fine-tune.1.clean-ca");
    }

    #[test]
    fn sizes_agree_or_give_a_range() {
        assert_eq!(sizes([2000, 2000].into_iter()), "2000");
        assert_eq!(sizes([1990, 2010, 2000].into_iter()), "1990–2010");
        assert_eq!(sizes(std::iter::empty()), "—");
    }
}

/// A transfer results folder built in code, for the reports' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use poisonlab_scenario::{Custody, Scenario};

    use crate::record::{
        AttackInfo, DefenseRecord, Detection, FineTuneEpoch, ModelEval, RunRecord, TransferRecord,
    };

    const TRANSFER: &str = r#"
[scenario]
name = "transfer-test"
repeats = 2

[data]
source = "synthetic-digits"
train = 400
test = 100

[model]
kind = "mlp"

[training]
regime = "transfer"
pretrain = "half"
fine-tune = "last-layer"
fine-tune-epochs = 3
poison = "pretrain"

[attack]
kind = "badnets"
target = 0
rate = 0.1
"#;

    /// Fine-tuning epochs of the fixture.
    pub(crate) const EPOCHS: usize = 3;

    fn eval(ca: f64, asr: f64) -> ModelEval {
        ModelEval {
            ca: Some(ca),
            asr: Some(asr),
            ra: Some(1.0 - asr),
            per_class_recall: vec![],
            source_recall: None,
        }
    }

    /// Repeat `rep` (0 or 1): CAs differ by 0.02 between the repeats, ASRs
    /// agree. The poisoned base carries a backdoor (ASR 0.9) that fades by
    /// 0.1 an epoch; the clean base has ASR 0.05.
    fn record(rep: u64) -> RunRecord {
        let step = 0.02 * rep as f64;
        let mut perfect = DefenseRecord::new("perfect", "reference");
        perfect.detection = Some(Detection {
            tp: 20,
            fp: 0,
            tn: 180,
            fn_: 0,
            tpr: Some(1.0),
            fpr: Some(0.0),
            precision: Some(1.0),
            f1: Some(1.0),
            auroc: Some(1.0),
            roc_tpr: vec![],
            auroc_class: None,
        });
        perfect.retrained = Some(eval(0.9 + step, 0.05));
        RunRecord {
            schema: crate::RECORD_SCHEMA,
            fingerprint: None,
            kernels: None,
            point: serde_json::Map::new(),
            repeat: rep,
            seed: 3 + rep,
            n_train: 200,
            n_poison: 20,
            attack: AttackInfo {
                kind: "badnets".into(),
                at: Custody::Source,
                crafting: None,
            },
            n_test: 100,
            // The fine-tuned models: the last epoch's.
            clean: eval(0.95 + step, 0.05),
            poisoned: eval(0.93 + step, 0.6),
            defenses: vec![perfect],
            data_root: None,
            clean_root: None,
            recipe: None,
            model_fingerprint: None,
            rounds: None,
            federation: None,
            transfer: Some(TransferRecord {
                poison: "pretrain".into(),
                n_pretrain: 200,
                n_fine_tune: 200,
                clean_base: eval(0.5 + step, 0.05),
                base: eval(0.48 + step, 0.9),
                epochs: (1..=EPOCHS)
                    .map(|epoch| FineTuneEpoch {
                        epoch,
                        clean_ca: Some(0.8 + 0.05 * epoch as f64 + step),
                        ca: Some(0.78 + 0.05 * epoch as f64 + step),
                        asr: Some(0.9 - 0.1 * epoch as f64),
                    })
                    .collect(),
            }),
            seconds: Default::default(),
        }
    }

    /// The scenario and its two repeats.
    pub(crate) fn transfer() -> (Scenario, Vec<RunRecord>) {
        let scenario = Scenario::parse(TRANSFER, "test.toml").unwrap();
        (scenario, vec![record(0), record(1)])
    }
}
