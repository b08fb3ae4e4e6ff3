//! report.md: the tables a person reads.

use std::fmt::Write as _;

use poisonlab_scenario::Scenario;

use crate::federated::{self, FederatedPoint, Table};
use crate::matrix::{Matrix, MatrixMeasure, matrices};
use crate::recommend::{Recommendation, recommendations, tally};
use crate::record::{AGGREGATOR, RunRecord};
use crate::summary::PointSummary;
use crate::transfer::{self, TransferPoint};
use crate::view::{self, cell, count_cell};

fn describe(scenario: &Scenario) -> String {
    view::describe(scenario)
        .iter()
        .map(|(what, line)| format!("- {what}: {line}\n"))
        .collect()
}

/// The whole report: the header, then one section per sweep point.
pub fn markdown(scenario: &Scenario, records: &[RunRecord], summary: &[PointSummary]) -> String {
    let mut out = header(scenario, records);
    let defenses = view::defenses_of(records.iter());
    recommendation_section(
        &mut out,
        &recommendations(summary, records, &defenses),
        &defenses,
        scenario.report.large_sweep,
    );
    for m in matrices(summary, &defenses) {
        matrix_section(&mut out, &m);
    }
    for point in summary {
        let runs: Vec<&RunRecord> = records.iter().filter(|r| r.point == point.point).collect();
        point_section(&mut out, point, &runs);
    }
    if federated::federated_scenario(scenario) {
        out.push_str(
            "*clean* is the federation without malicious clients and *FedAvg under attack* the \
             same federation with them, averaged by FedAvg: an aggregator defense is read between \
             the two. Recovery = (CA − CA FedAvg) / (CA clean − CA FedAvg); DER rates the ASR it \
             removed against the CA it cost.\n",
        );
    } else {
        out.push_str(
            "*perfect* removes exactly the poisoned samples and *random* removes as many samples \
             at random: a defense is read between that ceiling and that floor. CA after / ASR \
             after are measured on the model retrained on the samples the defense kept.\n",
        );
    }
    if transfer::transfer_scenario(scenario) {
        let _ = writeln!(out, "\n{}", transfer::note(|w| format!("*{w}*")));
    }
    out
}

/// Title, description, what ran, and how to read the cells.
fn header(scenario: &Scenario, records: &[RunRecord]) -> String {
    let mut out = String::new();
    let m = &scenario.meta;
    let _ = writeln!(out, "# {}\n", m.name);
    if !m.description.is_empty() {
        let _ = writeln!(out, "{}\n", m.description);
    }
    let _ = writeln!(out, "{}", describe(scenario));
    let _ = writeln!(
        out,
        "Seed {}, {} repeat(s) per point, {} run(s) finished. Each cell is the mean over repeats \
         ± the half-width of its 95 % confidence interval; — means undefined (for example ASR \
         without a targeted attack, or recovery when poisoning cost no accuracy).\n",
        m.seed,
        m.repeats,
        records.len()
    );
    let mut kernels: Vec<(&str, usize)> = Vec::new();
    for r in records {
        let k = r.kernels.as_deref().unwrap_or("unknown");
        match kernels.iter_mut().find(|(name, _)| *name == k) {
            Some((_, n)) => *n += 1,
            None => kernels.push((k, 1)),
        }
    }
    if kernels.len() > 1 {
        let list: Vec<String> = kernels
            .iter()
            .map(|(k, n)| format!("{k} ({n} run(s))"))
            .collect();
        let _ = writeln!(
            out,
            "**Mixed kernel sets**: {}. Their numbers differ in the last bits; pin \
             `[scenario] kernels` to compare runs bit for bit.\n",
            list.join(", ")
        );
    }
    if !scenario.sweep.is_empty() {
        let keys: Vec<&str> = scenario.sweep.iter().map(|(k, _)| k.as_str()).collect();
        let _ = writeln!(out, "Swept: {}.\n", keys.join(", "));
    }
    out
}

