//! Joining the folders of a sharded sweep (`poisonlab run --shard I/N`) into
//! one results folder: [`merge`].
//!
//! The merge is strict. Every folder must hold the same scenario (by
//! fingerprint, so shards run from different checkouts or mount points
//! join), every runs.jsonl line must parse, two records for one run key must
//! agree (wall times aside), and every shard of the sweep must be there —
//! unless the merge is partial, which writes what there is and says so in
//! report.md. Records are written in plan order, so the merged files are the
//! files a single process running the whole plan writes (timings aside).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use poisonlab_scenario::Scenario;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::folder::{files, write_atomic, write_files};
use crate::record::{RECORD_SCHEMA, RunRecord, toml_to_json};
use crate::summary::point_label;

/// What a shard folder says about itself (`shard.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ShardInfo {
    /// This shard's index, from 1.
    pub shard: usize,
    /// How many shards the sweep was cut into.
    pub of: usize,
    /// The scenario's fingerprint (as in every record).
    pub fingerprint: String,
    /// The record schema the shard writes ([`RECORD_SCHEMA`]).
    pub schema: u32,
    /// The keys of the runs in this shard's slice of the plan, in plan order.
    pub runs: Vec<String>,
}

impl ShardInfo {
    /// Read `dir/shard.json`; `None` when the folder has none (not a shard).
    pub fn read(dir: &Path) -> Result<Option<ShardInfo>, MergeError> {
        let path = dir.join(files::SHARD);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(MergeError::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| MergeError::Line {
                line: e.line(),
                path,
                message: e.to_string(),
            })
    }

    /// Write it to `dir/shard.json`.
    pub fn write(&self, dir: &Path) -> Result<(), crate::ResultsError> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        write_atomic(&dir.join(files::SHARD), text.as_bytes())
    }
}

/// Why folders could not be merged. Each names the file (and line) at fault.
#[derive(Debug, Error)]
pub enum MergeError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A folder's scenario.toml does not read back as a scenario.
    #[error("{0}")]
    Invalid(poisonlab_scenario::Problems),
    /// A line of runs.jsonl or shard.json that does not parse.
    #[error("{}:{line}: cannot read it: {message}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// A record written by another layout version.
    #[error(
        "{}:{line}: a record of schema {found}; this poisonlab reads schema {RECORD_SCHEMA} (rerun that shard with this version)",
        path.display()
    )]
    Schema {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// The record's schema.
        found: u32,
    },
    /// A folder with nothing that tells which scenario it holds.
    #[error(
        "{}: no fingerprint (no shard.json and no record carrying one; written by an older poisonlab?)",
        .0.display()
    )]
    NoFingerprint(PathBuf),
    /// Two folders (or a folder and one of its records) of different scenarios or versions.
    #[error(
        "different scenarios or versions: {} has fingerprint {first}, {} has {second}",
        first_at.display(),
        second_at.display()
    )]
    OtherScenario {
        /// Where the first fingerprint was read.
        first_at: PathBuf,
        /// It.
        first: String,
        /// Where the second was read.
        second_at: PathBuf,
        /// It.
        second: String,
    },
    /// Two shard folders cut the sweep into different numbers of shards.
    #[error(
        "{} is shard {}/{} but {} is shard {}/{}: shards of one sweep share N",
        first.display(), first_shard.0, first_shard.1, second.display(), second_shard.0, second_shard.1
    )]
    ShardCount {
        /// A folder.
        first: PathBuf,
        /// Its (I, N).
        first_shard: (usize, usize),
        /// Another.
        second: PathBuf,
        /// Its (I, N).
        second_shard: (usize, usize),
    },
    /// Two records of one run that differ in more than wall time.
    #[error(
        "two different records for {key}: {first} and {second} (same run key, different results)"
    )]
    Conflict {
        /// The run key.
        key: String,
        /// `file:line (kernels ...)` of the first record.
        first: String,
        /// The same of the second.
        second: String,
    },
    /// A record whose run is not in the scenario's plan.
    #[error("{}:{line}: {key} is not a run of the scenario's plan", path.display())]
    NotInPlan {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// The record's key.
        key: String,
    },
    /// Shards or runs missing (and the merge was not partial).
    #[error("{0}; merge with --partial to write what there is")]
    Missing(String),
    /// No folder given.
    #[error("nothing to merge: give the shard folders")]
    Nothing,
}

/// What a merge found and wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The scenario's fingerprint.
    pub fingerprint: String,
    /// Runs in the plan.
    pub planned: usize,
    /// Runs written (distinct run keys).
    pub records: usize,
    /// Shard count of the sweep (`None`: no folder was a shard).
    pub shards: Option<usize>,
    /// What is missing, in words (empty unless the merge was partial and something was).
    pub missing: Vec<String>,
    /// Each kernel set that produced records, with the folders it came from;
    /// more than one means the shards ran on different CPU kinds and their
    /// numbers are not bit-comparable.
    pub kernels: BTreeMap<String, Vec<PathBuf>>,
}

