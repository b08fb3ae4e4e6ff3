//! `[expect]`: bounds on summary metrics that `run --check` turns into the exit code.

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::spec::{Reader, sub_table};

/// One expectation: the mean of `metric` over repeats lies within [min, max]
/// at every sweep point, or at the points `at` names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expectation {
    /// Metric key as in summary.json (`poisoned.asr`, `defense.knn-label.tpr`).
    pub metric: String,
    /// Lowest acceptable mean.
    pub min: Option<f64>,
    /// Highest acceptable mean.
    pub max: Option<f64>,
    /// Swept key → value: the expectation holds at the points with these
    /// values (every point when empty).
    pub at: Vec<(String, Value)>,
}

impl Expectation {
    /// Whether the expectation applies at the point with these swept values
    /// (`values(key)` is the point's value of a swept key, as TOML).
    pub fn applies(&self, values: impl Fn(&str) -> Option<Value>) -> bool {
        self.at.iter().all(|(k, v)| values(k).as_ref() == Some(v))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Bounds {
    min: Option<f64>,
    max: Option<f64>,
    at: Option<Table>,
}

/// Read `[expect]`; `sweep` (key → values) is what `at` may name.
pub(crate) fn read(
    r: &mut Reader<'_>,
    root: &Table,
    sweep: &[(String, Vec<Value>)],
) -> Vec<Expectation> {
    let Some(table) = sub_table(r, root, "expect") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // A metric takes one bound table, or an array of them (one per `at`).
    let entries = table.iter().flat_map(|(metric, value)| match value {
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(|v| (metric, v)).collect::<Vec<_>>()
        }
        _ => vec![(metric, value)],
    });
    for (metric, value) in entries {
        let path = ["expect", metric.as_str()];
        let Value::Table(t) = value else {
            r.problem(
                &path,
                "must be a table like { min = 0.9 } or { max = 0.1 }, or an array of such tables",
            );
            continue;
        };
        let Some(b) = r.read::<Bounds>(&path, t) else {
            continue;
        };
        let prefix_ok = ["clean.", "poisoned.", "defense.", "round.", "n-poison"]
            .iter()
            .any(|p| metric.starts_with(p));
        if !prefix_ok {
            r.problem(
                &path,
                "metric must start with clean., poisoned. or defense.<name>.",
            );
        } else if b.min.is_none() && b.max.is_none() {
            r.problem(&path, "give min, max or both");
        } else if let (Some(lo), Some(hi)) = (b.min, b.max)
            && lo > hi
        {
            r.problem(&path, format!("min {lo} is above max {hi}"));
        } else {
            let mut at = Vec::new();
            for (key, value) in b.at.unwrap_or_default() {
                match sweep.iter().find(|(k, _)| *k == key) {
                    Some((_, values)) if values.contains(&value) => at.push((key, value)),
                    Some(_) => r.problem(
                        &path,
                        format!("at: {key} = {value} is not one of the values [sweep] gives it"),
                    ),
                    None => r.problem(
                        &path,
                        format!("at: {key:?} is not a swept key; `at` names points of the [sweep]"),
                    ),
                }
            }
            out.push(Expectation {
                metric: metric.clone(),
                min: b.min,
                max: b.max,
                at,
            });
        }
    }
    out
}

/// The expectations as the resolved scenario's `[expect]` table.
pub fn to_table(expect: &[Expectation]) -> Table {
    let mut out = Table::new();
    for e in expect {
        let mut t = Table::new();
        if let Some(v) = e.min {
            t.insert("min".into(), Value::Float(v));
        }
        if let Some(v) = e.max {
            t.insert("max".into(), Value::Float(v));
        }
        if !e.at.is_empty() {
            t.insert("at".into(), Value::Table(e.at.iter().cloned().collect()));
        }
        // A metric bounded more than once becomes an array of bound tables.
        match out.remove(&e.metric) {
            None => {
                out.insert(e.metric.clone(), Value::Table(t));
            }
            Some(Value::Array(mut items)) => {
                items.push(Value::Table(t));
                out.insert(e.metric.clone(), Value::Array(items));
            }
            Some(first) => {
                out.insert(e.metric.clone(), Value::Array(vec![first, Value::Table(t)]));
            }
        }
    }
    out
}
