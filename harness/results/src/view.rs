//! The one view of a results folder that report.md and report.html both
//! render: how the scenario is described, how a metric reads as a cell, and
//! in which order the defenses are listed.

use poisonlab_scenario::{Scenario, Source, Training};

use crate::record::RunRecord;
use crate::summary::PointSummary;
use crate::summary::indexmap_like::OrderedMap;

/// Data, model and attack lines, as report.md words them.
pub(crate) fn describe(scenario: &Scenario) -> Vec<(&'static str, String)> {
    let data = match &scenario.data.source {
        Source::SyntheticDigits(p) => format!(
            "synthetic-digits ({} train / {} test generated)",
            p.train, p.test
        ),
        Source::Blobs(p) => format!("blobs ({} classes, {} dimensions)", p.classes, p.dim),
        Source::Idx(p) => format!("idx files ({})", p.train_images.display()),
        Source::Cifar10(dir) => format!("cifar10 batches ({})", dir.display()),
        Source::Csv(p) => format!(
            "csv files ({}, label column {:?})",
            p.train.display(),
            p.label_column
        ),
        Source::Recipe(p) => format!(
            "generated, read through its recipe ({}; checked by making it again)",
            p.recipe.display()
        ),
    };
    let first = scenario.points.first();
    let model = first.map_or(String::new(), |p| {
        if p.training.federated().is_some() {
            // The clients train it: epochs, batch and rate are the federation's.
            return format!(
                "{}, trained by the clients (see training)",
                format!("{:?}", p.model.kind).to_lowercase()
            );
        }
        format!(
            "{:?}, {} epochs, batch {}, Adam lr {}",
            p.model.kind, p.model.epochs, p.model.batch_size, p.model.learning_rate
        )
        .to_lowercase()
    });
    let attack = first.map_or("none".into(), |p| {
        format!("{} (acts at the {:?})", p.attack.describe(), p.attack_at).to_lowercase()
    });
    let mut lines = vec![("data", data), ("model", model)];
    // The default regime goes unsaid, as before regimes existed.
    if let Some(p) = first
        && p.training != Training::Central
    {
        let mut training = p.training.describe();
        // A sweep of the federation's keys: the line holds at the first point.
        let swept: Vec<&str> = scenario
            .sweep
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| k.starts_with("federated."))
            .collect();
        if p.training.federated().is_some() && !swept.is_empty() {
            training.push_str(&format!(
                " (at the first point; swept: {})",
                swept.join(", ")
            ));
        }
        lines.push(("training", training));
    }
    lines.push(("attack", attack));
    lines
}

/// A mean and the half-width of its 95 % confidence interval (none for one repeat).
pub(crate) type Stat = (f64, Option<f64>);

/// Mean and 95 % CI half-width of `key`, when defined.
pub(crate) fn stat(metrics: &OrderedMap, key: &str) -> Option<Stat> {
    metrics
        .get(key)
        .filter(|s| s.mean.is_finite())
        .map(|s| (s.mean, s.ci95.filter(|c| c.is_finite())))
}

/// `mean ± ci95` with three decimals; `—` when undefined.
pub(crate) fn cell(metrics: &OrderedMap, key: &str) -> String {
    match metrics.get(key) {
        None => "—".into(),
        Some(s) => match s.ci95 {
            Some(ci) => format!("{:.3} ± {:.3}", s.mean, ci),
            None => format!("{:.3}", s.mean),
        },
    }
}

/// A count: an integer when every repeat agrees, else the mean with one decimal.
pub(crate) fn count_cell(metrics: &OrderedMap, key: &str) -> String {
    match metrics.get(key) {
        None => "—".into(),
        Some(s) if s.std.is_none_or(|sd| sd == 0.0) => format!("{}", s.mean.round()),
        Some(s) => format!("{:.1}", s.mean),
    }
}

/// Defense names and kinds in first-seen order.
pub(crate) fn defenses_of<'a>(
    records: impl Iterator<Item = &'a RunRecord>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in records {
        for d in &r.defenses {
            if !out.iter().any(|(n, _)| *n == d.name) {
                out.push((d.name.clone(), d.kind.clone()));
            }
        }
    }
    out
}

pub(crate) fn names_of<'a>(
    listed: &'a [(String, String)],
    kind: &'a str,
) -> impl Iterator<Item = &'a String> + 'a {
    listed
        .iter()
        .filter(move |(_, k)| k == kind)
        .map(|(n, _)| n)
}

/// Filter rows as report.md orders them: the `perfect` ceiling, the filters
/// (and provenance) by `f1` best first (undefined last, then in listed order),
/// then the other references. `true` marks a reference.
pub(crate) fn filter_rows(
    listed: &[(String, String)],
    f1: impl Fn(&str) -> Option<f64>,
) -> Vec<(String, bool)> {
    let mut filters: Vec<&String> = names_of(listed, "filter")
        .chain(names_of(listed, "provenance"))
        .collect();
    filters.sort_by(|a, b| match (f1(a), f1(b)) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let references: Vec<&String> = names_of(listed, "reference").collect();
    references
        .iter()
        .filter(|n| **n == "perfect")
        .map(|n| ((*n).clone(), true))
        .chain(filters.into_iter().map(|n| (n.clone(), false)))
        .chain(
            references
                .iter()
                .filter(|n| **n != "perfect")
                .map(|n| ((*n).clone(), true)),
        )
        .collect()
}

/// The points a large sweep details (ROC curves, matrix rows, `run`'s
/// summary): those whose value of the first swept key is in `wanted`
/// (`[report] roc-points`), else those of its first, middle and last value.
pub(crate) fn chosen_points(
    summary: &[PointSummary],
    wanted: &[serde_json::Value],
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let Some(key) = summary.first().and_then(|p| p.point.keys().next()) else {
        return summary.iter().map(|p| p.point.clone()).collect();
    };
    let mut values: Vec<&serde_json::Value> = Vec::new();
    for p in summary {
        if let Some(x) = p.point.get(key)
            && !values.contains(&x)
        {
            values.push(x);
        }
    }
    let picked: Vec<&serde_json::Value> = if wanted.is_empty() {
        let n = values.len();
        let mut idx = vec![0, n / 2, n.saturating_sub(1)];
        idx.dedup();
        idx.into_iter()
            .filter_map(|i| values.get(i).copied())
            .collect()
    } else {
        // Numbers compare by value (0.1 in the scenario, 0.1 in the records).
        let same = |w: &serde_json::Value, v: &serde_json::Value| {
            w == v || matches!((w.as_f64(), v.as_f64()), (Some(a), Some(b)) if a == b)
        };
        values
            .into_iter()
            .filter(|v| wanted.iter().any(|w| same(w, v)))
            .collect()
    };
    summary
        .iter()
        .filter(|p| p.point.get(key).is_some_and(|x| picked.contains(&x)))
        .map(|p| p.point.clone())
        .collect()
}
