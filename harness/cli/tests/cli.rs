//! End-to-end: the `poisonlab` binary on small scenarios.
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TINY: &str = r#"
[scenario]
name = "tiny"
seed = 11
repeats = 2

[data]
source = "synthetic-digits"
train = 400
test = 100
trusted = 20

[model]
kind = "mlp"
hidden = [32]
epochs = 3

[attack]
kind = "label-flip"
source = 7
target = 1
rate = 0.4

[[defense]]
kind = "knn-label"
k = 5

[[defense]]
kind = "loss-filter"
fraction = 0.1

[[defense]]
kind = "strip"
n = 5

[sweep]
"attack.rate" = [0.2, 0.6]

[expect]
"defense.perfect.tpr" = { min = 1.0 }
"defense.perfect.fpr" = { max = 0.0 }
"#;

fn poisonlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poisonlab"))
        .args(args)
        .output()
        .expect("the poisonlab binary runs")
}

fn write_scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn run(scenario: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend(extra);
    let o = poisonlab(&args);
    assert!(
        o.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A results file with every `seconds` field (JSON) or column (CSV) removed.
fn without_timings(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => text
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                strip_seconds(&mut v);
                v.to_string()
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some("csv") => text
            .lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(rest, _)| rest).to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => text,
    }
}

fn strip_seconds(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("seconds");
            m.values_mut().for_each(strip_seconds);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_seconds),
        _ => {}
    }
}

const FILES: [&str; 7] = [
    "scenario.toml",
    "runs.jsonl",
    "runs.csv",
    "summary.json",
    "report.md",
    "audit.jsonl",
    "report.html",
];

/// One pending run with two threads splits its own steps (clean and poisoned
/// training, each defense and its clean-set run, the references) over them.
#[test]
fn a_single_run_is_identical_when_its_steps_run_in_parallel() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write_scenario(tmp.path(), "tiny.toml", TINY);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let one = ["--only", "attack.rate=0.6", "--repeats", "1"];
    run(&scenario, &a, &[&one[..], &["--threads", "1"]].concat());
    run(&scenario, &b, &[&one[..], &["--threads", "2"]].concat());
    for f in FILES {
        assert_eq!(
            without_timings(&a.join(f)),
            without_timings(&b.join(f)),
            "{f} differs when one run's steps share two threads"
        );
    }
    let record = fs::read_to_string(a.join("runs.jsonl")).unwrap();
    assert_eq!(record.lines().count(), 1);
    for name in ["knn-label", "loss-filter", "strip", "perfect", "random"] {
        assert!(
            record.contains(&format!("\"name\":\"{name}\"")),
            "{name} missing"
        );
    }
}

/// `clean-fpr = false` skips the clean-set inspection and says so in the
/// resolved scenario; the default leaves the key out and fills `clean-fpr`.
#[test]
fn clean_fpr_can_be_switched_off() {
    let tmp = tempfile::tempdir().unwrap();
    let off = TINY.replace("repeats = 2", "repeats = 1\nclean-fpr = false");
    let on = TINY.replace("repeats = 2", "repeats = 1");
    let (a, b) = (tmp.path().join("off"), tmp.path().join("on"));
    let one = ["--only", "attack.rate=0.6"];
    run(&write_scenario(tmp.path(), "off.toml", &off), &a, &one);
    run(&write_scenario(tmp.path(), "on.toml", &on), &b, &one);
    let filters = |dir: &Path| -> Vec<serde_json::Value> {
        let line = fs::read_to_string(dir.join("runs.jsonl")).unwrap();
        let record: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        record["defenses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"] == "filter")
            .cloned()
            .collect()
    };
    let (off_filters, on_filters) = (filters(&a), filters(&b));
    assert_eq!(off_filters.len(), 2);
    for (off, on) in off_filters.iter().zip(&on_filters) {
        assert!(off["clean-fpr"].is_null(), "{off}");
        assert!(on["clean-fpr"].is_number(), "{on}");
        assert_eq!(
            off["detection"], on["detection"],
            "the poisoned-set verdict is the same"
        );
    }
    let resolved = |dir: &Path| fs::read_to_string(dir.join("scenario.toml")).unwrap();
    assert!(resolved(&a).contains("clean-fpr = false"));
    assert!(!resolved(&b).contains("clean-fpr"));
}

