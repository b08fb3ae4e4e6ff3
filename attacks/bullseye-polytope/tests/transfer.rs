//! Bullseye Polytope against a real (Burn) MLP on synthetic digits, in the
//! paper's linear-transfer setting: the victim trains a softmax layer on the
//! frozen features of the attacker's feature extractor.
#![allow(clippy::unwrap_used)] // test helpers panic on broken fixtures

use std::sync::OnceLock;

use poisonlab_bullseye_polytope::{BullseyePolytope, BullseyePolytopeParams};
use poisonlab_core::seed::stream;
use poisonlab_core::{Attack, AttackInput, Classifier, Dataset, Poisoned};
use poisonlab_data::SyntheticDigitsParams;
use poisonlab_model::{BurnTrainer, ModelKind, ModelParams, TrainedModel};

/// 400 training and 100 test digits, and a small MLP trained on them.
fn setup() -> &'static (Dataset, Dataset, TrainedModel) {
    static SETUP: OnceLock<(Dataset, Dataset, TrainedModel)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let s = SyntheticDigitsParams {
            train: 400,
            test: 100,
        }
        .generate(&mut stream(0, 0, "data"));
        let model = BurnTrainer::new(ModelParams {
            kind: ModelKind::Mlp,
            hidden: vec![64, 32],
            epochs: 5,
            ..ModelParams::default()
        })
        .fit(&s.train, &mut stream(0, 0, "model"))
        .unwrap();
        (s.train, s.test, model)
    })
}

fn attack(params: BullseyePolytopeParams, seed: u64) -> Poisoned {
    let (train, test, model) = setup();
    BullseyePolytope::new(params)
        .unwrap()
        .poison(
            AttackInput::new(train, test).with_surrogate(model),
            &mut stream(seed, 0, "attack"),
        )
        .unwrap()
}

/// ½‖mean embedding of `poisons` − embedding of `target`‖² / ‖embedding of `target`‖².
fn bullseye_loss(model: &dyn Classifier, poisons: &Dataset, target: &Dataset) -> f32 {
    let (e, t) = (model.embed(poisons), model.embed(target));
    let mut r: Vec<f32> = t.row(0).iter().map(|v| -v).collect();
    for i in 0..e.rows {
        for (r, v) in r.iter_mut().zip(e.row(i)) {
            *r += v / e.rows as f32;
        }
    }
    let sq = |v: &[f32]| v.iter().map(|a| a * a).sum::<f32>();
    0.5 * sq(&r) / sq(t.row(0))
}

/// The victim's softmax layer trained on `model`'s frozen features of
/// `train`, and its probability of `class` for each of `inputs`.
fn transfer_proba(
    model: &dyn Classifier,
    train: &Dataset,
    inputs: &Dataset,
    class: usize,
) -> Vec<f32> {
    let features = |d: &Dataset| {
        let e = model.embed(d);
        Dataset::new(
            e.data,
            vec![e.cols],
            d.labels().to_vec(),
            d.n_classes(),
            None,
        )
        .unwrap()
    };
    let head = BurnTrainer::new(ModelParams {
        kind: ModelKind::Logreg,
        epochs: 30,
        learning_rate: 0.01,
        ..ModelParams::default()
    })
    .fit(&features(train), &mut stream(0, 0, "head"))
    .unwrap();
    let p = head.predict_proba(&features(inputs));
    (0..p.rows).map(|i| p.row(i)[class]).collect()
}

fn one_target() -> BullseyePolytopeParams {
    BullseyePolytopeParams {
        targets: 1,
        iterations: 100,
        ..BullseyePolytopeParams::default()
    }
}

#[test]
fn crafting_lowers_the_bullseye_loss_within_the_ball() {
    let (train, _, model) = setup();
    let eps = one_target().epsilon as f32;
    for seed in 0..3 {
        let p = attack(one_target(), seed);
        assert_eq!(p.data.labels(), train.labels());
        let picks: Vec<usize> = (0..train.len()).filter(|&i| p.is_poison[i]).collect();
        assert_eq!(picks.len(), 5);
        for &i in &picks {
            assert_eq!(train.labels()[i], 1);
            for (&v, &b) in p.data.sample(i).iter().zip(train.sample(i)) {
                assert!((v - b).abs() <= eps + 1e-6 && (0.0..=1.0).contains(&v));
            }
        }
        let target = &p.attack_test.as_ref().unwrap().inputs;
        let before = bullseye_loss(model, &train.subset(&picks), target);
        let after = bullseye_loss(model, &p.data.subset(&picks), target);
        eprintln!("seed {seed}: loss {before:.4} → {after:.4}");
        assert!(after < 0.8 * before, "seed {seed}: {before} → {after}");
    }
}

#[test]
fn poisons_pull_the_targets_toward_the_base_class() {
    let (train, _, model) = setup();
    let p = attack(
        BullseyePolytopeParams {
            targets: 3,
            poisons_per_target: 10,
            iterations: 100,
            ..BullseyePolytopeParams::default()
        },
        0,
    );
    let targets = &p.attack_test.as_ref().unwrap().inputs;
    // The unperturbed starting poisons are the clean bases: the clean set.
    let clean = transfer_proba(model, train, targets, 1);
    let poisoned = transfer_proba(model, &p.data, targets, 1);
    eprintln!("P(base class) clean {clean:?}, poisoned {poisoned:?}");
    for (c, q) in clean.iter().zip(&poisoned) {
        assert!(q > c, "{clean:?} → {poisoned:?}");
    }
    let sum = |v: &[f32]| v.iter().sum::<f32>();
    assert!(
        sum(&poisoned) > 3.0 * sum(&clean),
        "{clean:?} → {poisoned:?}"
    );
}

#[test]
fn crafting_on_a_real_model_is_deterministic() {
    let a = attack(one_target(), 5);
    let b = attack(one_target(), 5);
    assert_eq!(a.is_poison, b.is_poison);
    assert_eq!(a.data.to_features(), b.data.to_features());
}
