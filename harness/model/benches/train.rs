//! Training throughput (samples/s) of the MLP and the CNN on synthetic digits,
//! batch 64, one epoch over 1 024 samples per iteration, one thread.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use poisonlab_core::seed::stream;
use poisonlab_data::SyntheticDigitsParams;
use poisonlab_model::{BurnTrainer, ModelKind, ModelParams};

const SAMPLES: usize = 1024;

fn bench_training(c: &mut Criterion) {
    let digits = SyntheticDigitsParams {
        train: SAMPLES,
        test: 1,
    }
    .generate(&mut stream(0, 0, "data"));
    let mut group = c.benchmark_group("train-epoch-batch64");
    group.throughput(Throughput::Elements(SAMPLES as u64));
    group.sample_size(10);
    for kind in [ModelKind::Mlp, ModelKind::Cnn] {
        let trainer = BurnTrainer::new(ModelParams {
            kind,
            epochs: 1,
            batch_size: 64,
            ..ModelParams::default()
        });
        group.bench_function(format!("{kind:?}").to_lowercase(), |b| {
            b.iter(|| trainer.fit(&digits.train, &mut stream(0, 0, "model")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_training);
criterion_main!(benches);
