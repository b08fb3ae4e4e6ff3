//! The attack × defense matrix: for a sweep over `attack.*` keys, one row
//! per attack setting and one column per training-set filter (then the
//! `perfect` and `random` references), each cell a summary.json figure
//! (mean, 95 % CI, n) placed between the random floor (0) and the perfect
//! ceiling (1) of its row. Other swept keys split the points into one matrix
//! per value. report.md, report.html, `run`'s terminal summary and
//! `compare` all read it from here.

use poisonlab_core::metrics::Summary;
use serde::Serialize;

use crate::summary::{PointSummary, point_label};
use crate::view::names_of;

/// A quantity a matrix shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatrixMeasure {
    /// Share of the poisoned samples flagged.
    Tpr,
    /// Share of the clean samples flagged.
    Fpr,
    /// Clean accuracy of the model retrained on what the filter kept.
    Ca,
    /// Attack success rate of that model.
    Asr,
}

impl MatrixMeasure {
    /// Every measure, in the order the reports show them.
    pub const ALL: [MatrixMeasure; 4] = [
        MatrixMeasure::Tpr,
        MatrixMeasure::Fpr,
        MatrixMeasure::Ca,
        MatrixMeasure::Asr,
    ];

    /// The metric key of defense `name` (as in summary.json).
    pub fn key(self, name: &str) -> String {
        let suffix = match self {
            MatrixMeasure::Tpr => "tpr",
            MatrixMeasure::Fpr => "fpr",
            MatrixMeasure::Ca => "retrained.ca",
            MatrixMeasure::Asr => "retrained.asr",
        };
        format!("defense.{name}.{suffix}")
    }

    /// Short name (headings, terminal columns).
    pub fn name(self) -> &'static str {
        match self {
            MatrixMeasure::Tpr => "TPR",
            MatrixMeasure::Fpr => "FPR",
            MatrixMeasure::Ca => "CA after",
            MatrixMeasure::Asr => "ASR after",
        }
    }

    /// What it is, in words.
    pub fn long(self) -> &'static str {
        match self {
            MatrixMeasure::Tpr => "true-positive rate: share of the poisoned samples flagged",
            MatrixMeasure::Fpr => "false-positive rate: share of the clean samples flagged",
            MatrixMeasure::Ca => "clean accuracy of the model retrained on what the filter kept",
            MatrixMeasure::Asr => "attack success rate of the model retrained on what it kept",
        }
    }
}

/// One cell: the summary.json figure and where it sits in its row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MatrixCell {
    /// Mean over the repeats.
    pub mean: f64,
    /// Half-width of the 95 % CI (none for one repeat).
    pub ci95: Option<f64>,
    /// Repeats the mean is over.
    pub n: usize,
    /// (mean − random's) / (perfect's − random's) in the same row: 0 at the
    /// random floor, 1 at the perfect ceiling (beyond either end possible);
    /// none when floor and ceiling are less than 0.01 apart.
    pub position: Option<f64>,
}

impl MatrixCell {
    /// `mean ± ci95`, three decimals.
    pub fn text(&self) -> String {
        match self.ci95 {
            Some(ci) if ci.is_finite() => format!("{:.3} ± {ci:.3}", self.mean),
            _ => format!("{:.3}", self.mean),
        }
    }
}

/// Floor and ceiling closer than this leave no room to place a cell.
const MIN_SPAN: f64 = 0.01;

/// One matrix: the points that share the values of the swept keys other
/// than the attack's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matrix {
    /// The other swept keys' values (`model.kind="cnn"`); empty when the
    /// attack's keys are all that is swept.
    pub group: String,
    /// The swept attack keys, in `[sweep]` order.
    pub attack_keys: Vec<String>,
    /// One per attack setting: its label and its sweep point.
    pub rows: Vec<MatrixRow>,
    /// Filter names, then `perfect` and `random`.
    pub columns: Vec<MatrixColumn>,
}

/// A matrix row: one attack setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixRow {
    /// The attack keys' values (`badnets`, or `kind=badnets, rate=0.1`).
    pub label: String,
    /// The full sweep point.
    pub point: serde_json::Map<String, serde_json::Value>,
    /// Cells by column, then by [`MatrixMeasure::ALL`].
    pub cells: Vec<[Option<MatrixCell>; 4]>,
}

