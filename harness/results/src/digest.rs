//! The summary `poisonlab run` prints when it ends: per sweep point a
//! compact table of every defense's TPR / FPR and retrained CA / ASR, best
//! first, the references and the undefended model on the last lines. It
//! fits [`COLUMNS`] columns; as JSON it is the same figures for scripts.

use std::fmt::Write as _;

use poisonlab_core::metrics::Summary;
use serde::Serialize;

use crate::record::{AGGREGATOR, RunRecord};
use crate::summary::PointSummary;
use crate::view::{chosen_points, defenses_of};

/// The widest line of [`Digest::text`].
pub const COLUMNS: usize = 100;

/// The terminal summary of a results folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Digest {
    /// The points shown (all of them, or in a large sweep the chosen few).
    pub points: Vec<DigestPoint>,
    /// Points not shown (a large sweep; report.md has them).
    pub omitted: usize,
}

/// One sweep point's table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DigestPoint {
    /// `key=value, ...`, `(all runs)` without a sweep.
    pub label: String,
    /// Swept key → value.
    pub point: serde_json::Map<String, serde_json::Value>,
    /// Finished repeats.
    pub repeats: usize,
    /// Mean poisoned training samples.
    pub n_poison: Option<f64>,
    /// What ranks the defenses: `ASR` (lowest first) or `CA` (highest first).
    pub ranked_by: &'static str,
    /// Defenses best first, then the references, then the model without a defense.
    pub rows: Vec<DigestRow>,
}

/// One line of a point's table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DigestRow {
    /// The defense (`no defense` for the poisoned model).
    pub name: String,
    /// A reference filter, or the model without a defense.
    pub reference: bool,
    /// Share of the poisoned samples flagged (client updates, for an aggregator).
    pub tpr: Option<Summary>,
    /// Share of the clean samples flagged.
    pub fpr: Option<Summary>,
    /// Clean accuracy of the retrained (or federation's) model.
    pub ca: Option<Summary>,
    /// Its attack success rate.
    pub asr: Option<Summary>,
}

/// The digest of `records`: every point, or past `large` points the chosen
/// ones (`roc_points`, else the first, middle and last value).
pub fn digest(
    records: &[RunRecord],
    summary: &[PointSummary],
    large: usize,
    roc_points: &[serde_json::Value],
) -> Digest {
    let chosen = if summary.len() > large {
        chosen_points(summary, roc_points)
    } else {
        summary.iter().map(|p| p.point.clone()).collect()
    };
    let points: Vec<DigestPoint> = summary
        .iter()
        .filter(|p| chosen.contains(&p.point))
        .map(|p| {
            let runs: Vec<&RunRecord> = records.iter().filter(|r| r.point == p.point).collect();
            digest_point(p, &runs)
        })
        .collect();
    Digest {
        omitted: summary.len() - points.len(),
        points,
    }
}

