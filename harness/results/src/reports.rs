//! Reports from finished results folders: regenerate one, or compare several.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use poisonlab_scenario::Scenario;

use crate::ResultsError;
use crate::folder::{files, read_records, write_all};
use crate::matrix::{Matrix, MatrixCell, MatrixMeasure, matrices};
use crate::record::RunRecord;
use crate::summary::{PointSummary, point_label, summarize};
use crate::view::defenses_of;

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
    matrices: Vec<Matrix>,
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
        // A federated run's headline: the source class's recall.
        if r.federation.is_some() {
            for v in ["clean", "poisoned"] {
                let key = format!("{v}.source-recall");
                if first.iter().any(|p| p.metrics.get(&key).is_some()) {
                    keys.push(key);
                }
            }
        }
        // A transfer run's base model before fine-tuning, and the ASR
        // after each fine-tuning epoch: does the attack survive it?
        if let Some(t) = &r.transfer {
            let mut transfer = vec!["base.ca".to_string(), "base.asr".to_string()];
            transfer.extend(
                t.epochs
                    .iter()
                    .map(|e| format!("fine-tune.{}.asr", e.epoch)),
            );
            keys.extend(
                transfer
                    .into_iter()
                    .filter(|k| first.iter().any(|p| p.metrics.get(k).is_some())),
            );
        }
        for d in &r.defenses {
            for m in [
                "tpr",
                "fpr",
                "f1",
                "auroc",
                "retrained.ca",
                "retrained.asr",
                "far",
                // Aggregators: their federation's global model.
                "ca",
                "source-recall",
                "asr",
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

/// The mark of a row whose values differ beyond the 95 % intervals.
const BEYOND: &str = "‡";
/// The mark of a row whose values differ where a folder has no interval
/// (one repeat): whether they really differ cannot be told.
const UNTESTED: &str = "?";
/// What the marks mean, one line each.
const LEGEND: [&str; 2] = [
    "‡: the 95 % confidence intervals of at least two folders do not overlap.",
    "?: the values differ, but a folder has a single repeat (no interval): whether they differ cannot be judged without repeats.",
];

/// One measure of an attack × defense matrix across folders.
pub struct ComparedMatrix {
    /// The matrix's title (its attack keys and group) and the measure.
    pub title: String,
    /// The measure.
    pub measure: MatrixMeasure,
    /// Rows: attack, defense, one cell per folder (none where a folder
    /// lacks it), and the row's mark as in [`Comparison::rows`].
    pub rows: Vec<(String, String, Vec<Option<MatrixCell>>, &'static str)>,
}

/// A comparison of several results folders, point by point.
pub struct Comparison {
    /// Column headings: the folders.
    pub folders: Vec<String>,
    /// The attack × defense matrices of the first folder (a sweep over
    /// `attack.*`), each measure's cells in every folder.
    pub matrices: Vec<ComparedMatrix>,
    /// Rows: point label, metric, one cell per folder (`mean ± ci95` or —),
    /// and the row's mark: `‡` when two folders' 95 % intervals do not
    /// overlap, `?` when values differ but a folder has no interval (a single
    /// repeat), empty otherwise.
    pub rows: Vec<(String, String, Vec<String>, &'static str)>,
}

impl Comparison {
    /// A Markdown table; `‡` marks differences beyond the 95 % intervals,
    /// `?` differences that cannot be judged without repeats.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for m in &self.matrices {
            let _ = writeln!(out, "## {}: {}\n", m.title, m.measure.name());
            let _ = writeln!(
                out,
                "| attack | defense | {} | differs |",
                self.folders.join(" | ")
            );
            let _ = writeln!(out, "|---|---|{}---|", "---|".repeat(self.folders.len()));
            for (attack, defense, cells, mark) in &m.rows {
                let cells: Vec<String> = cells
                    .iter()
                    .map(|c| c.map_or("—".into(), |c| format!("{} (n {})", c.text(), c.n)))
                    .collect();
                let _ = writeln!(
                    out,
                    "| {attack} | {defense} | {} | {mark} |",
                    cells.join(" | ")
                );
            }
            out.push('\n');
        }
        if !self.matrices.is_empty() {
            let _ = writeln!(out, "## Every point and metric\n");
        }
        let _ = writeln!(
            out,
            "| point | metric | {} | differs |",
            self.folders.join(" | ")
        );
        let _ = writeln!(out, "|---|---|{}---|", "---|".repeat(self.folders.len()));
        for (point, metric, cells, mark) in &self.rows {
            let _ = writeln!(
                out,
                "| {point} | {metric} | {} | {mark} |",
                cells.join(" | ")
            );
        }
        out.push('\n');
        for line in LEGEND {
            let _ = writeln!(out, "{line}");
        }
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
             text-align:right}td:first-child,td:nth-child(2),th:first-child,th:nth-child(2){text-align:left}\
             small{color:#333}tr.differs{background:#fde2e2}tr.untested{background:#f3f3f3}</style></head><body>\n<h1>poisonlab compare</h1>\n<table>\n<tr><th>point</th><th>metric</th>",
        );
        for f in &self.folders {
            let _ = write!(out, "<th>{}</th>", esc(f));
        }
        out.push_str("<th>differs</th></tr>\n");
        let mut matrices = String::new();
        for m in &self.matrices {
            let _ = write!(
                matrices,
                "<h2>{}: {}</h2>\n<table>\n<tr><th>attack</th><th>defense</th>",
                esc(&m.title),
                esc(m.measure.long())
            );
            for f in &self.folders {
                let _ = write!(matrices, "<th>{}</th>", esc(f));
            }
            matrices.push_str("<th>differs</th></tr>\n");
            for (attack, defense, cells, mark) in &m.rows {
                let _ = write!(
                    matrices,
                    "<tr><td>{}</td><td>{}</td>",
                    esc(attack),
                    esc(defense)
                );
                for c in cells {
                    match c {
                        Some(c) => {
                            let _ = write!(
                                matrices,
                                "<td style=\"background:{}\">{}<br><small>n {}</small></td>",
                                crate::html::position_color(c.position),
                                esc(&c.text()),
                                c.n
                            );
                        }
                        None => matrices.push_str("<td>—</td>"),
                    }
                }
                let _ = writeln!(matrices, "<td>{mark}</td></tr>");
            }
            matrices.push_str("</table>\n");
        }
        if !matrices.is_empty() {
            // The matrices first, then the table of every point.
            let at = out.find("<table>\n<tr><th>point</th>").unwrap_or(out.len());
            let note = "<p>Attack × defense matrices: each cell is coloured by where it sits \
                        between its folder's random floor (orange) and perfect ceiling \
                        (purple).</p>\n";
            out.insert_str(
                at,
                &format!("{note}{matrices}<h2>Every point and metric</h2>\n"),
            );
        }
        for (point, metric, cells, mark) in &self.rows {
            let class = match *mark {
                BEYOND => " class=\"differs\"",
                UNTESTED => " class=\"untested\"",
                _ => "",
            };
            let _ = write!(
                out,
                "<tr{class}><td>{}</td><td>{}</td>",
                esc(point),
                esc(metric)
            );
            for c in cells {
                let _ = write!(out, "<td>{}</td>", esc(c));
            }
            let _ = writeln!(out, "<td>{mark}</td></tr>");
        }
        out.push_str("</table>\n");
        for line in LEGEND {
            let _ = writeln!(out, "<p>{}</p>", esc(line));
        }
        out.push_str("</body></html>\n");
        out
    }
}

/// The mark of one row from each folder's `(mean, ci95)` (`None`: the metric
/// is not there). Two folders differ beyond their intervals when both have
/// one and they do not overlap (`‡`); a folder without an interval (one
/// repeat) whose mean differs from another's cannot be judged (`?`).
fn mark(stats: &[Option<(f64, Option<f64>)>]) -> &'static str {
    let known: Vec<(f64, Option<f64>)> = stats.iter().flatten().copied().collect();
    let mut untested = false;
    for (i, &(a, ca)) in known.iter().enumerate() {
        for &(b, cb) in &known[i + 1..] {
            match (ca, cb) {
                (Some(ca), Some(cb)) if a - ca > b + cb || b - cb > a + ca => return BEYOND,
                (Some(_), Some(_)) => {}
                _ => untested |= a != b,
            }
        }
    }
    if untested { UNTESTED } else { "" }
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
        let summary = summarize(&records);
        folders.push(Folder {
            dir: dir.clone(),
            matrices: matrices(&summary, &defenses_of(records.iter())),
            summary,
        });
    }
    let Some(first) = folders.first() else {
        return Ok(Comparison {
            folders: Vec::new(),
            matrices: Vec::new(),
            rows: Vec::new(),
        });
    };
    let compared = compare_matrices(&folders);
    let metrics = compared_metrics(&first.summary, &first_records);
    let mut rows = Vec::new();
    for point in &first.summary {
        let label = point_label(&point.point);
        for key in &metrics {
            let stats: Vec<Option<(f64, Option<f64>)>> = folders
                .iter()
                .map(|f| {
                    f.summary
                        .iter()
                        .find(|p| p.point == point.point)
                        .and_then(|p| p.metrics.get(key))
                        .map(|s| (s.mean, s.ci95.filter(|c| c.is_finite())))
                })
                .collect();
            if stats.iter().all(Option::is_none) {
                continue;
            }
            let cells = stats
                .iter()
                .map(|s| match s {
                    Some((m, Some(ci))) if *ci > 0.0 => format!("{m:.3} ± {ci:.3}"),
                    Some((m, _)) => format!("{m:.3}"),
                    None => "—".into(),
                })
                .collect();
            rows.push((label.clone(), key.clone(), cells, mark(&stats)));
        }
    }
    Ok(Comparison {
        folders: folders
            .iter()
            .map(|f| f.dir.display().to_string())
            .collect(),
        matrices: compared,
        rows,
    })
}

