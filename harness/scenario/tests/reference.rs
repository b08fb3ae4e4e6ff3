//! `docs/scenario.md` against the reader: the reference must stay true to the code.
//!
//! - The Kinds section lists exactly `kinds::catalogue()`, descriptions included.
//! - Every documented key is accepted, with its documented example value.
//! - Every key the reader accepts (for every table and every kind in the
//!   kind tables) is documented.
//! - Every literal default in the reference is the one the reader fills in.
//!
//! The reference's key tables are Markdown tables with the columns
//! `key | type | default | range | example` under headings that name the
//! table and, for a kind's own keys, the kind: `### [attack] kind = "badnets"`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failure is the test failing

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use poisonlab_scenario::{AttackSpec, DataCommon, Problem, Scenario, kinds};
use toml::{Table, Value};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/scenario.md");

/// A key no table takes, to make the reader list the keys it expects.
const PROBE: &str = "zzz-not-a-key";

/// Top-level tables that hold a kind, and the key that names it.
const SELECTORS: &[(&str, &str)] = &[
    ("data", "source"),
    ("training", "regime"),
    ("attack", "kind"),
    ("defense", "kind"),
];

/// Keyed tables without kinds, documented under `### [name]`.
const PLAIN: &[&str] = &[
    "scenario",
    "model",
    "federated",
    "integrity",
    "expect",
    "report",
];

/// The metric an `[expect]` row is tried on.
const METRIC: &str = "poisoned.ca";

/// What a `###` heading of the reference names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// `### [attack]`: keys every kind of the table takes (or a plain table's keys).
    Table(String),
    /// `### [attack] kind = "badnets"`: one kind's own keys.
    Kind(String, String),
}

impl Target {
    fn family(&self) -> &str {
        match self {
            Target::Table(t) | Target::Kind(t, _) => t,
        }
    }
}

/// One row of a key table.
#[derive(Debug, Clone)]
struct Row {
    key: String,
    default: String,
    range: String,
    example: String,
    line: usize,
}

/// One `### [...]` section of the reference.
#[derive(Debug, Clone)]
struct Section {
    heading: String,
    line: usize,
    text: String,
    rows: Option<Vec<Row>>,
}

struct Doc {
    text: String,
    sections: BTreeMap<Target, Section>,
    /// (family, kind, description) rows of the Kinds section, in order.
    kinds: Vec<(String, String, String)>,
    /// The `###` headings of the Kinds section.
    kind_families: Vec<String>,
}

fn selector(table: &str) -> Option<&'static str> {
    SELECTORS.iter().find(|(t, _)| *t == table).map(|(_, s)| *s)
}

fn cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    t.split('|').map(|c| c.trim().to_string()).collect()
}

fn unquote_code(cell: &str) -> String {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or(cell)
        .to_string()
}

fn parse_heading(h: &str, line: usize) -> Option<Target> {
    let h = h.trim();
    let (table, rest) = if let Some(r) = h.strip_prefix("[[") {
        let end = r.find("]]")?;
        (&r[..end], &r[end + 2..])
    } else if let Some(r) = h.strip_prefix('[') {
        let end = r.find(']')?;
        (&r[..end], &r[end + 1..])
    } else {
        return None;
    };
    let rest = rest.trim();
    if rest.is_empty() {
        return Some(Target::Table(table.to_string()));
    }
    let (sel, val) = rest.split_once('=').unwrap_or_else(|| {
        panic!("docs/scenario.md:{line}: heading `### {h}` is not `[table] key = \"kind\"`")
    });
    let val = val
        .trim()
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_else(|| panic!("docs/scenario.md:{line}: the kind in `### {h}` must be quoted"));
    assert_eq!(
        Some(sel.trim()),
        selector(table),
        "docs/scenario.md:{line}: `### {h}`: [{table}] names its kinds with {:?}",
        selector(table)
    );
    Some(Target::Kind(table.to_string(), val.to_string()))
}

