//! The transfer regime: a base model pretrained on one part of the data and
//! fine-tuned on the other; the attack in either stage; every epoch recorded.
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

mod common;

use common::without_seconds;

const PRETRAIN_BACKDOOR: &str = r#"
[scenario]
name = "transfer"
seed = 4

[data]
source = "synthetic-digits"
train = 600
test = 200

[model]
kind = "mlp"
hidden = [32]

[training]
regime = "transfer"
pretrain-epochs = 3
fine-tune = "last-layer"
fine-tune-epochs = 2
poison = "pretrain"

[attack]
kind = "badnets"
target = 0
rate = 0.2

[[defense]]
kind = "loss-filter"

[sweep]
"training.fine-tune" = ["last-layer", "full"]
"#;

#[test]
fn a_pretraining_backdoor_is_measured_before_and_after_each_fine_tuning_epoch() {
    let records = without_seconds(common::records(PRETRAIN_BACKDOOR, 1));
    assert_eq!(records.len(), 2);
    for r in &records {
        let t = r.transfer.as_ref().unwrap();
        assert_eq!(t.poison, "pretrain");
        assert_eq!((t.n_pretrain, t.n_fine_tune), (300, 300));
        // The attacked stage is the pretraining set: the run's training set.
        assert_eq!(r.n_train, 300);
        assert!(r.n_poison > 0);
        assert_eq!(t.epochs.len(), 2);
        // The last epoch is the fine-tuned model the run reports.
        assert_eq!(t.epochs[1].ca, r.poisoned.ca);
        assert_eq!(t.epochs[1].asr, r.poisoned.asr);
        assert_eq!(t.epochs[1].clean_ca, r.clean.ca);
        let (base, clean_base) = (t.base.asr.unwrap(), t.clean_base.asr.unwrap());
        assert!(
            base > clean_base + 0.3,
            "the poisoned base carries the backdoor: {base} vs {clean_base}"
        );
        let filter = &r.defenses[0];
        assert!(filter.detection.is_some() && filter.retrained.is_some());
    }
    // Last-layer fine-tuning keeps the base's features: the backdoor stays.
    let last = &records[0];
    assert!(last.poisoned.asr.unwrap() > 0.5, "{:?}", last.poisoned.asr);
    assert_eq!(
        without_seconds(common::records(PRETRAIN_BACKDOOR, 3)),
        records
    );
}

#[test]
fn a_fine_tuning_attack_is_crafted_against_the_pretrained_features() {
    let text = r#"
[scenario]
name = "transfer-fc"
seed = 6

[data]
source = "synthetic-digits"
train = 600
test = 200

[model]
kind = "mlp"
hidden = [32]

[training]
regime = "transfer"
pretrain = "classes"
pretrain-classes = [0, 1, 2, 3, 4]
pretrain-epochs = 3
fine-tune-epochs = 2

[attack]
kind = "feature-collision"
target-class = 5
base-class = 6
targets = 2
poisons-per-target = 5
iterations = 20
"#;
    let records = without_seconds(common::records(text, 2));
    let r = &records[0];
    let t = r.transfer.as_ref().unwrap();
    assert_eq!(t.poison, "fine-tune");
    assert_eq!(r.n_train, t.n_fine_tune);
    assert_eq!(r.n_poison, 10);
    assert!(r.poisoned.asr.is_some());
    // The record says what was crafted.
    let c = r.attack.crafting.as_ref().expect("a crafting attack");
    assert_eq!(c.targets.len(), 2);
    assert_eq!(c.budget, 10.0 / r.n_train as f64);
    assert_eq!(c.steps, Some(20));
    assert_eq!(c.epsilon, None);
    assert_eq!(t.epochs.len(), 2);
}
