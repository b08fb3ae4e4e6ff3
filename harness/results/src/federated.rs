//! The view of a federated sweep point that report.md and report.html both
//! render: its clients, the federations at the end of training (the clean
//! one, FedAvg under attack, each aggregator defense) and a short
//! round-by-round table. The tables are built here once, as text cells;
//! each report only lays them out.

use poisonlab_scenario::Scenario;

use crate::record::{AGGREGATOR, RunRecord};
use crate::summary::PointSummary;
use crate::summary::indexmap_like::OrderedMap;
use crate::view::{Stat, cell, count_cell, stat};

/// Whether every point of `scenario` trains a federation (report-wide
/// wording; points are told apart by their records).
pub(crate) fn federated_scenario(scenario: &Scenario) -> bool {
    !scenario.points.is_empty()
        && scenario
            .points
            .iter()
            .all(|p| p.training.federated().is_some())
}

/// The rows most a per-round table shows.
const MAX_ROUND_ROWS: usize = 10;

/// Ids listed in full up to this many; beyond, only their count.
const MAX_IDS: usize = 20;

/// Refused updates described one by one, at most.
const MAX_REJECTED: usize = 3;

/// The quantity that shows a federated attack best: the recall of the
/// attack's source class (targeted label flipping, Tolpegin et al. 2020),
/// else the attack success rate, else clean accuracy (untargeted model
/// poisoning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Headline {
    /// Recall of the attack's source class.
    SourceRecall,
    /// Attack success rate.
    Asr,
    /// Clean accuracy.
    Ca,
}

impl Headline {
    /// The headline of a point: the first of source recall and ASR that
    /// the clean or the attacked federation defines.
    fn of(metrics: &OrderedMap) -> Headline {
        let defined = |suffix: &str| {
            ["clean", "poisoned"]
                .iter()
                .any(|v| metrics.get(&format!("{v}.{suffix}")).is_some())
        };
        if defined("source-recall") {
            Headline::SourceRecall
        } else if defined("asr") {
            Headline::Asr
        } else {
            Headline::Ca
        }
    }

    /// Metric key suffix.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Headline::SourceRecall => "source-recall",
            Headline::Asr => "asr",
            Headline::Ca => "ca",
        }
    }

    /// Short name (table headers, axes).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Headline::SourceRecall => "source recall",
            Headline::Asr => "ASR",
            Headline::Ca => "CA",
        }
    }

    /// Long name (chart titles).
    pub(crate) fn long(self) -> &'static str {
        match self {
            Headline::SourceRecall => "Recall of the source class",
            Headline::Asr => "Attack success rate",
            Headline::Ca => "Clean accuracy",
        }
    }
}

/// Which federation a row or a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Federation {
    /// No malicious client, FedAvg.
    Clean,
    /// The malicious clients attack, FedAvg aggregates.
    FedAvg,
    /// The malicious clients attack, this aggregator defense aggregates.
    Aggregator(String),
}

impl Federation {
    /// Its row in the tables.
    pub(crate) fn label(&self) -> String {
        match self {
            Federation::Clean => "clean (no malicious client, FedAvg)".into(),
            Federation::FedAvg => "FedAvg under attack".into(),
            Federation::Aggregator(name) => name.clone(),
        }
    }

    /// Its entry in chart legends and per-round column headers.
    pub(crate) fn short(&self) -> String {
        match self {
            Federation::Clean => "clean".into(),
            Federation::FedAvg => "FedAvg".into(),
            Federation::Aggregator(name) => name.clone(),
        }
    }

    /// Metric key prefix of its final global model.
    fn prefix(&self) -> String {
        match self {
            Federation::Clean => "clean".into(),
            Federation::FedAvg => "poisoned".into(),
            Federation::Aggregator(name) => format!("defense.{name}"),
        }
    }

    /// Metric key of `suffix` after round `r`; none where the records keep
    /// no such series (the clean federation's ASR).
    pub(crate) fn round_key(&self, r: usize, suffix: &str) -> Option<String> {
        match (self, suffix) {
            (Federation::Clean, "asr") => None,
            (Federation::Clean, _) => Some(format!("round.{r}.clean-{suffix}")),
            (Federation::FedAvg, _) => Some(format!("round.{r}.{suffix}")),
            (Federation::Aggregator(name), _) => Some(format!("defense.{name}.round.{r}.{suffix}")),
        }
    }
}

