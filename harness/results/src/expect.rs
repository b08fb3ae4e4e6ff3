//! `run --check`: the scenario's `[expect]` bounds against the measured summaries.

use poisonlab_scenario::Expectation;

use crate::summary::PointSummary;

/// An expectation a sweep point did not meet.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmet {
    /// The sweep point, as `key=value` pairs (empty without a sweep).
    pub point: String,
    /// The expectation.
    pub expectation: Expectation,
    /// The measured mean; `None` when the metric was not measured or undefined.
    pub mean: Option<f64>,
}

/// Every expectation each point fails.
pub fn check(expect: &[Expectation], points: &[PointSummary]) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    for point in points {
        for e in expect {
            let values = |key: &str| point.point.get(key).and_then(json_to_toml);
            if !e.applies(values) {
                continue;
            }
            let mean = point.metrics.get(&e.metric).map(|s| s.mean);
            let ok = mean
                .is_some_and(|m| e.min.is_none_or(|lo| m >= lo) && e.max.is_none_or(|hi| m <= hi));
            if !ok {
                unmet.push(Unmet {
                    point: point.label(),
                    expectation: e.clone(),
                    mean,
                });
            }
        }
    }
    unmet
}

/// A JSON scalar of a point's swept values as the TOML value it was written as.
fn json_to_toml(v: &serde_json::Value) -> Option<toml::Value> {
    match v {
        serde_json::Value::String(s) => Some(toml::Value::String(s.clone())),
        serde_json::Value::Bool(b) => Some(toml::Value::Boolean(*b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Some(toml::Value::Integer(i)),
            None => n.as_f64().map(toml::Value::Float),
        },
        _ => None,
    }
}
