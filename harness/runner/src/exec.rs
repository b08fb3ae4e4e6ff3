//! Running a scenario: plan, resume, parallel runs, results files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use poisonlab_results::{
    PointSummary, RECORD_SCHEMA, RunRecord, RunsLog, ShardInfo, Unmet, check, files, point_label,
    read_records, toml_to_json, write_all, write_atomic,
};
use poisonlab_scenario::{Problem, Problems, Scenario};

use crate::RunError;
use crate::data::LoadedData;
use crate::lock::ResultsLock;
use crate::pipeline::{RunContext, run_one};
use crate::shard::{Shard, fingerprint};

/// Hears about progress; the cli draws bars with it. Called from worker threads.
pub trait Progress: Sync {
    /// The plan is known: `total` runs, `done` of them already on disk.
    fn planned(&self, _total: usize, _done: usize) {}
    /// Run `run` moved to `step`.
    fn step(&self, _run: &str, _step: &str) {}
    /// Run `run` ended.
    fn finished(&self, _run: &str, _ok: bool) {}
    /// Something the user should hear about that is not an error (a stale
    /// lock taken over).
    fn notice(&self, _message: &str) {}
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Results folder.
    pub out: PathBuf,
    /// Runs in parallel (each trains on one thread).
    pub threads: usize,
    /// Discard earlier results in `out` instead of resuming.
    pub fresh: bool,
    /// Run only these sweep points (indices into `Scenario::points`); `None`
    /// runs them all. Results of other points already in `out` are kept.
    pub points: Option<Vec<usize>>,
    /// Run only this shard's slice of the plan ([`Shard::slice`]); the
    /// folder then also holds `shard.json`.
    pub shard: Option<Shard>,
}

/// What a finished `run` produced.
#[derive(Debug)]
pub struct Outcome {
    /// Results folder.
    pub out: PathBuf,
    /// Runs in the plan.
    pub total: usize,
    /// Runs found on disk from an earlier invocation.
    pub resumed: usize,
    /// Runs that failed, with why.
    pub failures: Vec<(String, RunError)>,
    /// Per-point summaries.
    pub summary: Vec<PointSummary>,
    /// Expectations not met (always empty for a scenario without `[expect]`).
    pub unmet: Vec<Unmet>,
    /// The scenario's fingerprint.
    pub fingerprint: String,
    /// The kernel set this machine computed with.
    pub kernels: String,
}

/// One planned run.
struct Planned {
    point: usize,
    repeat: u64,
    label: String,
}

fn plan(scenario: &Scenario) -> Vec<Planned> {
    let n_points = scenario.points.len();
    scenario
        .points
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            (0..scenario.meta.repeats).map(move |repeat| {
                let json = p
                    .assignments
                    .iter()
                    .map(|(k, v)| (k.clone(), toml_to_json(v)))
                    .collect();
                let label = if n_points > 1 {
                    format!(
                        "point {}/{n_points} ({}) repeat {repeat}",
                        i + 1,
                        point_label(&json)
                    )
                } else {
                    format!("repeat {repeat}")
                };
                Planned {
                    point: i,
                    repeat,
                    label,
                }
            })
        })
        .collect()
}

fn same_run(record: &RunRecord, scenario: &Scenario, planned: &Planned) -> bool {
    let json: serde_json::Map<_, _> = scenario.points[planned.point]
        .assignments
        .iter()
        .map(|(k, v)| (k.clone(), toml_to_json(v)))
        .collect();
    record.repeat == planned.repeat && record.point == json
}