/// "Recommendations": per attack setting, the defenses near the perfect
/// filter at the lowest CA cost and those no better than random (a tally
/// per defense when the settings are more than `large`).
fn recommendation_section(
    out: &mut String,
    recs: &[Recommendation],
    defenses: &[(String, String)],
    large: usize,
) {
    if recs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Recommendations
"
    );
    let _ = writeln!(out, "{}\n", crate::recommend::INTRO);
    if recs.len() > large {
        for line in tally(recs, defenses) {
            let _ = writeln!(out, "- {line}");
        }
    } else {
        for r in recs {
            let at = if r.group.is_empty() {
                format!("**{}**", r.attack)
            } else {
                format!("**{}** at {}", r.attack, r.group)
            };
            let _ = writeln!(out, "- {at}: {}", r.sentences().join(" "));
        }
    }
    out.push('\n');
}

/// One attack × defense matrix: a table per measure, rows = attacks,
/// columns = defenses, each cell `mean ± CI (n)`.
fn matrix_section(out: &mut String, m: &Matrix) {
    let _ = writeln!(out, "## {}\n", m.title());
    let _ = writeln!(
        out,
        "Rows: the attack; columns: the defenses, then the *perfect* ceiling and the *random* \
         floor. Each cell is the summary.json mean ± 95 % CI half-width, with n repeats \
         (report.html colours it by where it sits between floor and ceiling).\n"
    );
    for measure in MatrixMeasure::ALL {
        if !m
            .rows
            .iter()
            .any(|r| (0..m.columns.len()).any(|j| r.cells[j][measure as usize].is_some()))
        {
            continue;
        }
        let _ = writeln!(out, "{} ({}):\n", measure.name(), measure.long());
        let head: Vec<String> = m
            .columns
            .iter()
            .map(|c| {
                if c.reference {
                    format!("*{}*", c.name)
                } else {
                    c.name.clone()
                }
            })
            .collect();
        let _ = writeln!(out, "| attack | {} |", head.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(head.len()));
        for row in &m.rows {
            let cells: Vec<String> = row
                .cells
                .iter()
                .map(|c| match c[measure as usize] {
                    Some(c) => format!("{} (n {})", c.text(), c.n),
                    None => "—".into(),
                })
                .collect();
            let _ = writeln!(out, "| {} | {} |", row.label, cells.join(" | "));
        }
        out.push('\n');
    }
}

/// One sweep point: its models, rounds, filters, detectors, monitors and
/// the defenses that failed. `runs` are the point's records.
fn point_section(out: &mut String, point: &PointSummary, runs: &[&RunRecord]) {
    if !point.point.is_empty() {
        let _ = writeln!(out, "## {}\n", point.label());
    }
    let mm = &point.metrics;
    let n_poison = count_cell(mm, "n-poison");
    let _ = writeln!(out, "Poisoned training samples: {n_poison}.\n");
    if let Some(fed) = FederatedPoint::new(point, runs) {
        federation(out, &fed);
    } else if let Some(t) = TransferPoint::new(point, runs) {
        transfer_models(out, &t);
    } else {
        let _ = writeln!(out, "| model | CA | ASR | RA |\n|---|---|---|---|");
        for v in ["clean", "poisoned"] {
            let _ = writeln!(
                out,
                "| {v} | {} | {} | {} |",
                cell(mm, &format!("{v}.ca")),
                cell(mm, &format!("{v}.asr")),
                cell(mm, &format!("{v}.ra"))
            );
        }
        rounds_table(out, point);
    }
    // Defenses as the point's first run lists them, by family.
    let listed: Vec<(String, String)> = runs
        .first()
        .map(|r| {
            r.defenses
                .iter()
                .map(|d| (d.name.clone(), d.kind.clone()))
                .collect()
        })
        .unwrap_or_default();
    let of_kind = |kind: &str| -> Vec<String> {
        listed
            .iter()
            .filter(|(_, k)| k == kind)
            .map(|(n, _)| n.clone())
            .collect()
    };
    filters_table(out, point, &listed, &of_kind("filter"));
    detectors_table(out, point, &of_kind("input-detector"));
    monitors_table(out, point, &of_kind("monitor"));
    repairs_table(out, point, &of_kind("model-repair"));
    failures(out, runs);
    out.push('\n');
}

