//! `poisonlab`: run data-poisoning scenarios and score defenses.
//!
//! A thin binary, as ripgrep's: [`main`] parses, [`run`] hands each
//! subcommand to its one `cmd_*` function, and [`Status::code`] and
//! [`error_code`] turn what that returned into the exit code: 0 ok, 1 a run
//! failed or checks failed, 2 bad input. Nothing prints with `println!`
//! (it panics on a closed pipe): see [`out`].

#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod bench;
mod cluster;
mod data;
mod execute;
mod integrity;
mod out;
mod results;
mod scenarios;

use integrity::{AuditCommand, ManifestCommand};
use out::{StdoutError, errln};

/// mimalloc keeps freed pages for reuse: training allocates and frees the same
/// tensor sizes every batch, which glibc's allocator hands back to the kernel
/// and faults in again (about a seventh of the CNN's training time). Version 2
/// (the `v2` feature) hands pages unused for 10 ms back; version 3 keeps them
/// a second, which adds about 45 MB to the peak of a 60 000-image run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    Run(RunArgs),
    /// Rewrite runs.csv, summary.json, report.md, report.html and audit.jsonl
    /// of a results folder from its scenario.toml and runs.jsonl alone.
    Report {
        /// The results folder.
        dir: PathBuf,
    },
    /// Join the shard folders of a sweep (`run --shard I/N`) into one results
    /// folder: the records by run key, in plan order, and every derived file.
    Merge {
        /// The shard folders (all shards of one sweep).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The merged results folder.
        #[arg(long)]
        out: PathBuf,
        /// Write what there is when shards or runs are missing; report.md says so.
        #[arg(long)]
        partial: bool,
    },
    /// Write sbatch scripts that run a scenario as a Slurm job array of N
    /// shards and merge them when all succeeded; print the sbatch commands
    /// (or submit them).
    Slurm(SlurmArgs),
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
    /// Generate a synthetic dataset to files (IDX for synthetic-digits, CSV
    /// for blobs) with its recipe (DIR/recipe.json): generator, version,
    /// every parameter, the seed and the Merkle root, signed with --key.
    Generate(integrity::GenerateArgs),
    /// Sign a dataset's records into a Merkle-rooted manifest, or verify data
    /// against a manifest or a generator recipe.
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
    Bench(BenchArgs),
}

