//! What the runner's integration tests share: run a scenario text into a
//! temporary folder and read back what it wrote.
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing
#![allow(dead_code)] // each test binary uses its own part

use poisonlab_results::{RunRecord, files, read_records};
use poisonlab_runner::{RunOptions, Silent, run};
use poisonlab_scenario::Scenario;

/// Run the scenario `text` fresh on `threads` threads; its records and its
/// summary.json. Fails the test when a run failed.
pub fn run_scenario(text: &str, threads: usize) -> (Vec<RunRecord>, String) {
    let scenario = Scenario::parse(text, "t.toml").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out: dir.path().to_path_buf(),
        threads,
        fresh: true,
        points: None,
        shard: None,
    };
    let outcome = run(&scenario, &opts, &Silent).unwrap();
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let summary = std::fs::read_to_string(dir.path().join(files::SUMMARY)).unwrap();
    (
        read_records(&dir.path().join(files::RUNS)).unwrap(),
        summary,
    )
}

/// [`run_scenario`]'s records alone.
pub fn records(text: &str, threads: usize) -> Vec<RunRecord> {
    run_scenario(text, threads).0
}

/// The records with every wall time zeroed: what must not depend on the
/// thread count or the machine.
pub fn without_seconds(mut records: Vec<RunRecord>) -> Vec<RunRecord> {
    for r in &mut records {
        r.seconds.clear();
        for d in &mut r.defenses {
            d.seconds = 0.0;
        }
    }
    records
}