/// A federated point: its clients, every federation at the end of training,
/// and a short round-by-round table.
fn federation(out: &mut String, fed: &FederatedPoint<'_>) {
    for line in [fed.clients(), fed.rejected()].into_iter().flatten() {
        let _ = writeln!(out, "{line}\n");
    }
    let _ = writeln!(
        out,
        "Federations at the end of training (recovery and DER against FedAvg under attack; \
         client TPR / FPR = malicious / benign client updates the aggregator flagged or left \
         out, over every round):\n"
    );
    md_table(out, &fed.final_table());
    if !fed.rounds.is_empty() {
        let _ = writeln!(
            out,
            "\nRound by round ({}; the global model after the round; malicious selected = \
             attacking clients among those selected that round):\n",
            fed.shown_in_words()
        );
        md_table(out, &fed.rounds_table());
    }
}

/// A transfer point: the split, which model is which, and the models
/// after every fine-tuning epoch.
fn transfer_models(out: &mut String, t: &TransferPoint<'_>) {
    let _ = writeln!(out, "{}\n", t.split());
    let _ = writeln!(
        out,
        "Which model: the two base models before fine-tuning, then the two fine-tuned models:\n"
    );
    md_table(out, &t.models_table());
    let _ = writeln!(
        out,
        "\nEpoch by epoch (epoch 0 = the base models before fine-tuning; clean CA = the clean \
         pipeline's model, poisoned CA and ASR = the attacked pipeline's):\n"
    );
    md_table(out, &t.epochs_table());
}

/// `table` as Markdown (a `|` in a cell escaped).
fn md_table(out: &mut String, table: &Table) {
    let row = |cells: &[String]| {
        let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
        format!("| {} |", cells.join(" | "))
    };
    let _ = writeln!(out, "{}", row(&table.head));
    let _ = writeln!(out, "|{}", "---|".repeat(table.head.len()));
    for r in &table.rows {
        let _ = writeln!(out, "{}", row(r));
    }
}

/// Round by round, for round-based runs (nothing otherwise).
fn rounds_table(out: &mut String, point: &PointSummary) {
    let mm = &point.metrics;
    let rounds = (1..)
        .take_while(|r| point.metrics.get(&format!("round.{r}.ca")).is_some())
        .count();
    if rounds > 0 {
        let _ = writeln!(
            out,
            "\nRound by round (each model after training on that round's data; ASR = drifting-class \
             test samples called the drift target; \"other\" = every class but the drifting one):\n\n\
             | round | poison share | clean CA | poisoned CA | ASR | clean CA other | poisoned CA other |\n\
             |---|---|---|---|---|---|---|"
        );
        for r in 1..=rounds {
            let k = |m: &str| cell(mm, &format!("round.{r}.{m}"));
            let _ = writeln!(
                out,
                "| {r} | {} | {} | {} | {} | {} | {} |",
                k("poison-share"),
                k("clean-ca"),
                k("ca"),
                k("asr"),
                k("clean-ca-other"),
                k("ca-other")
            );
        }
    }
}

/// Training-set filters between the perfect ceiling and the random floor,
/// and the label tests some of them make.
fn filters_table(
    out: &mut String,
    point: &PointSummary,
    listed: &[(String, String)],
    filters: &[String],
) {
    let mm = &point.metrics;
    // Filters by mean F1, best first, between the perfect ceiling and the random floor.
    let rows = view::filter_rows(listed, |name| {
        mm.get(&format!("defense.{name}.f1")).map(|s| s.mean)
    });
    if !rows.is_empty() {
        let _ = writeln!(
            out,
            "\nTraining-set filters, best F1 first, between the *perfect* ceiling and the *random* floor \
             (FPR clean = share of the unpoisoned training set the filter flags):\n\n\
             | defense | flagged | TPR | FPR | precision | F1 | AUROC | FPR clean | CA after | ASR after | recovery | DER |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|"
        );
    }
    for (name, reference) in rows {
        let p = format!("defense.{name}");
        let label = if reference {
            format!("*{name}* (reference)")
        } else {
            name.clone()
        };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            count_cell(mm, &format!("{p}.flagged")),
            cell(mm, &format!("{p}.tpr")),
            cell(mm, &format!("{p}.fpr")),
            cell(mm, &format!("{p}.precision")),
            cell(mm, &format!("{p}.f1")),
            cell(mm, &format!("{p}.auroc")),
            cell(mm, &format!("{p}.clean-fpr")),
            cell(mm, &format!("{p}.retrained.ca")),
            cell(mm, &format!("{p}.retrained.asr")),
            cell(mm, &format!("{p}.recovery")),
            cell(mm, &format!("{p}.der")),
        );
    }
    for name in filters {
        let key = format!("defense.{name}.label-test.p-value");
        if mm.get(&key).is_some() {
            let _ = writeln!(
                out,
                "\n{name}: chi-square test of the training labels against the trusted labels, p = {}.",
                cell(mm, &key)
            );
        }
    }
}

