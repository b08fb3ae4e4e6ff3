//! Crafting time and effect of MetaPoison on synthetic digits (28 × 28).
//!
//! `cargo run -p poisonlab-metapoison --example metapoison_craft_time -- [mlp|cnn] [key=value …]`
//!
//! Trains the run-like clean model (the default `[model]` table of the given
//! kind), poisons with the default parameters but for the `[attack]` keys
//! given (TOML values, e.g. `targets=1 epsilon=0.1`), and prints the
//! crafting time with the run's surrogate alone and with the ensemble, then
//! retrains a victim on the clean and the poisoned set (same seed) and prints
//! each target's base-class probability under both.

use std::time::Instant;

use poisonlab_core::{Attack, AttackInput, Classifier, ModelKind, ModelParams, stream};
use poisonlab_data::SyntheticDigitsParams;
use poisonlab_metapoison::{MetaPoison, MetaPoisonParams};
use poisonlab_model::BurnTrainer;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = match args.get(1).map(String::as_str) {
        Some("cnn") => ModelKind::Cnn,
        _ => ModelKind::Mlp,
    };
    let table = args.get(2..).unwrap_or_default().join("\n");
    let params: MetaPoisonParams = toml::from_str(&table).expect("attack keys");
    let (targets, steps) = (params.targets, params.steps);
    let splits = SyntheticDigitsParams::default().generate(&mut stream(0, 0, "data"));
    let (train, test) = (splits.train, splits.test);
    let trainer = BurnTrainer::new(ModelParams {
        kind,
        ..ModelParams::default()
    });
    let clean = trainer
        .fit(&train, &mut stream(0, 0, "clean"))
        .expect("clean model");
    let mp = MetaPoison::new(params.clone()).expect("valid parameters");
    let input = AttackInput::new(&train, &test)
        .with_surrogate(&clean)
        .with_trainer(&trainer);
    let start = Instant::now();
    let single = mp
        .poison(
            AttackInput::new(&train, &test).with_surrogate(&clean),
            &mut stream(0, 0, "attack"),
        )
        .expect("poison");
    let t_single = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let poisoned = mp
        .poison(input, &mut stream(0, 0, "attack"))
        .expect("poison");
    let t_ensemble = start.elapsed().as_secs_f64();
    println!(
        "{kind:?}: {targets} target(s), {steps} steps: one surrogate {t_single:.2} s \
         ({:.2} s per target), ensemble of {} incl. training it {t_ensemble:.2} s",
        t_single / targets as f64,
        params.surrogates
    );
    let attack = poisoned.attack_test.expect("targets");
    for (name, data) in [
        ("clean", &train),
        ("poisoned (single)", &single.data),
        ("poisoned (ensemble)", &poisoned.data),
    ] {
        for seed in 0..2 {
            let victim = trainer
                .fit(data, &mut stream(seed, 0, "victim"))
                .expect("victim");
            let p = victim.predict_proba(&attack.inputs);
            let probs: Vec<String> = (0..p.rows)
                .map(|i| format!("{:.1e}", p.row(i)[params.base_class]))
                .collect();
            println!("victim {seed} on {name}: P(base) of targets {probs:?}");
        }
    }
}