/// One folder read for merging.
struct Folder {
    dir: PathBuf,
    shard: Option<ShardInfo>,
    fingerprint: String,
    /// Each record with the line it was on.
    records: Vec<(usize, RunRecord)>,
}

/// Read a folder strictly: every runs.jsonl line must parse and carry the
/// folder's fingerprint and this version's schema.
fn read_folder(dir: &Path) -> Result<Folder, MergeError> {
    let shard = ShardInfo::read(dir)?;
    let path = dir.join(files::RUNS);
    let text = std::fs::read_to_string(&path).map_err(|source| MergeError::Io {
        path: path.clone(),
        source,
    })?;
    let mut records = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| MergeError::Line {
            path: path.clone(),
            line: n,
            message,
        };
        if !line.ends_with('\n') {
            return Err(bad(
                "cut off (no line end): the shard was interrupted; rerun it to finish".into(),
            ));
        }
        let record: RunRecord = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if record.schema != RECORD_SCHEMA {
            return Err(MergeError::Schema {
                path: path.clone(),
                line: n,
                found: record.schema,
            });
        }
        records.push((n, record));
    }
    let fingerprint = match (&shard, records.first()) {
        (Some(s), _) => s.fingerprint.clone(),
        (None, Some((_, r))) => r
            .fingerprint
            .clone()
            .ok_or_else(|| MergeError::NoFingerprint(dir.to_path_buf()))?,
        (None, None) => return Err(MergeError::NoFingerprint(dir.to_path_buf())),
    };
    for (n, r) in &records {
        match &r.fingerprint {
            Some(f) if *f == fingerprint => {}
            other => {
                return Err(MergeError::OtherScenario {
                    first_at: dir.join(if shard.is_some() {
                        files::SHARD
                    } else {
                        files::RUNS
                    }),
                    first: fingerprint,
                    second_at: PathBuf::from(format!("{}:{n}", path.display())),
                    second: other.clone().unwrap_or_else(|| "none".into()),
                });
            }
        }
    }
    Ok(Folder {
        dir: dir.to_path_buf(),
        shard,
        fingerprint,
        records,
    })
}

/// The plan's run keys in order: every point, each repeat.
fn plan_keys(scenario: &Scenario) -> Vec<(serde_json::Map<String, serde_json::Value>, u64)> {
    scenario
        .points
        .iter()
        .flat_map(|p| {
            let json: serde_json::Map<_, _> = p
                .assignments
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect();
            (0..scenario.meta.repeats).map(move |r| (json.clone(), r))
        })
        .collect()
}

