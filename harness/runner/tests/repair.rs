//! Model-repair defenses: the runner measures the repaired model, scores
//! isolated samples like a filter's, and judges model-level detection on the
//! poisoned and the clean model.
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

mod common;

use common::{records, without_seconds};

const BADNETS_REPAIRED: &str = r#"
[scenario]
name = "repair"
seed = 3
repeats = 1

[data]
source = "synthetic-digits"
train = 1500
test = 300
trusted = 200

[model]
kind = "mlp"
epochs = 10

[attack]
kind = "badnets"
target = 0
rate = 0.1
trigger = { shape = "pattern", size = 3, corner = "bottom-right", margin = 1, value = 1.0 }

[[defense]]
kind = "neural-cleanse"
steps = 150

[[defense]]
kind = "fine-pruning"

[[defense]]
kind = "abl"
isolation-epochs = 2
"#;

#[test]
fn repaired_models_are_measured_and_neural_cleanse_finds_the_target() {
    let records = records(BADNETS_REPAIRED, 2);
    let r = &records[0];
    let asr = r.poisoned.asr.unwrap();
    assert!(asr > 0.8, "the backdoor took: {asr}");
    let by = |name: &str| r.defenses.iter().find(|d| d.name == name).unwrap();

    let nc = by("neural-cleanse");
    assert_eq!(nc.kind, "model-repair");
    let repair = nc.repair.as_ref().unwrap();
    assert_eq!(repair.model_tpr, Some(true), "{repair:?}");
    assert_eq!(repair.target, Some(0));
    assert_eq!(repair.target_correct, Some(true));
    assert!(repair.model_fpr.is_some() && repair.clean_anomaly_index.is_some());
    let scores = repair.class_scores.as_ref().unwrap();
    assert_eq!(scores.len(), 10);
    assert!(scores[1..].iter().all(|&s| s > scores[0]), "{scores:?}");
    let repaired = repair.repaired.as_ref().unwrap();
    assert!(repaired.asr.unwrap() < asr - 0.5, "{repaired:?}");
    assert!(repaired.ca.unwrap() > r.poisoned.ca.unwrap() - 0.05);
    assert!(nc.der.unwrap() > 0.7, "DER of the repaired model");

    let fp = by("fine-pruning").repair.as_ref().unwrap();
    assert_eq!((fp.model_tpr, fp.model_fpr), (None, None));
    assert!(fp.repaired.as_ref().unwrap().ca.unwrap() > r.poisoned.ca.unwrap() - 0.1);

    // ABL isolates 1 % (13 of the 1300 left after the trusted 200, rounded
    // up), scored against the mask.
    let abl = by("abl");
    let det = abl.detection.as_ref().unwrap();
    assert_eq!(r.n_train, 1300);
    assert_eq!(det.tp + det.fp, 13);
    assert_eq!(det.tp + det.fn_, r.n_poison);
    assert!(abl.retrained.is_some() && abl.repair.as_ref().unwrap().repaired.is_some());
}

#[test]
fn repairs_do_not_depend_on_the_threads() {
    let text = BADNETS_REPAIRED
        .replace("steps = 150", "steps = 20")
        .replace("train = 1500", "train = 600")
        .replace("epochs = 10", "epochs = 2");
    let one = without_seconds(records(&text, 1));
    let two = without_seconds(records(&text, 2));
    assert_eq!(one, two);
}