/// A matrix column: one defense.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixColumn {
    /// The defense's name.
    pub name: String,
    /// `perfect` or `random`.
    pub reference: bool,
}

impl Matrix {
    /// The cell of `row`, `column` and `measure`.
    pub fn cell(&self, row: usize, column: usize, measure: MatrixMeasure) -> Option<MatrixCell> {
        let m = MatrixMeasure::ALL.iter().position(|x| *x == measure)?;
        self.rows.get(row)?.cells.get(column)?[m]
    }

    /// The heading: "Attack × defense" and the group.
    pub fn title(&self) -> String {
        if self.group.is_empty() {
            format!("Attack ({}) × defense", self.attack_keys.join(", "))
        } else {
            format!(
                "Attack ({}) × defense at {}",
                self.attack_keys.join(", "),
                self.group
            )
        }
    }
}

/// The swept attack keys of `summary`'s points (empty: no matrix).
pub(crate) fn attack_keys(summary: &[PointSummary]) -> Vec<String> {
    summary
        .first()
        .map(|p| {
            p.point
                .keys()
                .filter(|k| k.starts_with("attack."))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The values of `keys` at `point`, as a label: the value alone for one
/// key, `key=value, ...` (without the `attack.` prefix) for several.
fn label_of(point: &serde_json::Map<String, serde_json::Value>, keys: &[String]) -> String {
    let value = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match keys {
        [one] => point.get(one).map(value).unwrap_or_default(),
        _ => keys
            .iter()
            .filter_map(|k| {
                let v = point.get(k)?;
                Some(format!(
                    "{}={}",
                    k.strip_prefix("attack.").unwrap_or(k),
                    value(v)
                ))
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The matrices of a sweep over attack keys (none without one): one per
/// value of the other swept keys, rows in sweep order. `defenses` are the
/// records' (name, kind) pairs; filters and provenance checks with any
/// matrix figure become columns, then the references.
pub fn matrices(summary: &[PointSummary], defenses: &[(String, String)]) -> Vec<Matrix> {
    let keys = attack_keys(summary);
    if keys.is_empty() {
        return Vec::new();
    }
    let defined = |name: &str| {
        summary.iter().any(|p| {
            MatrixMeasure::ALL
                .iter()
                .any(|m| p.metrics.get(&m.key(name)).is_some())
        })
    };
    let columns: Vec<MatrixColumn> = names_of(defenses, "filter")
        .chain(names_of(defenses, "provenance"))
        .filter(|n| defined(n))
        .map(|n| MatrixColumn {
            name: n.clone(),
            reference: false,
        })
        .chain(
            ["perfect", "random"]
                .into_iter()
                .filter(|n| names_of(defenses, "reference").any(|r| r == n))
                .map(|n| MatrixColumn {
                    name: n.to_string(),
                    reference: true,
                }),
        )
        .collect();
    if columns.iter().all(|c| c.reference) {
        return Vec::new();
    }
    let mut out: Vec<Matrix> = Vec::new();
    for p in summary {
        let mut rest = p.point.clone();
        rest.retain(|k, _| !keys.contains(k));
        let group = if rest.is_empty() {
            String::new()
        } else {
            point_label(&rest)
        };
        let row = MatrixRow {
            label: label_of(&p.point, &keys),
            point: p.point.clone(),
            cells: columns.iter().map(|c| row_cells(p, &c.name)).collect(),
        };
        match out.iter_mut().find(|m| m.group == group) {
            Some(m) => m.rows.push(row),
            None => out.push(Matrix {
                group,
                attack_keys: keys.clone(),
                rows: vec![row],
                columns: columns.clone(),
            }),
        }
    }
    for m in &mut out {
        place(m);
    }
    out
}

/// The four cells of defense `name` at point `p`, unplaced.
fn row_cells(p: &PointSummary, name: &str) -> [Option<MatrixCell>; 4] {
    MatrixMeasure::ALL.map(|m| {
        p.metrics.get(&m.key(name)).map(|s: &Summary| MatrixCell {
            mean: s.mean,
            ci95: s.ci95,
            n: s.n,
            position: None,
        })
    })
}

/// Place every cell between its row's random floor and perfect ceiling.
fn place(m: &mut Matrix) {
    let col = |name: &str| m.columns.iter().position(|c| c.name == name);
    let (Some(perfect), Some(random)) = (col("perfect"), col("random")) else {
        return;
    };
    for row in &mut m.rows {
        for j in 0..MatrixMeasure::ALL.len() {
            let ceiling = row.cells[perfect][j].map(|c| c.mean);
            let floor = row.cells[random][j].map(|c| c.mean);
            let (Some(ceiling), Some(floor)) = (ceiling, floor) else {
                continue;
            };
            let span = ceiling - floor;
            if span.abs() < MIN_SPAN || !span.is_finite() {
                continue;
            }
            for cells in &mut row.cells {
                if let Some(c) = &mut cells[j] {
                    c.position = Some((c.mean - floor) / span);
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    //! Records of a sweep over `attack.kind` × `model.kind`, two filters.
    use crate::record::{AttackInfo, DefenseRecord, Detection, ModelEval, RunRecord};
    use poisonlab_scenario::{Custody, Scenario};

    /// The scenario the records claim to come from.
    pub(crate) const GRID: &str = r#"
[scenario]
name = "grid-test"
repeats = 3

[data]
source = "synthetic-digits"
train = 300
test = 100

[attack]
kind = "badnets"
target = 0

[[defense]]
kind = "knn-label"

[[defense]]
kind = "spectral-signatures"
name = "a-defense-with-a-rather-long-name"

[sweep]
"attack.kind" = ["badnets", "blend"]
"model.kind" = ["mlp", "cnn"]
"#;

    fn eval(ca: f64, asr: f64) -> ModelEval {
        ModelEval {
            ca: Some(ca),
            asr: Some(asr),
            ra: Some(1.0 - asr),
            per_class_recall: vec![],
            source_recall: None,
        }
    }

    fn filter(name: &str, kind: &str, tpr: f64, fpr: f64, ca: f64, asr: f64) -> DefenseRecord {
        let mut d = DefenseRecord::new(name, kind);
        d.detection = Some(Detection {
            tp: (tpr * 30.0).round() as usize,
            fp: (fpr * 270.0).round() as usize,
            tn: 270 - (fpr * 270.0).round() as usize,
            fn_: 30 - (tpr * 30.0).round() as usize,
            tpr: Some(tpr),
            fpr: Some(fpr),
            precision: Some(0.5),
            f1: Some(tpr * 0.8),
            auroc: Some(0.9),
            auroc_class: None,
            roc_tpr: vec![],
        });
        d.retrained = Some(eval(ca, asr));
        d
    }

    /// Three repeats at each of the four points. knn-label reaches the
    /// perfect filter's ASR on badnets, not on blend (0.3); the long-named
    /// filter does what random does.
    pub(crate) fn grid() -> (Scenario, Vec<RunRecord>) {
        let scenario = Scenario::parse(GRID, "grid.toml").unwrap();
        let mut records = Vec::new();
        for kind in ["badnets", "blend"] {
            for model in ["mlp", "cnn"] {
                for rep in 0..3u64 {
                    let e = 0.01 * rep as f64;
                    let flip = kind == "blend";
                    let knn_asr = if flip { 0.3 + e } else { 0.02 + e };
                    let cnn = if model == "cnn" { 0.02 } else { 0.0 };
                    records.push(RunRecord {
                        schema: crate::RECORD_SCHEMA,
                        fingerprint: None,
                        kernels: None,
                        recipe: None,
                        point: serde_json::json!({ "attack.kind": kind, "model.kind": model })
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                        repeat: rep,
                        seed: rep,
                        n_train: 300,
                        n_poison: 30,
                        attack: AttackInfo {
                            kind: kind.into(),
                            at: Custody::Source,
                            crafting: None,
                        },
                        n_test: 100,
                        clean: eval(0.95 + cnn, 0.02),
                        poisoned: eval(0.93, 0.9 - e),
                        defenses: vec![
                            filter("knn-label", "filter", 0.9 - e, 0.02, 0.94 - e, knn_asr),
                            filter(
                                "a-defense-with-a-rather-long-name",
                                "filter",
                                0.1 + e,
                                0.1,
                                0.9,
                                0.88 - e,
                            ),
                            filter("perfect", "reference", 1.0, 0.0, 0.95, 0.02 + e),
                            filter("random", "reference", 0.1, 0.1, 0.92 - e, 0.88 - e),
                        ],
                        data_root: None,
                        clean_root: None,
                        model_fingerprint: None,
                        rounds: None,
                        federation: None,
                        transfer: None,
                        seconds: Default::default(),
                    });
                }
            }
        }
        (scenario, records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::summarize;
    use crate::view::defenses_of;

    #[test]
    fn one_matrix_per_other_value_with_a_row_per_attack() {
        let (_, records) = fixture::grid();
        let summary = summarize(&records);
        let ms = matrices(&summary, &defenses_of(records.iter()));
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[0].group, "model.kind=\"mlp\"");
        assert_eq!(ms[1].group, "model.kind=\"cnn\"");
        let rows: Vec<&str> = ms[0].rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(rows, ["badnets", "blend"]);
        let cols: Vec<(&str, bool)> = ms[0]
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.reference))
            .collect();
        assert_eq!(
            cols,
            [
                ("knn-label", false),
                ("a-defense-with-a-rather-long-name", false),
                ("perfect", true),
                ("random", true)
            ]
        );
    }

    #[test]
    fn every_cell_is_the_summary_figure() {
        let (_, records) = fixture::grid();
        let summary = summarize(&records);
        let json = serde_json::to_value(&summary).unwrap();
        for m in matrices(&summary, &defenses_of(records.iter())) {
            for row in &m.rows {
                let p = json
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["point"] == serde_json::Value::Object(row.point.clone()))
                    .unwrap();
                for (j, col) in m.columns.iter().enumerate() {
                    for (k, measure) in MatrixMeasure::ALL.iter().enumerate() {
                        let s = &p["metrics"][measure.key(&col.name)];
                        let c = row.cells[j][k].unwrap();
                        assert_eq!(c.mean, s["mean"].as_f64().unwrap());
                        assert_eq!(c.ci95, s["ci95"].as_f64());
                        assert_eq!(c.n as u64, s["n"].as_u64().unwrap());
                    }
                }
            }
        }
    }

    #[test]
    fn cells_sit_between_the_random_floor_and_the_perfect_ceiling() {
        let (_, records) = fixture::grid();
        let summary = summarize(&records);
        let m = &matrices(&summary, &defenses_of(records.iter()))[0];
        let pos = |col: usize, measure| m.cell(0, col, measure).unwrap().position;
        // TPR: knn 0.89 mean between random 0.1 and perfect 1.0.
        let knn = pos(0, MatrixMeasure::Tpr).unwrap();
        assert!((knn - (0.89 - 0.1) / (1.0 - 0.1)).abs() < 1e-12, "{knn}");
        assert_eq!(pos(2, MatrixMeasure::Tpr), Some(1.0));
        assert_eq!(pos(3, MatrixMeasure::Tpr), Some(0.0));
        // FPR: lower is better, and the formula says so: perfect 0, random 0.1.
        assert!((pos(0, MatrixMeasure::Fpr).unwrap() - 0.8).abs() < 1e-12);
        // ASR: knn as low as perfect, the long-named filter as high as random.
        assert!((pos(0, MatrixMeasure::Asr).unwrap() - 1.0).abs() < 1e-12);
        assert!(pos(1, MatrixMeasure::Asr).unwrap().abs() < 1e-12);
        // CA: perfect 0.95 and random 0.91 are 0.04 apart: placed.
        assert!(pos(0, MatrixMeasure::Ca).is_some());
    }

    #[test]
    fn no_attack_sweep_no_matrix() {
        let (_, mut records) = fixture::grid();
        for r in &mut records {
            r.point.remove("attack.kind");
        }
        let summary = summarize(&records);
        assert!(matrices(&summary, &defenses_of(records.iter())).is_empty());
    }
}
