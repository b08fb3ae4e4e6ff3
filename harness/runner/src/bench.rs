//! `poisonlab bench`: model throughput and defense times on synthetic digits,
//! measured on one thread, in the same shape as `bench/pytorch_reference.py`
//! prints, so the two can be put side by side.
//!
//! Each figure is the best of `reps` timed repetitions after one untimed
//! warm-up: the steady state a long sweep sees, without the first-call costs
//! (page faults, lazily built kernels).

use std::time::Instant;

use poisonlab_core::seed::stream;
use poisonlab_core::{
    AttackInput, Classifier, Dataset, DefenseInput, OutputLayer, RepairInput, RoundView,
    ScreenInput, UpdateRound,
};
use poisonlab_data::SyntheticDigitsParams;
use poisonlab_integrity::{Manifest, SignedSet, SigningKey};
use poisonlab_model::{BurnTrainer, ModelKind, ModelParams, TrainedModel, backend};
use poisonlab_scenario::{AttackSpec, DefenseKind, Family, kinds};
use rand::Rng as _;
use serde::Serialize;

use crate::RunError;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Samples per training epoch and per inference pass.
    pub samples: usize,
    /// Training samples the defenses inspect.
    pub defense_samples: usize,
    /// Batch sizes for training and inference.
    pub batches: Vec<usize>,
    /// Models to measure.
    pub models: Vec<ModelKind>,
    /// Timed repetitions per figure (the best is kept).
    pub reps: usize,
    /// Skip the defenses.
    pub no_defenses: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            samples: 8192,
            defense_samples: 10_000,
            batches: vec![64, 256],
            models: vec![ModelKind::Mlp, ModelKind::Cnn],
            reps: 3,
            no_defenses: false,
        }
    }
}

/// Throughput of one model at one batch size, samples per second.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ModelBench {
    /// `mlp` or `cnn`.
    pub model: String,
    /// Batch size for training and inference.
    pub batch: usize,
    /// Training (forward, backward, Adam step), samples/s.
    pub train: f64,
    /// Inference to class probabilities, samples/s.
    pub infer: f64,
    /// Penultimate-layer embeddings, samples/s.
    pub embed: f64,
}

/// Wall time of one defense.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DefenseBench {
    /// The defense kind.
    pub defense: String,
    /// What was timed.
    pub what: String,
    /// Samples inspected.
    pub samples: usize,
    /// Best wall time, seconds.
    pub seconds: f64,
}

/// Everything `poisonlab bench` measured.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct BenchReport {
    /// The Burn backend.
    pub backend: String,
    /// The kernel set the matrix products and element-wise kernels ran
    /// with on this machine (`poisonlab_model::backend::kernel_set`):
    /// figures from machines with different sets do not compare.
    pub kernels: String,
    /// Threads used (always 1: the figures are per run).
    pub threads: usize,
    /// Samples per training epoch and inference pass.
    pub samples: usize,
    /// Model throughput rows.
    pub models: Vec<ModelBench>,
    /// Defense timings.
    pub defenses: Vec<DefenseBench>,
}

fn best<T>(reps: usize, mut f: impl FnMut() -> Result<T, RunError>) -> Result<f64, RunError> {
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        std::hint::black_box(f()?);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn model_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Logreg => "logreg",
        ModelKind::Mlp => "mlp",
        ModelKind::Cnn => "cnn",
    }
}

fn fit(params: ModelParams, data: &Dataset) -> Result<TrainedModel, RunError> {
    BurnTrainer::new(params)
        .fit(data, &mut stream(0, 0, "bench:model"))
        .map_err(|e| RunError::Bench(format!("training failed: {e}")))
}

/// Measure; `step` hears what is being measured.
pub fn bench(opts: &BenchOptions, step: &dyn Fn(&str)) -> Result<BenchReport, RunError> {
    if opts.samples == 0 || opts.defense_samples < 100 {
        return Err(RunError::Bench(
            "--samples must be at least 1 and --defense-samples at least 100".into(),
        ));
    }
    if opts.batches.contains(&0) {
        return Err(RunError::Bench("every --batch must be at least 1".into()));
    }
    let digits = SyntheticDigitsParams {
        train: opts.samples,
        test: 1,
    }
    .generate(&mut stream(0, 0, "bench:data"));
    let data = digits.train;
    let warm = data.subset(&(0..data.len().min(256)).collect::<Vec<_>>());
    let mut models = Vec::new();
    for &kind in &opts.models {
        for &batch in &opts.batches {
            let name = model_name(kind);
            step(&format!("{name}, batch {batch}"));
            let params = ModelParams {
                kind,
                epochs: 1,
                batch_size: batch,
                ..ModelParams::default()
            };
            // The warm-up: a small training whose model the inference figures use.
            let model = fit(params.clone(), &warm)?.with_eval_batch(batch);
            model.predict_proba(&warm);
            let train = best(opts.reps, || fit(params.clone(), &data))?;
            let infer = best(opts.reps, || Ok(model.predict_proba(&data)))?;
            let embed = best(opts.reps, || Ok(model.embed(&data)))?;
            let n = data.len() as f64;
            models.push(ModelBench {
                model: name.into(),
                batch,
                train: n / train,
                infer: n / infer,
                embed: n / embed,
            });
        }
    }
    let defenses = if opts.no_defenses {
        Vec::new()
    } else {
        defense_times(opts, step)?
    };
    Ok(BenchReport {
        kernels: poisonlab_model::backend::kernel_set(),
        backend: backend::NAME.into(),
        threads: 1,
        samples: data.len(),
        models,
        defenses,
    })
}

