//! `poisonlab report` and `poisonlab compare`: finished results folders.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use poisonlab_runner::ResultsLock;

use crate::out::{errln, out, outln};
use crate::{InputError, Status};

/// `poisonlab report DIR`: rewrite the derived files, holding the folder's
/// lock as `run` does.
pub fn cmd_report(dir: &Path) -> anyhow::Result<Status> {
    // A folder that is not there has nothing to lock; regenerate names what is missing.
    let _lock = if dir.is_dir() { Some(lock(dir)?) } else { None };
    let summary = poisonlab_results::regenerate(dir).map_err(InputError::error)?;
    outln!(
        "{}: report.md, report.html and summary.json rewritten ({} point(s))",
        dir.display(),
        summary.len()
    )?;
    Ok(Status::Done)
}

/// Lock a results folder (bad input when another writer holds it).
fn lock(dir: &Path) -> anyhow::Result<ResultsLock> {
    let lock = ResultsLock::acquire(dir).map_err(InputError::error)?;
    if let Some(message) = lock.takeover_notice() {
        errln!("{message}");
    }
    Ok(lock)
}

/// `poisonlab compare DIR DIR...`: the Markdown table on stdout, and the HTML
/// page first, so that a closed stdout does not lose it.
pub fn cmd_compare(dirs: &[PathBuf], html: Option<&Path>) -> anyhow::Result<Status> {
    let c = poisonlab_results::compare(dirs).map_err(InputError::error)?;
    if let Some(path) = html {
        std::fs::write(path, c.html()).with_context(|| format!("writing {}", path.display()))?;
    }
    out!("{}", c.markdown())?;
    Ok(Status::Done)
}
