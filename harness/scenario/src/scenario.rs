//! The scenario: what a user wrote, checked and expanded into sweep points.

use std::path::{Path, PathBuf};

use poisonlab_core::{BuildContext, DataFacts, ModelParams};
use poisonlab_data::{BlobsParams, CsvPaths, IdxPaths, SyntheticDigitsParams};
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::expect::Expectation;
use crate::kinds::{self, AttackSpec, DefenseKind, Family};
use crate::problem::{Lines, Problem, Problems};
use crate::spec::{Reader, sub_table, take_kind};
use crate::training::Training;

/// Where in the custody chain the attacker acts (`[attack] at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Custody {
    /// Inside the generator that makes synthetic data, before its recipe is
    /// signed: the recipe itself makes the poison, so no provenance check
    /// can see it (only with generated data).
    Generator,
    /// At the data's source, before it is signed (the default): provenance
    /// signed at the source cannot see it; signed at the generator, it can.
    #[default]
    Source,
    /// In transit, after the data was signed: a manifest check catches it.
    Transit,
}

/// The `[scenario]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Meta {
    /// Required; names the results folder (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// Free text shown in the report. Default empty.
    #[serde(default)]
    pub description: String,
    /// The only source of randomness. Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Repeats per sweep point; repeat r uses streams derived from (seed, r). Default 1.
    #[serde(default = "one")]
    pub repeats: u64,
    /// Also run every training-set filter on the clean training set with the
    /// clean model, for its `clean-fpr`. Default true; `false` skips that
    /// second inspection (timing protocols that do not measure it).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub clean_fpr: bool,
    /// Pin the numeric kernel set every run must use (the name a record's
    /// `kernels` carries, e.g. `"x86-64-v3"`): a machine whose kernel set
    /// differs refuses to run the scenario, so the shards of a sweep on a
    /// mixed cluster all compute with the same kernels and merge bit for
    /// bit. Default: unset, any kernel set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels: Option<String>,
}

fn one() -> u64 {
    1
}

fn yes() -> bool {
    true
}

fn is_yes(value: &bool) -> bool {
    *value
}

/// Where the data comes from (`[data] source`).
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The embedded MNIST-like digits (`synthetic-digits`, the default).
    SyntheticDigits(SyntheticDigitsParams),
    /// Gaussian clusters (`blobs`).
    Blobs(BlobsParams),
    /// MNIST-family IDX files (`idx`), paths resolved against the scenario's folder.
    Idx(IdxPaths),
    /// CIFAR-10 binary batches in a folder (`cifar10`).
    Cifar10(PathBuf),
    /// Tabular CSV files (`csv`).
    Csv(CsvPaths),
    /// Generated data read through its generator recipe (`recipe`), checked
    /// against what the recipe makes when loaded.
    Recipe(RecipeSource),
}

/// The `[data] recipe` source: a recipe file written by `poisonlab generate`
/// (the data files beside it) and, optionally, the key it must be signed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RecipeSource {
    /// The recipe file, relative to the scenario's folder; the data files sit beside it.
    pub recipe: PathBuf,
    /// The vendor's public key file (`KEY.pub`): when given, the recipe must
    /// carry a valid signature by it. Default: none (a signed recipe's
    /// signature is still checked against the key it names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PathBuf>,
}

impl Source {
    /// The `source` name.
    pub fn name(&self) -> &'static str {
        match self {
            Source::SyntheticDigits(_) => "synthetic-digits",
            Source::Blobs(_) => "blobs",
            Source::Idx(_) => "idx",
            Source::Cifar10(_) => "cifar10",
            Source::Csv(_) => "csv",
            Source::Recipe(_) => "recipe",
        }
    }

    /// Whether the data is made by a generator poisonlab has (so it has a
    /// generator in its custody chain): `synthetic-digits`, `blobs`, `recipe`.
    pub fn is_generated(&self) -> bool {
        matches!(
            self,
            Source::SyntheticDigits(_) | Source::Blobs(_) | Source::Recipe(_)
        )
    }
}

/// How features are scaled after loading (`[data] normalize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalize {
    /// As loaded (pixels in [0, 1]).
    #[default]
    None,
    /// Per feature: subtract the training mean, divide by the training std.
    Standardize,
}

/// `[data]` keys of the idx source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct IdxKeys {
    /// A folder with the four standard MNIST file names (raw or .gz).
    dir: Option<PathBuf>,
    train_images: Option<PathBuf>,
    train_labels: Option<PathBuf>,
    test_images: Option<PathBuf>,
    test_labels: Option<PathBuf>,
}

/// `[data]` keys of the cifar10 source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CifarKeys {
    dir: PathBuf,
}

/// `[data]` keys of the csv source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CsvKeys {
    train: PathBuf,
    test: PathBuf,
    #[serde(default = "default_label_column")]
    label_column: String,
}

fn default_label_column() -> String {
    poisonlab_data::DEFAULT_LABEL_COLUMN.to_string()
}

/// Keys of `[data]` that apply to every source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DataCommon {
    /// Keep only the first N training samples. Default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_train: Option<usize>,
    /// Keep only the first N test samples. Default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_test: Option<usize>,
    /// Clean samples held out of training (stratified) for defenses that need a
    /// trusted reference. Default 0.
    #[serde(default)]
    pub trusted: usize,
    /// `none` (default) or `standardize` (with training statistics).
    #[serde(default)]
    pub normalize: Normalize,
}

/// The checked `[data]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    /// The source and its own keys.
    pub source: Source,
    /// Keys every source takes.
    pub common: DataCommon,
}

