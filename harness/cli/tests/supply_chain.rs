//! End-to-end: `generate`, `manifest verify --recipe` and `[data] recipe`,
//! the synthetic data supply chain.
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn poisonlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poisonlab"))
        .args(args)
        .output()
        .expect("the poisonlab binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A key pair in `dir`: (private, public).
fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("vendor");
    let o = poisonlab(&["keygen", "--out", s(&key)]);
    assert!(o.status.success(), "{}", text(&o));
    (key.clone(), dir.join("vendor.pub"))
}

/// `generate synthetic-digits` of 60 / 20 digits, seed 5, into `to`.
fn generate_digits(to: &Path, key: Option<&Path>, threads: &str) -> Output {
    let mut args = vec![
        "generate",
        "synthetic-digits",
        "--train",
        "60",
        "--test",
        "20",
        "--seed",
        "5",
        "--to",
        s(to),
        "--threads",
        threads,
    ];
    if let Some(k) = key {
        args.extend(["--key", s(k)]);
    }
    let o = poisonlab(&args);
    assert!(o.status.success(), "{}", text(&o));
    o
}

fn verify(data: &Path, recipe: &Path, public: Option<&Path>) -> Output {
    let mut args = vec!["manifest", "verify", s(data), "--recipe", s(recipe)];
    if let Some(p) = public {
        args.extend(["--pub", s(p)]);
    }
    poisonlab(&args)
}

/// Every file of a folder, by name, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_recipe_round_trip_reproduces_the_data_byte_for_byte_across_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = keygen(tmp.path());
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    generate_digits(&one, Some(&key), "1");
    generate_digits(&two, Some(&key), "2");
    let a = files(&one);
    assert_eq!(
        a.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            "recipe.json",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte"
        ]
    );
    // ed25519 signatures are deterministic: even the recipe is the same bytes.
    assert_eq!(a, files(&two));
    let o = verify(&one, &one.join("recipe.json"), Some(&public));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("intact"), "{}", text(&o));

    // Regenerate from what the recipe says alone: the same bytes.
    let recipe: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(one.join("recipe.json")).unwrap()).unwrap();
    assert_eq!(recipe["format"], "poisonlab-recipe-v1");
    assert_eq!(recipe["generator"], "synthetic-digits");
    assert_eq!(recipe["generator-version"], 1);
    let three = tmp.path().join("three");
    let (train, test, seed) = (
        recipe["params"]["train"].to_string(),
        recipe["params"]["test"].to_string(),
        recipe["seed"].to_string(),
    );
    let o = poisonlab(&[
        "generate",
        "synthetic-digits",
        "--train",
        &train,
        "--test",
        &test,
        "--seed",
        &seed,
        "--to",
        s(&three),
        "--key",
        s(&key),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(a, files(&three));

    // Blobs write CSV, round trip the same way, and another seed is other data.
    let b1 = tmp.path().join("b1");
    let b2 = tmp.path().join("b2");
    for (dir, threads) in [(&b1, "1"), (&b2, "2")] {
        let o = poisonlab(&[
            "generate",
            "blobs",
            "--train",
            "50",
            "--test",
            "10",
            "--dim",
            "3",
            "--seed",
            "9",
            "--to",
            s(dir),
            "--threads",
            threads,
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(files(&b1), files(&b2));
    assert!(b1.join("train.csv").exists());
    let o = verify(&b1, &b1.join("recipe.json"), None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("unsigned"), "{}", text(&o));
}

#[test]
fn one_changed_pixel_is_named_by_record() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = keygen(tmp.path());
    let dir = tmp.path().join("data");
    generate_digits(&dir, Some(&key), "1");
    let images = dir.join("train-images-idx3-ubyte");
    let mut bytes = fs::read(&images).unwrap();
    // Record 17's pixel 400: 16 header bytes, 784 pixels a record.
    let at = 16 + 17 * 784 + 400;
    bytes[at] = bytes[at].wrapping_add(1);
    fs::write(&images, bytes).unwrap();
    let o = verify(&dir, &dir.join("recipe.json"), Some(&public));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("train modified (1): 17"), "{out}");
    assert!(!out.contains("test "), "{out}");
    // A changed test label is named by its id in the test split.
    let labels = dir.join("t10k-labels-idx1-ubyte");
    let mut bytes = fs::read(&labels).unwrap();
    bytes[8 + 3] = (bytes[8 + 3] + 1) % 10;
    fs::write(&labels, bytes).unwrap();
    let o = verify(&dir, &dir.join("recipe.json"), Some(&public));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("test modified (1): 1000000003"), "{out}");
}

#[test]
fn a_recipe_edited_after_signing_is_refused_as_a_bad_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = keygen(tmp.path());
    let dir = tmp.path().join("data");
    generate_digits(&dir, Some(&key), "1");
    let path = dir.join("recipe.json");
    let original = fs::read_to_string(&path).unwrap();
    // The edit is consistent with data the attacker regenerated: still refused.
    let edited = original.replace("\"seed\": 5", "\"seed\": 6");
    assert_ne!(edited, original);
    fs::write(&path, &edited).unwrap();
    for public in [Some(public.as_path()), None] {
        let o = verify(&dir, &path, public);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("signature: invalid"), "{}", text(&o));
    }
    // Signed by another key than the one trusted.
    fs::write(&path, &original).unwrap();
    let other = tmp.path().join("other");
    let o = poisonlab(&["keygen", "--out", s(&other)]);
    assert!(o.status.success());
    let o = verify(&dir, &path, Some(&tmp.path().join("other.pub")));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("another key"), "{}", text(&o));
}

