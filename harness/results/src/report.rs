//! report.md: the tables a person reads.

use std::fmt::Write as _;

use poisonlab_scenario::Scenario;

use crate::federated::{self, FederatedPoint, Table};
use crate::record::{AGGREGATOR, RunRecord};
use crate::summary::PointSummary;
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
    if !scenario.sweep.is_empty() {
        let keys: Vec<&str> = scenario.sweep.iter().map(|(k, _)| k.as_str()).collect();
        let _ = writeln!(out, "Swept: {}.\n", keys.join(", "));
    }
    out
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
    match FederatedPoint::new(point, runs) {
        Some(fed) => federation(out, &fed),
        None => {
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
        let every = if fed.shown_rounds().len() < fed.rounds.len() {
            "some rounds and the last"
        } else {
            "every measured round"
        };
        let _ = writeln!(
            out,
            "\nRound by round ({every}; the global model after the round; malicious selected = \
             attacking clients among those selected that round):\n"
        );
        md_table(out, &fed.rounds_table());
    }
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

/// Defenses that produced no result, per repeat (aggregators say so in
/// their federation's row).
fn failures(out: &mut String, runs: &[&RunRecord]) {
    let errors: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.defenses.iter().filter(|d| d.kind != AGGREGATOR).filter_map(move |d| {
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
