//! A rough time estimate of a scenario (`poisonlab list --scenario`).

use poisonlab_scenario::{Family, Point, Scenario};

/// Training throughput assumed by [`estimate_seconds`], samples per second
/// on one core (release build, batch 64, measured with `poisonlab bench` on a
/// 2-core machine: MLP 196–204 k, 176 k inside a 60 000-sample run; CNN
/// 5.7–5.9 k; softmax regression is taken as twice the MLP).
fn samples_per_second(kind: &poisonlab_core::ModelKind) -> f64 {
    use poisonlab_core::ModelKind;
    match kind {
        ModelKind::Logreg => 350_000.0,
        ModelKind::Mlp => 175_000.0,
        ModelKind::Cnn => 5_700.0,
    }
}

/// A rough wall-time estimate of a scenario on `threads` threads, from the
/// training it implies: per run a clean and a poisoned model, one retraining
/// per filter and per reference (perfect, random), each `epochs` passes over
/// `n_train` samples at the throughput of [`samples_per_second`] (federated:
/// every federation's local training; transfer: pretraining and
/// fine-tuning). Defense inspection and evaluation are left out, so read it
/// as a lower bound.
pub fn estimate_seconds(scenario: &Scenario, n_train: usize, threads: usize) -> f64 {
    let per_run = |p: &Point| run_seconds(p, n_train);
    let total: f64 =
        scenario.points.iter().map(per_run).sum::<f64>() * scenario.meta.repeats as f64;
    total / threads.max(1) as f64
}

/// The rough one-core seconds of one run of point `p` on `n_train`
/// training samples, as [`estimate_seconds`] counts them (`run --shard`
/// balances its slices by it).
pub fn run_seconds(p: &Point, n_train: usize) -> f64 {
    let filters = p
        .defenses
        .iter()
        .filter(|d| d.kind.is_filter() || matches!(d.kind.family(), Family::Provenance(_)))
        .count();
    let trainings = (2 + filters + 2) as f64;
    let samples = match (p.training.federated(), p.training.transfer()) {
        // Every federation (clean, undefended, each aggregator, the two
        // references) trains the selected clients' data each round.
        (Some(f), _) => {
            let aggregators = p
                .defenses
                .iter()
                .filter(|d| matches!(d.kind.family(), Family::Aggregator(_)))
                .count();
            let per_client = n_train as f64 / f.clients.max(1) as f64;
            (4 + aggregators) as f64 * (f.rounds * f.per_round * f.local_epochs) as f64 * per_client
        }
        // Each pipeline pretrains (pretraining-stage attacks) or reuses
        // one base, then fine-tunes on about half the data.
        (None, Some(t)) => {
            let half = n_train as f64 / 2.0;
            half * t.pretrain_epochs as f64 * (1.0 + trainings)
                + half * t.fine_tune_epochs as f64 * trainings
        }
        (None, None) => trainings * p.model.epochs as f64 * n_train as f64,
    };
    samples / samples_per_second(&p.model.kind)
}