/// Each defense on a BadNets-poisoned set (5 % → class 0) of synthetic
/// digits, inspecting the MLP trained on it (3 epochs, not timed).
fn defense_times(opts: &BenchOptions, step: &dyn Fn(&str)) -> Result<Vec<DefenseBench>, RunError> {
    let n = opts.defense_samples;
    step(&format!("defenses: preparing {n} poisoned samples"));
    let digits = SyntheticDigitsParams {
        train: n + 1000,
        test: 1000,
    }
    .generate(&mut stream(0, 0, "bench:defense-data"));
    let all: Vec<usize> = (0..digits.train.len()).collect();
    let (train_idx, trusted_idx) = all.split_at(n);
    let train = digits.train.subset(train_idx);
    let trusted = digits.train.subset(trusted_idx);
    let attack = AttackSpec::with_defaults("badnets").map_err(RunError::Bench)?;
    let poisoned = attack
        .attack()
        .poison(
            AttackInput::new(&train, &digits.test),
            &mut stream(0, 0, "bench:attack"),
        )
        .map_err(RunError::Bench)?;
    let model = fit(
        ModelParams {
            epochs: 3,
            ..ModelParams::default()
        },
        &poisoned.data,
    )?;
    let key = SigningKey::from_bytes(&[7; 32]);
    let signed = SignedSet {
        manifest: Manifest::sign(&train, "bench", "bench", &key)
            .map_err(|e| RunError::Bench(e.to_string()))?,
        public: key.verifying_key(),
    };
    let mut out = Vec::new();
    // Every defense of the kind table, with its default parameters, by family.
    for entry in kinds::DEFENSES.iter().chain(kinds::AGGREGATORS) {
        step(&format!("defense {}", entry.name));
        let kind = DefenseKind::with_defaults(entry.name).map_err(RunError::Bench)?;
        let bench_err = |e: String| RunError::Bench(format!("{}: {e}", entry.name));
        let (what, seconds) = match kind.family() {
            Family::Filter(filter) => {
                let seconds = best(opts.reps, || {
                    let input = DefenseInput::new(&poisoned.data, &model, Some(&trusted));
                    filter
                        .inspect(input, &mut stream(0, 0, "bench:defense"))
                        .map_err(bench_err)
                })?;
                ("inspect the training set".to_string(), seconds)
            }
            Family::InputDetector(detector) => {
                let seconds = best(opts.reps, || {
                    let input = ScreenInput::new(&model, &trusted, &poisoned.data, None);
                    detector
                        .screen(input, &mut stream(0, 0, "bench:strip"))
                        .map_err(bench_err)
                })?;
                (
                    format!("calibrate on {} trusted, screen the inputs", trusted.len()),
                    seconds,
                )
            }
            Family::Monitor(maker) => {
                let seconds = best(opts.reps, || {
                    let mut monitor = maker.fresh();
                    for round in 1..=2 {
                        let view = RoundView {
                            round,
                            batch: &poisoned.data,
                            model: &model,
                            reference: &model,
                            audit: Some(&trusted),
                            streams: poisonlab_core::Streams { seed: 0, repeat: 0 },
                        };
                        monitor.observe(view).map_err(bench_err)?;
                    }
                    Ok(())
                })?;
                ("observe two rounds of the set".to_string(), seconds)
            }
            Family::Repair(repair) => {
                let trainer = BurnTrainer::new(ModelParams::default());
                let seconds = best(opts.reps, || {
                    let input = RepairInput::new(&model, &poisoned.data, Some(&trusted), &trainer);
                    repair
                        .repair(input, &mut stream(0, 0, "bench:repair"))
                        .map_err(bench_err)
                })?;
                (
                    format!("repair the model ({} trusted samples)", trusted.len()),
                    seconds,
                )
            }
            Family::Provenance(check) => {
                let seconds = best(opts.reps, || {
                    let m = Manifest::sign(&train, "bench", "bench", &key)
                        .map_err(|e| RunError::Bench(e.to_string()))?;
                    Ok((m, check.verify(&signed, &poisoned.data)))
                })?;
                ("sign, then verify the poisoned set".to_string(), seconds)
            }
            Family::Aggregator(maker) => {
                let (updates, root) = aggregator_round();
                let clients: Vec<usize> = (0..updates.len()).collect();
                let samples = vec![1200; updates.len()];
                let seconds = best(opts.reps, || {
                    let round = UpdateRound {
                        round: 1,
                        clients: &clients,
                        updates: &updates,
                        samples: &samples,
                        root: Some(&root),
                        output_layer: OutputLayer::last(MLP_PARAMETERS, 64, 10),
                    };
                    maker
                        .fresh()
                        .aggregate(round, &mut stream(0, 0, "bench:aggregate"))
                        .map_err(bench_err)
                })?;
                (
                    format!(
                        "aggregate {} updates of {MLP_PARAMETERS} parameters (the MLP)",
                        updates.len()
                    ),
                    seconds,
                )
            }
        };
        // An aggregator's inputs are the 50 updates, not samples.
        let samples = match kind.family() {
            Family::Aggregator(_) => AGGREGATED_UPDATES,
            _ => n,
        };
        out.push(DefenseBench {
            defense: entry.name.into(),
            what,
            samples,
            seconds,
        });
    }
    Ok(out)
}