impl DataSpec {
    /// Class count and sample shape, as far as the spec alone tells
    /// (file sources are only known once loaded).
    pub fn facts(&self) -> DataFacts {
        match &self.source {
            Source::SyntheticDigits(_) => DataFacts {
                n_classes: Some(SyntheticDigitsParams::N_CLASSES),
                shape: Some(SyntheticDigitsParams::SHAPE.to_vec()),
            },
            Source::Blobs(p) => DataFacts {
                n_classes: Some(p.classes),
                shape: Some(vec![p.dim]),
            },
            // Known once the files are read; the runner checks again then.
            Source::Idx(_) | Source::Cifar10(_) | Source::Csv(_) | Source::Recipe(_) => {
                DataFacts::default()
            }
        }
    }
}

/// One checked `[[defense]]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct DefenseSpec {
    /// Name in results and `[expect]` keys: `name` if given, else the kind.
    pub name: String,
    /// The defense and its parameters.
    pub kind: DefenseKind,
}

/// One sweep point: the swept values and the specs they give.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Swept key → value at this point, in `[sweep]` order (empty without a sweep).
    pub assignments: Vec<(String, Value)>,
    /// The model and its optimiser.
    pub model: ModelParams,
    /// How training runs (`[training]`).
    pub training: Training,
    /// The attack.
    pub attack: AttackSpec,
    /// Where the attacker acts in the custody chain.
    pub attack_at: Custody,
    /// The defenses, in file order.
    pub defenses: Vec<DefenseSpec>,
}

/// A checked scenario, ready to plan.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `[scenario]`.
    pub meta: Meta,
    /// `[data]`.
    pub data: DataSpec,
    /// Every sweep point (one when there is no sweep).
    pub points: Vec<Point>,
    /// `[sweep]` (key → values) as written, except that a sweep over whole
    /// attacks (`attack = [{ name = …, kind = … }, …]`) holds their names
    /// here, as `[expect]` `at`, `--only` and the reports name them.
    pub sweep: Vec<(String, Vec<Value>)>,
    /// The attack tables of a sweep over whole attacks, by name, as written
    /// (`name` included); empty without one.
    pub sweep_attacks: Vec<(String, Table)>,
    /// `[expect]`.
    pub expect: Vec<Expectation>,
    /// `[integrity]`: where the data owner signs the training set; absent
    /// when the scenario signs nothing.
    pub integrity: Option<IntegritySpec>,
    /// `[report]`: how report.html lays out large sweeps.
    pub report: ReportSpec,
}

/// The `[report]` table: how the reports lay out a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReportSpec {
    /// Sweep points above which report.html switches to its large-sweep
    /// layout (CI bands, small multiples per defense, ROC curves at a few
    /// points, counts as a table). Default 12.
    #[serde(default = "large_sweep")]
    pub large_sweep: usize,
    /// Values of the first swept key whose points get ROC curves in a large
    /// sweep. Default empty: the first, middle and last value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roc_points: Vec<Value>,
}

/// The default of `[report] large-sweep`.
pub const LARGE_SWEEP: usize = 12;

fn large_sweep() -> usize {
    LARGE_SWEEP
}

impl Default for ReportSpec {
    fn default() -> Self {
        Self {
            large_sweep: LARGE_SWEEP,
            roc_points: Vec::new(),
        }
    }
}

/// What loading the data found, written into the resolved scenario's `[loaded]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// Training samples (trusted ones removed).
    pub n_train: usize,
    /// Test samples.
    pub n_test: usize,
    /// Trusted held-out samples.
    pub n_trusted: usize,
    /// Shape of one sample.
    pub shape: Vec<usize>,
    /// Class count.
    pub classes: usize,
    /// Class names, when a CSV file labelled its classes with strings.
    pub class_names: Option<Vec<String>>,
}

/// The `[integrity]` table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IntegritySpec {
    /// Where the training set's trust anchor is signed: `"source"`, a
    /// Merkle-rooted manifest where the data is produced (an attack at
    /// `source` is in the data before it is signed; one in `transit` comes
    /// after), or `"generator"`, the generator's recipe (generated data only:
    /// what the generator makes is the reference, so an attack at `source`
    /// or in `transit` differs from it; one in the `generator` does not).
    pub sign_at: SignAt,
}

/// Where the data is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignAt {
    /// The generator's recipe: the data it makes is the reference.
    Generator,
    /// Where the data is produced, before it travels.
    Source,
}

/// Top-level tables. `versions` and `loaded` are written into resolved
/// scenarios for the record and ignored when such a file is run again.
const TOP_LEVEL: &[&str] = &[
    "scenario",
    "data",
    "model",
    "training",
    "federated",
    "attack",
    "defense",
    "sweep",
    "expect",
    "integrity",
    "report",
    "versions",
    "loaded",
];
const RESERVED_DEFENSE_NAMES: &[&str] = &["perfect", "random", "clean", "poisoned"];

