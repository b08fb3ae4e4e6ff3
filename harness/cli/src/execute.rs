//! `poisonlab run`.

use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use poisonlab_results::Unmet;
use poisonlab_runner::{Outcome, Progress, RunError, RunOptions};
use poisonlab_scenario::{Scenario, load_scenario};

use crate::out::{StdoutError, errln, outln};
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
    let opts = RunOptions {
        out: args
            .out
            .unwrap_or_else(|| PathBuf::from("results").join(&scenario.meta.name)),
        threads,
        fresh: args.fresh,
        points,
    };
    let outcome = execute(&scenario, &opts, args.quiet)?;
    print_outcome(&outcome)?;
    let mut status = Status::Done;
    if !outcome.failures.is_empty() {
        for (run, e) in &outcome.failures {
            errln!("error: {run}: {e}");
        }
        status = Status::Failed;
    }
    if args.check && !print_check(&outcome.unmet)? {
        status = Status::Failed;
    }
    Ok(status)
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

/// Runs done, the attack's figures per point, and where the report is.
fn print_outcome(o: &Outcome) -> Result<(), StdoutError> {
    let new = o.total - o.resumed - o.failures.len();
    outln!(
        "{} run(s): {new} new, {} resumed, {} failed; results in {}",
        o.total,
        o.resumed,
        o.failures.len(),
        o.out.display()
    )?;
    for point in &o.summary {
        let get = |k: &str| {
            point
                .metrics
                .get(k)
                .map_or("—".into(), |s| format!("{:.3}", s.mean))
        };
        outln!(
            "  {}: clean CA {}, poisoned CA {}, ASR {}",
            point.label(),
            get("clean.ca"),
            get("poisoned.ca"),
            get("poisoned.asr")
        )?;
    }
    outln!(
        "  report: {}",
        o.out.join(poisonlab_results::files::REPORT).display()
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