#[test]
fn runs_are_identical_across_invocations_and_thread_counts_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write_scenario(tmp.path(), "tiny.toml", TINY);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let first = run(&scenario, &a, &["--threads", "1", "--check"]);
    assert!(String::from_utf8_lossy(&first.stdout).contains("every expectation met"));
    run(&scenario, &b, &["--threads", "2"]);
    for f in FILES {
        assert_eq!(
            without_timings(&a.join(f)),
            without_timings(&b.join(f)),
            "{f} differs between --threads 1 and 2"
        );
    }

    // The record carries the fields docs/scenario.md promises, and the references behave.
    let runs = fs::read_to_string(a.join("runs.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = runs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 4);
    for r in &records {
        for key in ["clean", "poisoned"] {
            assert!(r[key]["ca"].as_f64().is_some());
        }
        assert!(r["poisoned"]["asr"].as_f64().is_some());
        let defenses = r["defenses"].as_array().unwrap();
        let names: Vec<&str> = defenses
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["knn-label", "loss-filter", "strip", "perfect", "random"]
        );
        let strip = &defenses[2];
        assert_eq!(strip["kind"], "input-detector");
        for m in ["far", "frr"] {
            assert!(
                strip["input"][m]
                    .as_f64()
                    .is_some_and(|v| (0.0..=1.0).contains(&v)),
                "{m}"
            );
        }
        for d in defenses.iter().filter(|d| d["kind"] != "input-detector") {
            for m in ["tpr", "fpr", "precision", "f1", "auroc"] {
                assert!(d["detection"].get(m).is_some(), "{m} missing");
            }
            assert!(d["retrained"]["ca"].as_f64().is_some());
            assert!(d.get("recovery").is_some() && d.get("der").is_some());
        }
        let perfect = &defenses[3]["detection"];
        assert_eq!(
            (perfect["tpr"].as_f64(), perfect["fpr"].as_f64()),
            (Some(1.0), Some(0.0))
        );
        assert_eq!(perfect["tp"].as_u64(), r["n-poison"].as_u64());
    }

    // Resume: cut the last record in half; the rerun keeps the first three and redoes the last.
    let cut = runs.len() - runs.lines().last().unwrap().len() / 2;
    fs::write(a.join("runs.jsonl"), &runs[..cut]).unwrap();
    let again = run(&scenario, &a, &["--threads", "2"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("1 new, 3 resumed"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    for f in FILES {
        assert_eq!(
            without_timings(&a.join(f)),
            without_timings(&b.join(f)),
            "{f} differs after resume"
        );
    }

    // A different scenario in the same folder is refused unless --fresh.
    let other = write_scenario(
        tmp.path(),
        "other.toml",
        &TINY.replace("seed = 11", "seed = 12"),
    );
    let refused = poisonlab(&[
        "run",
        other.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--fresh"));
}

#[test]
fn validate_lists_every_problem_and_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = write_scenario(
        tmp.path(),
        "bad.toml",
        "[scenario]\nname = \"bad\"\n\n[attack]\nkind = \"label-flip\"\nsource = 3\ntarget = 12\nrate = 1.5\nsorce = 2\n",
    );
    let o = poisonlab(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("3 problems"), "{err}");
    assert!(err.contains("line 9: attack.sorce: unknown key"), "{err}");
    assert!(
        err.contains("line 8: attack.rate: must be in [0, 1], got 1.5"),
        "{err}"
    );
    assert!(
        err.contains("line 7: attack.target: class 12 is not in the dataset"),
        "{err}"
    );

    let missing = tmp.path().join("nowhere.toml");
    let o = poisonlab(&["run", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nowhere.toml"));

    let good = write_scenario(tmp.path(), "good.toml", TINY);
    let o = poisonlab(&["validate", good.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 run(s)"));
}

#[test]
fn unmet_expectations_fail_the_check() {
    let tmp = tempfile::tempdir().unwrap();
    let text = TINY
        .replace("repeats = 2", "repeats = 1")
        .replace("\"attack.rate\" = [0.2, 0.6]", "\"attack.rate\" = [0.2]")
        .replace(
            "[expect]",
            "[expect]\n\"defense.random.tpr\" = { min = 0.99 }",
        );
    let scenario = write_scenario(tmp.path(), "strict.toml", &text);
    let o = poisonlab(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        tmp.path().join("o").to_str().unwrap(),
        "--quiet",
        "--check",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("defense.random.tpr"), "{out}");
    assert!(!out.contains("defense.perfect.tpr"), "{out}");
}

#[test]
fn list_names_every_kind() {
    let o = poisonlab(&["list"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    // Every kind of every table, under its family's heading.
    for (family, name, about) in poisonlab_scenario::kinds::catalogue() {
        assert!(
            out.contains(&format!("{family}:")),
            "{family} heading missing"
        );
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name));
        let line = line.unwrap_or_else(|| panic!("{family} {name} missing"));
        assert!(line.contains(about), "{name}: {line}");
    }
    for name in ["provenance", "idx", "csv", "cifar10", "central", "rounds"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(name)),
            "{name} missing"
        );
    }
}

/// The tiny IDX fixture of poisonlab-data: 300 train (gzip) / 100 test (raw) digits.
fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/tests/fixtures/tiny-idx")
}

fn idx_scenario(dir: &Path) -> String {
    format!(
        "[scenario]\nname = \"idx\"\n[data]\nsource = \"idx\"\ndir = \"{}\"\n[model]\nhidden = [16]\nepochs = 1\n\
         [attack]\nkind = \"label-flip\"\nsource = 7\ntarget = 1\nrate = 0.5\n[[defense]]\nkind = \"loss-filter\"\n",
        dir.display()
    )
}

#[test]
fn idx_files_run_end_to_end_inspect_and_export() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write_scenario(tmp.path(), "idx.toml", &idx_scenario(&fixture_dir()));
    let out = tmp.path().join("out");
    run(&scenario, &out, &[]);
    let resolved = fs::read_to_string(out.join("scenario.toml")).unwrap();
    assert!(
        resolved.contains("n-train = 300") && resolved.contains("classes = 10"),
        "{resolved}"
    );
    let record: serde_json::Value = serde_json::from_str(
        fs::read_to_string(out.join("runs.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert!(record["n-poison"].as_u64().unwrap() > 0);

    let o = poisonlab(&[
        "data",
        "inspect",
        fixture_dir()
            .join("train-images-idx3-ubyte.gz")
            .to_str()
            .unwrap(),
    ]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("300") && text.contains("28"), "{text}");

    let export = tmp.path().join("export");
    let o = poisonlab(&[
        "data",
        "export",
        scenario.to_str().unwrap(),
        "--to",
        export.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "poison-mask.csv",
        "contact-sheet.png",
    ] {
        assert!(export.join(f).exists(), "{f} missing");
    }
    let mask = fs::read_to_string(export.join("poison-mask.csv")).unwrap();
    let flipped = mask
        .lines()
        .skip(1)
        .filter(|l| l.contains(",true,7,1"))
        .count();
    assert_eq!(flipped as u64, record["n-poison"].as_u64().unwrap());
}

#[test]
fn corrupt_data_files_exit_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = |name: &str| {
        let dir = tmp.path().join(name);
        fs::create_dir_all(&dir).unwrap();
        for entry in fs::read_dir(fixture_dir()).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        dir
    };
    let expect_exit_2 = |dir: &Path, what: &str, needle: &str| {
        let scenario = write_scenario(tmp.path(), &format!("{what}.toml"), &idx_scenario(dir));
        for cmd in ["validate", "run"] {
            let o = poisonlab(
                &[cmd, scenario.to_str().unwrap(), "--quiet"][..if cmd == "run" { 3 } else { 2 }],
            );
            assert_eq!(
                o.status.code(),
                Some(2),
                "{what} via {cmd}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains(needle), "{what} via {cmd}: {err}");
        }
    };
    // A gzip stream cut short.
    let dir = copy("truncated");
    let gz = dir.join("train-images-idx3-ubyte.gz");
    let bytes = fs::read(&gz).unwrap();
    fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
    expect_exit_2(&dir, "truncated", "train-images-idx3-ubyte.gz");
    // Wrong magic number.
    let dir = copy("magic");
    let raw = dir.join("t10k-images-idx3-ubyte");
    let mut bytes = fs::read(&raw).unwrap();
    bytes[3] = 0x01;
    fs::write(&raw, bytes).unwrap();
    expect_exit_2(&dir, "magic", "t10k-images-idx3-ubyte");
    // Label count ≠ image count.
    let dir = copy("count");
    let labels = dir.join("t10k-labels-idx1-ubyte");
    let mut bytes = fs::read(&labels).unwrap();
    bytes[7] -= 1;
    bytes.pop();
    fs::write(&labels, bytes).unwrap();
    expect_exit_2(&dir, "count", "t10k-labels-idx1-ubyte");
    // A CSV with a text cell.
    let train = tmp.path().join("train.csv");
    fs::write(&train, "a,b,label\n1,2,0\n3,oops,1\n").unwrap();
    fs::write(tmp.path().join("test.csv"), "a,b,label\n1,2,0\n3,4,1\n").unwrap();
    let csv = write_scenario(
        tmp.path(),
        "csv.toml",
        "[scenario]\nname = \"csv\"\n[data]\nsource = \"csv\"\ntrain = \"train.csv\"\ntest = \"test.csv\"\n",
    );
    let o = poisonlab(&["run", csv.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("train.csv") && err.contains("oops"), "{err}");
    // A CIFAR batch whose length is not a multiple of 3073.
    let cifar = tmp.path().join("cifar");
    fs::create_dir_all(&cifar).unwrap();
    for name in [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
    ] {
        fs::write(cifar.join(name), vec![0u8; 3073]).unwrap();
    }
    fs::write(cifar.join("data_batch_3.bin"), vec![0u8; 3000]).unwrap();
    let c = write_scenario(
        tmp.path(),
        "cifar.toml",
        "[scenario]\nname = \"c\"\n[data]\nsource = \"cifar10\"\ndir = \"cifar\"\n",
    );
    let o = poisonlab(&["validate", c.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("data_batch_3.bin"));
    // A missing data file names the path.
    let missing = write_scenario(
        tmp.path(),
        "missing.toml",
        &idx_scenario(&tmp.path().join("nowhere")),
    );
    let o = poisonlab(&["validate", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nowhere"));
}

/// A drift scenario: four rounds of two epochs each (`[training]`).
const DRIFT: &str = "[scenario]\nname = \"drift\"\nseed = 3\nrepeats = 2\n[data]\ntrain = 800\ntest = 200\n\
                     trusted = 60\n[model]\nhidden = [32]\n[training]\nregime = \"rounds\"\nrounds = 4\n\
                     epochs-per-round = 2\n[attack]\nkind = \"drift\"\nsource = 7\ntarget = 1\nmax-rate = 0.8\n\
                     [[defense]]\nkind = \"loss-filter\"\n[[defense]]\nkind = \"spectral-signatures\"\n\
                     [[defense]]\nkind = \"activation-clustering\"\n[[defense]]\nkind = \"anomaly\"\n\
                     [[defense]]\nkind = \"canary\"\n[[defense]]\nkind = \"cusum\"\n";

#[test]
fn drift_runs_in_rounds_and_is_identical_across_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write_scenario(tmp.path(), "drift.toml", DRIFT);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run(&scenario, &a, &["--threads", "1"]);
    run(&scenario, &b, &["--threads", "2"]);
    for f in FILES {
        assert_eq!(
            without_timings(&a.join(f)),
            without_timings(&b.join(f)),
            "{f} differs"
        );
    }
    let first: serde_json::Value = serde_json::from_str(
        fs::read_to_string(a.join("runs.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let rounds = first["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 4);
    // The poison budget grows round by round (linear schedule; a round with
    // fewer 7s can tie with the one before).
    let shares: Vec<f64> = rounds
        .iter()
        .map(|r| r["poison-share"].as_f64().unwrap())
        .collect();
    assert!(shares.windows(2).all(|w| w[0] <= w[1]), "{shares:?}");
    assert!(shares[0] < shares[3], "{shares:?}");
    assert_eq!(first["attack"]["kind"], "drift");
    let report = fs::read_to_string(a.join("report.md")).unwrap();
    assert!(report.contains("| round | poison share |"), "{report}");
    // Round monitors: one statistic per round on the poisoned and on the clean
    // run, and a row in the report.
    let defenses = first["defenses"].as_array().unwrap();
    for name in ["canary", "cusum"] {
        let d = defenses.iter().find(|d| d["name"] == name).unwrap();
        assert_eq!(d["kind"], "monitor", "{d}");
        let m = &d["monitor"];
        assert_eq!(m["statistic"].as_array().unwrap().len(), 4, "{d}");
        assert_eq!(m["clean-statistic"].as_array().unwrap().len(), 4, "{d}");
        assert!(m["false-alarms"].as_u64().is_some(), "{d}");
        assert!(report.contains(&format!("| {name} |")), "{report}");
    }
    // Filters are also run on the clean training set; the anomaly defense
    // tests the training labels against the trusted ones.
    for d in defenses.iter().filter(|d| d["kind"] == "filter") {
        assert!(d["clean-fpr"].as_f64().is_some(), "{d}");
    }
    let anomaly = defenses.iter().find(|d| d["name"] == "anomaly").unwrap();
    assert!(
        anomaly["label-test"]["p-value"].as_f64().is_some(),
        "{anomaly}"
    );
}

#[test]
fn round_monitors_need_rounds_and_the_canary_needs_trusted_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let no_rounds = write_scenario(
        tmp.path(),
        "no-rounds.toml",
        "[scenario]\nname = \"m\"\n[data]\ntrusted = 50\n[attack]\nkind = \"label-flip\"\nsource = 7\ntarget = 1\n\
         [[defense]]\nkind = \"cusum\"\n",
    );
    let o = poisonlab(&["validate", no_rounds.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("defense[0].kind: cusum is a round monitor"),
        "{err}"
    );
    let no_trusted = write_scenario(
        tmp.path(),
        "no-trusted.toml",
        "[scenario]\nname = \"m\"\n[attack]\nkind = \"drift\"\n[[defense]]\nkind = \"canary\"\n\
         threshold = 0.2\n",
    );
    let o = poisonlab(&["validate", no_trusted.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("defense[0].kind: canary audits on trusted clean samples"),
        "{err}"
    );
}

#[test]
fn manifest_sign_and_verify_name_every_changed_record() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("key");
    let o = poisonlab(&["keygen", "--out", key.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let public = tmp.path().join("key.pub");
    let data = tmp.path().join("data");
    fs::create_dir(&data).unwrap();
    let csv = |rows: &[(&str, &str)]| {
        let mut text = String::from("label,a,b\n");
        for (label, x) in rows {
            text.push_str(&format!("{label},{x}\n"));
        }
        text
    };
    let rows = [("0", "0.1,0.2"), ("1", "0.3,0.4"), ("0", "0.5,0.6")];
    fs::write(data.join("train.csv"), csv(&rows)).unwrap();
    fs::write(data.join("test.csv"), csv(&rows[..1])).unwrap();
    let manifest = tmp.path().join("m.json");
    let args = |cmd: &str| -> Vec<String> {
        let mut v = vec![
            "manifest".to_string(),
            cmd.to_string(),
            data.display().to_string(),
        ];
        if cmd == "sign" {
            v.extend(["--key".into(), key.display().to_string()]);
            v.extend(["--out".into(), manifest.display().to_string()]);
        } else {
            v.extend(["--manifest".into(), manifest.display().to_string()]);
            v.extend(["--pub".into(), public.display().to_string()]);
        }
        v
    };
    let call = |cmd: &str| {
        let a = args(cmd);
        poisonlab(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert!(call("sign").status.success());
    let o = call("verify");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Change one value of record 1 and add a record: both named, exit 1.
    let changed = [
        ("0", "0.1,0.2"),
        ("1", "0.3,0.41"),
        ("0", "0.5,0.6"),
        ("1", "0.7,0.8"),
    ];
    fs::write(data.join("train.csv"), csv(&changed)).unwrap();
    let o = call("verify");
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("modified (1): 1"), "{out}");
    assert!(out.contains("added (1): 3"), "{out}");
    // A missing key file is bad input naming the file.
    let o = poisonlab(&[
        "manifest",
        "verify",
        data.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--pub",
        "no-such.pub",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such.pub"));
}

#[test]
fn a_sweep_killed_mid_run_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let text = TINY
        .replace(
            "\"attack.rate\" = [0.2, 0.6]",
            "\"attack.rate\" = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]",
        )
        .replace("[[defense]]\nkind = \"strip\"\nn = 5\n", "");
    let scenario = write_scenario(tmp.path(), "twelve.toml", &text);
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));
    run(&scenario, &whole, &["--threads", "1"]);
    let runs = killed.join("runs.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_poisonlab"))
        .args(["run", scenario.to_str().unwrap(), "--out"])
        .arg(&killed)
        .args(["--quiet", "--threads", "1"])
        .spawn()
        .unwrap();
    // SIGKILL once a few runs are on disk (the last line may be half written).
    let start = std::time::Instant::now();
    while fs::read_to_string(&runs).map_or(0, |t| t.lines().count()) < 4
        && start.elapsed() < std::time::Duration::from_secs(120)
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = fs::read_to_string(&runs)
        .unwrap_or_default()
        .lines()
        .count();
    assert!(before < 12, "the run finished before it could be killed");
    let o = run(&scenario, &killed, &["--threads", "2"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("resumed") || before == 0);
    let lines: Vec<String> = fs::read_to_string(&runs)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 12);
    for f in FILES {
        assert_eq!(
            without_timings(&whole.join(f)),
            without_timings(&killed.join(f)),
            "{f} differs"
        );
    }
}

#[test]
fn only_report_and_compare() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write_scenario(tmp.path(), "tiny.toml", TINY);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run(&scenario, &a, &["--only", "attack.rate=0.2"]);
    assert_eq!(
        fs::read_to_string(a.join("runs.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    // A full run later into the same folder keeps those and adds the rest.
    run(&scenario, &a, &[]);
    assert_eq!(
        fs::read_to_string(a.join("runs.jsonl"))
            .unwrap()
            .lines()
            .count(),
        4
    );
    let o = poisonlab(&[
        "run",
        scenario.to_str().unwrap(),
        "--only",
        "attack.rate=0.9",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no sweep point has that value"));
    // report rebuilds the derived files from runs.jsonl alone.
    let summary = fs::read_to_string(a.join("summary.json")).unwrap();
    fs::remove_file(a.join("summary.json")).unwrap();
    fs::remove_file(a.join("report.md")).unwrap();
    let o = poisonlab(&["report", a.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(fs::read_to_string(a.join("summary.json")).unwrap(), summary);
    assert!(a.join("report.md").exists());
    // compare: a different seed differs somewhere; the same folder never does.
    run(
        &write_scenario(
            tmp.path(),
            "other.toml",
            &TINY.replace("seed = 11", "seed = 12"),
        ),
        &b,
        &[],
    );
    let html = tmp.path().join("c.html");
    let o = poisonlab(&[
        "compare",
        a.to_str().unwrap(),
        a.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let same = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        same.contains("| attack.rate=0.2 | poisoned.asr |"),
        "{same}"
    );
    assert!(!same.lines().any(|l| l.ends_with("| ‡ |")), "{same}");
    assert!(fs::read_to_string(&html).unwrap().contains("<table>"));
    let o = poisonlab(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(o.status.success());
    // list --scenario plans the runs.
    let o = poisonlab(&["list", "--scenario", scenario.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 point(s) × 2 repeat(s) = 4 run(s)"), "{out}");
}

/// `rounds` and `epochs-per-round` under `[attack]` (where they were before
/// the training regimes) are bad input pointing at `[training]`.
#[test]
fn rounds_under_attack_point_to_the_training_table() {
    let tmp = tempfile::tempdir().unwrap();
    let old = DRIFT
        .replace(
            "[training]\nregime = \"rounds\"\nrounds = 4\nepochs-per-round = 2\n",
            "",
        )
        .replace(
            "kind = \"drift\"\n",
            "kind = \"drift\"\nrounds = 4\nepochs-per-round = 2\n",
        );
    assert!(!old.contains("[training]"), "{old}");
    let scenario = write_scenario(tmp.path(), "old.toml", &old);
    for cmd in ["validate", "run"] {
        let o = poisonlab(&[cmd, scenario.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&o.stderr);
        for key in ["attack.rounds", "attack.epochs-per-round"] {
            assert!(
                err.contains(&format!("{key}: has moved to the [training] table")),
                "{cmd}: {err}"
            );
        }
    }
}

/// One point, one repeat, no STRIP: the smallest run of TINY.
fn smallest(tmp: &Path) -> PathBuf {
    let text = TINY
        .replace("repeats = 2", "repeats = 1")
        .replace("\"attack.rate\" = [0.2, 0.6]", "\"attack.rate\" = [0.2]")
        .replace("[[defense]]\nkind = \"strip\"\nn = 5\n", "");
    write_scenario(tmp, "smallest.toml", &text)
}

/// The names in a results folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The results files of a finished run, and no lock left behind.
fn assert_only_results_files(dir: &Path) {
    let found = names(dir);
    for f in FILES {
        assert!(found.iter().any(|n| n == f), "{f} missing: {found:?}");
    }
    assert!(!found.iter().any(|n| n.starts_with(".lock")), "{found:?}");
}

/// `poisonlab … | head`: a reader that goes away early ends the command
/// quietly (exit 0, as ripgrep), never with a panic (exit 101).
#[test]
fn a_closed_stdout_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = smallest(tmp.path());
    let out = tmp.path().join("out");
    let commands: [Vec<&str>; 3] = [
        vec!["list"],
        vec!["list", "--scenario", scenario.to_str().unwrap()],
        vec![
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
    ];
    for args in commands {
        let mut child = Command::new(env!("CARGO_BIN_EXE_poisonlab"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // close the read end before anything is written
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(101), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    }
    // The run did its work and left no lock behind.
    assert_only_results_files(&out);
}

/// A results folder has one writer: a second one (`run` or `report`) is bad
/// input naming the folder and the holder's pid; the lock goes when the
/// first is done.
#[test]
fn a_results_folder_locked_by_a_live_process_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = smallest(tmp.path());
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let lock = out.join(".lock");
    let pid = std::process::id(); // alive: this test
    fs::write(&lock, format!("{pid}\n")).unwrap();
    let refused = |args: &[&str]| {
        let o = poisonlab(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(out.to_str().unwrap()), "{err}");
        assert!(err.contains(&format!("pid {pid}")), "{err}");
    };
    let scenario_arg = scenario.to_str().unwrap();
    let out_arg = out.to_str().unwrap();
    refused(&["run", scenario_arg, "--out", out_arg, "--quiet"]);
    refused(&["run", scenario_arg, "--out", out_arg, "--quiet", "--fresh"]);
    refused(&["report", out_arg]);
    assert_eq!(fs::read_to_string(&lock).unwrap(), format!("{pid}\n"));
    assert!(
        !out.join("runs.jsonl").exists(),
        "the refused run did no work"
    );
    // compare reads a locked folder: the lock file is no results file.
    fs::remove_file(&lock).unwrap();
    run(&scenario, &out, &[]);
    fs::write(&lock, format!("{pid}\n")).unwrap();
    let o = poisonlab(&["compare", out_arg, out_arg]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fs::remove_file(&lock).unwrap();

    // A real second writer while the first runs: refused with the first's
    // pid. The first, killed, leaves its lock, which the next run takes over.
    let slow = fs::read_to_string(&scenario)
        .unwrap()
        .replace("repeats = 1", "repeats = 50");
    let slow = write_scenario(tmp.path(), "slow.toml", &slow);
    let busy = tmp.path().join("busy");
    let run_slow = |extra: &[&str]| {
        let mut args = vec![
            "run",
            slow.to_str().unwrap(),
            "--out",
            busy.to_str().unwrap(),
        ];
        args.extend(["--quiet", "--threads", "1"]);
        args.extend(extra);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let mut first = Command::new(env!("CARGO_BIN_EXE_poisonlab"))
        .args(run_slow(&[]))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !fs::read_to_string(busy.join(".lock")).is_ok_and(|t| t.ends_with('\n')) {
        assert!(start.elapsed() < std::time::Duration::from_secs(120));
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let o = poisonlab(&run_slow(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended too soon"
    );
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(busy.join(".lock").exists(), "a killed run cannot clean up");
    let o = poisonlab(
        &run_slow(&["--fresh", "--repeats", "1"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!("took over a stale lock (pid {} ", first.id())),
        "{err}"
    );
    assert_only_results_files(&busy);
}

/// A lock left by a writer that is gone (killed) is taken over, with a word
/// on stderr; `report` does the same, and neither leaves a lock behind.
#[test]
fn a_stale_lock_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = smallest(tmp.path());
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let dead = || {
        let mut child = Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        child.id()
    };
    let pid = dead();
    fs::write(out.join(".lock"), format!("{pid}\n")).unwrap();
    let o = run(&scenario, &out, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("took over a stale lock"), "{err}");
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 new, 0 resumed"));
    assert_only_results_files(&out);

    let pid = dead();
    fs::write(out.join(".lock"), format!("{pid}\n")).unwrap();
    let o = poisonlab(&["report", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("took over a stale lock"), "{err}");
    assert_only_results_files(&out);
    // A resumed run still finds its record: the lock is no results file.
    let o = run(&scenario, &out, &[]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 new, 1 resumed"));
    assert_only_results_files(&out);
}

#[test]
fn run_ends_with_a_table_per_point_and_json_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let text = TINY.replace("repeats = 2", "repeats = 1");
    let scenario = write_scenario(tmp.path(), "tiny.toml", &text);
    let out = tmp.path().join("o");
    // --quiet hides the progress bar, not the summary.
    let o = run(&scenario, &out, &[]);
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    for line in stdout.lines() {
        assert!(line.chars().count() <= 100, "wider than 100: {line:?}");
    }
    for point in ["attack.rate=0.2", "attack.rate=0.6"] {
        assert!(stdout.contains(&format!("\n{point}\n")), "{stdout}");
    }
    let headers = stdout
        .lines()
        .filter(|l| l.starts_with("  defense ") && l.ends_with(" CA after        ASR after"))
        .count();
    assert_eq!(headers, 2, "{stdout}");
    // The filters first, then the references and the undefended model.
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != "attack.rate=0.2")
        .skip(3)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(table.len(), 5, "{stdout}");
    assert_eq!(&table[2..], ["perfect", "random", "no"], "{stdout}");
    let report = out.join("report.html");
    assert!(
        stdout.ends_with(&format!("report: {}\n", report.display())),
        "{stdout}"
    );

    // --json: the same figures for scripts, and nothing else on stdout.
    let o = run(&scenario, &out, &["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["runs"]["resumed"], 2);
    assert_eq!(json["report"], report.display().to_string());
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["label"], "attack.rate=0.2");
    let rows = points[0]["rows"].as_array().unwrap();
    assert_eq!(rows.last().unwrap()["name"], "no defense");
    // The figures are summary.json's.
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let perfect = rows.iter().find(|r| r["name"] == "perfect").unwrap();
    assert_eq!(
        perfect["ca"]["mean"],
        summary["points"][0]["metrics"]["defense.perfect.retrained.ca"]["mean"]
    );
}

#[test]
fn an_attack_sweep_gets_a_matrix_that_report_rewrites_from_runs_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let text = r#"
[scenario]
name = "grid"
seed = 3
repeats = 2

[data]
source = "synthetic-digits"
train = 300
test = 100

[model]
kind = "mlp"
hidden = [16]
epochs = 1

[attack]
kind = "badnets"
target = 0
rate = 0.1

[[defense]]
kind = "loss-filter"
fraction = 0.1

[sweep]
"attack.kind" = ["badnets", "blend"]
"#;
    let scenario = write_scenario(tmp.path(), "grid.toml", text);
    let out = tmp.path().join("o");
    run(&scenario, &out, &[]);
    let md = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Recommendations\n"), "{md}");
    assert!(md.contains("## Attack (attack.kind) × defense\n"), "{md}");
    // Each matrix cell is summary.json's figure.
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for (i, kind) in ["badnets", "blend"].iter().enumerate() {
        let m = &summary["points"][i]["metrics"];
        let cell = |key: &str| {
            let s = &m[key];
            format!(
                "{:.3} ± {:.3} (n {})",
                s["mean"].as_f64().unwrap(),
                s["ci95"].as_f64().unwrap(),
                s["n"]
            )
        };
        let row = format!(
            "| {kind} | {} | {} | {} |",
            cell("defense.loss-filter.tpr"),
            cell("defense.perfect.tpr"),
            cell("defense.random.tpr")
        );
        assert!(md.contains(&row), "no row {row} in\n{md}");
    }
    // `report` reads the folder back (the resolved scenario of a kind sweep
    // parses) and writes the same report.
    let o = poisonlab(&["report", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(fs::read_to_string(out.join("report.md")).unwrap(), md);
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<table class=\"heat\">"));
    assert!(!html.contains("<script") && !html.contains("http"));
}
