//! A rough time estimate of a scenario (`poisonlab list --scenario`).

use poisonlab_scenario::{Family, Scenario};

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
/// `n_train` samples at the throughput of [`samples_per_second`]. Defense
/// inspection and evaluation are left out, so read it as a lower bound.
pub fn estimate_seconds(scenario: &Scenario, n_train: usize, threads: usize) -> f64 {
    let per_run = |p: &poisonlab_scenario::Point| {
        let filters = p
            .defenses
            .iter()
            .filter(|d| d.kind.is_filter() || matches!(d.kind.family(), Family::Provenance(_)))
            .count();
        let trainings = 2 + filters + 2;
        trainings as f64 * p.model.epochs as f64 * n_train as f64
            / samples_per_second(&p.model.kind)
    };
    let total: f64 =
        scenario.points.iter().map(per_run).sum::<f64>() * scenario.meta.repeats as f64;
    total / threads.max(1) as f64
}
