//! Sharded sweeps end to end: `run --shard I/N`, `merge`, `slurm` (no Slurm needed).
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Eight runs that mix two models (so slices balance by cost, not count).
const SWEEP: &str = r#"
[scenario]
name = "sharded"
seed = 5
repeats = 2

[data]
source = "blobs"
train = 300
test = 100
classes = 3

[model]
kind = "mlp"
epochs = 2

[attack]
kind = "label-flip"
flip = "random"
rate = 0.1

[[defense]]
kind = "loss-filter"
fraction = 0.1

[sweep]
"model.kind" = ["logreg", "mlp"]
"attack.rate" = [0.1, 0.3]
"#;

/// The derived files `merge` must write byte for byte as a single run does.
const SAME_BYTES: [&str; 5] = [
    "summary.json",
    "report.md",
    "report.html",
    "audit.jsonl",
    "scenario.toml",
];

fn poisonlab_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_poisonlab"));
    c.current_dir(cwd).args(args);
    for name in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_COUNT",
    ] {
        c.env_remove(name);
    }
    c.envs(env.iter().copied());
    c.output().expect("the poisonlab binary runs")
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn bad_input(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "expected exit 2: {err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// runs.jsonl with every `seconds` zeroed, one value per line.
fn records_without_seconds(dir: &Path) -> Vec<serde_json::Value> {
    fn zero(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "seconds" {
                        *x = match x {
                            serde_json::Value::Object(_) => serde_json::json!({}),
                            _ => serde_json::json!(0),
                        };
                    } else {
                        zero(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(zero),
            _ => {}
        }
    }
    fs::read_to_string(dir.join("runs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            zero(&mut v);
            v
        })
        .collect()
}

/// runs.csv without its last column (`seconds`).
fn csv_without_seconds(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("runs.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

/// `a` and `b` hold the same results: the same bytes but for wall times.
fn assert_same_results(a: &Path, b: &Path) {
    for f in SAME_BYTES {
        assert!(
            fs::read(a.join(f)).unwrap() == fs::read(b.join(f)).unwrap(),
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
    assert_eq!(records_without_seconds(a), records_without_seconds(b));
    assert_eq!(csv_without_seconds(a), csv_without_seconds(b));
}

/// Run every shard of `n` (shard i with `threads(i)` threads), merge them into `out`.
fn run_shards(
    cwd: &Path,
    scenario: &Path,
    n: usize,
    threads: impl Fn(usize) -> usize,
    out: &Path,
) -> Vec<PathBuf> {
    let dirs: Vec<PathBuf> = (1..=n)
        .map(|i| out.with_extension(format!("shard-{i}-of-{n}")))
        .collect();
    for (i, dir) in dirs.iter().enumerate() {
        let (shard, t) = (format!("{}/{n}", i + 1), threads(i + 1).to_string());
        ok(poisonlab_in(
            cwd,
            &[
                "run",
                s(scenario),
                "--shard",
                &shard,
                "--out",
                s(dir),
                "--quiet",
                "--threads",
                &t,
            ],
            &[],
        ));
    }
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(|d| s(d)));
    args.extend(["--out", s(out)]);
    ok(poisonlab_in(cwd, &args, &[]));
    dirs
}

#[test]
fn any_number_of_shards_merges_to_the_single_run_and_threads_do_not_matter() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let scenario = cwd.join("sharded.toml");
    fs::write(&scenario, SWEEP).unwrap();
    let single = cwd.join("single");
    ok(poisonlab_in(
        cwd,
        &[
            "run",
            s(&scenario),
            "--out",
            s(&single),
            "--quiet",
            "--threads",
            "2",
        ],
        &[],
    ));
    assert_eq!(records_without_seconds(&single).len(), 8);
    for n in 1..=7 {
        let merged = cwd.join(format!("merged-{n}"));
        let dirs = run_shards(cwd, &scenario, n, |_| 1, &merged);
        assert_same_results(&single, &merged);
        // The shards are disjoint and cover the plan.
        let counts: Vec<usize> = dirs
            .iter()
            .map(|d| records_without_seconds(d).len())
            .collect();
        assert_eq!(counts.iter().sum::<usize>(), 8, "{n} shards: {counts:?}");
        assert!(dirs.iter().all(|d| d.join("shard.json").is_file()));
    }
    // The same three shards run with other thread counts merge to the same bytes.
    let other = cwd.join("threads");
    run_shards(cwd, &scenario, 3, |i| i % 2 + 2, &other);
    assert_same_results(&cwd.join("merged-3"), &other);
    // A cheap model and a dear one: two shards are not cut at half the count.
    let info: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(cwd.join("merged-2.shard-1-of-2").join("shard.json")).unwrap(),
    )
    .unwrap();
    let first = info["runs"].as_array().unwrap().len();
    assert_ne!(first, 4, "logreg runs cost less than MLP runs: {info}");
}

#[test]
fn bad_shards_and_bad_merges_are_refused_naming_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let scenario = cwd.join("sharded.toml");
    fs::write(&scenario, SWEEP).unwrap();
    for bad in ["0/4", "5/4", "a/b", "4"] {
        let o = poisonlab_in(cwd, &["run", s(&scenario), "--shard", bad, "--quiet"], &[]);
        assert!(bad_input(&o).contains("--shard"), "{bad}");
    }
    let o = poisonlab_in(
        cwd,
        &[
            "run",
            s(&scenario),
            "--shard",
            "1/2",
            "--only",
            "attack.rate=0.1",
        ],
        &[],
    );
    bad_input(&o);

    // Two shards of three; the default folder is results/<name>/shard-I-of-N.
    for i in [1, 3] {
        ok(poisonlab_in(
            cwd,
            &["run", s(&scenario), "--shard", &format!("{i}/3"), "--quiet"],
            &[],
        ));
    }
    let root = cwd.join("results/sharded");
    let (one, three) = (root.join("shard-1-of-3"), root.join("shard-3-of-3"));
    let merged = cwd.join("merged");
    let o = poisonlab_in(
        cwd,
        &["merge", s(&one), s(&three), "--out", s(&merged)],
        &[],
    );
    let err = bad_input(&o);
    assert!(err.contains("missing shard(s) 2/3"), "{err}");
    assert!(err.contains("repeat"), "names the missing runs: {err}");
    // --partial writes what there is and says so.
    ok(poisonlab_in(
        cwd,
        &[
            "merge",
            s(&one),
            s(&three),
            "--out",
            s(&merged),
            "--partial",
        ],
        &[],
    ));
    let report = fs::read_to_string(merged.join("report.md")).unwrap();
    assert!(report.contains("**Partial merge**") && report.contains("missing shard(s) 2/3"));

    // Another scenario: both fingerprints named.
    let other = cwd.join("other.toml");
    fs::write(&other, SWEEP.replace("seed = 5", "seed = 6")).unwrap();
    let two = cwd.join("other-2");
    ok(poisonlab_in(
        cwd,
        &[
            "run",
            s(&other),
            "--shard",
            "2/3",
            "--out",
            s(&two),
            "--quiet",
        ],
        &[],
    ));
    let o = poisonlab_in(
        cwd,
        &["merge", s(&one), s(&two), s(&three), "--out", s(&merged)],
        &[],
    );
    let err = bad_input(&o);
    let fingerprint = |dir: &Path| {
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("shard.json")).unwrap()).unwrap();
        v["fingerprint"].as_str().unwrap().to_string()
    };
    assert!(
        err.contains(&fingerprint(&one)) && err.contains(&fingerprint(&two)),
        "{err}"
    );

    // A line that does not parse: file and line named.
    let broken = cwd.join("broken");
    copy_dir(&three, &broken);
    let runs = broken.join("runs.jsonl");
    let mut text = fs::read_to_string(&runs).unwrap();
    text.push_str("{\"schema\": 2, \"point\": \n");
    fs::write(&runs, &text).unwrap();
    let o = poisonlab_in(
        cwd,
        &["merge", s(&one), s(&broken), "--out", s(&merged)],
        &[],
    );
    let err = bad_input(&o);
    let lines = text.lines().count();
    assert!(err.contains(&format!("runs.jsonl:{lines}")), "{err}");

    // Two records for one run key that differ.
    let changed = cwd.join("changed");
    copy_dir(&three, &changed);
    let text = fs::read_to_string(three.join("runs.jsonl")).unwrap();
    let first = text.lines().next().unwrap();
    let altered = first.replacen("\"n-poison\":", "\"n-poison\":1", 1);
    assert_ne!(first, altered);
    fs::write(changed.join("runs.jsonl"), format!("{altered}\n")).unwrap();
    let o = poisonlab_in(
        cwd,
        &[
            "merge",
            s(&three),
            s(&changed),
            "--out",
            s(&merged),
            "--partial",
        ],
        &[],
    );
    let err = bad_input(&o);
    assert!(err.contains("two different records"), "{err}");

    // Records of another schema version.
    let old = cwd.join("old");
    copy_dir(&three, &old);
    let text = fs::read_to_string(three.join("runs.jsonl")).unwrap();
    fs::write(
        old.join("runs.jsonl"),
        text.replace("{\"schema\":2,", "{\"schema\":1,"),
    )
    .unwrap();
    let o = poisonlab_in(
        cwd,
        &["merge", s(&one), s(&old), "--out", s(&merged), "--partial"],
        &[],
    );
    assert!(bad_input(&o).contains("schema 1"));

    // A shard folder a live process holds.
    #[cfg(unix)]
    {
        let parent = std::os::unix::process::parent_id();
        fs::write(three.join(".lock"), format!("{parent}\n")).unwrap();
        let o = poisonlab_in(
            cwd,
            &[
                "merge",
                s(&one),
                s(&three),
                "--out",
                s(&merged),
                "--partial",
            ],
            &[],
        );
        assert!(bad_input(&o).contains(&format!("pid {parent}")));
        fs::remove_file(three.join(".lock")).unwrap();
    }
}