/// Input-time detectors: FAR and FRR.
fn detectors_table(out: &mut String, point: &PointSummary, detectors: &[String]) {
    let mm = &point.metrics;
    if !detectors.is_empty() {
        let _ = writeln!(
            out,
            "\nInput-time detectors (FAR = attack test inputs let through, FRR = clean test inputs rejected):\n\n\
             | detector | FAR | FRR |\n|---|---|---|"
        );
        for name in detectors {
            let _ = writeln!(
                out,
                "| {name} | {} | {} |",
                cell(mm, &format!("defense.{name}.far")),
                cell(mm, &format!("defense.{name}.frr"))
            );
        }
    }
}

/// Round monitors: first alarm, alarmed rounds, false alarms.
fn monitors_table(out: &mut String, point: &PointSummary, monitors: &[String]) {
    let mm = &point.metrics;
    if !monitors.is_empty() {
        let _ = writeln!(
            out,
            "\nRound monitors (first alarm on the poisoned run; false alarms = rounds that alarmed \
             on the clean run of the same length):\n\n\
             | monitor | first alarm round | alarmed rounds | false alarms |\n|---|---|---|---|"
        );
        for name in monitors {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} |",
                cell(mm, &format!("defense.{name}.first-alarm-round")),
                cell(mm, &format!("defense.{name}.alarms")),
                cell(mm, &format!("defense.{name}.false-alarms"))
            );
        }
    }
}

/// Model-repair defenses: model-level detection, isolated samples, the
/// repaired model.
fn repairs_table(out: &mut String, point: &PointSummary, repairs: &[String]) {
    let mm = &point.metrics;
    if repairs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nModel-repair defenses (model TPR / FPR = share of runs whose poisoned / clean model it \
         flagged; target = share naming the attack's target; isolated TPR / FPR = the samples it \
         isolated against the poison mask; CA / ASR after = the repaired model):\n\n\
         | defense | model TPR | model FPR | target | anomaly index | isolated TPR | isolated FPR | CA after | ASR after | recovery | DER |\n\
         |---|---|---|---|---|---|---|---|---|---|---|"
    );
    for name in repairs {
        let p = format!("defense.{name}");
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(mm, &format!("{p}.model-tpr")),
            cell(mm, &format!("{p}.model-fpr")),
            cell(mm, &format!("{p}.target-correct")),
            cell(mm, &format!("{p}.anomaly-index")),
            cell(mm, &format!("{p}.tpr")),
            cell(mm, &format!("{p}.fpr")),
            cell(mm, &format!("{p}.repaired.ca")),
            cell(mm, &format!("{p}.repaired.asr")),
            cell(mm, &format!("{p}.recovery")),
            cell(mm, &format!("{p}.der")),
        );
    }
}