/// `poisonlab run`'s arguments.
#[derive(Args)]
struct RunArgs {
    /// The scenario TOML file.
    pub file: PathBuf,
    /// Results folder [default: results/<scenario name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs in parallel, each training on one thread; threads left over go
    /// to a run's independent steps [default: number of cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar (the summary is still printed).
    #[arg(long, short)]
    pub quiet: bool,
    /// Discard earlier results in the folder instead of resuming.
    #[arg(long)]
    pub fresh: bool,
    /// Exit 1 with a table of every unmet [expect] entry.
    #[arg(long)]
    pub check: bool,
    /// Run only the sweep points where KEY has VALUE (`attack.rate=0.05`);
    /// repeat for several keys. A later run without it fills in the rest.
    #[arg(long, value_name = "KEY=VALUE")]
    pub only: Vec<String>,
    /// Repeats per point instead of the scenario's `repeats` (this makes it
    /// another scenario for an existing results folder: use --out or --fresh).
    #[arg(long)]
    pub repeats: Option<u64>,
    /// Print the summary as JSON on stdout (for scripts) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Run only the I-th of N slices of the plan (I from 1 to N), into
    /// results/<name>/shard-I-of-N unless --out says otherwise; `merge`
    /// joins the shards. Under a Slurm job array it defaults to the array
    /// task's place in the array.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

/// `poisonlab slurm`'s arguments.
#[derive(Args)]
struct SlurmArgs {
    /// The scenario TOML file.
    pub file: PathBuf,
    /// Shards: tasks of the job array.
    #[arg(long)]
    pub shards: usize,
    /// Slurm partition of both jobs [default: the cluster's].
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit of each task and of the merge (sbatch --time, e.g. 02:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// Cores per task; each task runs that many runs at once.
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// Results folder: shards go to OUT/shard-I-of-N, the merge to OUT, the
    /// scripts and logs to OUT/slurm [default: results/<scenario name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Submit both jobs with sbatch (which must be on PATH) instead of printing the commands.
    #[arg(long)]
    pub submit: bool,
}

/// `poisonlab bench`'s arguments.
#[derive(Args)]
struct BenchArgs {
    /// Samples per training epoch and per inference pass.
    #[arg(long, default_value_t = 8192)]
    pub samples: usize,
    /// Training samples the defenses inspect.
    #[arg(long, default_value_t = 10_000)]
    pub defense_samples: usize,
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64,256")]
    pub batch: Vec<usize>,
    /// Models, comma-separated: mlp, cnn.
    #[arg(long, value_delimiter = ',', default_value = "mlp,cnn")]
    pub model: Vec<String>,
    /// Timed repetitions per figure; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Measure the models only.
    #[arg(long)]
    pub no_defenses: bool,
    /// Also write the figures as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
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
        Err(e) => error_code(&e),
    }
}

/// Run one subcommand.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let status = match cli.command {
        Command::Run(args) => execute::cmd_run(args),
        Command::Report { dir } => results::cmd_report(&dir),
        Command::Merge { dirs, out, partial } => cluster::cmd_merge(&dirs, &out, partial),
        Command::Slurm(args) => cluster::cmd_slurm(args),
        Command::Compare { dirs, html } => results::cmd_compare(&dirs, html.as_deref()),
        Command::Keygen { out } => integrity::cmd_keygen(&out),
        Command::Generate(args) => integrity::cmd_generate(args),
        Command::Manifest(ManifestCommand::Sign(args)) => integrity::cmd_manifest_sign(args),
        Command::Manifest(ManifestCommand::Verify(args)) => integrity::cmd_manifest_verify(args),
        Command::Audit(AuditCommand::Verify { log, public }) => {
            integrity::cmd_audit_verify(&log, public.as_deref())
        }
        Command::Validate { files } => scenarios::cmd_validate(&files),
        Command::List { scenario: None, .. } => scenarios::cmd_list(),
        Command::List {
            scenario: Some(file),
            threads,
        } => scenarios::cmd_list_scenario(&file, threads),
        Command::Data(DataCommand::Inspect { paths }) => data::cmd_data_inspect(&paths),
        Command::Data(DataCommand::Fetch { name, to, url }) => {
            data::cmd_data_fetch(&name, &to, url.as_deref())
        }
        Command::Data(DataCommand::Export { scenario, to }) => {
            data::cmd_data_export(&scenario, &to)
        }
        Command::Bench(args) => bench::cmd_bench(args),
    }?;
    Ok(status.code())
}

// ------------------------------------------------------------- exit codes
// The one place where outcomes become exit codes.

/// Exit code for a run that failed or checks that were not met.
const EXIT_FAILED: u8 = 1;
/// Exit code for bad input (scenario problems, unusable results folder).
const EXIT_BAD_INPUT: u8 = 2;

/// How a subcommand ended when it did not return an error; whatever it had
/// to say about it is already printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Exit 0.
    Done,
    /// Exit 1: a run failed, checks were not met, data did not verify.
    Failed,
    /// Exit 2: bad input, reported item by item (`validate`, `data inspect`).
    BadInput,
}

impl Status {
    fn code(self) -> ExitCode {
        match self {
            Status::Done => ExitCode::SUCCESS,
            Status::Failed => ExitCode::from(EXIT_FAILED),
            Status::BadInput => ExitCode::from(EXIT_BAD_INPUT),
        }
    }
}

/// Bad input (exit 2): the message, printed as it is.
#[derive(Debug)]
struct InputError(String);

impl InputError {
    /// `error: {e}`.
    fn error(e: impl fmt::Display) -> anyhow::Error {
        InputError(format!("error: {e}")).into()
    }

    /// The message alone (scenario problems name their file and lines).
    fn plain(message: impl fmt::Display) -> anyhow::Error {
        InputError(message.to_string()).into()
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Report an error once and pick its exit code: a closed stdout ends quietly
/// with 0 (as in ripgrep), bad input is 2, anything else 1 with its chain.
fn error_code(e: &anyhow::Error) -> ExitCode {
    if e.downcast_ref::<StdoutError>()
        .is_some_and(StdoutError::is_broken_pipe)
    {
        return ExitCode::SUCCESS;
    }
    if let Some(InputError(message)) = e.downcast_ref() {
        errln!("{message}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    errln!("error: {e:#}");
    ExitCode::from(EXIT_FAILED)
}