/// A table as both reports lay it out: a header, then rows of cells whose
/// first names the row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    /// Column headers.
    pub(crate) head: Vec<String>,
    /// Rows of as many cells as headers.
    pub(crate) rows: Vec<Vec<String>>,
}

/// A federated sweep point: its summary, its runs and what they measured.
pub(crate) struct FederatedPoint<'a> {
    metrics: &'a OrderedMap,
    runs: Vec<&'a RunRecord>,
    /// Clean, FedAvg under attack, then each aggregator (first-seen order).
    pub(crate) federations: Vec<Federation>,
    /// The rounds the global models were measured after, ascending.
    pub(crate) rounds: Vec<usize>,
    /// The quantity that shows the attack.
    pub(crate) headline: Headline,
}

impl<'a> FederatedPoint<'a> {
    /// The view of `point`, whose records are `runs`; none unless a run is federated.
    pub(crate) fn new(point: &'a PointSummary, runs: &[&'a RunRecord]) -> Option<Self> {
        if !runs.iter().any(|r| r.federation.is_some()) {
            return None;
        }
        let mut federations = vec![Federation::Clean, Federation::FedAvg];
        let mut rounds: Vec<usize> = Vec::new();
        for r in runs {
            rounds.extend(r.rounds.iter().flatten().map(|x| x.round));
            for d in r.defenses.iter().filter(|d| d.kind == AGGREGATOR) {
                let f = Federation::Aggregator(d.name.clone());
                if !federations.contains(&f) {
                    federations.push(f);
                }
                rounds.extend(d.rounds.iter().flatten().map(|x| x.round));
            }
        }
        rounds.sort_unstable();
        rounds.dedup();
        Some(FederatedPoint {
            metrics: &point.metrics,
            runs: runs.to_vec(),
            federations,
            rounds,
            headline: Headline::of(&point.metrics),
        })
    }

    /// The clients of the first run: how many, the malicious ones, the
    /// local training set sizes and the clients left empty.
    pub(crate) fn clients(&self) -> Option<String> {
        let (repeat, f) = self
            .runs
            .iter()
            .find_map(|r| r.federation.as_ref().map(|f| (r.repeat, f)))?;
        let malicious = match f.malicious.len() {
            0 => "none of them malicious".to_string(),
            m => format!("{m} of them malicious{}", ids(&f.malicious)),
        };
        let held = || f.sizes.iter().filter(|&&n| n > 0);
        let sizes = match (held().min(), held().max()) {
            (Some(lo), Some(hi)) if lo == hi => format!("{lo} training samples each"),
            (Some(lo), Some(hi)) => format!("{lo}–{hi} training samples each"),
            _ => "no training sample".into(),
        };
        let empty = match f.empty.len() {
            0 => "no empty client".to_string(),
            e => format!("{e} empty{}, never selected", ids(&f.empty)),
        };
        // The split and the malicious clients may be drawn per repeat.
        let same = |g: &crate::record::FederationRecord| {
            (g.clients, &g.malicious, &g.sizes, &g.empty)
                == (f.clients, &f.malicious, &f.sizes, &f.empty)
        };
        let mut all = self.runs.iter().filter_map(|r| r.federation.as_ref());
        let drawn = match self.runs.len() {
            1 => String::new(),
            _ if all.all(same) => " (every repeat)".into(),
            _ => format!(" (repeat {repeat}; the other repeats drew their own)"),
        };
        Some(format!(
            "Clients{drawn}: {}, {malicious}; {sizes}; {empty}.",
            f.clients
        ))
    }

    /// The updates the server refused, over every run: how many, and the
    /// first few.
    pub(crate) fn rejected(&self) -> Option<String> {
        let all: Vec<(u64, &crate::record::RejectedUpdate)> = self
            .runs
            .iter()
            .flat_map(|r| {
                r.federation
                    .iter()
                    .flat_map(|f| &f.rejected)
                    .map(|u| (r.repeat, u))
            })
            .collect();
        if all.is_empty() {
            return None;
        }
        let first: Vec<String> = all
            .iter()
            .take(MAX_REJECTED)
            .map(|(repeat, u)| {
                let federation = match u.federation.as_str() {
                    "clean" => Federation::Clean.short(),
                    "poisoned" => Federation::FedAvg.short(),
                    name => name.to_string(),
                };
                let client = u
                    .client
                    .map_or("the aggregate".to_string(), |c| format!("client {c}"));
                format!(
                    "repeat {repeat}, {federation}, round {}, {client}: {}",
                    u.round, u.reason
                )
            })
            .collect();
        let more = match all.len().saturating_sub(MAX_REJECTED) {
            0 => String::new(),
            n => format!("; and {n} more"),
        };
        Some(format!(
            "Updates the server refused: {} ({}{more}).",
            all.len(),
            first.join("; ")
        ))
    }

    fn has(&self, f: &Federation, suffix: &str) -> bool {
        self.metrics
            .get(&format!("{}.{suffix}", f.prefix()))
            .is_some()
    }

    /// Whether an aggregator of the point detected clients in some run
    /// (its detection record is there, whatever its values).
    fn detects(&self) -> bool {
        self.federations.iter().any(|f| {
            let key = format!("{}.fpr", f.prefix());
            matches!(f, Federation::Aggregator(_)) && self.metrics.0.iter().any(|(k, _)| *k == key)
        })
    }

    /// Each aggregator's failures: `repeat r: error`, joined.
    fn errors(&self, f: &Federation) -> String {
        let Federation::Aggregator(name) = f else {
            return String::new();
        };
        let errors: Vec<String> = self
            .runs
            .iter()
            .flat_map(|r| {
                r.defenses
                    .iter()
                    .filter(|d| d.kind == AGGREGATOR && d.name == *name)
                    .filter_map(move |d| {
                        d.error
                            .as_ref()
                            .map(|e| format!("repeat {}: {e}", r.repeat))
                    })
            })
            .collect();
        errors.join("; ")
    }

    /// Every federation's final global model: CA, source recall and ASR
    /// (when some federation has them), recovery, DER (with ASR), client
    /// detection (when an aggregator flags) and errors (when one failed).
    pub(crate) fn final_table(&self) -> Table {
        let any = |suffix: &str| self.federations.iter().any(|f| self.has(f, suffix));
        let mut columns: Vec<(&str, &str)> = vec![("CA", "ca")];
        if any("source-recall") {
            columns.push(("source recall", "source-recall"));
        }
        let asr = any("asr");
        if asr {
            columns.push(("ASR", "asr"));
        }
        columns.push(("recovery", "recovery"));
        if asr {
            columns.push(("DER", "der"));
        }
        if self.detects() {
            columns.extend([
                ("client TPR", "tpr"),
                ("client FPR", "fpr"),
                ("client AUROC", "auroc"),
            ]);
        }
        let errors: Vec<String> = self.federations.iter().map(|f| self.errors(f)).collect();
        let failed = errors.iter().any(|e| !e.is_empty());
        let mut head = vec!["federation".to_string()];
        head.extend(columns.iter().map(|(h, _)| h.to_string()));
        if failed {
            head.push("error".into());
        }
        let rows = self
            .federations
            .iter()
            .zip(errors)
            .map(|(f, error)| {
                let mut row = vec![f.label()];
                row.extend(columns.iter().map(|(_, suffix)| {
                    // Recovery, DER and detection are an aggregator's.
                    let own = matches!(suffix, &("ca" | "source-recall" | "asr"));
                    if own || matches!(f, Federation::Aggregator(_)) {
                        cell(self.metrics, &format!("{}.{suffix}", f.prefix()))
                    } else {
                        "—".into()
                    }
                }));
                if failed {
                    row.push(error);
                }
                row
            })
            .collect();
        Table { head, rows }
    }

    /// The rounds the per-round table shows: every k-th measured round and
    /// the last, at most about ten.
    pub(crate) fn shown_rounds(&self) -> Vec<usize> {
        every_kth(&self.rounds, MAX_ROUND_ROWS)
    }

    /// Which rounds the per-round table shows, in words.
    pub(crate) fn shown_in_words(&self) -> String {
        match self.rounds.len().div_ceil(MAX_ROUND_ROWS) {
            0 | 1 => "every measured round".into(),
            k => format!("one measured round in {k} and the last"),
        }
    }

    /// Round by round (the shown rounds): malicious clients selected, clean
    /// and FedAvg CA, the headline of the clean federation (source recall
    /// only) and of FedAvg, and the headline of each aggregator.
    pub(crate) fn rounds_table(&self) -> Table {
        let h = self.headline;
        let mut columns: Vec<(String, Federation, &str)> = vec![
            ("clean CA".into(), Federation::Clean, "ca"),
            ("FedAvg CA".into(), Federation::FedAvg, "ca"),
        ];
        if h == Headline::SourceRecall {
            columns.insert(
                1,
                (format!("clean {}", h.name()), Federation::Clean, h.suffix()),
            );
        }
        if h != Headline::Ca {
            columns.push((
                format!("FedAvg {}", h.name()),
                Federation::FedAvg,
                h.suffix(),
            ));
        }
        for f in &self.federations[2..] {
            columns.push((format!("{} {}", f.short(), h.name()), f.clone(), h.suffix()));
        }
        let mut head = vec!["round".to_string(), "malicious selected".to_string()];
        head.extend(columns.iter().map(|c| c.0.clone()));
        let rows = self
            .shown_rounds()
            .into_iter()
            .map(|r| {
                let mut row = vec![
                    r.to_string(),
                    count_cell(self.metrics, &format!("round.{r}.malicious")),
                ];
                row.extend(columns.iter().map(|(_, f, suffix)| {
                    f.round_key(r, suffix)
                        .map_or("—".into(), |k| cell(self.metrics, &k))
                }));
                row
            })
            .collect();
        Table { head, rows }
    }

    /// Federation `f`'s `suffix` after every measured round, as (round,
    /// mean, 95 % CI half-width), where defined.
    pub(crate) fn series(&self, f: &Federation, suffix: &str) -> Vec<(f64, Stat)> {
        self.rounds
            .iter()
            .filter_map(|&r| {
                let key = f.round_key(r, suffix)?;
                stat(self.metrics, &key).map(|s| (r as f64, s))
            })
            .collect()
    }
}

