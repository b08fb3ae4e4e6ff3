//! Training, inference and embedding throughput (samples/s) of the MLP and
//! the CNN on synthetic digits at batch 64 and 256, one thread, one epoch or
//! pass over 1 024 samples per iteration. `poisonlab bench` prints the same
//! figures as a table next to bench/pytorch_reference.py's.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use poisonlab_core::Classifier;
use poisonlab_core::seed::stream;
use poisonlab_data::SyntheticDigitsParams;
use poisonlab_model::{BurnTrainer, ModelKind, ModelParams};

const SAMPLES: usize = 1024;

fn bench_models(c: &mut Criterion) {
    let digits = SyntheticDigitsParams {
        train: SAMPLES,
        test: 1,
    }
    .generate(&mut stream(0, 0, "data"));
    for (kind, name) in [(ModelKind::Mlp, "mlp"), (ModelKind::Cnn, "cnn")] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(SAMPLES as u64));
        group.sample_size(10);
        for batch in [64, 256] {
            let trainer = BurnTrainer::new(ModelParams {
                kind,
                epochs: 1,
                batch_size: batch,
                ..ModelParams::default()
            });
            group.bench_function(format!("train-batch{batch}"), |b| {
                b.iter(|| trainer.fit(&digits.train, &mut stream(0, 0, "model")))
            });
            let Ok(model) = trainer.fit(&digits.train, &mut stream(0, 0, "model")) else {
                panic!("training the benchmark model failed");
            };
            let model = model.with_eval_batch(batch);
            group.bench_function(format!("infer-batch{batch}"), |b| {
                b.iter(|| model.predict_proba(&digits.train))
            });
            group.bench_function(format!("embed-batch{batch}"), |b| {
                b.iter(|| model.embed(&digits.train))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_models);
criterion_main!(benches);
