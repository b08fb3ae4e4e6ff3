//! One round of 50 updates of 109 386 values (the parameter count of the
//! MNIST MLP, 784 → 128 → 64 → 10) through the aggregators whose cost grows
//! with n² d or n d log n: Krum, Multi-Krum, Bulyan, median, trimmed mean,
//! FoolsGold; FedAvg as the O(n d) baseline. Updates are uniform in
//! [-0.01, 0.01), from a seeded stream.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use poisonlab_core::{
    BuildContext, DataFacts, Kind, OutputLayer, UpdateAggregator, UpdateRound, stream,
};
use poisonlab_robust_aggregation::{
    AggregationError, Bulyan, BulyanParams, FedAvg, FedAvgParams, FoolsGold, FoolsGoldParams, Krum,
    KrumParams, Median, MedianParams, MultiKrum, MultiKrumParams, TrimmedMean, TrimmedMeanParams,
};
use rand::Rng as _;

const CLIENTS: usize = 50;
const PARAMETERS: usize = 109_386;

type Boxed = Box<dyn UpdateAggregator<Error = AggregationError>>;

fn kinds(ctx: &BuildContext<'_>) -> Result<Vec<(&'static str, Boxed)>, String> {
    let e = |e: Vec<poisonlab_core::ParamError>| format!("{e:?}");
    Ok(vec![
        (
            "fedavg",
            Box::new(FedAvg::build(FedAvgParams {}, ctx).map_err(e)?),
        ),
        (
            "krum",
            Box::new(Krum::build(KrumParams::default(), ctx).map_err(e)?),
        ),
        (
            "multi-krum",
            Box::new(MultiKrum::build(MultiKrumParams::default(), ctx).map_err(e)?),
        ),
        (
            "bulyan",
            Box::new(Bulyan::build(BulyanParams::default(), ctx).map_err(e)?),
        ),
        (
            "median",
            Box::new(Median::build(MedianParams {}, ctx).map_err(e)?),
        ),
        (
            "trimmed-mean",
            Box::new(TrimmedMean::build(TrimmedMeanParams::default(), ctx).map_err(e)?),
        ),
        (
            "foolsgold",
            Box::new(FoolsGold::build(FoolsGoldParams::default(), ctx).map_err(e)?),
        ),
    ])
}

fn bench_aggregators(c: &mut Criterion) {
    let mut rng = stream(0, 0, "bench");
    let updates: Vec<Vec<f32>> = (0..CLIENTS)
        .map(|_| {
            (0..PARAMETERS)
                .map(|_| rng.random_range(-0.01..0.01))
                .collect()
        })
        .collect();
    let clients: Vec<usize> = (0..CLIENTS).collect();
    let samples = vec![600; CLIENTS];
    let round = UpdateRound {
        round: 1,
        clients: &clients,
        updates: &updates,
        samples: &samples,
        root: None,
        output_layer: OutputLayer::last(PARAMETERS, 64, 10),
    };
    let facts = DataFacts::default();
    let ctx = BuildContext::new(Path::new("."), &facts).with_per_round(Some(CLIENTS));
    let kinds = match kinds(&ctx) {
        Ok(k) => k,
        Err(e) => panic!("building the benchmark's aggregators failed: {e}"),
    };
    let mut group = c.benchmark_group(format!("aggregate-{CLIENTS}x{PARAMETERS}"));
    group.throughput(Throughput::Elements((CLIENTS * PARAMETERS) as u64));
    group.sample_size(10);
    for (name, mut aggregator) in kinds {
        group.bench_function(name, |b| {
            b.iter(|| aggregator.aggregate(round, &mut stream(0, 0, "aggregate")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_aggregators);
criterion_main!(benches);