#[test]
fn a_slurm_array_task_runs_its_shard_and_the_fingerprint_ignores_where_the_data_lives() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    // The same CSV data in two checkouts.
    let mut train = String::from("a,b,label\n");
    for i in 0..120 {
        let (x, y) = ((i % 7) as f32 * 0.3, (i % 5) as f32 * 0.2);
        train.push_str(&format!("{x},{y},{}\n", i % 2));
    }
    let scenario = SWEEP
        .replace(
            "source = \"blobs\"\ntrain = 300\ntest = 100\nclasses = 3",
            "source = \"csv\"\ntrain = \"data/train.csv\"\ntest = \"data/test.csv\"",
        )
        .replace("[\"logreg\", \"mlp\"]", "[\"logreg\"]");
    let mut files = Vec::new();
    for checkout in ["a", "b"] {
        let data = cwd.join(checkout).join("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("train.csv"), &train).unwrap();
        fs::write(data.join("test.csv"), &train).unwrap();
        let file = cwd.join(checkout).join("s.toml");
        fs::write(&file, &scenario).unwrap();
        files.push(file);
    }
    // Task 3 of an array starting at 2 with 2 tasks: shard 2/2.
    let env = [
        ("SLURM_ARRAY_TASK_ID", "3"),
        ("SLURM_ARRAY_TASK_MIN", "2"),
        ("SLURM_ARRAY_TASK_COUNT", "2"),
    ];
    let o = ok(poisonlab_in(cwd, &["run", s(&files[1]), "--quiet"], &env));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Slurm array task") && err.contains("2/2"),
        "{err}"
    );
    let two = cwd.join("results/sharded/shard-2-of-2");
    assert!(two.join("shard.json").is_file());
    // Shard 1 from the other checkout.
    let one = cwd.join("one");
    ok(poisonlab_in(
        cwd,
        &[
            "run",
            s(&files[0]),
            "--shard",
            "1/2",
            "--out",
            s(&one),
            "--quiet",
        ],
        &[],
    ));
    let merged = cwd.join("merged");
    ok(poisonlab_in(
        cwd,
        &["merge", s(&one), s(&two), "--out", s(&merged)],
        &[],
    ));
    let single = cwd.join("single");
    ok(poisonlab_in(
        cwd,
        &["run", s(&files[0]), "--out", s(&single), "--quiet"],
        &[],
    ));
    assert_eq!(
        records_without_seconds(&single),
        records_without_seconds(&merged)
    );
    // Shards computed with different kernel sets merge, and say so.
    let mixed = cwd.join("mixed");
    copy_dir(&one, &mixed);
    let text = fs::read_to_string(one.join("runs.jsonl")).unwrap();
    let kernels = records_without_seconds(&one)[0]["kernels"]
        .as_str()
        .unwrap()
        .to_string();
    fs::write(
        mixed.join("runs.jsonl"),
        text.replace(&kernels, "flex: gemm fma, simd v3, L1d 32 KiB 8-way"),
    )
    .unwrap();
    let o = ok(poisonlab_in(
        cwd,
        &[
            "merge",
            s(&mixed),
            s(&two),
            "--out",
            s(&cwd.join("merged-mixed")),
        ],
        &[],
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2 different kernel sets") && err.contains("L1d 32 KiB 8-way"),
        "{err}"
    );
    let report = fs::read_to_string(cwd.join("merged-mixed/report.md")).unwrap();
    assert!(report.contains("**Mixed kernel sets**"), "{report}");
    // A pinned kernel set this machine does not have is refused before running.
    let pinned = cwd.join("pinned.toml");
    fs::write(
        &pinned,
        SWEEP.replace(
            "repeats = 2",
            "repeats = 2\nkernels = \"some other machine\"",
        ),
    )
    .unwrap();
    let o = poisonlab_in(
        cwd,
        &[
            "run",
            s(&pinned),
            "--out",
            s(&cwd.join("pinned")),
            "--quiet",
        ],
        &[],
    );
    let err = bad_input(&o);
    assert!(
        err.contains("some other machine") && err.contains(&kernels),
        "{err}"
    );
    // Pinned to this machine's set, it runs.
    fs::write(
        &pinned,
        SWEEP.replace(
            "repeats = 2",
            &format!("repeats = 1\nkernels = {kernels:?}"),
        ),
    )
    .unwrap();
    ok(poisonlab_in(
        cwd,
        &[
            "run",
            s(&pinned),
            "--out",
            s(&cwd.join("pinned")),
            "--quiet",
        ],
        &[],
    ));

    // Resuming keys on the fingerprint too: checkout b resumes a's folder.
    let o = ok(poisonlab_in(
        cwd,
        &["run", s(&files[1]), "--out", s(&single), "--quiet"],
        &[],
    ));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("0 new, 4 resumed"), "{out}");
    // Other data under the same path is another scenario.
    fs::write(cwd.join("b/data/test.csv"), train.replace("0.3,", "0.31,")).unwrap();
    let o = poisonlab_in(
        cwd,
        &["run", s(&files[1]), "--out", s(&single), "--quiet"],
        &[],
    );
    assert!(bad_input(&o).contains("different scenario"));
}