/// ` (id 4)`, ` (ids 1, 2, 3)` for at most [`MAX_IDS`] ids, else nothing.
fn ids(ids: &[usize]) -> String {
    match ids {
        [] => String::new(),
        [one] => format!(" (id {one})"),
        _ if ids.len() > MAX_IDS => String::new(),
        _ => {
            let list: Vec<String> = ids.iter().map(usize::to_string).collect();
            format!(" (ids {})", list.join(", "))
        }
    }
}

/// Every k-th of `items` and the last, k the smallest that keeps them to `max`.
fn every_kth(items: &[usize], max: usize) -> Vec<usize> {
    // As `FederatedPoint::shown_in_words` says.
    let k = items.len().div_ceil(max.max(1)).max(1);
    items
        .iter()
        .enumerate()
        .filter(|(i, _)| (i + 1) % k == 0 || i + 1 == items.len())
        .map(|(_, r)| *r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kth_round_and_the_last() {
        let thirty: Vec<usize> = (1..=30).collect();
        assert_eq!(
            every_kth(&thirty, 10),
            vec![3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
        );
        let twenty_five: Vec<usize> = (1..=25).collect();
        assert_eq!(
            every_kth(&twenty_five, 10),
            vec![3, 6, 9, 12, 15, 18, 21, 24, 25]
        );
        let few: Vec<usize> = (1..=4).collect();
        assert_eq!(every_kth(&few, 10), few);
        // Measured every 10th round: the round numbers are kept.
        let sparse: Vec<usize> = (1..=100).filter(|r| r % 10 == 0).collect();
        assert_eq!(every_kth(&sparse, 10), sparse);
        assert!(every_kth(&[], 10).is_empty());
    }

    #[test]
    fn ids_are_listed_up_to_twenty() {
        assert_eq!(ids(&[1, 4]), " (ids 1, 4)");
        assert_eq!(ids(&[9]), " (id 9)");
        assert_eq!(ids(&[]), "");
        assert_eq!(ids(&(0..21).collect::<Vec<_>>()), "");
    }
}

/// A federated results folder built in code, for the reports' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use poisonlab_scenario::{Custody, Scenario};

    use crate::record::{
        AGGREGATOR, AggregatorRound, AttackInfo, DefenseRecord, Detection, FederationRecord,
        ModelEval, RejectedUpdate, RoundRecord, RunRecord,
    };

    const FEDERATED: &str = r#"
[scenario]
name = "federated-test"
repeats = 2

[data]
source = "synthetic-digits"
train = 300
test = 100

[model]
kind = "mlp"

[training]
regime = "federated"

[federated]
clients = 10
per-round = 5
rounds = 25
malicious = 0.2

[attack]
kind = "label-flip"
flip = "targeted"
source = 4
target = 6
rate = 1.0

[[defense]]
kind = "median"

[[defense]]
kind = "krum"
f = 1

[[defense]]
kind = "trimmed-mean"
"#;

    /// Rounds of the fixture.
    pub(crate) const ROUNDS: usize = 25;

    fn eval(ca: f64, asr: f64, source_recall: f64) -> ModelEval {
        ModelEval {
            ca: Some(ca),
            asr: Some(asr),
            ra: Some(source_recall),
            per_class_recall: vec![],
            source_recall: Some(source_recall),
        }
    }

    /// An aggregator whose global model after round `r` has CA `ca + r / 1000 + step`
    /// and source recall `sr + r / 1000 + step`.
    fn aggregator(name: &str, ca: f64, asr: f64, sr: f64, step: f64) -> DefenseRecord {
        let mut d = DefenseRecord::new(name, AGGREGATOR);
        d.retrained = Some(eval(ca, asr, sr));
        d.rounds = Some(
            (1..=ROUNDS)
                .map(|round| AggregatorRound {
                    round,
                    ca: Some(ca + round as f64 / 1000.0 + step),
                    asr: Some(asr),
                    source_recall: Some(sr + round as f64 / 1000.0 + step),
                    flagged_malicious: None,
                    flagged_benign: None,
                })
                .collect(),
        );
        d
    }

    /// Repeat `rep` (0 or 1): CAs and every per-round measure differ by
    /// 0.02 between the repeats, the other measures agree unless said.
    fn record(rep: u64) -> RunRecord {
        let step = 0.02 * rep as f64;
        let mut median = aggregator("median", 0.85 + step, 0.1, 0.7, step);
        median.recovery = Some(0.5 + 2.0 * step);
        median.der = Some(0.6);
        let mut krum = aggregator("krum", 0.70 + step, 0.3, 0.5, step);
        krum.recovery = Some(-1.0);
        krum.der = Some(0.4);
        krum.detection = Some(Detection {
            tp: 9 - rep as usize * 2,
            fp: 4,
            tn: 36,
            fn_: 1 + rep as usize * 2,
            tpr: Some(0.9 - 10.0 * step),
            fpr: Some(0.1),
            precision: None,
            f1: None,
            auroc: Some(0.95),
            roc_tpr: vec![],
            auroc_class: None,
        });
        let mut trimmed = aggregator("trimmed-mean", 0.8, 0.2, 0.6, step);
        if rep == 1 {
            trimmed = DefenseRecord::new("trimmed-mean", AGGREGATOR);
            trimmed.error = Some("beta | trims every update".into());
        }
        RunRecord {
            schema: crate::RECORD_SCHEMA,
            fingerprint: None,
            kernels: None,
            point: serde_json::Map::new(),
            repeat: rep,
            seed: 7 + rep,
            n_train: 300,
            n_poison: 11,
            attack: AttackInfo {
                kind: "label-flip".into(),
                at: Custody::Source,
                crafting: None,
            },
            n_test: 100,
            clean: eval(0.90 + step, 0.05, 0.85),
            poisoned: eval(0.80 + step, 0.4, 0.45),
            defenses: vec![median, krum, trimmed],
            data_root: None,
            clean_root: None,
            recipe: None,
            model_fingerprint: None,
            rounds: Some(
                (1..=ROUNDS)
                    .map(|round| {
                        let r = round as f64 / 1000.0 + step;
                        RoundRecord {
                            round,
                            n: 120,
                            n_poison: 6 * (round % 2),
                            poison_share: 0.05 * (round % 2) as f64,
                            clean_ca: Some(0.9 + r),
                            clean_ca_other: None,
                            ca: Some(0.8 + r),
                            asr: Some(0.4),
                            ca_other: None,
                            malicious: Some(round % 2),
                            source_recall: Some(0.45 + r),
                            clean_source_recall: Some(0.85 + r),
                        }
                    })
                    .collect(),
            ),
            federation: Some(FederationRecord {
                clients: 10,
                malicious: if rep == 0 { vec![1, 7] } else { vec![2, 3] },
                sizes: vec![30, 40, 30, 30, 30, 30, 30, 30, 50, 0],
                empty: vec![9],
                poisoned: vec![5, 6],
                rejected: if rep == 1 {
                    vec![RejectedUpdate {
                        federation: "poisoned".into(),
                        round: 4,
                        client: Some(7),
                        reason: "value 3 of the update is NaN".into(),
                    }]
                } else {
                    vec![]
                },
            }),
            transfer: None,
            seconds: Default::default(),
        }
    }

    /// The scenario and its two repeats.
    pub(crate) fn federated() -> (Scenario, Vec<RunRecord>) {
        let scenario = Scenario::parse(FEDERATED, "test.toml").unwrap();
        (scenario, vec![record(0), record(1)])
    }
}