/// Merge the results folders `dirs` into `out`: scenario.toml (the first
/// folder's), runs.jsonl in plan order, and every file derived from them.
/// `partial` writes what there is when shards or runs are missing and notes
/// it at the top of report.md; otherwise they are an error naming them.
/// The caller locks the folders.
pub fn merge(dirs: &[PathBuf], out: &Path, partial: bool) -> Result<Merged, MergeError> {
    let first_dir = dirs.first().ok_or(MergeError::Nothing)?;
    let scenario_path = first_dir.join(files::SCENARIO);
    let scenario_text =
        std::fs::read_to_string(&scenario_path).map_err(|source| MergeError::Io {
            path: scenario_path.clone(),
            source,
        })?;
    let scenario = Scenario::parse(&scenario_text, &scenario_path.display().to_string())
        .map_err(MergeError::Invalid)?;
    let folders = dirs
        .iter()
        .map(|d| read_folder(d))
        .collect::<Result<Vec<_>, _>>()?;
    let first = &folders[0];
    for f in &folders[1..] {
        if f.fingerprint != first.fingerprint {
            return Err(MergeError::OtherScenario {
                first_at: first.dir.clone(),
                first: first.fingerprint.clone(),
                second_at: f.dir.clone(),
                second: f.fingerprint.clone(),
            });
        }
    }
    let shards = shard_count(&folders)?;

    // The union by run key, in plan order.
    let plan = plan_keys(&scenario);
    let mut slots: Vec<Option<(usize, usize, &RunRecord)>> = vec![None; plan.len()];
    let mut kernels: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for (fi, f) in folders.iter().enumerate() {
        let runs = f.dir.join(files::RUNS);
        for (line, r) in &f.records {
            let Some(i) = plan
                .iter()
                .position(|(p, rep)| *p == r.point && *rep == r.repeat)
            else {
                return Err(MergeError::NotInPlan {
                    path: runs.clone(),
                    line: *line,
                    key: r.key(),
                });
            };
            let kernel = r.kernels.clone().unwrap_or_else(|| "unknown".into());
            let seen = kernels.entry(kernel).or_default();
            if !seen.contains(&f.dir) {
                seen.push(f.dir.clone());
            }
            match slots[i] {
                None => slots[i] = Some((fi, *line, r)),
                Some((other_fi, at_line, other)) => {
                    if other.without_timings() != r.without_timings() {
                        let at = |path: &Path, line: usize, r: &RunRecord| {
                            format!(
                                "{}:{line} (kernels {})",
                                path.display(),
                                r.kernels.as_deref().unwrap_or("unknown")
                            )
                        };
                        return Err(MergeError::Conflict {
                            key: r.key(),
                            first: at(&folders[other_fi].dir.join(files::RUNS), at_line, other),
                            second: at(&runs, *line, r),
                        });
                    }
                }
            }
        }
    }
    let missing = missing(&folders, shards, &plan, &slots);
    if !missing.is_empty() && !partial {
        return Err(MergeError::Missing(missing.join("; ")));
    }
    let records: Vec<RunRecord> = slots
        .iter()
        .flatten()
        .map(|(_, _, r)| (*r).clone())
        .collect();
    std::fs::create_dir_all(out).map_err(|source| MergeError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    write_atomic(&out.join(files::SCENARIO), scenario_text.as_bytes()).map_err(results_error)?;
    let note = (!missing.is_empty()).then(|| partial_note(&missing, records.len(), plan.len()));
    write_files(out, &scenario, &records, note.as_deref()).map_err(results_error)?;
    Ok(Merged {
        fingerprint: first.fingerprint.clone(),
        planned: plan.len(),
        records: records.len(),
        shards,
        missing,
        kernels,
    })
}

fn results_error(e: crate::ResultsError) -> MergeError {
    match e {
        crate::ResultsError::Io { path, source } => MergeError::Io { path, source },
        crate::ResultsError::Invalid(p) => MergeError::Invalid(p),
    }
}

/// The sweep's shard count, the same in every shard folder.
fn shard_count(folders: &[Folder]) -> Result<Option<usize>, MergeError> {
    let mut seen: Option<(&Path, usize, usize)> = None;
    for f in folders {
        let Some(s) = &f.shard else { continue };
        match seen {
            None => seen = Some((&f.dir, s.shard, s.of)),
            Some((dir, i, n)) if n != s.of => {
                return Err(MergeError::ShardCount {
                    first: dir.to_path_buf(),
                    first_shard: (i, n),
                    second: f.dir.clone(),
                    second_shard: (s.shard, s.of),
                });
            }
            Some(_) => {}
        }
    }
    Ok(seen.map(|(_, _, n)| n))
}

/// What is missing, in words: shards no folder is, then runs no record is
/// (with the shard whose slice holds them).
fn missing(
    folders: &[Folder],
    shards: Option<usize>,
    plan: &[(serde_json::Map<String, serde_json::Value>, u64)],
    slots: &[Option<(usize, usize, &RunRecord)>],
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = shards {
        let absent: Vec<String> = (1..=n)
            .filter(|i| {
                !folders
                    .iter()
                    .any(|f| f.shard.as_ref().is_some_and(|s| s.shard == *i))
            })
            .map(|i| format!("{i}/{n}"))
            .collect();
        if !absent.is_empty() {
            out.push(format!("missing shard(s) {}", absent.join(", ")));
        }
    }
    let runs: Vec<String> = plan
        .iter()
        .zip(slots)
        .filter(|(_, s)| s.is_none())
        .map(|((point, repeat), _)| {
            let key = format!("{}, repeat {repeat}", point_label(point));
            let owner = folders.iter().find_map(|f| {
                f.shard.as_ref().filter(|s| s.runs.contains(&key)).map(|s| {
                    format!(
                        " (shard {}/{} in {}: not finished)",
                        s.shard,
                        s.of,
                        f.dir.display()
                    )
                })
            });
            format!("{key}{}", owner.unwrap_or_default())
        })
        .collect();
    if !runs.is_empty() {
        let mut line = format!("{} of {} run(s) missing: ", runs.len(), plan.len());
        let shown = runs.len().min(10);
        line.push_str(&runs[..shown].join("; "));
        if runs.len() > shown {
            let _ = write!(line, "; and {} more", runs.len() - shown);
        }
        out.push(line);
    }
    out
}

/// The note at the top of a partial merge's report.md.
fn partial_note(missing: &[String], have: usize, planned: usize) -> String {
    let mut note = format!(
        "**Partial merge**: {have} of {planned} planned run(s); the tables below leave the rest out.\n"
    );
    for m in missing {
        let _ = writeln!(note, "- {m}");
    }
    note
}