impl Scenario {
    /// Read and check a scenario file's text; `file` names it in problems.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, Problems> {
        let fail = |list: Vec<Problem>| Problems {
            file: file.to_string(),
            list,
        };
        let root: Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                let e: toml::de::Error = e;
                let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
                return Err(fail(vec![Problem {
                    line,
                    key: "(syntax)".into(),
                    message: e.message().trim().to_string(),
                }]));
            }
        };
        let lines = Lines::index(text);
        let base_dir = std::path::Path::new(file)
            .parent()
            .unwrap_or(std::path::Path::new("."));
        let mut r = Reader::new(&lines, base_dir);
        for key in root.keys() {
            if !TOP_LEVEL.contains(&key.as_str()) {
                r.problem(
                    &[key],
                    format!("unknown table; expected one of {}", TOP_LEVEL.join(", ")),
                );
            }
        }
        let meta = match sub_table(&mut r, &root, "scenario") {
            Some(t) => r.read::<Meta>(&["scenario"], &t),
            None => {
                r.problem(
                    &["scenario"],
                    "the [scenario] table with `name` is required",
                );
                None
            }
        };
        if let Some(m) = &meta {
            check_meta(&mut r, m);
        }
        let data = read_data(&mut r, &root);
        let facts = data.as_ref().map(DataSpec::facts).unwrap_or_default();
        let base = r.base_dir.clone();
        let ctx = BuildContext::new(&base, &facts);
        let (sweep, sweep_attacks) = read_sweep(&mut r, &root);
        let expect = crate::expect::read(&mut r, &root, &sweep);
        let integrity = sub_table(&mut r, &root, "integrity")
            .and_then(|t| r.read::<IntegritySpec>(&["integrity"], &t));
        let report = sub_table(&mut r, &root, "report")
            .and_then(|t| r.read::<ReportSpec>(&["report"], &t))
            .unwrap_or_default();
        check_report(&mut r, &report, &sweep);

        // Every sweep point is checked; a problem that several points share is reported once.
        let mut points = Vec::new();
        for assignments in grid(&sweep) {
            let mut table = root.clone();
            let mut ok = true;
            for (key, value) in &assignments {
                let assigned = if key == ATTACK_SWEEP {
                    assign_attack(&mut table, &sweep_attacks, value)
                } else {
                    assign(&mut table, key, value.clone())
                };
                if let Err(message) = assigned {
                    r.problem(&["sweep", key], message);
                    ok = false;
                }
            }
            if !ok {
                break;
            }
            let before = r.problems.len();
            let point = read_point(&mut r, &table, &ctx);
            // Problems with swept values point at the [sweep] line.
            for p in &mut r.problems[before..] {
                let swept =
                    |k: &str| *k == p.key || (k == ATTACK_SWEEP && p.key.starts_with("attack."));
                if let Some((key, value)) = assignments.iter().find(|(k, _)| swept(k)) {
                    p.line = lines.line(&["sweep", key]);
                    p.message = format!("{} (sweep value {value})", p.message);
                }
            }
            if let Some(point) = point {
                points.push(Point {
                    assignments,
                    ..point
                });
            }
        }
        // Every point: a sweep may change the regime or the kinds.
        if let Some(d) = &data {
            for point in &points {
                check_needs(&mut r, d, point, integrity.as_ref());
            }
        }
        let mut list = r.problems;
        dedup_keep_order(&mut list);
        match (meta, data) {
            (Some(meta), Some(data)) if list.is_empty() => Ok(Scenario {
                meta,
                data,
                points,
                sweep,
                sweep_attacks,
                expect,
                integrity,
                report,
            }),
            _ => Err(fail(list)),
        }
    }

    /// Number of runs: points × repeats.
    pub fn n_runs(&self) -> usize {
        self.points.len() * self.meta.repeats as usize
    }

    /// The scenario as resolved, defaults filled in, as TOML (written next to
    /// results), with what loading the data found when `loaded` is given.
    pub fn resolved_toml_with(&self, loaded: Option<&Loaded>) -> String {
        let mut text = self.resolved_toml();
        if let Some(d) = loaded {
            let mut t = Table::new();
            let int = |n: usize| Value::Integer(n as i64);
            t.insert("n-train".into(), int(d.n_train));
            t.insert("n-test".into(), int(d.n_test));
            t.insert("n-trusted".into(), int(d.n_trusted));
            t.insert(
                "shape".into(),
                Value::Array(d.shape.iter().map(|&n| int(n)).collect()),
            );
            t.insert("classes".into(), int(d.classes));
            if let Some(names) = &d.class_names {
                // Class i is the i-th string label in sorted order.
                t.insert(
                    "class-names".into(),
                    Value::Array(names.iter().map(|n| Value::String(n.clone())).collect()),
                );
            }
            let mut root = Table::new();
            root.insert("loaded".into(), Value::Table(t));
            text.push('\n');
            text.push_str(&toml::to_string_pretty(&root).unwrap_or_default());
        }
        text
    }

    /// The text a scenario's fingerprint hashes: the resolved scenario with
    /// what loading found, its data identified by `content` (name → hash, e.g.
    /// the Merkle roots of the loaded sets) instead of the paths it was read
    /// from, so the same scenario on the same data reads the same from any
    /// checkout or mount point.
    pub fn fingerprint_text(&self, loaded: &Loaded, content: &[(&str, String)]) -> String {
        let text = self.resolved_toml_with(Some(loaded));
        let mut root: Table = match text.parse() {
            Ok(t) => t,
            // Not reached: the text was rendered from a table.
            Err(_) => return text,
        };
        if let Some(Value::Table(data)) = root.get_mut("data") {
            let paths: &[&str] = match &self.data.source {
                Source::SyntheticDigits(_) | Source::Blobs(_) => &[],
                Source::Idx(_) => &["train-images", "train-labels", "test-images", "test-labels"],
                Source::Cifar10(_) => &["dir"],
                Source::Csv(_) => &["train", "test"],
                // The recipe's data is identified by its roots in `content`.
                Source::Recipe(_) => &["recipe", "public-key"],
            };
            for key in paths {
                data.remove(*key);
            }
            let content: Table = content
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
                .collect();
            data.insert("content".into(), Value::Table(content));
        }
        toml::to_string(&root).unwrap_or(text)
    }

    /// The scenario as resolved, defaults filled in, as TOML.
    pub fn resolved_toml(&self) -> String {
        let mut root = Table::new();
        root.insert("scenario".into(), to_value(&self.meta));
        let mut data = Table::new();
        data.insert(
            "source".into(),
            Value::String(self.data.source.name().into()),
        );
        let path = |p: &Path| Value::String(p.display().to_string());
        match &self.data.source {
            Source::SyntheticDigits(p) => extend(&mut data, to_value(p)),
            Source::Blobs(p) => extend(&mut data, to_value(p)),
            Source::Idx(p) => {
                data.insert("train-images".into(), path(&p.train_images));
                data.insert("train-labels".into(), path(&p.train_labels));
                data.insert("test-images".into(), path(&p.test_images));
                data.insert("test-labels".into(), path(&p.test_labels));
            }
            Source::Cifar10(dir) => {
                data.insert("dir".into(), path(dir));
            }
            Source::Csv(p) => {
                data.insert("train".into(), path(&p.train));
                data.insert("test".into(), path(&p.test));
                data.insert("label-column".into(), Value::String(p.label_column.clone()));
            }
            Source::Recipe(p) => {
                data.insert("recipe".into(), path(&p.recipe));
                if let Some(key) = &p.public_key {
                    data.insert("public-key".into(), path(key));
                }
            }
        }
        extend(&mut data, to_value(&self.data.common));
        root.insert("data".into(), Value::Table(data));
        if let Some(point) = self.points.first() {
            let mut model = to_value(&point.model);
            // Federated clients train with [federated]'s keys, not these.
            if let (Some(_), Value::Table(t)) = (point.training.federated(), &mut model) {
                for key in FEDERATED_MODEL_KEYS {
                    t.remove(key.0);
                }
            }
            root.insert("model".into(), model);
            root.insert("training".into(), Value::Table(point.training.to_table()));
            if let Some(federated) = point.training.federated_table() {
                root.insert("federated".into(), Value::Table(federated));
            }
            let mut attack = Table::new();
            attack.insert("kind".into(), Value::String(point.attack.kind().into()));
            attack.insert("at".into(), to_value(&point.attack_at));
            let mut params = point.attack.params_table();
            // A sweep over the kind: only the keys every swept kind takes
            // (the others could not have been written), so that the file
            // reads back.
            if self.sweep.iter().any(|(k, _)| k == "attack.kind") {
                for other in &self.points[1..] {
                    let theirs = other.attack.params_table();
                    params.retain(|k, _| theirs.contains_key(k));
                }
            }
            attack.extend(params);
            // A sweep over whole attacks writes them in [sweep] instead.
            if self.sweep_attacks.is_empty() {
                root.insert("attack".into(), Value::Table(attack));
            }
            let defenses = point
                .defenses
                .iter()
                .map(|d| {
                    let mut t = Table::new();
                    t.insert("kind".into(), Value::String(d.kind.kind().into()));
                    t.insert("name".into(), Value::String(d.name.clone()));
                    t.extend(d.kind.params_table());
                    Value::Table(t)
                })
                .collect();
            root.insert("defense".into(), Value::Array(defenses));
        }
        if let Some(integrity) = &self.integrity {
            root.insert("integrity".into(), to_value(integrity));
        }
        if !self.sweep.is_empty() {
            let sweep = self
                .sweep
                .iter()
                .map(|(k, v)| {
                    let values = if k == ATTACK_SWEEP {
                        self.sweep_attacks
                            .iter()
                            .map(|(_, t)| Value::Table(t.clone()))
                            .collect()
                    } else {
                        v.clone()
                    };
                    (k.clone(), Value::Array(values))
                })
                .collect();
            root.insert("sweep".into(), Value::Table(sweep));
        }
        // Only when set: the defaults leave resolved scenarios as they were.
        if self.report != ReportSpec::default() {
            root.insert("report".into(), to_value(&self.report));
        }
        if !self.expect.is_empty() {
            root.insert(
                "expect".into(),
                Value::Table(crate::expect::to_table(&self.expect)),
            );
        }
        let mut versions = Table::new();
        versions.insert(
            "poisonlab".into(),
            Value::String(env!("CARGO_PKG_VERSION").into()),
        );
        versions.insert("burn".into(), Value::String("0.22.1".into()));
        versions.insert("backend".into(), Value::String(crate::BACKEND.into()));
        root.insert("versions".into(), Value::Table(versions));
        let mut out = String::from(
            "# The scenario as poisonlab resolved it: every default filled in.\n\
             # [versions] is informational and ignored when this file is run again.\n\n",
        );
        out.push_str(
            &toml::to_string_pretty(&root).unwrap_or_else(|e| format!("# cannot render: {e}\n")),
        );
        out
    }
}