/// Defenses that produced no result, per repeat (aggregators say so in
/// their federation's row).
fn failures(out: &mut String, runs: &[&RunRecord]) {
    let errors: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.defenses
                .iter()
                .filter(|d| d.kind != AGGREGATOR)
                .filter_map(move |d| {
                    d.error
                        .as_ref()
                        .map(|e| format!("- repeat {}: {}: {e}", r.repeat, d.name))
                })
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(
            out,
            "\nDefenses that produced no result:\n{}",
            errors.join("\n")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federated::fixture::{self, ROUNDS};
    use crate::summary::summarize;

    fn federated_md() -> String {
        let (scenario, records) = fixture::federated();
        markdown(&scenario, &records, &summarize(&records))
    }

    #[test]
    fn a_federated_point_has_the_aggregator_table() {
        let md = federated_md();
        // Means over the two repeats, ± 12.706 × |a − b| / 2 (Student t, one
        // degree of freedom); one repeat has no interval.
        for row in [
            "| federation | CA | source recall | ASR | recovery | DER | client TPR | client FPR | client AUROC | error |",
            "| clean (no malicious client, FedAvg) | 0.910 ± 0.127 | 0.850 ± 0.000 | 0.050 ± 0.000 | — | — | — | — | — |  |",
            "| FedAvg under attack | 0.810 ± 0.127 | 0.450 ± 0.000 | 0.400 ± 0.000 | — | — | — | — | — |  |",
            "| median | 0.860 ± 0.127 | 0.700 ± 0.000 | 0.100 ± 0.000 | 0.520 ± 0.254 | 0.600 ± 0.000 | — | — | — |  |",
            "| krum | 0.710 ± 0.127 | 0.500 ± 0.000 | 0.300 ± 0.000 | -1.000 ± 0.000 | 0.400 ± 0.000 | 0.800 ± 1.271 | 0.100 ± 0.000 | 0.950 ± 0.000 |  |",
            "| trimmed-mean | 0.800 | 0.600 | 0.200 | — | — | — | — | — | repeat 1: beta \\| trims every update |",
        ] {
            assert!(md.contains(&format!("{row}\n")), "no row {row}");
        }
        // The failure is in its row, not repeated below the tables.
        assert!(!md.contains("Defenses that produced no result"));
        assert!(md.contains(
            "Clients (repeat 0; the other repeats drew their own): 10, 2 of them malicious \
             (ids 1, 7); 30–50 training samples each; 1 empty (id 9), never selected.\n"
        ));
        assert!(md.contains(
            "Updates the server refused: 1 (repeat 1, FedAvg, round 4, client 7: value 3 of \
             the update is NaN).\n"
        ));
    }

    fn transfer_md() -> String {
        let (scenario, records) = crate::transfer::fixture::transfer();
        markdown(&scenario, &records, &summarize(&records))
    }

    #[test]
    fn a_transfer_point_says_which_model_is_which() {
        let md = transfer_md();
        assert!(md.contains(
            "Split: 200 samples pretrain the base model, 200 fine-tune it. The attack poisoned \
             the pretraining set (poisoned samples and the defenses count and inspect it); \
             fine-tuning is clean.\n"
        ));
        // Means over the two repeats, ± 12.706 × |a − b| / 2 (Student t, one
        // degree of freedom): CAs differ by 0.02, ASRs agree.
        for row in [
            "| model | CA | ASR | RA |",
            "| clean base (before fine-tuning) | 0.510 ± 0.127 | 0.050 ± 0.000 | 0.950 ± 0.000 |",
            "| attacked pipeline's base (before fine-tuning) | 0.490 ± 0.127 | 0.900 ± 0.000 | 0.100 ± 0.000 |",
            "| clean (fine-tuned) | 0.960 ± 0.127 | 0.050 ± 0.000 | 0.950 ± 0.000 |",
            "| poisoned (fine-tuned) | 0.940 ± 0.127 | 0.600 ± 0.000 | 0.400 ± 0.000 |",
        ] {
            assert!(md.contains(&format!("{row}\n")), "no row {row}\n{md}");
        }
        // The central table is replaced, not repeated.
        assert!(!md.contains("| clean | "), "{md}");
        assert_eq!(md.matches("| model | CA | ASR | RA |").count(), 1);
        // Defenses as in a central run, and what they saw.
        assert!(md.contains("| *perfect* (reference) | 20 |"));
        assert!(
            md.contains("In the transfer regime *clean* and *poisoned* are the fine-tuned models")
        );
    }

    #[test]
    fn a_transfer_point_has_every_fine_tuning_epoch_from_the_base() {
        let md = transfer_md();
        assert!(md.contains("| epoch | clean CA | poisoned CA | ASR |\n|---|---|---|---|\n"));
        let epochs: Vec<&str> = md
            .lines()
            .skip_while(|l| !l.starts_with("| epoch |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| Some(l.split('|').nth(1)?.trim()))
            .collect();
        assert_eq!(epochs, ["0 (base)", "1", "2", "3"]);
        for row in [
            // Epoch 0: the clean base's CA, the attacked pipeline's base's CA and ASR.
            "| 0 (base) | 0.510 ± 0.127 | 0.490 ± 0.127 | 0.900 ± 0.000 |",
            "| 1 | 0.860 ± 0.127 | 0.840 ± 0.127 | 0.800 ± 0.000 |",
            // The last epoch is the fine-tuned model.
            "| 3 | 0.960 ± 0.127 | 0.940 ± 0.127 | 0.600 ± 0.000 |",
        ] {
            assert!(md.contains(&format!("{row}\n")), "no row {row}\n{md}");
        }
    }

    #[test]
    fn model_repair_defenses_have_their_metrics_and_table() {
        use crate::record::{DefenseRecord, ModelEval, RepairRecord};
        let (scenario, mut records) = crate::transfer::fixture::transfer();
        for (i, r) in records.iter_mut().enumerate() {
            let mut d = DefenseRecord::new("nc", "model-repair");
            d.repair = Some(RepairRecord {
                model_tpr: Some(true),
                model_fpr: Some(i == 0),
                target: Some(0),
                target_correct: Some(true),
                anomaly_index: Some(3.0),
                clean_anomaly_index: Some(1.0),
                class_scores: None,
                repaired: Some(ModelEval {
                    ca: Some(0.9),
                    asr: Some(0.1),
                    ra: Some(0.8),
                    per_class_recall: vec![],
                    source_recall: None,
                }),
            });
            r.defenses.insert(0, d);
        }
        let metrics = records[1].metrics();
        for (key, value) in [
            ("defense.nc.model-tpr", Some(1.0)),
            ("defense.nc.model-fpr", Some(0.0)),
            ("defense.nc.target-correct", Some(1.0)),
            ("defense.nc.repaired.asr", Some(0.1)),
        ] {
            assert!(metrics.contains(&(key.to_string(), value)), "{key}");
        }
        let md = markdown(&scenario, &records, &summarize(&records));
        // FPR 1 then 0: mean 0.5 ± 12.706 · 0.7071 / √2.
        assert!(
            md.contains("| nc | 1.000 ± 0.000 | 0.500 ± 6.353 | 1.000 ± 0.000 | 3.000 ± 0.000 | — | — | 0.900 ± 0.000 | 0.100 ± 0.000 |"),
            "{md}"
        );
    }

    #[test]
    fn other_regimes_have_no_transfer_wording() {
        let md = federated_md();
        assert!(!md.contains("fine-tun"), "{md}");
        assert!(!md.contains("Split:"));
    }

    #[test]
    fn a_federated_point_has_a_short_round_table_and_no_drift() {
        let md = federated_md();
        assert!(!md.to_lowercase().contains("drift"), "{md}");
        assert!(!md.contains("| model | CA | ASR | RA |"));
        assert!(!md.contains("*perfect*"));
        assert!(md.contains("- model: mlp, trained by the clients (see training)\n"));
        assert!(md.contains(
            "| round | malicious selected | clean CA | clean source recall | FedAvg CA | \
             FedAvg source recall | median source recall | krum source recall | trimmed-mean \
             source recall |\n"
        ));
        // Every third of the 25 rounds and the last: nine rows.
        let rounds: Vec<usize> = md
            .lines()
            .skip_while(|l| !l.starts_with("| round |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.split('|').nth(1)?.trim().parse().ok())
            .collect();
        assert_eq!(rounds, vec![3, 6, 9, 12, 15, 18, 21, 24, ROUNDS]);
        assert!(md.contains(
            "| 25 | 1 | 0.935 ± 0.127 | 0.885 ± 0.127 | 0.835 ± 0.127 | 0.485 ± 0.127 | \
             0.735 ± 0.127 | 0.535 ± 0.127 | 0.625 |\n"
        ));
        assert!(md.contains("| 24 | 0 |"));
    }
}