fn read_doc() -> Doc {
    let text = std::fs::read_to_string(DOC).unwrap_or_else(|e| panic!("cannot read {DOC}: {e}"));
    let mut sections: BTreeMap<Target, Section> = BTreeMap::new();
    let mut kinds = Vec::new();
    let mut kind_families = Vec::new();
    let mut h2 = String::new();
    let mut current: Option<Target> = None;
    let mut family = String::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let n = i + 1;
        if let Some(h) = line.strip_prefix("## ") {
            h2 = h.trim().to_string();
            current = None;
        } else if let Some(h) = line.strip_prefix("### ") {
            current = None;
            if h2 == "Kinds" {
                family = h.trim().to_string();
                kind_families.push(family.clone());
            } else if let Some(target) = parse_heading(h, n) {
                assert_eq!(
                    h2, "Tables",
                    "docs/scenario.md:{n}: `### {h}` belongs under `## Tables`"
                );
                assert!(
                    !sections.contains_key(&target),
                    "docs/scenario.md:{n}: `### {h}` appears twice"
                );
                sections.insert(
                    target.clone(),
                    Section {
                        heading: h.trim().to_string(),
                        line: n,
                        text: String::new(),
                        rows: None,
                    },
                );
                current = Some(target);
            }
        } else if line.starts_with('|') {
            let header = cells(line);
            // The table's rows: after the header and the separator, up to the first non-row line.
            let mut rows = Vec::new();
            let mut j = i + 2;
            while j < lines.len() && lines[j].starts_with('|') {
                rows.push((j + 1, cells(lines[j])));
                j += 1;
            }
            if h2 == "Kinds" && header == ["kind", "description"] {
                for (ln, c) in rows {
                    assert_eq!(
                        c.len(),
                        2,
                        "docs/scenario.md:{ln}: a kind row has two cells"
                    );
                    kinds.push((family.clone(), unquote_code(&c[0]), c[1].clone()));
                }
            } else if header == ["key", "type", "default", "range", "example"] {
                let target = current.clone().unwrap_or_else(|| {
                    panic!("docs/scenario.md:{n}: a key table outside a `### [table]` section")
                });
                let section = sections.get_mut(&target).expect("the current section");
                assert!(
                    section.rows.is_none(),
                    "docs/scenario.md:{n}: `### {}` has two key tables",
                    section.heading
                );
                let rows = rows
                    .into_iter()
                    .map(|(ln, c)| {
                        assert_eq!(
                            c.len(),
                            5,
                            "docs/scenario.md:{ln}: a key row has five cells (no `|` inside a cell)"
                        );
                        Row {
                            key: unquote_code(&c[0]),
                            default: c[2].clone(),
                            range: c[3].clone(),
                            example: unquote_code(&c[4]),
                            line: ln,
                        }
                    })
                    .collect();
                section.rows = Some(rows);
            }
            i = j;
            continue;
        }
        if let Some(t) = &current {
            let s = sections.get_mut(t).expect("the current section");
            s.text.push_str(line);
            s.text.push('\n');
        }
        i += 1;
    }
    Doc {
        text,
        sections,
        kinds,
        kind_families,
    }
}

impl Doc {
    fn section(&self, target: &Target) -> Option<&Section> {
        self.sections.get(target)
    }

    fn rows(&self, target: &Target) -> &[Row] {
        self.section(target)
            .and_then(|s| s.rows.as_deref())
            .unwrap_or_default()
    }

    /// The keys documented for `family` with `kind`: the table's common keys and the kind's own.
    fn documented(&self, family: &str, kind: Option<&str>) -> BTreeSet<String> {
        let mut keys: BTreeSet<String> = self
            .rows(&Target::Table(family.into()))
            .iter()
            .map(|r| r.key.clone())
            .collect();
        if let Some(k) = kind {
            keys.extend(
                self.rows(&Target::Kind(family.into(), k.into()))
                    .iter()
                    .map(|r| r.key.clone()),
            );
        }
        keys
    }
}

// ---------------------------------------------------------------- scenarios

/// Every kind needs at most: trusted samples, a round-based run, a signed manifest.
const BASE: &str = r#"
[scenario]
name = "reference"