/// What each defense and the attack need of the rest of the scenario, by
/// family: trusted samples, a round-based regime, a signed manifest.
fn check_needs(
    r: &mut Reader<'_>,
    data: &DataSpec,
    point: &Point,
    integrity: Option<&IntegritySpec>,
) {
    let rounds = point.training.rounds().is_some();
    let federated = point.training.federated().is_some();
    if point.attack.update_attack().is_some() && !federated {
        r.problem(
            &["attack", "kind"],
            format!(
                "{} poisons federated clients' model updates: set [training] regime = \"federated\"",
                point.attack.kind()
            ),
        );
    }
    if federated
        && (point.attack.attack().needs_rounds() || point.attack.attack().needs_surrogate())
    {
        r.problem(
            &["attack", "kind"],
            format!(
                "{} is not available to federated clients yet (it needs {}); use label-flip, badnets, blend or a model-poisoning kind",
                point.attack.kind(),
                if point.attack.attack().needs_rounds() { "round-based training" } else { "a surrogate model" }
            ),
        );
    }
    if point.attack_at == Custody::Generator && !data.source.is_generated() {
        r.problem(
            &["attack", "at"],
            format!(
                "\"generator\" needs generated data (source synthetic-digits, blobs or recipe), got source {:?}",
                data.source.name()
            ),
        );
    }
    if let Some(i) = integrity
        && i.sign_at == SignAt::Generator
        && !data.source.is_generated()
    {
        r.problem(
            &["integrity", "sign-at"],
            format!(
                "\"generator\" signs a generator's recipe: it needs generated data (source synthetic-digits, blobs or recipe), got source {:?}",
                data.source.name()
            ),
        );
    }
    if federated && point.attack_at != Custody::Source {
        r.problem(
            &["attack", "at"],
            "federated clients poison their own data: `at` must be \"source\"",
        );
    }
    if let Some(t) = point.training.transfer() {
        let n_classes = data.facts().n_classes;
        for &c in &t.pretrain_classes {
            if let Some(e) =
                poisonlab_core::ParamError::class_out_of_range("pretrain-classes", c, n_classes)
            {
                r.problem(&["training", "pretrain-classes"], e.message);
            }
        }
        if let Some(k) = n_classes
            && t.pretrain_classes.len() >= k
        {
            r.problem(
                &["training", "pretrain-classes"],
                format!("lists every class of the {k}: no class is left to fine-tune on"),
            );
        }
        if point.attack.attack().needs_rounds() {
            r.problem(
                &["attack", "kind"],
                format!(
                    "{} poisons round by round: not in the transfer regime",
                    point.attack.kind()
                ),
            );
        }
    }
    if point.attack.attack().needs_rounds()
        && !rounds
        && !federated
        && point.training.transfer().is_none()
    {
        r.problem(
            &["attack", "kind"],
            format!(
                "{} poisons round by round: set [training] regime = \"rounds\"",
                point.attack.kind()
            ),
        );
    }
    for (i, def) in point.defenses.iter().enumerate() {
        let idx = i.to_string();
        let at = ["defense", idx.as_str(), "kind"];
        let kind = def.kind.kind();
        match def.kind.family() {
            Family::Monitor(_) if !rounds => r.problem(
                &at,
                format!(
                    "{kind} is a round monitor: it needs a round-based run ([training] regime = \"rounds\")"
                ),
            ),
            Family::Aggregator(_) if !federated => r.problem(
                &at,
                format!(
                    "{kind} aggregates federated clients' updates: set [training] regime = \"federated\""
                ),
            ),
            Family::Filter(_)
            | Family::InputDetector(_)
            | Family::Monitor(_)
            | Family::Provenance(_)
            | Family::Repair(_)
                if federated =>
            {
                r.problem(
                    &at,
                    format!(
                        "{kind} is not a defense of the federated regime yet; its defenses are the aggregators: {}",
                        kinds::expected(kinds::AGGREGATORS)
                    ),
                )
            }
            Family::Provenance(_) if integrity.is_none() => r.problem(
                &at,
                format!("{kind} verifies a signed manifest: add [integrity] sign-at = \"source\" (or \"generator\")"),
            ),
            _ => {}
        }
        let trusted = def.kind.needs().trusted;
        if data.common.trusted < trusted {
            let why = match def.kind.family() {
                Family::InputDetector(_) => "blends with and calibrates on",
                Family::Monitor(_) => "audits on",
                _ => "needs",
            };
            r.problem(
                &at,
                format!(
                    "{kind} {why} trusted clean samples: set [data] trusted = N (N ≥ {trusted}; 200 is typical)"
                ),
            );
        }
    }
}