fn digest_point(p: &PointSummary, runs: &[&RunRecord]) -> DigestPoint {
    let m = &p.metrics;
    let get = |k: String| m.get(&k).copied();
    let asr = m.get("poisoned.asr").is_some();
    let mut defenses: Vec<DigestRow> = Vec::new();
    let mut references: Vec<DigestRow> = Vec::new();
    for (name, kind) in defenses_of(runs.iter().copied()) {
        let model = if kind == AGGREGATOR {
            format!("defense.{name}")
        } else {
            format!("defense.{name}.retrained")
        };
        let row = DigestRow {
            tpr: get(format!("defense.{name}.tpr")),
            fpr: get(format!("defense.{name}.fpr")),
            ca: get(format!("{model}.ca")),
            asr: get(format!("{model}.asr")),
            // In federated runs the references are federations (aggregators)
            // under the reserved names.
            reference: kind == "reference" || name == "perfect" || name == "random",
            name,
        };
        if row.tpr.is_none() && row.ca.is_none() {
            continue;
        }
        if row.reference {
            references.push(row);
        } else {
            defenses.push(row);
        }
    }
    // Best first: lowest ASR after (highest CA after without an ASR);
    // undefined last, ties in listed order.
    let score = |r: &DigestRow| -> Option<f64> {
        if asr {
            r.asr.map(|s| s.mean)
        } else {
            r.ca.map(|s| -s.mean)
        }
    };
    defenses.sort_by(|a, b| match (score(a), score(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    references.sort_by_key(|r| r.name != "perfect");
    let mut rows = defenses;
    rows.extend(references);
    let federated = runs.iter().any(|r| r.federation.is_some());
    rows.push(DigestRow {
        name: if federated {
            "no defense (FedAvg)".into()
        } else {
            "no defense".into()
        },
        reference: true,
        tpr: None,
        fpr: None,
        ca: get("poisoned.ca".into()),
        asr: get("poisoned.asr".into()),
    });
    DigestPoint {
        label: p.label(),
        point: p.point.clone(),
        repeats: p.runs,
        n_poison: m.get("n-poison").map(|s| s.mean),
        ranked_by: if asr { "ASR" } else { "CA" },
        rows,
    }
}

/// `mean ± ci`, three decimals; `—` when undefined.
fn figure(s: Option<Summary>) -> String {
    match s {
        None => "—".into(),
        Some(s) => match s.ci95.filter(|c| c.is_finite()) {
            Some(ci) => format!("{:.3} ± {ci:.3}", s.mean),
            None => format!("{:.3}", s.mean),
        },
    }
}

/// Width of a figure column.
const CELL: usize = 16;

impl Digest {
    /// The tables as text, no line wider than [`COLUMNS`].
    pub fn text(&self) -> String {
        let mut out = String::new();
        let name_width = COLUMNS - 2 - 4 * (CELL + 1);
        for p in &self.points {
            let poisoned = p
                .n_poison
                .map_or(String::new(), |n| format!(", {} poisoned", num(n)));
            for line in wrap_label(&p.label) {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(
                out,
                "  {} repeat(s){poisoned}; mean ± 95 % CI; best {} first",
                p.repeats,
                if p.ranked_by == "ASR" {
                    "ASR after"
                } else {
                    "CA after"
                }
            );
            let head = ["TPR", "FPR", "CA after", "ASR after"];
            let widest = p.rows.iter().map(|r| label(r).chars().count()).max();
            let width = widest.unwrap_or(7).clamp(7, name_width);
            let _ = write!(out, "  {:<width$}", "defense");
            for h in head {
                let _ = write!(out, " {h:>CELL$}");
            }
            out.push('\n');
            for r in &p.rows {
                let name = label(r);
                if name.chars().count() > width {
                    // A long name on its own line, the figures below it.
                    let _ = writeln!(out, "  {name}");
                    let _ = write!(out, "  {:<width$}", "");
                } else {
                    let _ = write!(out, "  {name:<width$}");
                }
                for s in [r.tpr, r.fpr, r.ca, r.asr] {
                    let _ = write!(out, " {:>CELL$}", figure(s));
                }
                out.push('\n');
            }
            out.push('\n');
        }
        if self.omitted > 0 {
            let _ = writeln!(
                out,
                "({} more point(s) in report.md and summary.json)",
                self.omitted
            );
        }
        // No trailing spaces (the padding of the last column is on the left).
        out.lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }
}

/// A point's label in lines of at most [`COLUMNS`] characters, broken
/// after the commas between its keys (a single longer key stays whole).
fn wrap_label(label: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for part in label.split_inclusive(", ") {
        if !line.is_empty() && line.chars().count() + part.trim_end().chars().count() > COLUMNS {
            lines.push(line.trim_end().to_string());
            line.clear();
        }
        line.push_str(part);
    }
    lines.push(line.trim_end().to_string());
    lines
}

/// A row's name as the table shows it.
fn label(r: &DigestRow) -> String {
    if r.reference && !r.name.starts_with("no defense") {
        format!("{} (reference)", r.name)
    } else {
        r.name.clone()
    }
}

/// An integer without decimals, else one decimal.
fn num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::fixture;
    use crate::summary::summarize;

    #[test]
    fn defenses_best_first_then_the_references() {
        let (_, records) = fixture::grid();
        let d = digest(&records, &summarize(&records), 12, &[]);
        assert_eq!(d.points.len(), 4);
        assert_eq!(d.omitted, 0);
        let names: Vec<&str> = d.points[0].rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "knn-label",
                "a-defense-with-a-rather-long-name",
                "perfect",
                "random",
                "no defense"
            ]
        );
        let text = d.text();
        for line in text.lines() {
            assert!(line.chars().count() <= COLUMNS, "too wide: {line:?}");
        }
        assert!(text.contains(
            "attack.kind=\"badnets\", model.kind=\"mlp\"\n  3 repeat(s), 30 poisoned; mean ± 95 % CI"
        ));
        // knn-label's ASR after: 0.02, 0.03, 0.04 → 0.030 ± 4.303 × 0.01 / √3.
        let row = |cells: [&str; 5]| {
            format!(
                "  {:<30} {:>16} {:>16} {:>16} {:>16}\n",
                cells[0], cells[1], cells[2], cells[3], cells[4]
            )
            .replace(" \n", "\n")
        };
        for expected in [
            row([
                "knn-label",
                "0.890 ± 0.025",
                "0.020 ± 0.000",
                "0.930 ± 0.025",
                "0.030 ± 0.025",
            ]),
            // A name wider than its column: on its own line, the figures below.
            "  a-defense-with-a-rather-long-name\n".to_string(),
            row([
                "",
                "0.110 ± 0.025",
                "0.100 ± 0.000",
                "0.900 ± 0.000",
                "0.870 ± 0.025",
            ]),
            row(["no defense", "—", "—", "0.930 ± 0.000", "0.890 ± 0.025"]),
        ] {
            assert!(text.contains(&expected), "no {expected:?} in\n{text}");
        }
        assert!(text.contains("  random (reference) "));
    }

    #[test]
    fn a_large_sweep_shows_a_few_points() {
        let (_, records) = fixture::grid();
        let d = digest(
            &records,
            &summarize(&records),
            2,
            &[serde_json::json!("blend")],
        );
        // The points of the chosen value of the first swept key.
        assert_eq!((d.points.len(), d.omitted), (2, 2));
        assert!(d.points.iter().all(|p| p.label.contains("blend")));
        // Without roc-points: the first, middle and last value (here both).
        assert_eq!(digest(&records, &summarize(&records), 2, &[]).omitted, 0);
        assert!(d.text().contains("more point(s) in report.md"));
        let json = serde_json::to_value(&d).unwrap();
        assert!(json["points"][0]["rows"][0]["tpr"]["mean"].is_number());
    }

    #[test]
    fn federated_references_come_last() {
        let (_, records) = crate::federated::fixture::federated();
        let d = digest(&records, &summarize(&records), 12, &[]);
        let names: Vec<&str> = d.points[0].rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names.last(), Some(&"no defense (FedAvg)"), "{names:?}");
        for r in &d.points[0].rows {
            assert_eq!(
                r.reference,
                r.name == "perfect" || r.name == "random" || r.name.starts_with("no defense")
            );
        }
    }
}
