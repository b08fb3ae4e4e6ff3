//! `poisonlab run`.

use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use poisonlab_results::{Digest, Unmet, files};
use poisonlab_runner::{Outcome, Progress, RunError, RunOptions, Shard};
use poisonlab_scenario::{Scenario, load_scenario};

use crate::out::{StdoutError, errln, out, outln};
use crate::{InputError, RunArgs, Status};

/// `poisonlab run FILE`: run what is not in the results folder yet, print a
/// summary, and with `--check` the unmet expectations.
pub fn cmd_run(args: RunArgs) -> anyhow::Result<Status> {
    let mut scenario = load_scenario(&args.file).map_err(InputError::plain)?;
    let points = restrict(&mut scenario, &args.only, args.repeats)
        .map_err(|message| InputError::plain(format!("{}: {message}", args.file.display())))?;
    let threads = match args.threads {
        Some(0) => return Err(InputError::plain("--threads must be at least 1")),
        Some(n) => n,
        None => available_threads(),
    };
    let shard = match &args.shard {
        Some(text) => Some(Shard::parse(text).map_err(InputError::error)?),
        None => slurm_array_shard(|name| std::env::var(name).ok()).map_err(InputError::error)?,
    };
    if shard.is_some() && points.is_some() {
        return Err(InputError::error(
            "--only and --shard do not combine: a shard is a slice of the whole plan",
        ));
    }
    if let (Some(s), None) = (shard, &args.shard) {
        errln!("poisonlab: Slurm array task: running shard {s} (--shard {s})");
    }
    let root = PathBuf::from("results").join(&scenario.meta.name);
    let opts = RunOptions {
        out: match (args.out, shard) {
            (Some(out), _) => out,
            (None, Some(s)) => root.join(s.folder_name()),
            (None, None) => root,
        },
        threads,
        fresh: args.fresh,
        points,
        shard,
    };
    let outcome = execute(&scenario, &opts, args.quiet)?;
    let records = poisonlab_results::read_records(&outcome.out.join(files::RUNS))
        .map_err(|e| anyhow::Error::new(e).context("reading the results back"))?;
    let digest = poisonlab_results::digest(
        &records,
        &outcome.summary,
        scenario.report.large_sweep,
        &scenario
            .report
            .roc_points
            .iter()
            .map(poisonlab_results::toml_to_json)
            .collect::<Vec<_>>(),
    );
    let mut status = Status::Done;
    if !outcome.failures.is_empty() {
        for (run, e) in &outcome.failures {
            errln!("error: {run}: {e}");
        }
        status = Status::Failed;
    }
    if args.json {
        print_json(&outcome, &digest, args.check)?;
        if args.check && !outcome.unmet.is_empty() {
            status = Status::Failed;
        }
        return Ok(status);
    }
    print_outcome(&outcome, &digest)?;
    if args.check && !print_check(&outcome.unmet)? {
        status = Status::Failed;
    }
    Ok(status)
}

