//! poisonlab-results: what a results folder holds and how it reads.
//!
//! Run records (`runs.jsonl`, one line per finished run) in; everything
//! derived from them out: `runs.csv`, `summary.json`, `report.md`,
//! `report.html` (inline SVG charts from the [`html`] chart kit),
//! `audit.jsonl`. report.md and report.html read one view of the results
//! ([`view`]). [`compare`] sets several folders side by side. No Burn here:
//! `poisonlab report` and `compare` need none.

mod digest;
mod error;
mod expect;
mod federated;
mod folder;
mod html;
mod matrix;
mod merge;
mod recommend;
mod record;
mod report;
mod reports;
mod summary;
mod transfer;
mod view;

pub use digest::{COLUMNS, Digest, DigestPoint, DigestRow, digest};
pub use error::ResultsError;
pub use expect::{Unmet, check};
pub use folder::{RunsLog, files, read_records, write_all, write_atomic};
pub use html::html_report;
pub use matrix::{Matrix, MatrixCell, MatrixColumn, MatrixMeasure, MatrixRow, matrices};
pub use merge::{MergeError, Merged, ShardInfo, merge};
pub use recommend::{Recommendation, TOLERANCE, Verdict, recommendations, tally};
pub use record::{
    AGGREGATOR, AggregatorRound, AttackInfo, CraftingRecord, DefenseRecord, Detection,
    FederationRecord, FineTuneEpoch, InputDetection, LabelTest, ModelEval, MonitorRecord,
    ProvenanceRecord, RECORD_SCHEMA, RecipeRecord, RejectedUpdate, RepairRecord, RoundRecord,
    RunRecord, TransferRecord, toml_to_json,
};
pub use report::markdown;
pub use reports::{ComparedMatrix, Comparison, compare, read_results, regenerate};
pub use summary::{PointSummary, point_label, summarize};
