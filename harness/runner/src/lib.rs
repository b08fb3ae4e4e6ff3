//! poisonlab-runner: scenario files in, results folders out.
//!
//! `scenario.toml --parse/check--> Scenario --plan--> runs (point × repeat)
//! --run_one--> RunRecord --> runs.jsonl, runs.csv, summary.json, report.md`.
//!
//! [`Scenario::parse`] checks a whole file and reports every problem with its
//! key and line; [`run`] executes the plan on `threads` worker threads (one
//! run per thread, each training on its own thread; threads left over go to a
//! run's independent steps), resuming from whatever an
//! earlier invocation left in the results folder.

mod bench;
mod error;
mod exec;
mod expect;
mod export;
mod html;
mod pipeline;
mod problem;
mod record;
mod registry;
mod report;
mod reports;
mod results;
mod scenario;
mod spec;
mod summary;

pub use bench::{BenchOptions, BenchReport, DefenseBench, ModelBench, bench};
pub use error::RunError;
pub use exec::{Outcome, Progress, RunOptions, Silent, load_checked, run};
pub use expect::{Expectation, Unmet};
pub use export::{Exported, export};
pub use html::html_report;
pub use pipeline::LoadedData;
pub use poisonlab_model::ModelKind;
pub use problem::{Problem, Problems};
pub use record::{DefenseRecord, Detection, LabelTest, ModelEval, MonitorRecord, RunRecord};
pub use registry::{AttackSpec, Custody, DataFacts, DefenseKind};
pub use reports::{Comparison, compare, estimate_seconds, read_results, regenerate};
pub use results::files;
pub use scenario::{
    CATALOGUE, DataCommon, DataSpec, DefenseSpec, IntegritySpec, Meta, Normalize, Point, Scenario,
    SignAt, Source,
};
pub use summary::PointSummary;

/// Read and check the scenario file at `path`.
pub fn load_scenario(path: &std::path::Path) -> Result<Scenario, Problems> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Scenario::parse(&text, &file),
        Err(e) => Err(Problems {
            file,
            list: vec![Problem {
                line: None,
                key: "(file)".into(),
                message: format!("cannot read the scenario file: {e}"),
            }],
        }),
    }
}
