//! `poisonlab merge` (join the shards of a sweep) and `poisonlab slurm`
//! (the sbatch scripts that run a sweep as a Slurm job array, then merge).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use poisonlab_runner::{ResultsLock, Shard};
use poisonlab_scenario::load_scenario;

use crate::out::{errln, outln};
use crate::{InputError, SlurmArgs, Status};

/// `poisonlab merge DIR... --out DIR [--partial]`.
pub fn cmd_merge(dirs: &[PathBuf], out: &Path, partial: bool) -> anyhow::Result<Status> {
    let start = Instant::now();
    for d in dirs {
        if !d.is_dir() {
            return Err(InputError::error(format!(
                "{}: no such folder",
                d.display()
            )));
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // Every folder read and the one written, each locked once: a shard still
    // being run is refused.
    let mut locked: Vec<PathBuf> = Vec::new();
    let mut locks = Vec::new();
    for d in dirs.iter().map(PathBuf::as_path).chain([out]) {
        let canonical = d.canonicalize().unwrap_or_else(|_| d.to_path_buf());
        if locked.contains(&canonical) {
            continue;
        }
        let lock = ResultsLock::acquire(d).map_err(InputError::error)?;
        if let Some(message) = lock.takeover_notice() {
            errln!("{message}");
        }
        locks.push(lock);
        locked.push(canonical);
    }
    let merged = poisonlab_results::merge(dirs, out, partial).map_err(InputError::error)?;
    drop(locks);
    if merged.kernels.len() > 1 {
        errln!(
            "warning: the shards computed with {} different kernel sets; their numbers differ in the last bits (pin [scenario] kernels to avoid it):",
            merged.kernels.len()
        );
        for (set, folders) in &merged.kernels {
            let list: Vec<String> = folders.iter().map(|f| f.display().to_string()).collect();
            errln!("  {set}: {}", list.join(", "));
        }
    }
    for m in &merged.missing {
        errln!("partial: {m}");
    }
    outln!(
        "merged {} of {} run(s) from {} folder(s){} into {} in {:.2} s (fingerprint {})",
        merged.records,
        merged.planned,
        dirs.len(),
        merged
            .shards
            .map_or(String::new(), |n| format!(" of {n} shard(s)")),
        out.display(),
        start.elapsed().as_secs_f64(),
        &merged.fingerprint[..16.min(merged.fingerprint.len())]
    )?;
    Ok(Status::Done)
}

/// The two scripts `poisonlab slurm` writes.
struct Scripts {
    array: PathBuf,
    merge: PathBuf,
}

/// `poisonlab slurm FILE --shards N ...`: write the array and merge scripts,
/// then print the sbatch commands or, with `--submit`, run them.
pub fn cmd_slurm(args: SlurmArgs) -> anyhow::Result<Status> {
    let scenario = load_scenario(&args.file).map_err(InputError::plain)?;
    if args.shards == 0 {
        return Err(InputError::error("--shards must be at least 1"));
    }
    Shard::new(args.shards, args.shards).map_err(InputError::error)?;
    for (flag, value) in [("--partition", &args.partition), ("--time", &args.time)] {
        if let Some(v) = value
            && (v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(InputError::error(format!(
                "{flag} {v:?}: expected one word (no spaces)"
            )));
        }
    }
    if args.cpus_per_task == Some(0) {
        return Err(InputError::error("--cpus-per-task must be at least 1"));
    }
    let cwd = std::env::current_dir().context("reading the current folder")?;
    let absolute = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        }
    };
    let file = absolute(&args.file);
    let out = absolute(
        &args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("results").join(&scenario.meta.name)),
    );
    let exe = std::env::current_exe().context("finding the poisonlab binary")?;
    let scripts = write_scripts(&args, &scenario.meta.name, &exe, &file, &out, &cwd)?;
    if !args.submit {
        outln!(
            "wrote {} and {}; submit with:\n",
            scripts.array.display(),
            scripts.merge.display()
        )?;
        outln!(
            "jobid=$(sbatch --parsable {}) && sbatch --dependency=afterok:${{jobid%%;*}} {}",
            sh_quote(&scripts.array),
            sh_quote(&scripts.merge)
        )?;
        return Ok(Status::Done);
    }
    if !on_path("sbatch") {
        return Err(InputError::error(
            "--submit: sbatch is not on PATH; run the commands printed without --submit on a machine that has it",
        ));
    }
    let array_id = sbatch(&[], &scripts.array)?;
    let merge_id = sbatch(
        &[format!("--dependency=afterok:{array_id}")],
        &scripts.merge,
    )?;
    outln!(
        "submitted array job {array_id} ({} task(s)) and merge job {merge_id} (after the array succeeds); results in {}",
        args.shards,
        out.display()
    )?;
    Ok(Status::Done)
}