#[test]
fn a_missing_or_corrupt_recipe_exits_2_naming_it_and_another_version_is_not_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = keygen(tmp.path());
    let dir = tmp.path().join("data");
    generate_digits(&dir, Some(&key), "1");
    let missing = dir.join("missing-recipe.json");
    let o = verify(&dir, &missing, Some(&public));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("missing-recipe.json"), "{}", text(&o));
    let corrupt = dir.join("corrupt-recipe.json");
    fs::write(&corrupt, "{\"format\": \"poisonlab-recipe-v1\", \"seed\": ").unwrap();
    let o = verify(&dir, &corrupt, Some(&public));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("corrupt-recipe.json"), "{}", text(&o));
    assert!(text(&o).contains("not a valid recipe"), "{}", text(&o));
    // A missing data file is bad input naming it.
    let gone = tmp.path().join("gone");
    generate_digits(&gone, None, "1");
    fs::remove_file(gone.join("t10k-images-idx3-ubyte")).unwrap();
    let o = verify(&gone, &gone.join("recipe.json"), None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("t10k-images-idx3-ubyte"), "{}", text(&o));
    // An unsigned recipe of another generator version: reported as such.
    let unsigned = tmp.path().join("unsigned");
    generate_digits(&unsigned, None, "1");
    let path = unsigned.join("recipe.json");
    let r = fs::read_to_string(&path).unwrap();
    fs::write(
        &path,
        r.replace("\"generator-version\": 1", "\"generator-version\": 2"),
    )
    .unwrap();
    let o = verify(&unsigned, &path, None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("generator version 2"), "{out}");
    assert!(out.contains("not a sign of tampering"), "{out}");
    assert!(!out.contains("modified"), "{out}");
}

const RECIPE_SCENARIO: &str = r#"
[scenario]
name = "through-a-recipe"
seed = 3
repeats = 1

[data]
recipe = "data/recipe.json"
public-key = "vendor.pub"

[model]
kind = "mlp"
hidden = [16]
epochs = 1

[integrity]
sign-at = "generator"

[attack]
kind = "badnets"
target = 0
rate = 0.1

[[defense]]
kind = "provenance"

[sweep]
"attack.at" = ["generator", "source", "transit"]
"#;