/// Prepare `out`: write the resolved scenario and return the records already
/// there that belong to this scenario. A folder resumes when its
/// scenario.toml is the same text, or when its records or shard.json carry
/// the same fingerprint (the same scenario and data read from another
/// checkout or mount point: its scenario.toml is then rewritten with this
/// one's paths). Records with another fingerprint are dropped.
fn prepare(
    dir: &Path,
    scenario: &Scenario,
    data: &LoadedData,
    fingerprint: &str,
    shard: Option<Shard>,
    fresh: bool,
) -> Result<Vec<RunRecord>, RunError> {
    let resolved = scenario.resolved_toml_with(Some(&data.loaded()));
    let scenario_path = dir.join(files::SCENARIO);
    let ours = |r: &RunRecord| r.fingerprint.as_deref() == Some(fingerprint);
    let existing = match std::fs::read_to_string(&scenario_path) {
        Err(_) => Vec::new(),
        Ok(_) if fresh => Vec::new(),
        Ok(old) => {
            let mut records = read_records(&dir.join(files::RUNS))?;
            let known = ShardInfo::read(dir)
                .ok()
                .flatten()
                .map(|s| (s.fingerprint, Shard::new(s.shard, s.of).ok()));
            let same_fingerprint =
                records.iter().any(ours) || known.as_ref().is_some_and(|(f, _)| f == fingerprint);
            // Data changed under the same paths reads as the same text.
            let other_fingerprint = records.iter().any(|r| r.fingerprint.is_some() && !ours(r))
                || known.as_ref().is_some_and(|(f, _)| f != fingerprint);
            if !same_fingerprint && (old != resolved || other_fingerprint) {
                return Err(RunError::OtherScenario(dir.to_path_buf()));
            }
            if let Some((_, Some(was))) = known
                && shard.is_some_and(|s| s != was)
            {
                return Err(RunError::OtherShard {
                    dir: dir.to_path_buf(),
                    was,
                });
            }
            records.retain(ours);
            records
        }
    };
    write_atomic(&scenario_path, resolved.as_bytes())?;
    Ok(existing)
}

/// Load the scenario's data and check every point against it: the class count
/// and sample shape of file sources are only known now.
pub fn load_checked(scenario: &Scenario, file: &str) -> Result<LoadedData, RunError> {
    let data = LoadedData::load(&scenario.data, scenario.meta.seed)?;
    let facts = data.facts();
    let mut list = Vec::new();
    for point in &scenario.points {
        if let Err(errors) = point.attack.attack().check_data(&facts) {
            for e in errors {
                let p = Problem {
                    line: None,
                    key: format!("attack.{}", e.key),
                    message: e.message,
                };
                if !list.contains(&p) {
                    list.push(p);
                }
            }
        }
        if point.model.kind == poisonlab_core::ModelKind::Cnn && !data.train.is_image() {
            let p = Problem {
                line: None,
                key: "model.kind".into(),
                message: format!(
                    "cnn needs image data; the data has shape {:?}",
                    data.train.shape()
                ),
            };
            if !list.contains(&p) {
                list.push(p);
            }
        }
    }
    if list.is_empty() {
        Ok(data)
    } else {
        Err(RunError::Invalid(Problems {
            file: file.to_string(),
            list,
        }))
    }
}