fn to_value<T: Serialize>(v: &T) -> Value {
    Value::try_from(v).unwrap_or_else(|_| Value::Table(Table::new()))
}

fn extend(table: &mut Table, value: Value) {
    if let Value::Table(t) = value {
        table.extend(t);
    }
}

fn dedup_keep_order(list: &mut Vec<Problem>) {
    let mut seen = std::collections::HashSet::new();
    list.retain(|p| seen.insert(p.clone()));
}

/// `[report]`: at least one point per large sweep, and ROC points among
/// the first swept key's values.
fn check_report(r: &mut Reader<'_>, report: &ReportSpec, sweep: &[(String, Vec<Value>)]) {
    if report.large_sweep == 0 {
        r.problem(&["report", "large-sweep"], "must be at least 1, got 0");
    }
    if report.roc_points.is_empty() {
        return;
    }
    let Some((key, values)) = sweep.first() else {
        r.problem(
            &["report", "roc-points"],
            "names values of the first swept key, but there is no [sweep]",
        );
        return;
    };
    for v in &report.roc_points {
        if !values.contains(v) {
            let listed: Vec<String> = values.iter().map(Value::to_string).collect();
            r.problem(
                &["report", "roc-points"],
                format!(
                    "{v} is not one of the values [sweep] gives {key} ({})",
                    listed.join(", ")
                ),
            );
        }
    }
}

fn check_meta(r: &mut Reader<'_>, m: &Meta) {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if m.name.is_empty() || !m.name.chars().all(ok) || m.name.starts_with('.') {
        r.problem(
            &["scenario", "name"],
            format!(
                "must be a folder name of letters, digits, '-', '_' or '.', got {:?}",
                m.name
            ),
        );
    }
    if m.repeats == 0 {
        r.problem(&["scenario", "repeats"], "must be at least 1, got 0");
    }
    if m.kernels.as_deref().is_some_and(|k| k.trim().is_empty()) {
        r.problem(
            &["scenario", "kernels"],
            "must name a kernel set (as records' `kernels` do, e.g. \"x86-64-v3\"), got \"\"",
        );
    }
}