[data]
source = "synthetic-digits"
train = 300
test = 100
trusted = 20

[training]
regime = "rounds"

[integrity]
sign-at = "source"
"#;

/// What the base becomes for the kinds of the federated regime only (the
/// aggregators, the model-poisoning attacks) and for `[federated]`: enough
/// clients a round for every aggregator's default f (Bulyan needs 4f + 3).
const FEDERATED: &str = r#"
[training]
regime = "federated"

[federated]
per-round = 10
"#;

/// Whether `family`'s `table` (with its kind) is read in the federated regime only.
fn federated_only(family: &str, table: &Table) -> bool {
    let kind = table
        .get(selector(family).unwrap_or("kind"))
        .and_then(Value::as_str);
    match (family, kind) {
        ("federated", _) => true,
        ("defense", Some(k)) => kinds::find(kinds::AGGREGATORS, k).is_some(),
        ("attack", Some(k)) => {
            AttackSpec::with_defaults(k).is_ok_and(|a| a.update_attack().is_some())
        }
        _ => false,
    }
}

fn example_value(row: &Row) -> Value {
    let doc: Table = format!("v = {}", row.example).parse().unwrap_or_else(|e| {
        panic!(
            "docs/scenario.md:{}: the example of `{}` is not a TOML value: {:?} ({e})",
            row.line, row.key, row.example
        )
    });
    doc["v"].clone()
}

/// The literal default of a row, when its default cell starts with a TOML value in backticks.
fn literal_default(row: &Row) -> Option<Value> {
    let rest = row.default.strip_prefix('`')?;
    let code = &rest[..rest.find('`')?];
    let doc: Table = format!("v = {code}").parse().ok()?;
    Some(doc["v"].clone())
}

fn set_nested(table: &mut Table, key: &str, value: Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().expect("a key");
    let mut t = table;
    for p in parts {
        t = match t
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(inner) => inner,
            other => panic!("`{p}` is not a table: {other}"),
        };
    }
    t.insert(last.to_string(), value);
}

fn is_required(row: &Row) -> bool {
    row.default.starts_with("required")
}

/// The smallest table for `family` (with `kind`): its required keys (with
/// their examples) and the kind.
fn minimal(doc: &Doc, family: &str, kind: Option<&str>) -> Table {
    let mut t = Table::new();
    let common = Target::Table(family.into());
    let own = kind.map(|k| Target::Kind(family.into(), k.into()));
    let rows = doc
        .rows(&common)
        .iter()
        .chain(own.iter().flat_map(|o| doc.rows(o)));
    for row in rows.filter(|r| is_required(r)) {
        set_nested(&mut t, &row.key, example_value(row));
    }
    if let Some(k) = kind {
        let key = selector(family).unwrap_or("kind");
        t.insert(key.into(), Value::String(k.into()));
    }
    t
}

/// The base scenario (federated when `table` needs it) with `family`'s
/// table replaced by `table`.
fn scenario(family: &str, table: Table) -> Table {
    let mut root: Table = BASE.parse().expect("the base scenario");
    if federated_only(family, &table) {
        let federated: Table = FEDERATED.parse().expect("the federated base");
        root.extend(federated);
    }
    match family {
        "defense" => {
            root.insert("defense".into(), Value::Array(vec![Value::Table(table)]));
        }
        "expect" => {
            let mut expect = Table::new();
            expect.insert(METRIC.into(), Value::Table(table));
            root.insert("expect".into(), Value::Table(expect));
        }
        _ => {
            root.insert(family.into(), Value::Table(table));
        }
    }
    root
}

/// The key path of `key` in `family`'s table as problems name it.
fn problem_key(family: &str, key: &str) -> String {
    match family {
        "defense" => format!("defense[0].{key}"),
        "expect" => format!("expect.{METRIC}.{key}"),
        _ => format!("{family}.{key}"),
    }
}

/// A folder to read scenarios from, with the files that the required path
/// keys of the data sources name (their documented examples).
struct Folder {
    _tmp: tempfile::TempDir,
    file: PathBuf,
}

