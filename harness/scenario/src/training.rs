//! `[training]`: how a run trains — the regime, not the attack, decides.

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::kinds::{self, REGIMES};
use crate::spec::{Reader, sub_table};

/// The checked `[training]` table.
#[derive(Debug, Clone, PartialEq)]
pub enum Training {
    /// One training run on the whole training set (`regime = "central"`, the default).
    Central,
    /// The training set arrives in rounds (`regime = "rounds"`).
    Rounds(RoundsParams),
}

/// Keys of `regime = "rounds"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RoundsParams {
    /// Rounds the training set is split into, as contiguous parts of equal
    /// size (the last ones one larger when it does not divide). Default 5,
    /// at least 2.
    pub rounds: usize,
    /// Epochs on each round's part; round 1 trains a fresh model, every later
    /// round continues from the previous model (a fresh Adam state). Default 2,
    /// at least 1.
    pub epochs_per_round: usize,
}

impl Default for RoundsParams {
    fn default() -> Self {
        Self {
            rounds: 5,
            epochs_per_round: 2,
        }
    }
}

/// Keys of `regime = "central"`: none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CentralKeys {}

impl Training {
    /// Read `[training]` from the scenario (central when absent).
    pub(crate) fn read(r: &mut Reader<'_>, root: &Table) -> Option<Training> {
        let mut table = sub_table(r, root, "training").unwrap_or_default();
        let regime = match table.remove("regime") {
            None => "central".to_string(),
            Some(Value::String(s)) => s,
            Some(other) => {
                r.problem(
                    &["training", "regime"],
                    format!("must be a string, got {}", other.type_str()),
                );
                return None;
            }
        };
        match regime.as_str() {
            "central" => {
                r.read::<CentralKeys>(&["training"], &table)?;
                Some(Training::Central)
            }
            "rounds" => {
                let p = r.read::<RoundsParams>(&["training"], &table)?;
                let mut ok = true;
                if p.rounds < 2 {
                    r.problem(
                        &["training", "rounds"],
                        format!("must be at least 2, got {}", p.rounds),
                    );
                    ok = false;
                }
                if p.epochs_per_round == 0 {
                    r.problem(
                        &["training", "epochs-per-round"],
                        "must be at least 1, got 0",
                    );
                    ok = false;
                }
                ok.then_some(Training::Rounds(p))
            }
            other => {
                r.problem(
                    &["training", "regime"],
                    format!(
                        "unknown regime {other:?}; expected {}",
                        kinds::expected(REGIMES)
                    ),
                );
                None
            }
        }
    }

    /// The `regime` name.
    pub fn regime(&self) -> &'static str {
        match self {
            Training::Central => "central",
            Training::Rounds(_) => "rounds",
        }
    }

    /// The rounds, when the run trains in rounds.
    pub fn rounds(&self) -> Option<&RoundsParams> {
        match self {
            Training::Rounds(p) => Some(p),
            Training::Central => None,
        }
    }

    /// The table as resolved (every default filled in).
    pub fn to_table(&self) -> Table {
        let mut t = Table::new();
        t.insert("regime".into(), Value::String(self.regime().into()));
        if let Training::Rounds(p) = self
            && let Ok(Value::Table(keys)) = Value::try_from(p)
        {
            t.extend(keys);
        }
        t
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Training::Central => "central: one run on the whole training set".into(),
            Training::Rounds(p) => format!(
                "in {} rounds of contiguous parts, {} epoch(s) per round, warm-started",
                p.rounds, p.epochs_per_round
            ),
        }
    }
}
