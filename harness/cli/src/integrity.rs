//! `keygen`, `generate`, `manifest sign|verify` and `audit verify`: the
//! data-integrity tools.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use poisonlab_core::Dataset;
use poisonlab_data::{
    BlobsParams, CsvPaths, DEFAULT_LABEL_COLUMN, Generator, IdxPaths, SyntheticDigitsParams,
};
use poisonlab_integrity::{
    Manifest, Recipe, SignatureCheck, generate_key, public_key_path, read_signing_key,
    read_verifying_key, verify_log, verify_log_signed, write_keypair,
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
    /// Check DATA against a signed manifest (--manifest), or against what a
    /// generator recipe makes (--recipe): exit 0 if intact, 1 listing every
    /// modified, added or removed record (by id) or a bad signature, 2 bad
    /// input (a missing or corrupt file, a recipe of another generator version).
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
    /// The same kind of DATA as for `sign`; with --recipe, the folder of the
    /// generated files.
    data: PathBuf,
    /// The manifest written by `manifest sign`.
    #[arg(long, required_unless_present = "recipe", conflicts_with = "recipe")]
    manifest: Option<PathBuf>,
    /// A recipe written by `generate`: the data is made again from it and
    /// compared record by record (both splits; --split does not apply).
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// The signer's public key file (KEY.pub). Optional with --recipe: then
    /// only the regeneration is checked, not who signed the recipe.
    #[arg(long = "pub", required_unless_present = "recipe")]
    public: Option<PathBuf>,
    /// Which split to check.
    #[arg(long, value_enum, default_value_t = Split::Train)]
    split: Split,
}

