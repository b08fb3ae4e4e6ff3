//! Aggregation over repeats: mean, std, 95 % CI and n of every metric, per sweep point.

use poisonlab_core::metrics::Summary;
use serde::Serialize;

use crate::record::RunRecord;

/// The summary of one sweep point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointSummary {
    /// Swept key → value.
    pub point: serde_json::Map<String, serde_json::Value>,
    /// Finished repeats at this point.
    pub runs: usize,
    /// Metric key → summary over the repeats where the metric is defined
    /// (`null` when it is defined in none).
    pub metrics: indexmap_like::OrderedMap,
}

impl PointSummary {
    /// `key=value, ...` for tables and messages; `(all runs)` without a sweep.
    pub fn label(&self) -> String {
        point_label(&self.point)
    }
}

/// `key=value, ...`; `(all runs)` for an empty point.
pub fn point_label(point: &serde_json::Map<String, serde_json::Value>) -> String {
    if point.is_empty() {
        return "(all runs)".into();
    }
    point
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A map that keeps the order metrics first appear in.
pub mod indexmap_like {
    use poisonlab_core::metrics::Summary;
    use serde::Serialize;
    use serde::ser::SerializeMap;

    /// Metric key → summary (or `None`), in first-seen order.
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct OrderedMap(pub Vec<(String, Option<Summary>)>);

    impl OrderedMap {
        /// The summary of `key`, when defined.
        pub fn get(&self, key: &str) -> Option<&Summary> {
            self.0
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, s)| s.as_ref())
        }
    }

    impl Serialize for OrderedMap {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in &self.0 {
                map.serialize_entry(k, v)?;
            }
            map.end()
        }
    }
}

/// Summarise records grouped by point, in the order points first appear.
pub fn summarize(records: &[RunRecord]) -> Vec<PointSummary> {
    let mut groups: Vec<(&serde_json::Map<String, serde_json::Value>, Vec<&RunRecord>)> =
        Vec::new();
    for r in records {
        match groups.iter_mut().find(|(p, _)| **p == r.point) {
            Some((_, g)) => g.push(r),
            None => groups.push((&r.point, vec![r])),
        }
    }
    groups
        .into_iter()
        .map(|(point, runs)| {
            let mut keys: Vec<String> = Vec::new();
            let mut values: Vec<Vec<f64>> = Vec::new();
            for r in &runs {
                for (k, v) in r.metrics() {
                    let i = match keys.iter().position(|x| *x == k) {
                        Some(i) => i,
                        None => {
                            keys.push(k);
                            values.push(Vec::new());
                            keys.len() - 1
                        }
                    };
                    if let Some(v) = v {
                        values[i].push(v);
                    }
                }
            }
            let metrics = keys
                .into_iter()
                .zip(values)
                .map(|(k, v)| (k, Summary::of(&v)))
                .collect();
            PointSummary {
                point: point.clone(),
                runs: runs.len(),
                metrics: indexmap_like::OrderedMap(metrics),
            }
        })
        .collect()
}
