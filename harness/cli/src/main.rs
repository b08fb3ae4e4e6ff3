//! `poisonlab`: run data-poisoning scenarios and score defenses.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
mod integrity;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use poisonlab_runner::{Outcome, Progress, RunError, RunOptions};
use poisonlab_scenario::{Scenario, Source, kinds, load_scenario};

/// mimalloc keeps freed pages for reuse: training allocates and frees the same
/// tensor sizes every batch, which glibc's allocator hands back to the kernel
/// and faults in again (about a seventh of the CNN's training time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for a run that failed or checks that were not met.
const EXIT_FAILED: u8 = 1;
/// Exit code for bad input (scenario problems, unusable results folder).
const EXIT_BAD_INPUT: u8 = 2;

/// Simulate data-poisoning attacks and score defenses against them.
///
/// A scenario file names the data, model, attack and defenses; `run` trains a
/// clean and a poisoned model, lets every defense filter the poisoned training
/// set, retrains on what it keeps, and writes scored results.
#[derive(Parser)]
#[command(name = "poisonlab", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its results folder.
    Run {
        /// The scenario TOML file.
        file: PathBuf,
        /// Results folder [default: results/<scenario name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs in parallel, each training on one thread; threads left over go
        /// to a run's independent steps [default: number of cores].
        #[arg(long)]
        threads: Option<usize>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// Discard earlier results in the folder instead of resuming.
        #[arg(long)]
        fresh: bool,
        /// Exit 1 with a table of every unmet [expect] entry.
        #[arg(long)]
        check: bool,
        /// Run only the sweep points where KEY has VALUE (`attack.rate=0.05`);
        /// repeat for several keys. A later run without it fills in the rest.
        #[arg(long, value_name = "KEY=VALUE")]
        only: Vec<String>,
        /// Repeats per point instead of the scenario's `repeats` (this makes it
        /// another scenario for an existing results folder: use --out or --fresh).
        #[arg(long)]
        repeats: Option<u64>,
    },
    /// Rewrite runs.csv, summary.json, report.md, report.html and audit.jsonl
    /// of a results folder from its scenario.toml and runs.jsonl alone.
    Report {
        /// The results folder.
        dir: PathBuf,
    },
    /// Put several results folders side by side (Markdown to stdout), marking
    /// differences larger than the 95 % confidence intervals.
    Compare {
        /// Results folders; the first one's points and defenses set the rows.
        #[arg(required = true, num_args = 2..)]
        dirs: Vec<PathBuf>,
        /// Also write the table as a self-contained HTML page.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Write a new ed25519 key pair: KEY (private, owner-only) and KEY.pub.
    Keygen {
        /// Where to write the private key; the public key goes to KEY.pub.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a dataset's records into a Merkle-rooted manifest, or verify data against one.
    #[command(subcommand)]
    Manifest(integrity::ManifestCommand),
    /// Check a hash-chained audit log.
    #[command(subcommand)]
    Audit(integrity::AuditCommand),
    /// Check scenario files without running them; lists every problem.
    Validate {
        /// Scenario TOML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List data sources, models, attacks and defenses, or a scenario's planned runs.
    List {
        /// Print this scenario's planned runs and a rough time estimate instead.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Threads the time estimate assumes [default: number of cores].
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Look at, download and export datasets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Measure training, inference and embedding samples/s (MLP and CNN on
    /// synthetic digits) and each defense's time on one thread; compare with
    /// bench/pytorch_reference.py.
    Bench {
        /// Samples per training epoch and per inference pass.
        #[arg(long, default_value_t = 8192)]
        samples: usize,
        /// Training samples the defenses inspect.
        #[arg(long, default_value_t = 10_000)]
        defense_samples: usize,
        /// Batch sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "64,256")]
        batch: Vec<usize>,
        /// Models, comma-separated: mlp, cnn.
        #[arg(long, value_delimiter = ',', default_value = "mlp,cnn")]
        model: Vec<String>,
        /// Timed repetitions per figure; the best is reported.
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Measure the models only.
        #[arg(long)]
        no_defenses: bool,
        /// Also write the figures as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Print format, shape, class counts, value range and SHA-256 of data files.
    Inspect {
        /// IDX (raw or .gz), CIFAR-10 .bin or CSV files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Download a dataset, verified against pinned SHA-256 sums (resumes partial downloads).
    Fetch {
        /// mnist, fashion-mnist or cifar10.
        name: String,
        /// Folder to put the files in.
        #[arg(long)]
        to: PathBuf,
        /// Base URL of a mirror instead of the default one.
        #[arg(long)]
        url: Option<String>,
    },
    /// Write the poisoned training set of a scenario's first run, its poison mask and a contact sheet.
    Export {
        /// The scenario TOML file.
        scenario: PathBuf,
        /// Folder to write to.
        #[arg(long)]
        to: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            file,
            out,
            threads,
            quiet,
            fresh,
            check,
            only,
            repeats,
        } => {
            let mut scenario = match load_scenario(&file) {
                Ok(s) => s,
                Err(problems) => {
                    eprintln!("{problems}");
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
            };
            let points = match restrict(&mut scenario, &only, repeats) {
                Ok(p) => p,
                Err(message) => {
                    eprintln!("{}: {message}", file.display());
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
            };
            let threads = match threads {
                Some(0) => {
                    eprintln!("--threads must be at least 1");
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
                Some(n) => n,
                None => std::thread::available_parallelism().map_or(1, |n| n.get()),
            };
            let out = out.unwrap_or_else(|| PathBuf::from("results").join(&scenario.meta.name));
            let opts = RunOptions {
                out,
                threads,
                fresh,
                points,
            };
            run_scenario(&scenario, &opts, quiet, check)
        }
        Command::Bench {
            samples,
            defense_samples,
            batch,
            model,
            reps,
            no_defenses,
            json,
        } => {
            let mut models = Vec::new();
            for m in &model {
                models.push(match m.as_str() {
                    "mlp" => poisonlab_runner::ModelKind::Mlp,
                    "cnn" => poisonlab_runner::ModelKind::Cnn,
                    other => {
                        eprintln!("--model: unknown model {other:?}; expected mlp or cnn");
                        return Ok(ExitCode::from(EXIT_BAD_INPUT));
                    }
                });
            }
            let opts = poisonlab_runner::BenchOptions {
                samples,
                defense_samples,
                batches: batch,
                models,
                reps,
                no_defenses,
            };
            let spinner = ProgressBar::new_spinner();
            spinner.enable_steady_tick(Duration::from_millis(200));
            let report = poisonlab_runner::bench(&opts, &|what| {
                spinner.set_message(format!("measuring {what}"))
            });
            spinner.finish_and_clear();
            let report = match report {
                Ok(r) => r,
                Err(RunError::Bench(message)) => {
                    eprintln!("{message}");
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
                Err(e) => return Err(e.into()),
            };
            print!("{}", report.markdown());
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report)?;
                std::fs::write(&path, text + "\n")
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => {
            let mut bad = false;
            for file in files {
                let name = file.display().to_string();
                match load_scenario(&file) {
                    // File sources are read too: a corrupt file is bad input like a bad key.
                    Ok(s) if is_file_source(&s) => {
                        match poisonlab_runner::load_checked(&s, &name) {
                            Ok(_) => {
                                println!("{name}: ok ({} run(s), data files read)", s.n_runs())
                            }
                            Err(e) => {
                                eprintln!("{name}: {e}");
                                bad = true;
                            }
                        }
                    }
                    Ok(s) => println!("{name}: ok ({} run(s))", s.n_runs()),
                    Err(problems) => {
                        eprintln!("{problems}");
                        bad = true;
                    }
                }
            }
            Ok(if bad {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Data(cmd) => data(cmd),
        Command::Keygen { out } => integrity::keygen(&out),
        Command::Manifest(cmd) => integrity::manifest(cmd),
        Command::Audit(cmd) => integrity::audit(cmd),
        Command::Report { dir } => match poisonlab_results::regenerate(&dir) {
            Ok(summary) => {
                println!(
                    "{}: report.md, report.html and summary.json rewritten ({} point(s))",
                    dir.display(),
                    summary.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {e}");
                Ok(ExitCode::from(EXIT_BAD_INPUT))
            }
        },
        Command::Compare { dirs, html } => match poisonlab_results::compare(&dirs) {
            Ok(c) => {
                print!("{}", c.markdown());
                if let Some(path) = html {
                    std::fs::write(&path, c.html())
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {e}");
                Ok(ExitCode::from(EXIT_BAD_INPUT))
            }
        },
        Command::List {
            scenario: Some(file),
            threads,
        } => plan(&file, threads),
        Command::List { scenario: None, .. } => {
            let mut section = "";
            for (group, name, about) in kinds::catalogue() {
                if group != section {
                    println!("{}{group}:", if section.is_empty() { "" } else { "\n" });
                    section = group;
                }
                println!("  {name:<18} {about}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
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

/// `list --scenario FILE`: the planned runs and a rough time estimate.
fn plan(file: &Path, threads: Option<usize>) -> anyhow::Result<ExitCode> {
    let scenario = match load_scenario(file) {
        Ok(s) => s,
        Err(problems) => {
            eprintln!("{problems}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let data = match poisonlab_runner::load_checked(&scenario, &file.display().to_string()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!(
        "{}: {} point(s) × {} repeat(s) = {} run(s), {} training samples",
        scenario.meta.name,
        scenario.points.len(),
        scenario.meta.repeats,
        scenario.n_runs(),
        data.train.len()
    );
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
        println!("  {label}: repeats 0..{}", scenario.meta.repeats);
    }
    let secs = poisonlab_runner::estimate_seconds(&scenario, data.train.len(), threads);
    println!(
        "estimated: at least {secs:.0} s of training on {threads} thread(s) (release build; defenses and evaluation add to it)"
    );
    Ok(ExitCode::SUCCESS)
}

fn run_scenario(
    scenario: &Scenario,
    opts: &RunOptions,
    quiet: bool,
    check: bool,
) -> anyhow::Result<ExitCode> {
    let bar = Bar::new(quiet);
    let outcome = match poisonlab_runner::run(scenario, opts, &bar) {
        Ok(o) => o,
        Err(e @ (RunError::OtherScenario(_) | RunError::Invalid(_) | RunError::Data(_))) => {
            bar.bar.finish_and_clear();
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        Err(e) => return Err(e).context(format!("running {}", scenario.meta.name)),
    };
    bar.bar.finish_and_clear();
    print_outcome(&outcome);
    let mut code = ExitCode::SUCCESS;
    if !outcome.failures.is_empty() {
        for (run, e) in &outcome.failures {
            eprintln!("error: {run}: {e}");
        }
        code = ExitCode::from(EXIT_FAILED);
    }
    if check {
        if outcome.unmet.is_empty() {
            println!("check: every expectation met");
        } else {
            println!("check: {} expectation(s) not met", outcome.unmet.len());
            println!("| point | metric | expected | measured mean |\n|---|---|---|---|");
            for u in &outcome.unmet {
                let e = &u.expectation;
                let bounds = match (e.min, e.max) {
                    (Some(lo), Some(hi)) => format!("{lo} ≤ x ≤ {hi}"),
                    (Some(lo), None) => format!("≥ {lo}"),
                    (None, Some(hi)) => format!("≤ {hi}"),
                    (None, None) => String::new(),
                };
                let mean = u.mean.map_or("not measured".into(), |m| format!("{m:.4}"));
                println!("| {} | {} | {bounds} | {mean} |", u.point, e.metric);
            }
            code = ExitCode::from(EXIT_FAILED);
        }
    }
    Ok(code)
}

fn is_file_source(s: &Scenario) -> bool {
    !matches!(s.data.source, Source::SyntheticDigits(_) | Source::Blobs(_))
}

fn data(cmd: DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Inspect { paths } => {
            let mut bad = false;
            for path in paths {
                match poisonlab_data::inspect(&path) {
                    Ok(info) => println!("{info}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        bad = true;
                    }
                }
            }
            Ok(if bad {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            })
        }
        DataCommand::Fetch { name, to, url } => {
            let Some(cat) = poisonlab_data::catalogue(&name) else {
                let known: Vec<&str> = poisonlab_data::catalogues()
                    .iter()
                    .map(|c| c.dataset)
                    .collect();
                eprintln!(
                    "error: unknown dataset {name:?}; known: {}",
                    known.join(", ")
                );
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            };
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let mut progress = |file: &str, done: u64, total: Option<u64>| {
                if let Some(t) = total {
                    bar.set_length(t);
                }
                bar.set_position(done);
                bar.set_message(file.to_string());
            };
            let files = poisonlab_data::fetch(cat, &to, url.as_deref(), &mut progress)
                .with_context(|| format!("fetching {name}"))?;
            bar.finish_and_clear();
            println!(
                "{name}: {} file(s) verified in {}",
                files.len(),
                to.display()
            );
            for f in &files {
                println!("  {}", f.display());
            }
            let dir = to.display();
            if name == "cifar10" {
                println!(
                    "\nUse them in a scenario with:\n\n[data]\nsource = \"cifar10\"\ndir = \"{dir}/{}\"",
                    poisonlab_data::CIFAR_BIN_DIR
                );
            } else {
                println!(
                    "\nUse them in a scenario (paths relative to the scenario file) with:\n\n[data]\nsource = \"idx\"\ndir = \"{dir}\""
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Export { scenario, to } => {
            let s = match load_scenario(&scenario) {
                Ok(s) => s,
                Err(problems) => {
                    eprintln!("{problems}");
                    return Ok(ExitCode::from(EXIT_BAD_INPUT));
                }
            };
            match poisonlab_runner::export(&s, &scenario.display().to_string(), &to) {
                Ok(out) => {
                    println!(
                        "{} training samples ({} poisoned) written:",
                        out.n, out.n_poison
                    );
                    for f in out.files {
                        println!("  {}", f.display());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e @ (RunError::Invalid(_) | RunError::Data(_))) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(EXIT_BAD_INPUT))
                }
                Err(e) => Err(e).context("exporting"),
            }
        }
    }
}

fn print_outcome(o: &Outcome) {
    let new = o.total - o.resumed - o.failures.len();
    println!(
        "{} run(s): {new} new, {} resumed, {} failed; results in {}",
        o.total,
        o.resumed,
        o.failures.len(),
        o.out.display()
    );
    for point in &o.summary {
        let get = |k: &str| {
            point
                .metrics
                .get(k)
                .map_or("—".into(), |s| format!("{:.3}", s.mean))
        };
        println!(
            "  {}: clean CA {}, poisoned CA {}, ASR {}",
            point.label(),
            get("clean.ca"),
            get("poisoned.ca"),
            get("poisoned.asr")
        );
    }
    println!(
        "  report: {}",
        o.out.join(poisonlab_results::files::REPORT).display()
    );
}

/// An indicatif bar: runs done / total, ETA, and the step the latest run is on.
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
}
