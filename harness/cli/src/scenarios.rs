//! `poisonlab validate` and `poisonlab list`.

use std::path::{Path, PathBuf};

use poisonlab_scenario::{Scenario, Source, kinds, load_scenario};

use crate::execute::available_threads;
use crate::out::{errln, outln};
use crate::{InputError, Status};

/// `poisonlab validate FILE...`: every problem of every file; exit 2 if any.
pub fn cmd_validate(files: &[PathBuf]) -> anyhow::Result<Status> {
    let mut status = Status::Done;
    for file in files {
        let name = file.display().to_string();
        match validate(file, &name) {
            Ok(what) => outln!("{name}: ok ({what})")?,
            Err(problems) => {
                errln!("{problems}");
                status = Status::BadInput;
            }
        }
    }
    Ok(status)
}

/// Check one scenario file: what it plans, or its problems. File sources are
/// read too: a corrupt file is bad input like a bad key.
fn validate(file: &Path, name: &str) -> Result<String, String> {
    let s = load_scenario(file).map_err(|problems| problems.to_string())?;
    if !is_file_source(&s) {
        return Ok(format!("{} run(s)", s.n_runs()));
    }
    poisonlab_runner::load_checked(&s, name).map_err(|e| format!("{name}: {e}"))?;
    Ok(format!("{} run(s), data files read", s.n_runs()))
}

fn is_file_source(s: &Scenario) -> bool {
    !matches!(s.data.source, Source::SyntheticDigits(_) | Source::Blobs(_))
}

/// `poisonlab list`: the kind catalogue, grouped by family.
pub fn cmd_list() -> anyhow::Result<Status> {
    let mut section = "";
    for (group, name, about) in kinds::catalogue() {
        if group != section {
            outln!("{}{group}:", if section.is_empty() { "" } else { "\n" })?;
            section = group;
        }
        outln!("  {name:<18} {about}")?;
    }
    Ok(Status::Done)
}

/// `poisonlab list --scenario FILE`: the planned runs and a rough time estimate.
pub fn cmd_list_scenario(file: &Path, threads: Option<usize>) -> anyhow::Result<Status> {
    let scenario = load_scenario(file).map_err(InputError::plain)?;
    let data = poisonlab_runner::load_checked(&scenario, &file.display().to_string())
        .map_err(|e| InputError::plain(format!("{}: {e}", file.display())))?;
    let threads = threads.unwrap_or_else(available_threads);
    outln!(
        "{}: {} point(s) × {} repeat(s) = {} run(s), {} training samples",
        scenario.meta.name,
        scenario.points.len(),
        scenario.meta.repeats,
        scenario.n_runs(),
        data.train.len()
    )?;
    for p in &scenario.points {
        let label = if p.assignments.is_empty() {
            "(no sweep)".to_string()
        } else {
            p.assignments
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        outln!("  {label}: repeats 0..{}", scenario.meta.repeats)?;
    }
    let secs = poisonlab_runner::estimate_seconds(&scenario, data.train.len(), threads);
    outln!(
        "estimated: at least {secs:.0} s of training on {threads} thread(s) (release build; defenses and evaluation add to it)"
    )?;
    Ok(Status::Done)
}
