//! `keygen`, `manifest sign|verify` and `audit verify`: the data-integrity tools.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use poisonlab_core::Dataset;
use poisonlab_data::{CsvPaths, DEFAULT_LABEL_COLUMN, IdxPaths};
use poisonlab_integrity::{
    Manifest, SignatureCheck, generate_key, public_key_path, read_signing_key, read_verifying_key,
    verify_log, verify_log_signed, write_keypair,
};
use poisonlab_runner::LoadedData;
use poisonlab_scenario::load_scenario;

use crate::out::outln;
use crate::{InputError, Status};

/// `poisonlab manifest ...`.
#[derive(Subcommand)]
pub enum ManifestCommand {
    /// Hash every record of DATA, build the Merkle root and sign it.
    Sign(SignArgs),
    /// Check DATA against a signed manifest: exit 0 if intact, 1 listing every
    /// modified, added or removed record (by id) or a bad signature.
    Verify(VerifyArgs),
}

/// `poisonlab manifest sign`'s arguments.
#[derive(Args)]
pub struct SignArgs {
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
}

/// `poisonlab manifest verify`'s arguments.
#[derive(Args)]
pub struct VerifyArgs {
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
pub fn cmd_keygen(out: &Path) -> anyhow::Result<Status> {
    let key = generate_key()?;
    write_keypair(out, &key)?;
    outln!(
        "private key: {} (owner read/write only)\npublic key:  {}",
        out.display(),
        public_key_path(out).display()
    )?;
    Ok(Status::Done)
}

/// `poisonlab manifest sign DATA --key KEY --out MANIFEST`.
pub fn cmd_manifest_sign(args: SignArgs) -> anyhow::Result<Status> {
    let key = read_signing_key(&args.key).map_err(InputError::error)?;
    let (set, source) = load(&args.data, args.split).map_err(InputError::error)?;
    let manifest = Manifest::sign(&set, source, args.created_at, &key)?;
    manifest.write(&args.out)?;
    outln!(
        "{}: {} records, root {}",
        args.out.display(),
        manifest.count,
        manifest.root
    )?;
    Ok(Status::Done)
}

/// `poisonlab manifest verify DATA --manifest MANIFEST --pub KEY.pub`: exit 1
/// naming every changed record, or a bad signature.
pub fn cmd_manifest_verify(args: VerifyArgs) -> anyhow::Result<Status> {
    let public = read_verifying_key(&args.public).map_err(InputError::error)?;
    let manifest = Manifest::read(&args.manifest).map_err(InputError::error)?;
    let (set, _) = load(&args.data, args.split).map_err(InputError::error)?;
    let v = manifest.verify(&set, &public);
    match v.signature {
        SignatureCheck::Valid => {}
        SignatureCheck::WrongKey => outln!("signature: the manifest was signed with another key")?,
        SignatureCheck::Invalid => {
            outln!("signature: invalid (the manifest was altered or truncated)")?
        }
    }
    if !v.shape_matches {
        outln!("shape: the data's sample shape differs from the manifest's")?;
    }
    for (what, ids) in [
        ("modified", &v.modified),
        ("added", &v.added),
        ("removed", &v.removed),
    ] {
        if !ids.is_empty() {
            let list: Vec<String> = ids.iter().map(u64::to_string).collect();
            outln!("{what} ({}): {}", ids.len(), list.join(", "))?;
        }
    }
    if !v.is_intact() {
        return Ok(Status::Failed);
    }
    outln!("intact: {} records, root {}", manifest.count, manifest.root)?;
    Ok(Status::Done)
}

/// `poisonlab audit verify LOG [--pub KEY.pub]`: exit 1 naming the first bad line.
pub fn cmd_audit_verify(log: &Path, public: Option<&Path>) -> anyhow::Result<Status> {
    let result = match public {
        None => verify_log(log).map(|n| format!("intact: {n} lines")),
        Some(p) => {
            let key = read_verifying_key(p).map_err(InputError::error)?;
            verify_log_signed(log, &key).map(|s| {
                format!(
                    "intact: {} lines, {} signed checkpoint(s)",
                    s.lines, s.checkpoints
                )
            })
        }
    };
    match result {
        Ok(message) => {
            outln!("{}: {message}", log.display())?;
            Ok(Status::Done)
        }
        Err(e) => {
            outln!("{e}")?;
            Ok(Status::Failed)
        }
    }
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
