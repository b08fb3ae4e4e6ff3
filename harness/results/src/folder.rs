//! The results folder: runs.jsonl, runs.csv, summary.json, report.md, scenario.toml.
//!
//! Every file but runs.jsonl is written whole to a temporary file and renamed
//! into place; runs.jsonl grows by one line per finished run, and a line cut off
//! by an interruption is dropped when the folder is read back.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ResultsError;
use crate::record::RunRecord;
use crate::report;
use crate::summary::{PointSummary, summarize};
use poisonlab_scenario::Scenario;

/// File names inside a results folder.
pub mod files {
    /// The resolved scenario.
    pub const SCENARIO: &str = "scenario.toml";
    /// One JSON record per finished run.
    pub const RUNS: &str = "runs.jsonl";
    /// One row per (run, model variant).
    pub const CSV: &str = "runs.csv";
    /// Mean, std, 95 % CI and n of every metric per sweep point.
    pub const SUMMARY: &str = "summary.json";
    /// Tables for people.
    pub const REPORT: &str = "report.md";
    /// The report as one self-contained page with inline SVG charts.
    pub const HTML: &str = "report.html";
    /// Hash-chained log of what every run did (its `.head` file beside it).
    pub const AUDIT: &str = "audit.jsonl";
    /// A shard folder's slice of the sweep (`run --shard I/N` only).
    pub const SHARD: &str = "shard.json";
}

/// Write `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    // `report.md.tmp`, not `report.tmp`: files that share a stem must not share a temp file.
    let mut name = path.as_os_str().to_os_string();
    name.push(".tmp");
    let tmp = std::path::PathBuf::from(name);
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(ResultsError::io(path))
}

