//! Measures how long Witches' Brew takes to craft the poisons of one target
//! with its default parameters, on a surrogate trained on 3000 synthetic
//! digits (28 × 28): the default MLP (784-128-64-10) and the CNN; then
//! trains a victim with another seed on the clean and on the poisoned data
//! and prints its base-class probability on the targets.
//!
//! `cargo run --release -p poisonlab-witches-brew --example witches_brew_craft_time [mlp|cnn]`

use std::time::Instant;

use poisonlab_core::seed::stream;
use poisonlab_core::{Attack, AttackInput, Classifier, ModelKind, ModelParams};
use poisonlab_data::SyntheticDigitsParams;
use poisonlab_model::BurnTrainer;
use poisonlab_witches_brew::{WitchesBrew, WitchesBrewParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kinds: Vec<String> = std::env::args().skip(1).collect();
    let kinds = if kinds.is_empty() {
        vec!["mlp".to_string(), "cnn".to_string()]
    } else {
        kinds
    };
    let data = SyntheticDigitsParams::default().generate(&mut stream(0, 0, "data"));
    for name in kinds {
        let (kind, targets) = match name.as_str() {
            "mlp" => (ModelKind::Mlp, 5),
            "cnn" => (ModelKind::Cnn, 1),
            other => return Err(format!("unknown model {other:?}: mlp or cnn").into()),
        };
        let t = Instant::now();
        let trainer = BurnTrainer::new(ModelParams {
            kind,
            ..ModelParams::default()
        });
        let model = trainer.fit(&data.train, &mut stream(0, 0, "model"))?;
        println!("{name}: trained in {:.1} s", t.elapsed().as_secs_f64());
        let params = WitchesBrewParams {
            targets,
            ..WitchesBrewParams::default()
        };
        let attack = WitchesBrew::new(params).map_err(|e| format!("{e:?}"))?;
        let t = Instant::now();
        let poisoned = attack.poison(
            AttackInput::new(&data.train, &data.test).with_surrogate(&model),
            &mut stream(0, 0, "attack"),
        )?;
        let secs = t.elapsed().as_secs_f64();
        let test = poisoned.attack_test.ok_or("no attack test")?;
        let p = model.predict_proba(&test.inputs);
        println!(
            "{name}: {targets} targets × {} poisons in {secs:.2} s, {:.2} s per target; \
             surrogate p(base) on targets {:?}",
            attack.params().poisons_per_target,
            secs / targets as f64,
            (0..p.rows)
                .map(|i| p.row(i)[test.targets[i]])
                .collect::<Vec<_>>()
        );
        // Victims trained from scratch with another seed, on clean and poisoned data.
        for (what, train) in [("clean", &data.train), ("poisoned", &poisoned.data)] {
            let victim = trainer.fit(train, &mut stream(1, 0, "victim"))?;
            let p = victim.predict_proba(&test.inputs);
            println!(
                "{name}: victim trained on {what} data: p(base) on targets {:?}",
                (0..p.rows)
                    .map(|i| p.row(i)[test.targets[i]])
                    .collect::<Vec<_>>()
            );
        }
    }
    Ok(())
}