/// Run every (point, repeat) of `scenario` not already in `opts.out`, then write all results files.
///
/// The results folder is locked ([`ResultsLock`]) from before its scenario
/// is read until the files are written: a second writer gets
/// [`RunError::Locked`].
pub fn run(
    scenario: &Scenario,
    opts: &RunOptions,
    progress: &dyn Progress,
) -> Result<Outcome, RunError> {
    let dir = &opts.out;
    let kernels = poisonlab_model::backend::kernel_set();
    if let Some(pinned) = &scenario.meta.kernels
        && *pinned != kernels
    {
        return Err(RunError::Kernels {
            pinned: pinned.clone(),
            here: kernels,
        });
    }
    let mut plan = plan(scenario);
    let data = load_checked(scenario, "scenario")?;
    if let Some(shard) = opts.shard {
        let costs: Vec<f64> = plan
            .iter()
            .map(|p| crate::estimate::run_seconds(&scenario.points[p.point], data.train.len()))
            .collect();
        let slice = shard.slice(&costs);
        plan = plan.drain(slice).collect();
    }
    let fingerprint = fingerprint(scenario, &data);
    std::fs::create_dir_all(dir).map_err(RunError::io(dir))?;
    let lock = ResultsLock::acquire(dir)?;
    if let Some(message) = lock.takeover_notice() {
        progress.notice(&message);
    }
    let existing = prepare(dir, scenario, &data, &fingerprint, opts.shard, opts.fresh)?;
    if let Some(shard) = opts.shard {
        ShardInfo {
            shard: shard.index,
            of: shard.count,
            fingerprint: fingerprint.clone(),
            schema: RECORD_SCHEMA,
            runs: plan.iter().map(|p| run_key(scenario, p)).collect(),
        }
        .write(dir)?;
    }
    let mut done: Vec<Option<RunRecord>> = plan
        .iter()
        .map(|p| existing.iter().find(|r| same_run(r, scenario, p)).cloned())
        .collect();
    let resumed = done.iter().filter(|r| r.is_some()).count();
    let kept: Vec<RunRecord> = done.iter().flatten().cloned().collect();
    let mut log = RunsLog::open(&dir.join(files::RUNS), &kept)?;
    progress.planned(plan.len(), resumed);

    let wanted = |i: usize| {
        opts.points
            .as_ref()
            .is_none_or(|ps| ps.contains(&plan[i].point))
    };
    let pending: Vec<usize> = (0..plan.len())
        .filter(|&i| done[i].is_none() && wanted(i))
        .collect();
    let mut failures = Vec::new();
    if !pending.is_empty() {
        let ctx = RunContext {
            seed: scenario.meta.seed,
            data: &data,
            integrity: scenario.integrity.as_ref(),
            // Threads beyond one per pending run go to each run's own steps.
            inner_threads: (opts.threads / pending.len()).max(1),
            clean_fpr: scenario.meta.clean_fpr,
        };
        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel::<(usize, Result<RunRecord, RunError>)>();
        let threads = opts.threads.clamp(1, pending.len());
        let mut io_error = None;
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let tx = tx.clone();
                    let (ctx, next, pending, plan) = (&ctx, &next, &pending, &plan);
                    s.spawn(move || {
                        while let Some(&i) = pending.get(next.fetch_add(1, Ordering::Relaxed)) {
                            let p = &plan[i];
                            let step = |what: &str| progress.step(&p.label, what);
                            let result = run_one(ctx, &scenario.points[p.point], p.repeat, &step);
                            progress.finished(&p.label, result.is_ok());
                            if tx.send((i, result)).is_err() {
                                break;
                            }
                        }
                    })
                })
                .collect();
            drop(tx);
            for (i, result) in rx {
                match result {
                    Ok(mut record) => {
                        record.fingerprint = Some(fingerprint.clone());
                        record.kernels = Some(kernels.clone());
                        if let Err(e) = log.append(&record) {
                            io_error.get_or_insert(e);
                        }
                        done[i] = Some(record);
                    }
                    Err(e) => failures.push((plan[i].label.clone(), e)),
                }
            }
            for h in handles {
                if let Err(panic) = h.join() {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(("worker".into(), RunError::Panic(message)));
                }
            }
        });
        if let Some(e) = io_error {
            return Err(e.into());
        }
    }
    // Plan order, whatever order the runs finished in: the files do not depend on --threads.
    let records: Vec<RunRecord> = done.into_iter().flatten().collect();
    let summary = write_all(dir, scenario, &records)?;
    let unmet = check(&scenario.expect, &summary);
    Ok(Outcome {
        out: dir.clone(),
        total: plan.len(),
        resumed,
        failures,
        summary,
        unmet,
        fingerprint,
        kernels,
    })
}

/// A planned run's key, as [`RunRecord::key`] writes it.
fn run_key(scenario: &Scenario, planned: &Planned) -> String {
    let json = scenario.points[planned.point]
        .assignments
        .iter()
        .map(|(k, v)| (k.clone(), toml_to_json(v)))
        .collect();
    format!("{}, repeat {}", point_label(&json), planned.repeat)
}