/// The first folder's matrices, each cell looked up in every folder by the
/// matrix's group, the row's point and the column's defense.
fn compare_matrices(folders: &[Folder]) -> Vec<ComparedMatrix> {
    let Some(first) = folders.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in &first.matrices {
        for measure in MatrixMeasure::ALL {
            let mut rows = Vec::new();
            for row in &m.rows {
                for col in &m.columns {
                    let cells: Vec<Option<MatrixCell>> = folders
                        .iter()
                        .map(|f| {
                            let theirs = f.matrices.iter().find(|x| x.group == m.group)?;
                            let i = theirs.rows.iter().position(|r| r.point == row.point)?;
                            let j = theirs.columns.iter().position(|c| c.name == col.name)?;
                            theirs.cell(i, j, measure)
                        })
                        .collect();
                    if cells.iter().all(Option::is_none) {
                        continue;
                    }
                    let stats: Vec<Option<(f64, Option<f64>)>> = cells
                        .iter()
                        .map(|c| c.map(|c| (c.mean, c.ci95.filter(|x| x.is_finite()))))
                        .collect();
                    let defense = if col.reference {
                        format!("{} (reference)", col.name)
                    } else {
                        col.name.clone()
                    };
                    rows.push((row.label.clone(), defense, cells, mark(&stats)));
                }
            }
            if !rows.is_empty() {
                out.push(ComparedMatrix {
                    title: m.title(),
                    measure,
                    rows,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two folders' `(mean, ci95)` for one metric.
    fn pair(a: (f64, Option<f64>), b: (f64, Option<f64>)) -> &'static str {
        mark(&[Some(a), Some(b)])
    }

    #[test]
    fn single_repeats_cannot_be_judged_different() {
        // 0.0021 vs 0.0024 (both shown as 0.002), one repeat each: no ‡.
        assert_eq!(pair((0.0021, None), (0.0024, None)), UNTESTED);
        // One side with an interval, the other without: still cannot tell.
        assert_eq!(pair((0.9, Some(0.01)), (0.5, None)), UNTESTED);
        // Equal values need no repeats to be called equal.
        assert_eq!(pair((0.002, None), (0.002, None)), "");
        // A folder without the metric does not count.
        assert_eq!(mark(&[Some((0.3, None)), None]), "");
    }

    #[test]
    fn separated_intervals_differ_and_overlapping_ones_do_not() {
        assert_eq!(pair((0.90, Some(0.02)), (0.80, Some(0.03))), BEYOND);
        assert_eq!(pair((0.90, Some(0.06)), (0.80, Some(0.05))), "");
        // A real difference beside a single-repeat folder is still a difference.
        assert_eq!(
            mark(&[
                Some((0.9, Some(0.01))),
                Some((0.7, None)),
                Some((0.5, Some(0.01)))
            ]),
            BEYOND
        );
    }

    #[test]
    fn federated_folders_compare_the_federations_models() {
        let (_, records) = crate::federated::fixture::federated();
        let keys = compared_metrics(&summarize(&records), &records);
        for key in [
            "clean.source-recall",
            "poisoned.source-recall",
            "defense.median.ca",
            "defense.median.source-recall",
            "defense.median.asr",
            "defense.krum.tpr",
        ] {
            assert!(keys.iter().any(|k| k == key), "no {key} in {keys:?}");
        }
        // Median flags no client: no detection to compare.
        assert!(!keys.iter().any(|k| k == "defense.median.tpr"));
    }

    #[test]
    fn transfer_folders_compare_the_base_and_every_fine_tuning_epoch() {
        let (_, records) = crate::transfer::fixture::transfer();
        let keys = compared_metrics(&summarize(&records), &records);
        let transfer: Vec<&str> = keys
            .iter()
            .map(String::as_str)
            .filter(|k| k.starts_with("base.") || k.starts_with("fine-tune."))
            .collect();
        assert_eq!(
            transfer,
            [
                "base.ca",
                "base.asr",
                "fine-tune.1.asr",
                "fine-tune.2.asr",
                "fine-tune.3.asr"
            ]
        );
        // Right after the attack's own metrics.
        assert_eq!(keys[3], "base.ca");
        // A central folder has none of them.
        let (_, federated) = crate::federated::fixture::federated();
        let keys = compared_metrics(&summarize(&federated), &federated);
        assert!(!keys.iter().any(|k| k.starts_with("base.")), "{keys:?}");
    }

    #[test]
    fn the_table_marks_and_explains_both() {
        let c = Comparison {
            folders: vec!["a".into(), "b".into()],
            matrices: Vec::new(),
            rows: vec![
                (
                    "p".into(),
                    "m1".into(),
                    vec!["0.002".into(), "0.002".into()],
                    UNTESTED,
                ),
                (
                    "p".into(),
                    "m2".into(),
                    vec!["0.9 ± 0.01".into(), "0.5 ± 0.01".into()],
                    BEYOND,
                ),
            ],
        };
        let md = c.markdown();
        assert!(md.contains("| p | m1 | 0.002 | 0.002 | ? |"), "{md}");
        assert!(
            md.contains("| p | m2 | 0.9 ± 0.01 | 0.5 ± 0.01 | ‡ |"),
            "{md}"
        );
        assert!(md.contains("cannot be judged without repeats"), "{md}");
        assert!(md.contains("‡: the 95 % confidence intervals"), "{md}");
        let html = c.html();
        assert!(html.contains("class=\"untested\"") && html.contains("class=\"differs\""));
        assert!(html.contains("cannot be judged without repeats"));
    }

    #[test]
    fn compare_sets_the_matrices_side_by_side() {
        let (_, records) = crate::matrix::fixture::grid();
        let write = |records: &[RunRecord]| {
            let dir = tempfile::tempdir().unwrap();
            let text: String = records
                .iter()
                .map(|r| serde_json::to_string(r).unwrap() + "\n")
                .collect();
            std::fs::write(dir.path().join(files::RUNS), text).unwrap();
            dir
        };
        let a = write(&records);
        // The second folder: knn-label finds less on badnets.
        let mut worse = records.clone();
        for r in &mut worse {
            if r.point["attack.kind"] == "badnets" {
                let d = r
                    .defenses
                    .iter_mut()
                    .find(|d| d.name == "knn-label")
                    .unwrap();
                d.detection.as_mut().unwrap().tpr = Some(0.2);
            }
        }
        let b = write(&worse);
        let c = compare(&[a.path().to_path_buf(), b.path().to_path_buf()]).unwrap();
        // Two groups (mlp, cnn) × four measures.
        assert_eq!(c.matrices.len(), 8);
        let tpr = &c.matrices[0];
        assert_eq!(tpr.measure, MatrixMeasure::Tpr);
        assert_eq!(
            tpr.title,
            "Attack (attack.kind) × defense at model.kind=\"mlp\""
        );
        let (attack, defense, cells, mark) = &tpr.rows[0];
        assert_eq!(
            (attack.as_str(), defense.as_str()),
            ("badnets", "knn-label")
        );
        // The same figures as each folder's summary: 0.89 ± CI, then 0.2 ± 0.
        assert!((cells[0].unwrap().mean - 0.89).abs() < 1e-12);
        assert!((cells[1].unwrap().mean - 0.2).abs() < 1e-12);
        assert_eq!(*mark, BEYOND);
        let md = c.markdown();
        assert!(
            md.contains("| badnets | knn-label | 0.890 ± 0.025 (n 3) | 0.200 ± 0.000 (n 3) | ‡ |"),
            "{md}"
        );
        assert!(md.contains("| badnets | perfect (reference) |"));
        let html = c.html();
        assert!(html.contains("style=\"background:#"));
        assert!(!html.contains("<script"));
    }
}