/// `poisonlab generate`'s arguments.
#[derive(Args)]
pub struct GenerateArgs {
    /// The generator: synthetic-digits (IDX files) or blobs (CSV files).
    #[arg(value_enum)]
    generator: GeneratorName,
    /// Training samples [default: synthetic-digits 3000, blobs 1000].
    #[arg(long)]
    train: Option<usize>,
    /// Test samples [default: synthetic-digits 1000, blobs 500].
    #[arg(long)]
    test: Option<usize>,
    /// blobs: classes [default: 3].
    #[arg(long)]
    classes: Option<usize>,
    /// blobs: dimension of a sample [default: 2].
    #[arg(long)]
    dim: Option<usize>,
    /// blobs: standard deviation of each cluster [default: 1.0].
    #[arg(long)]
    spread: Option<f64>,
    /// blobs: smallest distance between two cluster centres [default: 4.0].
    #[arg(long)]
    separation: Option<f64>,
    /// The seed: the data is drawn from the stream a scenario with this
    /// `[scenario] seed` generates from.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The folder to write the data files and recipe.json into (created if missing).
    #[arg(long)]
    to: PathBuf,
    /// Sign the recipe with this private key (from `poisonlab keygen`).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Threads for writing the splits (the bytes are the same for any number).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// The generators `generate` knows.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GeneratorName {
    /// MNIST-like 28×28 digits, written as IDX files.
    SyntheticDigits,
    /// Gaussian clusters, written as train.csv / test.csv.
    Blobs,
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

/// `poisonlab generate GENERATOR --to DIR [--key KEY]`: the data files and
/// their recipe.
pub fn cmd_generate(args: GenerateArgs) -> anyhow::Result<Status> {
    let key = match &args.key {
        Some(path) => Some(read_signing_key(path).map_err(InputError::error)?),
        None => None,
    };
    let only_blobs = [
        ("--classes", args.classes.is_some()),
        ("--dim", args.dim.is_some()),
        ("--spread", args.spread.is_some()),
        ("--separation", args.separation.is_some()),
    ];
    let generator = match args.generator {
        GeneratorName::SyntheticDigits => {
            if let Some((flag, _)) = only_blobs.iter().find(|(_, given)| *given) {
                return Err(InputError::error(format!(
                    "{flag} is a blobs parameter; synthetic-digits takes --train and --test"
                )));
            }
            let d = SyntheticDigitsParams::default();
            Generator::SyntheticDigits(SyntheticDigitsParams {
                train: args.train.unwrap_or(d.train),
                test: args.test.unwrap_or(d.test),
            })
        }
        GeneratorName::Blobs => {
            let d = BlobsParams::default();
            Generator::Blobs(BlobsParams {
                train: args.train.unwrap_or(d.train),
                test: args.test.unwrap_or(d.test),
                classes: args.classes.unwrap_or(d.classes),
                dim: args.dim.unwrap_or(d.dim),
                spread: args.spread.unwrap_or(d.spread),
                separation: args.separation.unwrap_or(d.separation),
            })
        }
    };
    if let Err(problems) = generator.check() {
        let list: Vec<String> = problems
            .iter()
            .map(|p| format!("--{}: {}", p.key, p.message))
            .collect();
        return Err(InputError::error(list.join("; ")));
    }
    let out = poisonlab_runner::generate(
        &generator,
        args.seed,
        &args.to,
        key.as_ref(),
        args.threads.max(1),
    )
    .map_err(InputError::error)?;
    let signed = if out.recipe.is_signed() {
        "signed"
    } else {
        "unsigned"
    };
    outln!(
        "{} version {}, seed {}: {} training and {} test samples, root {} ({signed})",
        out.recipe.generator,
        out.recipe.generator_version,
        out.recipe.seed,
        out.recipe.splits.first().map_or(0, |s| s.count),
        out.recipe.splits.get(1).map_or(0, |s| s.count),
        out.recipe.root
    )?;
    for f in &out.files {
        outln!("  {}", f.display())?;
    }
    Ok(Status::Done)
}

/// `poisonlab manifest verify DATA --manifest MANIFEST --pub KEY.pub`: exit 1
/// naming every changed record, or a bad signature.
pub fn cmd_manifest_verify(args: VerifyArgs) -> anyhow::Result<Status> {
    if let Some(recipe) = &args.recipe {
        return verify_recipe(&args.data, recipe, args.public.as_deref());
    }
    let (Some(manifest), Some(public)) = (&args.manifest, &args.public) else {
        return Err(InputError::error("give --manifest and --pub, or --recipe"));
    };
    let public = read_verifying_key(public).map_err(InputError::error)?;
    let manifest = Manifest::read(manifest).map_err(InputError::error)?;
    let (set, _) = load(&args.data, args.split).map_err(InputError::error)?;
    let v = manifest.verify(&set, &public);
    if v.signature != SignatureCheck::Valid {
        outln!("signature: {}", signature_problem(v.signature, "manifest"))?;
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

/// What a signature check that did not hold means, for `what` (manifest, recipe).
fn signature_problem(check: SignatureCheck, what: &str) -> String {
    match check {
        SignatureCheck::Valid => "valid".into(),
        SignatureCheck::WrongKey => format!("the {what} was signed with another key"),
        SignatureCheck::Invalid => {
            format!("invalid (the {what} was altered or truncated)")
        }
        SignatureCheck::Unsigned => format!("the {what} is not signed"),
    }
}

/// `manifest verify DATA --recipe R [--pub KEY.pub]`: the signature, then
/// the data made again from the recipe and compared record by record. A bad
/// signature fails (exit 1) before anything else is believed; a recipe of
/// another generator version is bad input (exit 2), not tampering.
fn verify_recipe(data: &Path, path: &Path, public: Option<&Path>) -> anyhow::Result<Status> {
    let key = match public {
        Some(p) => Some(read_verifying_key(p).map_err(InputError::error)?),
        None => None,
    };
    let recipe = Recipe::read(path).map_err(InputError::error)?;
    // Without --pub a signed recipe is still checked against the key it names
    // (that catches edits, not who signed it).
    let check = match &key {
        Some(key) => Some(recipe.check_signature(key)),
        None if recipe.is_signed() => Some(recipe.check_own_signature()),
        None => None,
    };
    if let Some(check) = check
        && check != SignatureCheck::Valid
    {
        outln!(
            "{}: signature: {}",
            path.display(),
            signature_problem(check, "recipe")
        )?;
        return Ok(Status::Failed);
    }
    let generator = poisonlab_runner::recipe_generator(&recipe)
        .map_err(|e| InputError::error(format!("recipe {}: {e}", path.display())))?;
    let splits = generator.read(data).map_err(InputError::error)?;
    let diff = poisonlab_runner::compare_with_recipe(&recipe, &generator, &splits)
        .map_err(InputError::error)?;
    for (split, d) in [("train", &diff.train), ("test", &diff.test)] {
        for (what, ids) in [
            ("modified", &d.modified),
            ("added", &d.added),
            ("removed", &d.removed),
        ] {
            if !ids.is_empty() {
                let list: Vec<String> = ids.iter().map(u64::to_string).collect();
                outln!("{split} {what} ({}): {}", ids.len(), list.join(", "))?;
            }
        }
    }
    if !diff.root_matches {
        outln!(
            "root: the recipe's root {} is not the root of the data its generator makes",
            recipe.root
        )?;
    }
    if !diff.is_intact() {
        return Ok(Status::Failed);
    }
    let signature = match (key, recipe.is_signed()) {
        (Some(_), _) => "signature valid",
        (None, true) => "signed; the signer not checked (no --pub)",
        (None, false) => "unsigned",
    };
    outln!(
        "intact: {} version {}, seed {}, {} records, root {} ({signature})",
        recipe.generator,
        recipe.generator_version,
        recipe.seed,
        splits.train.len() + splits.test.len(),
        recipe.root
    )?;
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
