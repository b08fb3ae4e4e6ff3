//! Reports from finished results folders: regenerate one, or compare several.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::ResultsError;
use crate::record::RunRecord;
use crate::folder::{files, read_records, write_all};
use poisonlab_scenario::Scenario;
use crate::summary::{PointSummary, point_label, summarize};

/// Read a results folder: its resolved scenario and its run records.
pub fn read_results(dir: &Path) -> Result<(Scenario, Vec<RunRecord>), ResultsError> {
    let path = dir.join(files::SCENARIO);
    let text = std::fs::read_to_string(&path).map_err(ResultsError::io(&path))?;
    let scenario =
        Scenario::parse(&text, &path.display().to_string()).map_err(ResultsError::Invalid)?;
    let records = read_records(&dir.join(files::RUNS))?;
    Ok((scenario, records))
}

/// Rewrite every derived file of a results folder (runs.csv, summary.json,
/// report.md, report.html, audit.jsonl) from its scenario.toml and runs.jsonl
/// alone, without running anything.
pub fn regenerate(dir: &Path) -> Result<Vec<PointSummary>, ResultsError> {
    let (scenario, mut records) = read_results(dir)?;
    // Plan order: points in scenario order, repeats ascending.
    let position = |r: &RunRecord| {
        scenario
            .points
            .iter()
            .position(|p| point_json(p) == r.point)
            .unwrap_or(usize::MAX)
    };
    records.sort_by_key(|r| (position(r), r.repeat));
    write_all(dir, &scenario, &records)
}

fn point_json(p: &poisonlab_scenario::Point) -> serde_json::Map<String, serde_json::Value> {
    p.assignments
        .iter()
        .map(|(k, v)| (k.clone(), crate::record::toml_to_json(v)))
        .collect()
}

/// One results folder for [`compare`].
struct Folder {
    dir: PathBuf,
    summary: Vec<PointSummary>,
}

/// The metrics [`compare`] shows for every point: the attack's, then each
/// defense's (named as in the first folder).
fn compared_metrics(first: &[PointSummary], records: &[RunRecord]) -> Vec<String> {
    let mut keys = vec![
        "clean.ca".to_string(),
        "poisoned.ca".to_string(),
        "poisoned.asr".to_string(),
    ];
    if let Some(r) = records.first() {
        for d in &r.defenses {
            for m in [
                "tpr",
                "fpr",
                "f1",
                "auroc",
                "retrained.ca",
                "retrained.asr",
                "far",
            ] {
                let key = format!("defense.{}.{m}", d.name);
                if first.iter().any(|p| p.metrics.get(&key).is_some()) {
                    keys.push(key);
                }
            }
        }
    }
    keys
}

/// A comparison of several results folders, point by point.
pub struct Comparison {
    /// Column headings: the folders.
    pub folders: Vec<String>,
    /// Rows: point label, metric, one cell per folder (`mean ± ci95` or —),
    /// and whether two folders' 95 % intervals fail to overlap.
    pub rows: Vec<(String, String, Vec<String>, bool)>,
}

impl Comparison {
    /// A Markdown table; `‡` marks differences beyond the 95 % intervals.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| point | metric | {} | differs |",
            self.folders.join(" | ")
        );
        let _ = writeln!(out, "|---|---|{}---|", "---|".repeat(self.folders.len()));
        for (point, metric, cells, differs) in &self.rows {
            let _ = writeln!(
                out,
                "| {point} | {metric} | {} | {} |",
                cells.join(" | "),
                if *differs { "‡" } else { "" }
            );
        }
        out.push_str(
            "\n‡: the 95 % confidence intervals of at least two folders do not overlap.\n",
        );
        out
    }

    /// The same table as a self-contained HTML page.
    pub fn html(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut out = String::from(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>poisonlab compare</title><style>body{font-family:sans-serif;margin:2em}\
             table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;\
             text-align:right}td:first-child,td:nth-child(2){text-align:left}\
             tr.differs{background:#fde2e2}</style></head><body>\n<h1>poisonlab compare</h1>\n<table>\n<tr><th>point</th><th>metric</th>",
        );
        for f in &self.folders {
            let _ = write!(out, "<th>{}</th>", esc(f));
        }
        out.push_str("<th>differs</th></tr>\n");
        for (point, metric, cells, differs) in &self.rows {
            let class = if *differs { " class=\"differs\"" } else { "" };
            let _ = write!(
                out,
                "<tr{class}><td>{}</td><td>{}</td>",
                esc(point),
                esc(metric)
            );
            for c in cells {
                let _ = write!(out, "<td>{}</td>", esc(c));
            }
            let _ = writeln!(out, "<td>{}</td></tr>", if *differs { "‡" } else { "" });
        }
        out.push_str(
            "</table>\n<p>‡: the 95 % confidence intervals of at least two folders do not overlap.</p>\n</body></html>\n",
        );
        out
    }
}

/// Put the results of several folders side by side: for every point label of
/// the first folder, its attack and defense metrics in every folder.
pub fn compare(dirs: &[PathBuf]) -> Result<Comparison, ResultsError> {
    let mut folders = Vec::new();
    let mut first_records = Vec::new();
    for dir in dirs {
        let records = read_records(&dir.join(files::RUNS))?;
        if folders.is_empty() {
            first_records = records.clone();
        }
        folders.push(Folder {
            dir: dir.clone(),
            summary: summarize(&records),
        });
    }
    let Some(first) = folders.first() else {
        return Ok(Comparison {
            folders: Vec::new(),
            rows: Vec::new(),
        });
    };
    let metrics = compared_metrics(&first.summary, &first_records);
    let mut rows = Vec::new();
    for point in &first.summary {
        let label = point_label(&point.point);
        for key in &metrics {
            let stats: Vec<Option<(f64, f64)>> = folders
                .iter()
                .map(|f| {
                    f.summary
                        .iter()
                        .find(|p| p.point == point.point)
                        .and_then(|p| p.metrics.get(key))
                        .map(|s| (s.mean, s.ci95.unwrap_or(0.0)))
                })
                .collect();
            if stats.iter().all(Option::is_none) {
                continue;
            }
            let cells = stats
                .iter()
                .map(|s| match s {
                    Some((m, ci)) if *ci > 0.0 => format!("{m:.3} ± {ci:.3}"),
                    Some((m, _)) => format!("{m:.3}"),
                    None => "—".into(),
                })
                .collect();
            let known: Vec<(f64, f64)> = stats.iter().flatten().copied().collect();
            let differs = known.iter().any(|&(a, ca)| {
                known
                    .iter()
                    .any(|&(b, cb)| (a - ca > b + cb) || (b - cb > a + ca))
            });
            rows.push((label.clone(), key.clone(), cells, differs));
        }
    }
    Ok(Comparison {
        folders: folders
            .iter()
            .map(|f| f.dir.display().to_string())
            .collect(),
        rows,
    })
}
