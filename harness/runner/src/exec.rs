//! Running a scenario: plan, resume, parallel runs, results files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use poisonlab_results::{
    PointSummary, RunRecord, RunsLog, Unmet, check, files, point_label, read_records, toml_to_json,
    write_all, write_atomic,
};
use poisonlab_scenario::{Problem, Problems, Scenario};

use crate::RunError;
use crate::data::LoadedData;
use crate::lock::ResultsLock;
use crate::pipeline::{RunContext, run_one};

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

/// Prepare `out`: write the resolved scenario and return the records already there.
fn prepare(
    dir: &Path,
    scenario: &Scenario,
    data: &LoadedData,
    fresh: bool,
) -> Result<Vec<RunRecord>, RunError> {
    let resolved = scenario.resolved_toml_with(Some(&data.loaded()));
    let scenario_path = dir.join(files::SCENARIO);
    let existing = match std::fs::read_to_string(&scenario_path) {
        Ok(old) if old == resolved && !fresh => read_records(&dir.join(files::RUNS))?,
        Ok(_) if !fresh => return Err(RunError::OtherScenario(dir.to_path_buf())),
        _ => Vec::new(),
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
    let plan = plan(scenario);
    let data = load_checked(scenario, "scenario")?;
    std::fs::create_dir_all(dir).map_err(RunError::io(dir))?;
    let lock = ResultsLock::acquire(dir)?;
    if let Some(message) = lock.takeover_notice() {
        progress.notice(&message);
    }
    let existing = prepare(dir, scenario, &data, opts.fresh)?;
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
                    Ok(record) => {
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
    })
}