fn read_data(r: &mut Reader<'_>, root: &Table) -> Option<DataSpec> {
    let mut table = sub_table(r, root, "data").unwrap_or_default();
    let source = match table.remove("source") {
        None if table.contains_key("recipe") => "recipe".to_string(),
        None => "synthetic-digits".to_string(),
        Some(Value::String(s)) => s,
        Some(other) => {
            r.problem(
                &["data", "source"],
                format!("must be a string, got {}", other.type_str()),
            );
            return None;
        }
    };
    let mut common_table = Table::new();
    for key in ["limit-train", "limit-test", "trusted", "normalize"] {
        if let Some(v) = table.remove(key) {
            common_table.insert(key.into(), v);
        }
    }
    let common = r.read::<DataCommon>(&["data"], &common_table)?;
    let base = r.base_dir.clone();
    let exists = |r: &mut Reader<'_>, key: &str, full: PathBuf| -> PathBuf {
        if !full.exists() {
            r.problem(
                &["data", key],
                format!("no such file or folder: {}", full.display()),
            );
        }
        full
    };
    let file = |r: &mut Reader<'_>, key: &str, p: PathBuf| exists(r, key, base.join(p));
    let source = match source.as_str() {
        "synthetic-digits" => {
            let p = r.read::<SyntheticDigitsParams>(&["data"], &table)?;
            p.check().map_err(|e| r.param_errors(&["data"], e)).ok()?;
            Source::SyntheticDigits(p)
        }
        "blobs" => {
            let p = r.read::<BlobsParams>(&["data"], &table)?;
            p.check().map_err(|e| r.param_errors(&["data"], e)).ok()?;
            Source::Blobs(p)
        }
        "idx" => {
            let k = r.read::<IdxKeys>(&["data"], &table)?;
            let defaults = k.dir.as_ref().map(|d| IdxPaths::in_dir(&base.join(d)));
            let pick = |r: &mut Reader<'_>,
                        key: &str,
                        given: Option<PathBuf>,
                        default: Option<PathBuf>| {
                match (given, default) {
                    (Some(p), _) => Some(file(r, key, p)),
                    (None, Some(d)) => Some(exists(r, "dir", d)),
                    (None, None) => {
                        r.problem(&["data", key], "is required for source = \"idx\" (or give `dir` with the standard MNIST file names)");
                        None
                    }
                }
            };
            let d = defaults.as_ref();
            let paths = IdxPaths {
                train_images: pick(
                    r,
                    "train-images",
                    k.train_images,
                    d.map(|d| d.train_images.clone()),
                )?,
                train_labels: pick(
                    r,
                    "train-labels",
                    k.train_labels,
                    d.map(|d| d.train_labels.clone()),
                )?,
                test_images: pick(
                    r,
                    "test-images",
                    k.test_images,
                    d.map(|d| d.test_images.clone()),
                )?,
                test_labels: pick(
                    r,
                    "test-labels",
                    k.test_labels,
                    d.map(|d| d.test_labels.clone()),
                )?,
            };
            Source::Idx(paths)
        }
        "cifar10" => {
            let k = r.read::<CifarKeys>(&["data"], &table)?;
            Source::Cifar10(file(r, "dir", k.dir))
        }
        "csv" => {
            let k = r.read::<CsvKeys>(&["data"], &table)?;
            let (train, test) = (file(r, "train", k.train), file(r, "test", k.test));
            Source::Csv(CsvPaths {
                train,
                test,
                label_column: k.label_column,
            })
        }
        "recipe" => {
            let k = r.read::<RecipeSource>(&["data"], &table)?;
            Source::Recipe(RecipeSource {
                recipe: file(r, "recipe", k.recipe),
                public_key: k.public_key.map(|p| file(r, "public-key", p)),
            })
        }
        other => {
            r.problem(
                &["data", "source"],
                format!(
                    "unknown source {other:?}; expected {}",
                    kinds::expected(kinds::DATA_SOURCES)
                ),
            );
            return None;
        }
    };
    let spec = DataSpec { source, common };
    if spec.common.limit_train == Some(0) {
        r.problem(&["data", "limit-train"], "must be at least 1, got 0");
    }
    if spec.common.limit_test == Some(0) {
        r.problem(&["data", "limit-test"], "must be at least 1, got 0");
    }
    let generated = match &spec.source {
        Source::SyntheticDigits(p) => Some(p.train),
        Source::Blobs(p) => Some(p.train),
        _ => None,
    };
    let train_n = match (generated, spec.common.limit_train) {
        (Some(g), Some(l)) => Some(g.min(l)),
        (g, l) => g.or(l),
    };
    if let Some(n) = train_n
        && spec.common.trusted >= n
    {
        r.problem(
            &["data", "trusted"],
            format!(
                "must leave training samples: {} trusted of {n} training samples",
                spec.common.trusted
            ),
        );
    }
    Some(spec)
}

/// `[sweep]`: each swept key with its values.
type Sweep = Vec<(String, Vec<Value>)>;

/// The `[sweep]` key whose values are whole `[attack]` tables.
const ATTACK_SWEEP: &str = "attack";