impl BenchReport {
    /// The figures as Markdown tables.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "Backend {}, {} thread, {} samples per pass, best of the timed repetitions.\n\
             Kernels: {}.\n\n\
             | model | batch | train samples/s | inference samples/s | embedding samples/s |\n\
             |---|---:|---:|---:|---:|\n",
            self.backend, self.threads, self.samples, self.kernels
        );
        for m in &self.models {
            s += &format!(
                "| {} | {} | {:.0} | {:.0} | {:.0} |\n",
                m.model, m.batch, m.train, m.infer, m.embed
            );
        }
        if !self.defenses.is_empty() {
            s += "\n| defense | what | samples | seconds |\n|---|---|---:|---:|\n";
            for d in &self.defenses {
                s += &format!(
                    "| {} | {} | {} | {:.3} |\n",
                    d.defense, d.what, d.samples, d.seconds
                );
            }
        }
        s
    }
}

/// Client updates one aggregator benchmark round holds.
const AGGREGATED_UPDATES: usize = 50;

/// Parameters of the MLP 784 → 128 → 64 → 10.
const MLP_PARAMETERS: usize = 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10;

/// 50 client updates of the MLP's size and a root update, small Gaussian-like
/// values from a fixed stream: what an aggregator sees in one round.
fn aggregator_round() -> (Vec<Vec<f32>>, Vec<f32>) {
    let mut rng = stream(0, 0, "bench:updates");
    let mut draw = || -> Vec<f32> {
        (0..MLP_PARAMETERS)
            .map(|_| (rng.random::<f32>() - 0.5) * 0.02)
            .collect()
    };
    let updates = (0..AGGREGATED_UPDATES).map(|_| draw()).collect();
    (updates, draw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_is_measured_and_positive() {
        let opts = BenchOptions {
            samples: 128,
            defense_samples: 300,
            batches: vec![64],
            reps: 1,
            ..BenchOptions::default()
        };
        let report = bench(&opts, &|_| {}).expect("bench runs");
        assert_eq!(report.models.len(), 2);
        for m in &report.models {
            assert!(m.train > 0.0 && m.infer > 0.0 && m.embed > 0.0, "{m:?}");
        }
        // Every defense and aggregator of the kind tables, in their order.
        let names: Vec<&str> = report.defenses.iter().map(|d| d.defense.as_str()).collect();
        let table: Vec<&str> = kinds::DEFENSES
            .iter()
            .chain(kinds::AGGREGATORS)
            .map(|e| e.name)
            .collect();
        assert_eq!(names, table);
        assert!(report.defenses.iter().all(|d| d.seconds > 0.0));
        let table = report.markdown();
        assert!(table.contains("| mlp | 64 |") && table.contains("| provenance |"));
        let krum = report.defenses.iter().find(|d| d.defense == "krum");
        assert_eq!(krum.map(|d| d.samples), Some(AGGREGATED_UPDATES));
    }

    #[test]
    fn bad_options_are_refused() {
        for opts in [
            BenchOptions {
                samples: 0,
                ..BenchOptions::default()
            },
            BenchOptions {
                batches: vec![0],
                ..BenchOptions::default()
            },
        ] {
            assert!(matches!(bench(&opts, &|_| {}), Err(RunError::Bench(_))));
        }
    }
}
