//! `poisonlab`: run data-poisoning scenarios and score defenses.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use poisonlab_runner::{
    CATALOGUE, Outcome, Progress, RunError, RunOptions, Scenario, load_scenario,
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
    /// Check scenario files without running them; lists every problem.
    Validate {
        /// Scenario TOML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List data sources, models, attacks and defenses.
    List,
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
                match load_scenario(&file) {
                    Ok(s) => println!("{}: ok ({} run(s))", file.display(), s.n_runs()),
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
        Err(e @ RunError::OtherScenario(_)) => {
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
