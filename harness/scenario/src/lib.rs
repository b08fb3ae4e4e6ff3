//! poisonlab-scenario: what a scenario file says, checked.
//!
//! `scenario.toml --parse/check--> Scenario` (every sweep point expanded,
//! every kind built from its checked parameters). [`kinds`] holds one table
//! per family (data sources, models, regimes, aggregators, attacks,
//! defenses): the reader, error messages, `poisonlab list`, `bench` and the
//! docs all read it. [`Scenario::parse`] reports every problem with its key
//! and line. No Burn here: results and reports build without it.
//!
//! The reference for every table and key is `docs/scenario.md`.

mod expect;
pub mod kinds;
mod problem;
mod scenario;
mod spec;
mod training;

pub use expect::{Expectation, to_table as expect_table};
pub use kinds::{AttackSpec, DefenseKind, Family, Needs};
pub use problem::{Problem, Problems};
pub use scenario::{
    Custody, DataCommon, DataSpec, DefenseSpec, IntegritySpec, LARGE_SWEEP, Loaded, Meta,
    Normalize, Point, RecipeSource, ReportSpec, Scenario, SignAt, Source,
};
pub use spec::Reader;
pub use training::{
    ClientOptimizer, FederatedParams, FineTune, PoisonStage, Pretrain, RoundsParams, Split,
    Training, TransferParams,
};

/// The Burn backend results are computed with, as the runner's cargo
/// features select it (written into resolved scenarios).
pub const BACKEND: &str = if cfg!(feature = "flex-portable") {
    "flex-portable"
} else if cfg!(feature = "flex") {
    "flex"
} else if cfg!(feature = "ndarray") {
    "ndarray"
} else {
    "none"
};

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
