//! poisonlab-runner: scenario files in, results folders out.
//!
//! `Scenario (poisonlab-scenario) --plan--> runs (point × repeat)
//! --run_one--> RunRecord --> results folder (poisonlab-results)`.
//!
//! [`run`] executes the plan on `threads` worker threads (one run per
//! thread, each training on its own thread; threads left over go to a run's
//! independent steps), resuming from whatever an earlier invocation left in
//! the results folder. Each run trains as the scenario's `[training]` regime
//! says and scores each defense by its family.

mod bench;
mod data;
mod error;
mod estimate;
mod exec;
mod export;
mod lock;
mod pipeline;
mod recipe;
mod shard;
mod train;
mod transfer;

pub use bench::{BenchOptions, BenchReport, DefenseBench, ModelBench, bench};
pub use data::LoadedData;
pub use error::RunError;
pub use estimate::{estimate_seconds, run_seconds};
pub use exec::{Outcome, Progress, RunOptions, Silent, load_checked, run};
pub use export::{Exported, export};
pub use lock::{LOCK_FILE, LockError, ResultsLock};
pub use poisonlab_model::ModelKind;
pub use recipe::{
    Generated, RECIPE_FILE, RecipeDiff, RecipeMismatch, compare_with_recipe, describe, generate,
    load_through_recipe, recipe_generator,
};
pub use shard::{Shard, fingerprint};