/// Write `<out>/slurm/array.sbatch` and `merge.sbatch` (logs go to `<out>/slurm/logs`).
fn write_scripts(
    args: &SlurmArgs,
    name: &str,
    exe: &Path,
    file: &Path,
    out: &Path,
    cwd: &Path,
) -> anyhow::Result<Scripts> {
    let dir = out.join("slurm");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let n = args.shards;
    let mut common = String::new();
    if let Some(p) = &args.partition {
        common.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &args.time {
        common.push_str(&format!("#SBATCH --time={t}\n"));
    }
    common.push_str(&format!("#SBATCH --chdir={}\n", cwd.display()));
    let cpus = args.cpus_per_task.unwrap_or(1);
    let array = format!(
        "#!/bin/bash\n\
         # Written by `poisonlab slurm`: scenario {name}, {n} shard(s), one array task each.\n\
         # Each task runs one slice of the plan into its own folder and resumes if requeued.\n\
         #SBATCH --job-name=poisonlab-{name}\n\
         #SBATCH --array=1-{n}\n\
         #SBATCH --ntasks=1\n\
         #SBATCH --cpus-per-task={cpus}\n\
         #SBATCH --output={logs}/%A_%a.out\n\
         {common}\
         set -euo pipefail\n\
         shard=\"${{SLURM_ARRAY_TASK_ID}}/{n}\"\n\
         exec {exe} run {file} --shard \"$shard\" \\\n  \
           --out {out}/\"shard-${{SLURM_ARRAY_TASK_ID}}-of-{n}\" \\\n  \
           --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\" --quiet\n",
        logs = logs.display(),
        exe = sh_quote(exe),
        file = sh_quote(file),
        out = sh_quote(out),
    );
    let merge = format!(
        "#!/bin/bash\n\
         # Written by `poisonlab slurm`: merge the {n} shard(s) of {name} once the array succeeded.\n\
         #SBATCH --job-name=poisonlab-{name}-merge\n\
         #SBATCH --ntasks=1\n\
         #SBATCH --cpus-per-task=1\n\
         #SBATCH --output={logs}/merge-%j.out\n\
         {common}\
         set -euo pipefail\n\
         exec {exe} merge {out}/shard-*-of-{n} --out {out}\n",
        logs = logs.display(),
        exe = sh_quote(exe),
        out = sh_quote(out),
    );
    let scripts = Scripts {
        array: dir.join("array.sbatch"),
        merge: dir.join("merge.sbatch"),
    };
    for (path, text) in [(&scripts.array, array), (&scripts.merge, merge)] {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(scripts)
}

/// Submit `script` with `sbatch --parsable` and return its job id.
fn sbatch(extra: &[String], script: &Path) -> anyhow::Result<String> {
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output()
        .context("running sbatch")?;
    if !output.status.success() {
        anyhow::bail!(
            "sbatch {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // `--parsable` prints `jobid` or `jobid;cluster`.
    let id = text
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        anyhow::bail!("sbatch {} printed no job id: {text:?}", script.display());
    }
    Ok(id)
}

/// Whether `program` is an executable file in a folder of `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// `path` as one shell word: bare when it holds only safe characters, else
/// in single quotes.
fn sh_quote(path: &Path) -> String {
    let s = path.display().to_string();
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