fn folder(doc: &Doc) -> Folder {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join("scenarios");
    std::fs::create_dir_all(&dir).unwrap();
    for (target, section) in &doc.sections {
        if !matches!(target, Target::Kind(f, _) if f == "data") {
            continue;
        }
        for row in section.rows.iter().flatten().filter(|r| is_required(r)) {
            let Value::String(p) = example_value(row) else {
                continue;
            };
            let path = dir.join(&p);
            if row.key == "dir" {
                std::fs::create_dir_all(&path).unwrap();
            } else {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, "").unwrap();
            }
        }
    }
    Folder {
        file: dir.join("reference.toml"),
        _tmp: tmp,
    }
}

fn parse(root: &Table, file: &Path) -> Result<Scenario, Vec<Problem>> {
    let text = toml::to_string(root).expect("a TOML scenario");
    Scenario::parse(&text, &file.display().to_string()).map_err(|p| p.list)
}

fn show(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("\n    {}: {}", p.key, p.message))
        .collect()
}

/// Problems reading a key at all (it does not exist, or the value has the wrong type),
/// as opposed to a value out of range or a missing companion key.
fn is_reading_problem(message: &str) -> bool {
    [
        "unknown key",
        "unknown field",
        "unknown table",
        "invalid type",
        "unknown variant",
        "invalid value",
        "invalid length",
        "unknown source",
        "unknown regime",
        "unknown attack",
        "unknown defense",
        "must be a string",
        "must be a table",
        "must be \"generator\", \"source\" or \"transit\"",
        "has moved",
    ]
    .iter()
    .any(|m| message.starts_with(m))
}

/// Data-file problems a scenario read without its data files may have.
fn is_file_problem(message: &str) -> bool {
    message.starts_with("no such file or folder") || message.starts_with("is required for source")
}

/// The family's table in a resolved scenario.
fn resolved_table(s: &Scenario, family: &str) -> Table {
    let root: Table = s.resolved_toml().parse().expect("resolved TOML");
    let value = match family {
        "defense" => root["defense"].as_array().and_then(|a| a.first()).cloned(),
        _ => root.get(family).cloned(),
    };
    match value {
        Some(Value::Table(t)) => t,
        // Written only when it differs from the defaults.
        None if family == "report" => Table::new(),
        other => panic!("the resolved scenario has no [{family}] table: {other:?}"),
    }
}

/// Every leaf key of `table` as a dotted path; nested tables are listed in `tables`.
fn flatten(table: &Table, prefix: &str, keys: &mut BTreeSet<String>, tables: &mut Vec<String>) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Table(inner) => {
                tables.push(path.clone());
                flatten(inner, &path, keys, tables);
            }
            _ => {
                keys.insert(path);
            }
        }
    }
}