/// The complete records in runs.jsonl (a cut-off or unreadable line is skipped).
pub fn read_records(path: &Path) -> Result<Vec<RunRecord>, ResultsError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ResultsError::io(path)(e)),
    };
    Ok(text
        .split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

/// Appends records to runs.jsonl as runs finish.
pub struct RunsLog {
    path: PathBuf,
    file: fs::File,
}

impl RunsLog {
    /// Rewrite runs.jsonl with `existing` (dropping any cut-off line), then open it for appending.
    pub fn open(path: &Path, existing: &[RunRecord]) -> Result<Self, ResultsError> {
        write_atomic(path, jsonl(existing).as_bytes())?;
        let file = fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(ResultsError::io(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Append one record as a line and flush it to disk.
    pub fn append(&mut self, record: &RunRecord) -> Result<(), ResultsError> {
        let line = jsonl(std::slice::from_ref(record));
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(ResultsError::io(&self.path))
    }
}

fn jsonl(records: &[RunRecord]) -> String {
    records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap_or_default() + "\n")
        .collect()
}

/// Write every derived file from the records (in plan order).
pub fn write_all(
    dir: &Path,
    scenario: &Scenario,
    records: &[RunRecord],
) -> Result<Vec<PointSummary>, ResultsError> {
    write_files(dir, scenario, records, None)
}

/// [`write_all`], with `note` (Markdown) at the top of report.md when given.
pub(crate) fn write_files(
    dir: &Path,
    scenario: &Scenario,
    records: &[RunRecord],
    note: Option<&str>,
) -> Result<Vec<PointSummary>, ResultsError> {
    write_atomic(&dir.join(files::RUNS), jsonl(records).as_bytes())?;
    write_atomic(&dir.join(files::CSV), &csv(records)?)?;
    let summary = summarize(records);
    let json = serde_json::json!({
        "scenario": scenario.meta.name,
        "points": summary,
    });
    let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    write_atomic(&dir.join(files::SUMMARY), text.as_bytes())?;
    let mut markdown = report::markdown(scenario, records, &summary);
    if let Some(note) = note {
        // After the title line.
        let at = markdown.find("\n\n").map_or(0, |i| i + 2);
        markdown.insert_str(at, &format!("{note}\n"));
    }
    write_atomic(&dir.join(files::REPORT), markdown.as_bytes())?;
    write_atomic(
        &dir.join(files::HTML),
        crate::html::html_report(scenario, records, &summary).as_bytes(),
    )?;
    write_audit(dir, records)?;
    Ok(summary)
}

/// Write `audit.jsonl` afresh, in plan order, from the records: for each run
/// the data it started from, what the attack changed, the model trained, what
/// each defense removed, and the metrics written. Times are logical (the run's
/// place in the plan), so the log is the same on every rerun of a scenario.
fn write_audit(dir: &Path, records: &[RunRecord]) -> Result<(), ResultsError> {
    use serde_json::json;
    let path = dir.join(files::AUDIT);
    for stale in [path.clone(), poisonlab_integrity::head_path(&path)] {
        match fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(ResultsError::Io {
                    path: stale,
                    source: e,
                });
            }
            _ => {}
        }
    }
    let mut log = poisonlab_integrity::AuditLog::open(&path).map_err(|e| ResultsError::Io {
        path: path.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut entries = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let time = format!("run {i}");
        let run = json!({ "point": r.point, "repeat": r.repeat, "seed": r.seed });
        entries.push((time.clone(), "data-loaded", data_loaded(r, &run)));
        entries.push((
            time.clone(),
            "attack",
            json!({ "run": run, "kind": r.attack.kind, "at": r.attack.at,
                    "changed": r.n_poison, "root": r.data_root }),
        ));
        entries.push((
            time.clone(),
            "model-trained",
            json!({ "run": run, "fingerprint": r.model_fingerprint }),
        ));
        for d in &r.defenses {
            let removed = d.detection.as_ref().map(|det| det.tp + det.fp);
            entries.push((
                time.clone(),
                "defense",
                json!({ "run": run, "name": d.name, "kind": d.kind, "removed": removed }),
            ));
        }
        entries.push((
            time,
            "metrics-written",
            json!({ "run": run, "ca": r.poisoned.ca, "asr": r.poisoned.asr }),
        ));
    }
    // One write and one head update for the whole log, not one per line.
    log.append_all(entries)
        .map_err(ResultsError::io(path.clone()))?;
    Ok(())
}

/// The `data-loaded` event: the clean training set's root, and, when the data
/// came through a generator recipe, that recipe (generator, version, seed,
/// root): the results folder then names the generator that made its data.
fn data_loaded(r: &RunRecord, run: &serde_json::Value) -> serde_json::Value {
    let mut details = serde_json::json!({ "run": run, "n-train": r.n_train, "root": r.clean_root });
    if let (Some(recipe), Some(map)) = (&r.recipe, details.as_object_mut()) {
        map.insert(
            "recipe".into(),
            serde_json::to_value(recipe).unwrap_or_default(),
        );
    }
    details
}

const CSV_METRICS: &[&str] = &[
    "ca",
    "asr",
    "ra",
    "tp",
    "fp",
    "tn",
    "fn",
    "tpr",
    "fpr",
    "precision",
    "f1",
    "auroc",
    "recovery",
    "der",
];

/// One row per (run, model variant): clean, poisoned, then every defense.
fn csv(records: &[RunRecord]) -> Result<Vec<u8>, ResultsError> {
    let point_keys: Vec<String> = records
        .first()
        .map(|r| r.point.keys().cloned().collect())
        .unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = point_keys.clone();
    header.extend(["repeat", "seed", "n-train", "n-poison", "variant", "kind"].map(String::from));
    header.extend(CSV_METRICS.iter().map(|s| s.to_string()));
    header.extend(["error", "seconds"].map(String::from));
    let csv_err = |e: csv::Error| ResultsError::Io {
        path: files::CSV.into(),
        source: e.into(),
    };
    w.write_record(&header).map_err(csv_err)?;
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in records {
        let mut rows: Vec<(String, String, Vec<String>, String, f64)> = Vec::new();
        for (variant, eval, secs) in [
            ("clean", &r.clean, r.seconds.get("train-clean")),
            ("poisoned", &r.poisoned, r.seconds.get("train-poisoned")),
        ] {
            let mut cells = vec![num(eval.ca), num(eval.asr), num(eval.ra)];
            cells.extend(std::iter::repeat_n(String::new(), CSV_METRICS.len() - 3));
            rows.push((
                variant.into(),
                "model".into(),
                cells,
                String::new(),
                secs.copied().unwrap_or(0.0),
            ));
        }
        for d in &r.defenses {
            let e = d.retrained.as_ref();
            let mut cells = vec![
                num(e.and_then(|e| e.ca)),
                num(e.and_then(|e| e.asr)),
                num(e.and_then(|e| e.ra)),
            ];
            match &d.detection {
                Some(x) => cells.extend([
                    x.tp.to_string(),
                    x.fp.to_string(),
                    x.tn.to_string(),
                    x.fn_.to_string(),
                    num(x.tpr),
                    num(x.fpr),
                    num(x.precision),
                    num(x.f1),
                    num(x.auroc),
                ]),
                None => cells.extend(std::iter::repeat_n(String::new(), 9)),
            }
            cells.extend([num(d.recovery), num(d.der)]);
            rows.push((
                d.name.clone(),
                d.kind.clone(),
                cells,
                d.error.clone().unwrap_or_default(),
                d.seconds,
            ));
        }
        for (variant, kind, cells, error, secs) in rows {
            let mut row: Vec<String> = point_keys
                .iter()
                .map(|k| r.point.get(k).map(json_cell).unwrap_or_default())
                .collect();
            row.extend([
                r.repeat.to_string(),
                r.seed.to_string(),
                r.n_train.to_string(),
                r.n_poison.to_string(),
                variant,
                kind,
            ]);
            row.extend(cells);
            row.extend([error, secs.to_string()]);
            w.write_record(&row).map_err(csv_err)?;
        }
    }
    w.into_inner().map_err(|e| ResultsError::Io {
        path: files::CSV.into(),
        source: e.into_error(),
    })
}

fn json_cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