/// Read `[sweep]`: key → values, and the attack tables of a sweep over whole
/// attacks (whose names stand for them among the values).
fn read_sweep(r: &mut Reader<'_>, root: &Table) -> (Sweep, Vec<(String, Table)>) {
    let Some(table) = sub_table(r, root, "sweep") else {
        return (Vec::new(), Vec::new());
    };
    let mut out = Vec::new();
    let mut attacks = Vec::new();
    for (key, value) in table.clone() {
        if key == ATTACK_SWEEP {
            // First, wherever it is written: it varies slowest (a resolved
            // scenario writes it after the scalar keys, as an array of tables).
            if let Some(tables) = read_attack_sweep(r, root, &table, &value) {
                out.insert(
                    0,
                    (
                        key,
                        tables
                            .iter()
                            .map(|(n, _)| Value::String(n.clone()))
                            .collect(),
                    ),
                );
                attacks = tables;
            }
            continue;
        }
        let first = key.split('.').next().unwrap_or_default();
        if !matches!(
            first,
            "model" | "training" | "federated" | "attack" | "defense"
        ) {
            r.problem(
                &["sweep", &key],
                "can sweep model.*, training.*, federated.*, attack.* or defense.<name>.* keys only (data and scenario are fixed per scenario), or whole attacks (attack = [{ name = …, kind = … }, …])",
            );
            continue;
        }
        match value {
            Value::Array(values) if !values.is_empty() => {
                if values
                    .iter()
                    .any(|v| matches!(v, Value::Array(_) | Value::Table(_)))
                {
                    r.problem(
                        &["sweep", &key],
                        "values must be scalars (numbers, strings, booleans)",
                    );
                } else {
                    out.push((key, values));
                }
            }
            _ => r.problem(&["sweep", &key], "must be a non-empty array of values"),
        }
    }
    (out, attacks)
}

/// Read `[sweep] attack`: a non-empty array of attack tables, each with a
/// unique string `name` (which names its points) besides its `kind` and
/// keys; the scenario then has no `[attack]` table and sweeps no
/// `attack.<key>`.
fn read_attack_sweep(
    r: &mut Reader<'_>,
    root: &Table,
    sweep: &Table,
    value: &Value,
) -> Option<Vec<(String, Table)>> {
    let path = ["sweep", ATTACK_SWEEP];
    let mut ok = true;
    if root.contains_key("attack") {
        r.problem(
            &path,
            "sweeps whole attacks, so the scenario takes no [attack] table: move it into the list",
        );
        ok = false;
    }
    if let Some(k) = sweep.keys().find(|k| k.starts_with("attack.")) {
        r.problem(
            &path,
            format!("sweeps whole attacks, so `{k}` cannot be swept beside it: write each value as an attack of the list"),
        );
        ok = false;
    }
    let Value::Array(values) = value else {
        r.problem(
            &path,
            "must be a non-empty array of attack tables, each with `name` and `kind`",
        );
        return None;
    };
    if values.is_empty() {
        r.problem(
            &path,
            "must be a non-empty array of attack tables, each with `name` and `kind`",
        );
        return None;
    }
    let mut tables: Vec<(String, Table)> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let Value::Table(t) = v else {
            r.problem(&path, format!("entry {} is not a table; each entry is an attack table like {{ name = \"a2o\", kind = \"badnets\" }}", i + 1));
            ok = false;
            continue;
        };
        match t.get("name") {
            Some(Value::String(name)) if !name.is_empty() => {
                if tables.iter().any(|(n, _)| n == name) {
                    r.problem(
                        &path,
                        format!("two attacks are named {name:?}; names must be unique"),
                    );
                    ok = false;
                }
                tables.push((name.clone(), t.clone()));
            }
            _ => {
                r.problem(&path, format!("entry {} needs a non-empty string `name`, which names its points in results, [expect] `at` and --only", i + 1));
                ok = false;
            }
        }
    }
    ok.then_some(tables)
}

/// Put the swept attack named by `name` in place of `[attack]`.
fn assign_attack(
    root: &mut Table,
    attacks: &[(String, Table)],
    name: &Value,
) -> Result<(), String> {
    let found = attacks
        .iter()
        .find(|(n, _)| Some(n.as_str()) == name.as_str());
    let Some((_, table)) = found else {
        return Err(format!("no swept attack is named {name}"));
    };
    let mut table = table.clone();
    table.remove("name");
    root.insert("attack".into(), Value::Table(table));
    Ok(())
}

/// The cartesian product of the sweep, first key varying slowest.
fn grid(sweep: &[(String, Vec<Value>)]) -> Vec<Vec<(String, Value)>> {
    let mut points = vec![Vec::new()];
    for (key, values) in sweep {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut p = p.clone();
                    p.push((key.clone(), v.clone()));
                    p
                })
            })
            .collect();
    }
    points
}

/// Set a dotted `key` in `root`: `model.x`, `attack.x`, or `defense.<name>.x`.
fn assign(root: &mut Table, key: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        [section @ ("model" | "training" | "federated" | "attack"), fields @ ..]
            if !fields.is_empty() =>
        {
            let t = root
                .entry(section.to_string())
                .or_insert_with(|| Value::Table(Table::new()));
            let Value::Table(t) = t else {
                return Err(format!("[{section}] is not a table"));
            };
            set_nested(t, fields, value)
        }
        ["defense", name, fields @ ..] if !fields.is_empty() => {
            let Some(Value::Array(defenses)) = root.get_mut("defense") else {
                return Err("the scenario has no [[defense]] tables".into());
            };
            let found = defenses.iter_mut().find_map(|d| match d {
                Value::Table(t) if defense_name(t).as_deref() == Some(*name) => Some(t),
                _ => None,
            });
            match found {
                Some(t) => set_nested(t, fields, value),
                None => Err(format!("no [[defense]] is named {name:?}")),
            }
        }
        _ => {
            Err("must be model.<key>, training.<key>, federated.<key>, attack.<key> or defense.<name>.<key>".into())
        }
    }
}