/// The quoted names after "expected" in an unknown-key message.
fn expected_names(message: &str, quote: char) -> Vec<String> {
    let Some(i) = message.find("expected") else {
        return Vec::new();
    };
    message[i..]
        .split(quote)
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The keys the reader expects in the table at `path` inside `family`'s
/// table (`""` for the table itself), asked with an unknown key.
fn probe(family: &str, table: &Table, path: &str, file: &Path) -> Vec<String> {
    let mut t = table.clone();
    let key = if path.is_empty() {
        PROBE.to_string()
    } else {
        format!("{path}.{PROBE}")
    };
    set_nested(&mut t, &key, Value::Integer(1));
    let problems = match parse(&scenario(family, t), file) {
        Ok(_) => panic!("[{family}] {path}: the reader accepted the unknown key {PROBE:?}"),
        Err(p) => p,
    };
    let full = problem_key(family, &key);
    let p = problems
        .iter()
        .find(|p| p.key == full)
        .unwrap_or_else(|| panic!("no problem at {full}:{}", show(&problems)));
    assert!(
        p.message.starts_with("unknown key"),
        "{full}: {}",
        p.message
    );
    expected_names(&p.message, '"')
        .into_iter()
        .map(|k| {
            if path.is_empty() {
                k
            } else {
                format!("{path}.{k}")
            }
        })
        .collect()
}

/// Every (family, kind) the kind tables hold, plus the plain tables.
fn every_table() -> Vec<(&'static str, Option<&'static str>)> {
    let mut out: Vec<(&str, Option<&str>)> =
        vec![("scenario", None), ("federated", None), ("integrity", None)];
    out.extend(kinds::MODELS.iter().map(|e| ("model", Some(e.name))));
    out.extend(kinds::DATA_SOURCES.iter().map(|e| ("data", Some(e.name))));
    out.extend(kinds::REGIMES.iter().map(|e| ("training", Some(e.name))));
    out.extend(kinds::ATTACKS.iter().map(|e| ("attack", Some(e.name))));
    out.extend(kinds::DEFENSES.iter().map(|e| ("defense", Some(e.name))));
    out.extend(kinds::AGGREGATORS.iter().map(|e| ("defense", Some(e.name))));
    out
}

// ---------------------------------------------------------------- the tests

#[test]
fn the_kinds_section_is_the_catalogue() {
    let doc = read_doc();
    let want: Vec<(String, String, String)> = kinds::catalogue()
        .into_iter()
        .map(|(f, k, a)| (f.to_string(), k.to_string(), a.to_string()))
        .collect();
    let missing: Vec<_> = want.iter().filter(|r| !doc.kinds.contains(r)).collect();
    let extra: Vec<_> = doc.kinds.iter().filter(|r| !want.contains(r)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/scenario.md, section Kinds, differs from kinds::catalogue():\n  \
         missing or different there: {missing:#?}\n  not in the catalogue: {extra:#?}"
    );
    assert_eq!(
        doc.kinds, want,
        "docs/scenario.md lists the kinds in another order"
    );
    let families = [
        "data",
        "model",
        "regime",
        "aggregator",
        "attack",
        "defense",
        "reference",
    ];
    assert_eq!(
        doc.kind_families, families,
        "the Kinds section has one `###` heading per family, in catalogue order"
    );
    for (family, _, _) in &want {
        assert!(
            families.contains(&family.as_str()),
            "unknown family {family}"
        );
    }
}

#[test]
fn every_kind_and_table_has_its_section() {
    let doc = read_doc();
    for family in PLAIN {
        assert!(
            doc.section(&Target::Table(family.to_string())).is_some(),
            "docs/scenario.md has no `### [{family}]` section"
        );
    }
    for (family, _) in SELECTORS {
        assert!(
            doc.section(&Target::Table(family.to_string())).is_some(),
            "docs/scenario.md has no section for [{family}]'s common keys"
        );
    }
    for (family, kind) in every_table() {
        if let (Some(kind), Some(sel)) = (kind, selector(family)) {
            let target = Target::Kind(family.into(), kind.into());
            let section = doc.section(&target).unwrap_or_else(|| {
                let table = if family == "defense" {
                    "[[defense]]".to_string()
                } else {
                    format!("[{family}]")
                };
                panic!("docs/scenario.md has no section `### {table} {sel} = \"{kind}\"`")
            });
            assert!(
                section.rows.is_some()
                    || section
                        .text
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .contains("No keys"),
                "docs/scenario.md:{}: `### {}` has neither a key table nor \"No keys\"",
                section.line,
                section.heading
            );
        }
    }
    // Every section names a table and kind that exist.
    for (target, section) in &doc.sections {
        match target {
            Target::Table(t) => assert!(
                PLAIN.contains(&t.as_str()) || selector(t).is_some() || t == "sweep",
                "docs/scenario.md:{}: there is no table [{t}]",
                section.line
            ),
            Target::Kind(f, k) => assert!(
                every_table().contains(&(f.as_str(), Some(k.as_str()))),
                "docs/scenario.md:{}: there is no {f} kind {k:?}",
                section.line
            ),
        }
    }
    // The kind keys list every kind of their table.
    let lists: [(&str, &str, Vec<&str>); 4] = [
        (
            "data",
            "source",
            kinds::DATA_SOURCES.iter().map(|e| e.name).collect(),
        ),
        (
            "model",
            "kind",
            kinds::MODELS.iter().map(|e| e.name).collect(),
        ),
        (
            "training",
            "regime",
            kinds::REGIMES.iter().map(|e| e.name).collect(),
        ),
        (
            "attack",
            "kind",
            kinds::ATTACKS.iter().map(|e| e.name).collect(),
        ),
    ];
    let defense = (
        "defense",
        "kind",
        kinds::DEFENSES
            .iter()
            .chain(kinds::AGGREGATORS)
            .map(|e| e.name)
            .collect(),
    );
    for (family, key, names) in lists.into_iter().chain([defense]) {
        let row = doc
            .rows(&Target::Table(family.into()))
            .iter()
            .find(|r| r.key == key)
            .unwrap_or_else(|| panic!("docs/scenario.md: [{family}] has no `{key}` row"));
        for name in names {
            assert!(
                row.range.contains(&format!("`\"{name}\"`")),
                "docs/scenario.md:{}: the range of [{family}] {key} does not list \"{name}\"",
                row.line
            );
        }
    }
}

#[test]
fn every_top_level_table_is_documented() {
    let doc = read_doc();
    let file = Path::new("reference.toml");
    let mut root: Table = BASE.parse().unwrap();
    root.insert(PROBE.into(), Value::Table(Table::new()));
    let problems = parse(&root, file).expect_err("an unknown table is refused");
    let p = problems
        .iter()
        .find(|p| p.key == PROBE)
        .unwrap_or_else(|| panic!("no problem at {PROBE}:{}", show(&problems)));
    let names: Vec<&str> = p
        .message
        .split_once("expected one of ")
        .map(|(_, list)| list.split(", ").collect())
        .unwrap_or_default();
    assert!(names.contains(&"scenario"), "{}", p.message);
    for name in names {
        let heading = doc.section(&Target::Table(name.into())).is_some();
        assert!(
            heading || doc.text.contains(&format!("`[{name}]`")),
            "docs/scenario.md does not document the table [{name}]"
        );
    }
}

#[test]
fn every_documented_key_is_accepted_with_its_example() {
    let doc = read_doc();
    let dir = folder(&doc);
    let mut tried = 0;
    for (target, section) in &doc.sections {
        let family = target.family();
        let kind = match target {
            Target::Kind(_, k) => Some(k.as_str()),
            Target::Table(_) => None,
        };
        for row in section.rows.iter().flatten() {
            let mut table = minimal(&doc, family, kind);
            set_nested(&mut table, &row.key, example_value(row));
            let root = scenario(family, table);
            let full = problem_key(family, &row.key);
            if let Err(problems) = parse(&root, &dir.file) {
                let bad: Vec<&Problem> = problems
                    .iter()
                    .filter(|p| {
                        (p.key == full || full.starts_with(&format!("{}.", p.key)))
                            && is_reading_problem(&p.message)
                    })
                    .collect();
                assert!(
                    bad.is_empty(),
                    "docs/scenario.md:{}: `{}` under `### {}` with its example {} is not read:{}\n\
                     the scenario was:\n{}",
                    row.line,
                    row.key,
                    section.heading,
                    row.example,
                    show(&problems),
                    toml::to_string(&root).unwrap()
                );
            }
            tried += 1;
        }
    }
    assert!(
        tried > 80,
        "only {tried} documented keys found: is the key-table format intact?"
    );
}

#[test]
fn every_key_the_reader_accepts_is_documented() {
    let doc = read_doc();
    let dir = folder(&doc);
    for (family, kind) in every_table() {
        // [model]'s kinds share one table.
        let mut documented = doc.documented(family, if family == "model" { None } else { kind });
        let mut table = minimal(&doc, family, if family == "model" { None } else { kind });
        if let (Some(k), "model") = (kind, family) {
            table.insert("kind".into(), Value::String(k.into()));
        }
        let mut accepted = BTreeSet::new();
        let mut nested = Vec::new();
        match parse(&scenario(family, table.clone()), &dir.file) {
            Ok(s) => {
                let resolved = resolved_table(&s, family);
                flatten(&resolved, "", &mut accepted, &mut nested);
                // A nested table naming a kind (scaling's `backdoor`, an attack on
                // the data) takes that kind's keys, documented in its own section.
                for (key, value) in &resolved {
                    if let Some(inner) = value.get("kind").and_then(Value::as_str) {
                        let own = Target::Kind(family.into(), inner.into());
                        documented
                            .extend(doc.rows(&own).iter().map(|r| format!("{key}.{}", r.key)));
                    }
                }
            }
            Err(problems) => assert!(
                family == "data" && problems.iter().all(|p| is_file_problem(&p.message)),
                "[{family}] {kind:?} with its required keys does not parse:{}",
                show(&problems)
            ),
        }
        accepted.extend(probe(family, &table, "", &dir.file));
        for path in &nested {
            accepted.extend(probe(family, &table, path, &dir.file));
        }
        if family == "data" {
            // The keys every source takes are read apart from the source's own.
            let mut t = Table::new();
            t.insert(PROBE.into(), Value::Integer(1));
            let e = Value::Table(t)
                .try_into::<DataCommon>()
                .expect_err("an unknown key is refused");
            let names = expected_names(&e.to_string(), '`');
            assert!(names.contains(&"trusted".to_string()), "{e}");
            accepted.extend(names);
        }
        // A nested table (`trigger`) is documented through its keys (`trigger.size`).
        let undocumented: Vec<&String> = accepted
            .iter()
            .filter(|k| {
                !documented.contains(*k)
                    && !documented.iter().any(|d| d.starts_with(&format!("{k}.")))
            })
            .collect();
        let table = match family {
            "defense" => "[[defense]]".to_string(),
            _ => format!("[{family}]"),
        };
        let heading = match (kind, selector(family)) {
            (Some(k), Some(sel)) => format!("### {table} {sel} = \"{k}\""),
            _ => format!("### {table}"),
        };
        assert!(
            undocumented.is_empty(),
            "{table} {kind:?} accepts keys docs/scenario.md does not document \
             (add them under `{heading}` or the table's common section): {undocumented:?}"
        );
    }
    // [expect]: the bounds of each metric.
    let bounds = probe("expect", &Table::new(), "", &dir.file);
    let documented = doc.documented("expect", None);
    for b in bounds {
        assert!(
            documented.contains(&b),
            "[expect] accepts `{b}`, undocumented"
        );
    }
}

#[test]
fn literal_defaults_are_the_readers() {
    let doc = read_doc();
    let dir = folder(&doc);
    let mut compared = 0;
    for (target, section) in &doc.sections {
        let rows: Vec<(&Row, Value)> = section
            .rows
            .iter()
            .flatten()
            .filter_map(|r| literal_default(r).map(|v| (r, v)))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let family = target.family();
        let kind = match target {
            Target::Kind(_, k) => Some(k.as_str()),
            Target::Table(_) => None,
        };
        let scenario = match parse(&scenario(family, minimal(&doc, family, kind)), &dir.file) {
            Ok(s) => s,
            Err(problems) if problems.iter().all(|p| is_file_problem(&p.message)) => continue,
            Err(problems) => panic!(
                "docs/scenario.md:{}: `### {}` with its required keys does not parse:{}",
                section.line,
                section.heading,
                show(&problems)
            ),
        };
        let resolved = resolved_table(&scenario, family);
        for (row, want) in rows {
            let mut value = Some(Value::Table(resolved.clone()));
            for part in row.key.split('.') {
                value = value.and_then(|v| v.get(part).cloned());
            }
            // Keys written only when set (clean-fpr = false) have nothing to compare.
            let Some(got) = value else {
                continue;
            };
            assert_eq!(
                got, want,
                "docs/scenario.md:{}: `{}` under `### {}` defaults to {got}, not {want}",
                row.line, row.key, section.heading
            );
            compared += 1;
        }
    }
    assert!(compared > 60, "only {compared} literal defaults compared");
}
