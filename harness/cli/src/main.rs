//! `poisonlab`: run data-poisoning scenarios and score defenses.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
mod integrity;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use poisonlab_runner::{
    CATALOGUE, Outcome, Progress, RunError, RunOptions, Scenario, Source, load_scenario,
};

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
        /// Runs in parallel; each trains on one thread [default: number of cores].
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
    /// List data sources, models, attacks and defenses.
    List,
    /// Look at, download and export datasets.
    #[command(subcommand)]
    Data(DataCommand),
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
        } => {
            let scenario = match load_scenario(&file) {
                Ok(s) => s,
                Err(problems) => {
                    eprintln!("{problems}");
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
            };
            run_scenario(&scenario, &opts, quiet, check)
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
        Command::List => {
            let mut section = "";
            for (group, name, about) in CATALOGUE {
                if *group != section {
                    println!("{}{group}:", if section.is_empty() { "" } else { "\n" });
                    section = group;
                }
                println!("  {name:<18} {about}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
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
        o.out.join(poisonlab_runner::files::REPORT).display()
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