/// Set `fields` (a path of nested keys, e.g. `trigger.size`) in `table`,
/// creating inner tables such as an omitted `trigger` as needed.
fn set_nested(table: &mut Table, fields: &[&str], value: Value) -> Result<(), String> {
    match fields {
        [] => Err("empty key".into()),
        [last] => {
            table.insert(last.to_string(), value);
            Ok(())
        }
        [first, rest @ ..] => match table
            .entry(first.to_string())
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(inner) => set_nested(inner, rest, value),
            _ => Err(format!("`{first}` is not a table")),
        },
    }
}

fn defense_name(t: &Table) -> Option<String> {
    t.get("name")
        .or_else(|| t.get("kind"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn read_point(r: &mut Reader<'_>, root: &Table, ctx: &BuildContext<'_>) -> Option<Point> {
    let model_table = sub_table(r, root, "model").unwrap_or_default();
    let model = r.read::<ModelParams>(&["model"], &model_table);
    if let Some(m) = &model {
        if let Err(e) = m.check() {
            r.param_errors(&["model"], e);
        }
        if m.kind == poisonlab_core::ModelKind::Cnn
            && ctx.facts.shape.as_ref().is_some_and(|s| s.len() != 3)
        {
            r.problem(
                &["model", "kind"],
                "cnn needs image data; this [data] source is tabular",
            );
        }
    }
    let training = Training::read(r, root);
    if let Some(Training::Federated(_)) = &training {
        // The clients' local training has its own keys.
        for (key, instead) in FEDERATED_MODEL_KEYS {
            if model_table.contains_key(key) {
                r.problem(
                    &["model", key],
                    format!(
                        "is not used by the federated regime: set [federated] {instead} instead"
                    ),
                );
            }
        }
    }
    let rounds = training.as_ref().and_then(|t| t.rounds()).map(|p| p.rounds);
    let per_round = training
        .as_ref()
        .and_then(|t| t.federated())
        .map(|p| p.per_round);
    let ctx = &ctx.with_rounds(rounds).with_per_round(per_round);
    let attack = read_attack(r, root, ctx);
    let defenses = read_defenses(r, root, ctx);
    let (attack, attack_at) = attack?;
    Some(Point {
        assignments: Vec::new(),
        model: model?,
        training: training?,
        attack,
        attack_at,
        defenses: defenses?,
    })
}

/// `[model]` keys the federated regime replaces, with the `[federated]` key to use.
const FEDERATED_MODEL_KEYS: [(&str, &str); 3] = [
    ("epochs", "local-epochs"),
    ("batch-size", "local-batch-size"),
    ("learning-rate", "learning-rate"),
];

/// Keys that moved from `[attack]` to `[training]` with the regimes.
const MOVED_TO_TRAINING: &[&str] = &["rounds", "epochs-per-round"];

fn read_attack(
    r: &mut Reader<'_>,
    root: &Table,
    ctx: &BuildContext<'_>,
) -> Option<(AttackSpec, Custody)> {
    let Some(mut table) = sub_table(r, root, "attack") else {
        return Some((AttackSpec::none(), Custody::default()));
    };
    let kind = take_kind(r, &["attack"], &mut table, "kind")?;
    let at = match table.remove("at") {
        None => Custody::default(),
        Some(v) => match v.as_str() {
            Some("generator") => Custody::Generator,
            Some("source") => Custody::Source,
            Some("transit") => Custody::Transit,
            _ => {
                r.problem(
                    &["attack", "at"],
                    format!("must be \"generator\", \"source\" or \"transit\", got {v}"),
                );
                Custody::default()
            }
        },
    };
    let mut moved = false;
    for key in MOVED_TO_TRAINING {
        if table.remove(*key).is_some() {
            r.problem(
                &["attack", key],
                format!(
                    "has moved to the [training] table: write [training] regime = \"rounds\" and {key} = N there"
                ),
            );
            moved = true;
        }
    }
    let attack = AttackSpec::read(r, &kind, &table, ctx)?;
    (!moved).then_some((attack, at))
}

fn read_defenses(
    r: &mut Reader<'_>,
    root: &Table,
    ctx: &BuildContext<'_>,
) -> Option<Vec<DefenseSpec>> {
    let list = match root.get("defense") {
        None => return Some(Vec::new()),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => {
            r.problem(
                &["defense"],
                "must be an array of tables: write each as [[defense]]",
            );
            return None;
        }
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in list.iter().enumerate() {
        let idx = i.to_string();
        let path = ["defense", idx.as_str()];
        let Value::Table(t) = item else {
            r.problem(&path, "must be a table");
            ok = false;
            continue;
        };
        let mut t = t.clone();
        let Some(kind) = take_kind(r, &path, &mut t, "kind") else {
            ok = false;
            continue;
        };
        let name = match t.remove("name") {
            None => kind.clone(),
            Some(Value::String(s)) => s,
            Some(v) => {
                r.problem(
                    &["defense", &idx, "name"],
                    format!("must be a string, got {}", v.type_str()),
                );
                kind.clone()
            }
        };
        let spec = DefenseKind::read(r, &kind, &t, &path, ctx);
        if RESERVED_DEFENSE_NAMES.contains(&name.as_str())
            || out.iter().any(|d: &DefenseSpec| d.name == name)
        {
            r.problem(
                &["defense", &idx, if t.contains_key("name") { "name" } else { "kind" }],
                format!(
                    "defense name {name:?} is taken (names must be unique and not perfect, random, clean or poisoned); set `name` to tell them apart"
                ),
            );
            ok = false;
        }
        match spec {
            Some(kind) => out.push(DefenseSpec { name, kind }),
            None => ok = false,
        }
    }
    ok.then_some(out)
}