#[test]
fn slurm_writes_an_array_and_a_merge_job_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let scenario = cwd.join("sharded.toml");
    fs::write(&scenario, SWEEP).unwrap();
    let o = ok(poisonlab_in(
        cwd,
        &[
            "slurm",
            s(&scenario),
            "--shards",
            "64",
            "--partition",
            "cpu",
            "--time",
            "01:00:00",
            "--cpus-per-task",
            "2",
        ],
        &[],
    ));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("sbatch --parsable") && out.contains("--dependency=afterok:"),
        "{out}"
    );
    let dir = cwd.join("results/sharded/slurm");
    let array = fs::read_to_string(dir.join("array.sbatch")).unwrap();
    for want in [
        "#SBATCH --array=1-64",
        "%A_%a",
        "#SBATCH --partition=cpu",
        "#SBATCH --time=01:00:00",
        "#SBATCH --cpus-per-task=2",
        "--shard \"$shard\"",
        "shard=\"${SLURM_ARRAY_TASK_ID}/64\"",
    ] {
        assert!(array.contains(want), "{want} not in:\n{array}");
    }
    let merge = fs::read_to_string(dir.join("merge.sbatch")).unwrap();
    assert!(
        merge.contains(" merge ") && merge.contains("shard-*-of-64"),
        "{merge}"
    );
    // --submit without sbatch on PATH; bad values.
    let empty = cwd.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let o = poisonlab_in(
        cwd,
        &["slurm", s(&scenario), "--shards", "4", "--submit"],
        &[("PATH", s(&empty))],
    );
    assert!(bad_input(&o).contains("sbatch is not on PATH"));
    for bad in [
        vec!["--shards", "0"],
        vec!["--shards", "4", "--time", "1 h"],
        vec!["--shards", "4", "--cpus-per-task", "0"],
    ] {
        let mut args = vec!["slurm", s(&scenario)];
        args.extend(bad);
        bad_input(&poisonlab_in(cwd, &args, &[]));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
