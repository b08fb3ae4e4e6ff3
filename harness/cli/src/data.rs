//! `poisonlab data inspect|fetch|export`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use poisonlab_runner::RunError;
use poisonlab_scenario::load_scenario;

use crate::out::{StdoutError, errln, outln};
use crate::{InputError, Status};

/// `poisonlab data inspect PATH...`: one description per file; exit 2 if any
/// could not be read.
pub fn cmd_data_inspect(paths: &[PathBuf]) -> anyhow::Result<Status> {
    let mut status = Status::Done;
    for path in paths {
        match poisonlab_data::inspect(path) {
            Ok(info) => outln!("{info}")?,
            Err(e) => {
                errln!("error: {e}");
                status = Status::BadInput;
            }
        }
    }
    Ok(status)
}

/// `poisonlab data fetch NAME --to DIR`: download and verify, then say how to
/// use the files.
pub fn cmd_data_fetch(name: &str, to: &Path, url: Option<&str>) -> anyhow::Result<Status> {
    let Some(cat) = poisonlab_data::catalogue(name) else {
        let known: Vec<&str> = poisonlab_data::catalogues()
            .iter()
            .map(|c| c.dataset)
            .collect();
        return Err(InputError::error(format!(
            "unknown dataset {name:?}; known: {}",
            known.join(", ")
        )));
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut progress = |file: &str, done: u64, total: Option<u64>| {
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
        bar.set_message(file.to_string());
    };
    let files = poisonlab_data::fetch(cat, to, url, &mut progress)
        .with_context(|| format!("fetching {name}"))?;
    bar.finish_and_clear();
    print_fetched(name, to, &files)?;
    Ok(Status::Done)
}

fn print_fetched(name: &str, to: &Path, files: &[PathBuf]) -> Result<(), StdoutError> {
    outln!(
        "{name}: {} file(s) verified in {}",
        files.len(),
        to.display()
    )?;
    for f in files {
        outln!("  {}", f.display())?;
    }
    let dir = to.display();
    if name == "cifar10" {
        outln!(
            "\nUse them in a scenario with:\n\n[data]\nsource = \"cifar10\"\ndir = \"{dir}/{}\"",
            poisonlab_data::CIFAR_BIN_DIR
        )
    } else {
        outln!(
            "\nUse them in a scenario (paths relative to the scenario file) with:\n\n[data]\nsource = \"idx\"\ndir = \"{dir}\""
        )
    }
}

/// `poisonlab data export SCENARIO --to DIR`: the poisoned training set of
/// the scenario's first run, its poison mask and a contact sheet.
pub fn cmd_data_export(scenario: &Path, to: &Path) -> anyhow::Result<Status> {
    let s = load_scenario(scenario).map_err(InputError::plain)?;
    let out = match poisonlab_runner::export(&s, &scenario.display().to_string(), to) {
        Ok(out) => out,
        Err(e @ (RunError::Invalid(_) | RunError::Data(_) | RunError::Recipe(_))) => {
            return Err(InputError::error(e));
        }
        Err(e) => return Err(e).context("exporting"),
    };
    outln!(
        "{} training samples ({} poisoned) written:",
        out.n,
        out.n_poison
    )?;
    for f in out.files {
        outln!("  {}", f.display())?;
    }
    Ok(Status::Done)
}
