//! `keygen`, `manifest sign|verify` and `audit verify`: the data-integrity tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use poisonlab_core::Dataset;
use poisonlab_data::{CsvPaths, DEFAULT_LABEL_COLUMN, IdxPaths};
use poisonlab_integrity::{
    Manifest, SignatureCheck, generate_key, public_key_path, read_signing_key, read_verifying_key,
    verify_log, verify_log_signed, write_keypair,
};
use poisonlab_runner::LoadedData;
use poisonlab_scenario::load_scenario;

use crate::{EXIT_BAD_INPUT, EXIT_FAILED};

/// `poisonlab manifest ...`.
#[derive(Subcommand)]
pub enum ManifestCommand {
    /// Hash every record of DATA, build the Merkle root and sign it.
    Sign {
        /// A scenario file (its [data]), or a folder holding MNIST-style IDX
        /// files or train.csv / test.csv.
        data: PathBuf,
        /// The private key file written by `poisonlab keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the manifest (JSON).
        #[arg(long)]
        out: PathBuf,
        /// Which split to sign.
        #[arg(long, value_enum, default_value_t = Split::Train)]
        split: Split,
        /// The creation time recorded in the manifest (any text; never taken
        /// from the clock, so the same data signs to the same manifest).
        #[arg(long, default_value = "unspecified")]
        created_at: String,
    },
    /// Check DATA against a signed manifest: exit 0 if intact, 1 listing every
    /// modified, added or removed record (by id) or a bad signature.
    Verify {
        /// The same kind of DATA as for `sign`.
        data: PathBuf,
        /// The manifest written by `manifest sign`.
        #[arg(long)]
        manifest: PathBuf,
        /// The signer's public key file (KEY.pub).
        #[arg(long = "pub")]
        public: PathBuf,
        /// Which split to check.
        #[arg(long, value_enum, default_value_t = Split::Train)]
        split: Split,
    },
}

/// `poisonlab audit ...`.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check a hash-chained audit log: exit 0 if intact, 1 naming the first
    /// edited, deleted, inserted or reordered line.
    Verify {
        /// The audit log (JSON lines; its `.head` file sits beside it).
        log: PathBuf,
        /// Also check the signed checkpoints with this public key file.
        #[arg(long = "pub")]
        public: Option<PathBuf>,
    },
}

/// Which split of the data a manifest covers.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Split {
    /// The training samples (after a scenario's trusted hold-out).
    Train,
    /// The test samples.
    Test,
}

/// `poisonlab keygen --out KEY`.
pub fn keygen(out: &Path) -> anyhow::Result<ExitCode> {
    let key = generate_key()?;
    write_keypair(out, &key)?;
    println!(
        "private key: {} (owner read/write only)\npublic key:  {}",
        out.display(),
        public_key_path(out).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `poisonlab manifest ...`.
pub fn manifest(cmd: ManifestCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ManifestCommand::Sign {
            data,
            key,
            out,
            split,
            created_at,
        } => {
            let key = match read_signing_key(&key) {
                Ok(k) => k,
                Err(e) => return bad_input(e),
            };
            let (set, source) = match load(&data, split) {
                Ok(d) => d,
                Err(e) => return bad_input(e),
            };
            let manifest = Manifest::sign(&set, source, created_at, &key)?;
            manifest.write(&out)?;
            println!(
                "{}: {} records, root {}",
                out.display(),
                manifest.count,
                manifest.root
            );
            Ok(ExitCode::SUCCESS)
        }
        ManifestCommand::Verify {
            data,
            manifest,
            public,
            split,
        } => {
            let public = match read_verifying_key(&public) {
                Ok(k) => k,
                Err(e) => return bad_input(e),
            };
            let manifest = match Manifest::read(&manifest) {
                Ok(m) => m,
                Err(e) => return bad_input(e),
            };
            let (set, _) = match load(&data, split) {
                Ok(d) => d,
                Err(e) => return bad_input(e),
            };
            let v = manifest.verify(&set, &public);
            match v.signature {
                SignatureCheck::Valid => {}
                SignatureCheck::WrongKey => {
                    println!("signature: the manifest was signed with another key")
                }
                SignatureCheck::Invalid => {
                    println!("signature: invalid (the manifest was altered or truncated)")
                }
            }
            if !v.shape_matches {
                println!("shape: the data's sample shape differs from the manifest's");
            }
            for (what, ids) in [
                ("modified", &v.modified),
                ("added", &v.added),
                ("removed", &v.removed),
            ] {
                if !ids.is_empty() {
                    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
                    println!("{what} ({}): {}", ids.len(), list.join(", "));
                }
            }
            if v.is_intact() {
                println!("intact: {} records, root {}", manifest.count, manifest.root);
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(EXIT_FAILED))
            }
        }
    }
}

/// `poisonlab audit ...`.
pub fn audit(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Verify { log, public } = cmd;
    let result = match public {
        None => verify_log(&log).map(|n| format!("intact: {n} lines")),
        Some(p) => {
            let key = match read_verifying_key(&p) {
                Ok(k) => k,
                Err(e) => return bad_input(e),
            };
            verify_log_signed(&log, &key).map(|s| {
                format!(
                    "intact: {} lines, {} signed checkpoint(s)",
                    s.lines, s.checkpoints
                )
            })
        }
    };
    match result {
        Ok(message) => {
            println!("{}: {message}", log.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("{e}");
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}

fn bad_input(e: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("error: {e}");
    Ok(ExitCode::from(EXIT_BAD_INPUT))
}

/// The split of DATA to sign or check, and a description of where it came from.
fn load(data: &Path, split: Split) -> Result<(Dataset, String), String> {
    let pick = |train: Dataset, test: Dataset| match split {
        Split::Train => train,
        Split::Test => test,
    };
    let which = match split {
        Split::Train => "train",
        Split::Test => "test",
    };
    if data.is_dir() {
        let csv = CsvPaths {
            train: data.join("train.csv"),
            test: data.join("test.csv"),
            label_column: DEFAULT_LABEL_COLUMN.to_string(),
        };
        if csv.train.exists() {
            let d = poisonlab_data::load_csv(&csv).map_err(|e| e.to_string())?;
            return Ok((
                pick(d.splits.train, d.splits.test),
                format!("csv {} ({which})", data.display()),
            ));
        }
        let splits = poisonlab_data::load_idx(&IdxPaths::in_dir(data)).map_err(|e| {
            format!(
                "{}: not a folder of IDX files or train.csv/test.csv: {e}",
                data.display()
            )
        })?;
        return Ok((
            pick(splits.train, splits.test),
            format!("idx {} ({which})", data.display()),
        ));
    }
    let scenario = load_scenario(data).map_err(|p| p.to_string())?;
    let loaded = LoadedData::load(&scenario.data, scenario.meta.seed).map_err(|e| e.to_string())?;
    Ok((
        pick(loaded.train, loaded.test),
        format!("scenario {} [data] ({which})", scenario.meta.name),
    ))
}