/// The shard of a Slurm array task: `SLURM_ARRAY_TASK_ID −
/// SLURM_ARRAY_TASK_MIN + 1` of `SLURM_ARRAY_TASK_COUNT`; `None` outside an
/// array. `var` reads the environment.
pub fn slurm_array_shard(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, String> {
    let Some(id) = var("SLURM_ARRAY_TASK_ID") else {
        return Ok(None);
    };
    let number = |name: &str, value: Option<String>| -> Result<usize, String> {
        let value = value.ok_or_else(|| format!("{name} is not set (SLURM_ARRAY_TASK_ID is)"))?;
        value
            .trim()
            .parse()
            .map_err(|_| format!("{name}={value:?} is not a whole number"))
    };
    let id = number("SLURM_ARRAY_TASK_ID", Some(id))?;
    let min = number("SLURM_ARRAY_TASK_MIN", var("SLURM_ARRAY_TASK_MIN"))?;
    let count = number("SLURM_ARRAY_TASK_COUNT", var("SLURM_ARRAY_TASK_COUNT"))?;
    if id < min {
        return Err(format!(
            "SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"
        ));
    }
    Shard::new(id - min + 1, count).map(Some).map_err(|why| {
        format!("the Slurm array task (id {id}, min {min}, count {count}): {why}; pass --shard I/N")
    })
}

/// The number of cores (1 when it cannot be told).
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Run the scenario under a progress bar. A locked results folder, another
/// scenario's folder and problems found in the data are bad input.
fn execute(scenario: &Scenario, opts: &RunOptions, quiet: bool) -> anyhow::Result<Outcome> {
    let bar = Bar::new(quiet);
    let result = poisonlab_runner::run(scenario, opts, &bar);
    bar.bar.finish_and_clear();
    result.map_err(|e| match e {
        RunError::Locked(_)
        | RunError::OtherScenario(_)
        | RunError::OtherShard { .. }
        | RunError::Kernels { .. }
        | RunError::Invalid(_)
        | RunError::Data(_)
        | RunError::Recipe(_) => InputError::error(e),
        e => anyhow::Error::new(e).context(format!("running {}", scenario.meta.name)),
    })
}

/// Apply `--repeats` to the scenario and turn `--only KEY=VALUE` filters into
/// the sweep points to run (`None`: all of them).
fn restrict(
    scenario: &mut Scenario,
    only: &[String],
    repeats: Option<u64>,
) -> Result<Option<Vec<usize>>, String> {
    if let Some(n) = repeats {
        if n == 0 {
            return Err("--repeats must be at least 1".into());
        }
        scenario.meta.repeats = n;
    }
    if only.is_empty() {
        return Ok(None);
    }
    let mut keep: Vec<usize> = (0..scenario.points.len()).collect();
    for filter in only {
        let Some((key, value)) = filter.split_once('=') else {
            return Err(format!(
                "--only {filter:?}: expected KEY=VALUE, e.g. attack.rate=0.05"
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        if !scenario.sweep.iter().any(|(k, _)| k == key) {
            let swept: Vec<&str> = scenario.sweep.iter().map(|(k, _)| k.as_str()).collect();
            return Err(format!(
                "--only {filter:?}: {key} is not swept (swept: {})",
                if swept.is_empty() {
                    "nothing".into()
                } else {
                    swept.join(", ")
                }
            ));
        }
        // Compare as TOML values, so 0.05 matches 0.05 and source matches "source".
        let wanted = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|t| t.get("v").cloned())
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        keep.retain(|&i| {
            scenario.points[i]
                .assignments
                .iter()
                .any(|(k, v)| k == key && *v == wanted)
        });
        if keep.is_empty() {
            return Err(format!("--only {filter:?}: no sweep point has that value"));
        }
    }
    Ok(Some(keep))
}

/// Runs done, per point every defense's figures best first (the
/// references last), and where the report is.
fn print_outcome(o: &Outcome, digest: &Digest) -> Result<(), StdoutError> {
    let new = o.total - o.resumed - o.failures.len();
    outln!(
        "{} run(s): {new} new, {} resumed, {} failed; results in {}\n",
        o.total,
        o.resumed,
        o.failures.len(),
        o.out.display()
    )?;
    out!("{}", digest.text())?;
    outln!("report: {}", o.out.join(files::HTML).display())
}

/// `--json`: the runs, the digest, the report's path and (with `--check`)
/// the unmet expectations, as one JSON object.
fn print_json(o: &Outcome, digest: &Digest, check: bool) -> Result<(), StdoutError> {
    let unmet: Vec<serde_json::Value> = o
        .unmet
        .iter()
        .map(|u| {
            serde_json::json!({
                "point": u.point,
                "metric": u.expectation.metric,
                "min": u.expectation.min,
                "max": u.expectation.max,
                "mean": u.mean,
            })
        })
        .collect();
    let mut json = serde_json::json!({
        "results": o.out.display().to_string(),
        "report": o.out.join(files::HTML).display().to_string(),
        "runs": {
            "total": o.total,
            "new": o.total - o.resumed - o.failures.len(),
            "resumed": o.resumed,
            "failed": o.failures.len(),
        },
        "points": digest.points,
        "omitted-points": digest.omitted,
    });
    if check {
        json["unmet"] = serde_json::Value::Array(unmet);
    }
    outln!(
        "{}",
        serde_json::to_string_pretty(&json).unwrap_or_else(|_| "{}".into())
    )
}

/// `--check`: whether every expectation was met; a table of those that were not.
fn print_check(unmet: &[Unmet]) -> Result<bool, StdoutError> {
    if unmet.is_empty() {
        outln!("check: every expectation met")?;
        return Ok(true);
    }
    outln!("check: {} expectation(s) not met", unmet.len())?;
    outln!("| point | metric | expected | measured mean |\n|---|---|---|---|")?;
    for u in unmet {
        let e = &u.expectation;
        let bounds = match (e.min, e.max) {
            (Some(lo), Some(hi)) => format!("{lo} ≤ x ≤ {hi}"),
            (Some(lo), None) => format!("≥ {lo}"),
            (None, Some(hi)) => format!("≤ {hi}"),
            (None, None) => String::new(),
        };
        let mean = u.mean.map_or("not measured".into(), |m| format!("{m:.4}"));
        outln!("| {} | {} | {bounds} | {mean} |", u.point, e.metric)?;
    }
    Ok(false)
}

/// An indicatif bar on stderr: runs done / total, ETA, and the step the
/// latest run is on.
struct Bar {
    bar: ProgressBar,
}

impl Bar {
    fn new(quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs, ETA {eta}  {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self { bar }
    }
}

impl Progress for Bar {
    fn planned(&self, total: usize, done: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        self.bar.reset_eta();
    }

    fn step(&self, run: &str, step: &str) {
        self.bar.set_message(format!("{run}: {step}"));
    }

    fn finished(&self, _run: &str, _ok: bool) {
        self.bar.inc(1);
    }

    fn notice(&self, message: &str) {
        // Also with --quiet: it is not progress.
        self.bar.suspend(|| errln!("{message}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_slurm_array_task_is_a_shard_counted_from_the_array_minimum() {
        assert_eq!(slurm_array_shard(env(&[])), Ok(None));
        let task = [
            ("SLURM_ARRAY_TASK_ID", "12"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(
            slurm_array_shard(env(&task)),
            Ok(Some(Shard { index: 3, count: 4 }))
        );
        let beyond = [
            ("SLURM_ARRAY_TASK_ID", "14"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert!(slurm_array_shard(env(&beyond)).is_err());
        let garbled = [
            ("SLURM_ARRAY_TASK_ID", "x"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert!(
            slurm_array_shard(env(&garbled))
                .unwrap_err()
                .contains("SLURM_ARRAY_TASK_ID")
        );
        let no_count = [("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_MIN", "1")];
        assert!(
            slurm_array_shard(env(&no_count))
                .unwrap_err()
                .contains("SLURM_ARRAY_TASK_COUNT")
        );
    }
}