#[test]
fn a_scenario_loads_data_through_its_recipe_and_the_audit_names_the_generator() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, _) = keygen(tmp.path());
    let data = tmp.path().join("data");
    generate_digits(&data, Some(&key), "1");
    let scenario = tmp.path().join("s.toml");
    fs::write(&scenario, RECIPE_SCENARIO).unwrap();
    let recipe: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(data.join("recipe.json")).unwrap()).unwrap();
    let root = recipe["root"].as_str().unwrap().to_string();

    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let out = tmp.path().join(format!("out{threads}"));
        let o = poisonlab(&[
            "run",
            s(&scenario),
            "--out",
            s(&out),
            "--quiet",
            "--threads",
            threads,
        ]);
        assert!(o.status.success(), "{}", text(&o));
        outs.push(out);
    }
    let audit = fs::read_to_string(outs[0].join("audit.jsonl")).unwrap();
    assert_eq!(
        audit,
        fs::read_to_string(outs[1].join("audit.jsonl")).unwrap()
    );
    let loaded: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "data-loaded")
        .collect();
    assert_eq!(loaded.len(), 3);
    for v in &loaded {
        let r = &v["details"]["recipe"];
        assert_eq!(r["root"], root.as_str(), "{v}");
        assert_eq!(r["generator"], "synthetic-digits");
        assert_eq!(r["generator-version"], 1);
        assert_eq!(r["seed"], 5);
        assert!(r["signed-by"].is_string(), "{v}");
    }
    let o = poisonlab(&["audit", "verify", s(&outs[0].join("audit.jsonl"))]);
    assert!(o.status.success(), "{}", text(&o));
    // Signed at the generator: provenance passes the poison made in the
    // generator and catches it at the source and in transit.
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(outs[0].join("summary.json")).unwrap()).unwrap();
    let tpr: Vec<f64> = summary["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["metrics"]["defense.provenance.tpr"]["mean"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(tpr, [0.0, 1.0, 1.0]);
    // Signed at the source instead: only the attack in transit is caught.
    let at_source = tmp.path().join("source.toml");
    fs::write(
        &at_source,
        RECIPE_SCENARIO.replace("sign-at = \"generator\"", "sign-at = \"source\""),
    )
    .unwrap();
    let out = tmp.path().join("out-source");
    let o = poisonlab(&["run", s(&at_source), "--out", s(&out), "--quiet"]);
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let tpr: Vec<f64> = summary["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["metrics"]["defense.provenance.tpr"]["mean"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(tpr, [0.0, 0.0, 1.0]);

    // Data that differs from what the recipe makes is bad input naming the recipe.
    let images = data.join("train-images-idx3-ubyte");
    let mut bytes = fs::read(&images).unwrap();
    bytes[16 + 5 * 784 + 300] ^= 0x40;
    fs::write(&images, bytes).unwrap();
    let o = poisonlab(&["validate", s(&scenario)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("recipe.json"), "{out}");
    assert!(out.contains("train modified (1): 5"), "{out}");
    let o = poisonlab(&[
        "run",
        s(&scenario),
        "--out",
        s(&tmp.path().join("bad")),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn the_generator_custody_point_needs_generated_data() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("train.csv"), "a,label\n0.1,0\n0.2,1\n").unwrap();
    fs::write(tmp.path().join("test.csv"), "a,label\n0.1,0\n0.2,1\n").unwrap();
    let scenario = tmp.path().join("s.toml");
    fs::write(
        &scenario,
        r#"
[scenario]
name = "files"

[data]
source = "csv"
train = "train.csv"
test = "test.csv"

[integrity]
sign-at = "generator"

[attack]
kind = "label-flip"
at = "generator"
flip = "random"
"#,
    )
    .unwrap();
    let o = poisonlab(&["validate", s(&scenario)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("integrity.sign-at"), "{out}");
    assert!(out.contains("attack.at"), "{out}");
    assert!(out.contains("needs generated data"), "{out}");
}
