//! The `[training]` regime, not the attack, decides how a run trains.
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

mod common;

use common::run_scenario;
use poisonlab_results::RunRecord;

const BADNETS_IN_ROUNDS: &str = r#"
[scenario]
name = "rounds"
seed = 9
repeats = 2

[data]
source = "synthetic-digits"
train = 300
test = 100
trusted = 40

[model]
kind = "logreg"
epochs = 1

[training]
regime = "rounds"
rounds = 3
epochs-per-round = 1

[attack]
kind = "badnets"
target = 0
rate = 0.1

[[defense]]
kind = "loss-filter"

[[defense]]
kind = "cusum"
"#;

#[test]
fn any_attack_trains_in_rounds_with_a_record_per_round() {
    let (records, summary) = run_scenario(BADNETS_IN_ROUNDS, 1);
    assert_eq!(records.len(), 2);
    for r in &records {
        let rounds = r
            .rounds
            .as_ref()
            .expect("a round-based run records its rounds");
        assert_eq!(rounds.len(), 3);
        assert_eq!(rounds.iter().map(|x| x.n).sum::<usize>(), r.n_train);
        // The attack poisoned the whole set once; each round holds its share.
        assert_eq!(rounds.iter().map(|x| x.n_poison).sum::<usize>(), r.n_poison);
        assert!(r.n_poison > 0);
        assert!(rounds.iter().all(|x| x.asr.is_some() && x.ca.is_some()));
        // The monitor watched the rounds; the filter was scored and retrained.
        let cusum = r.defenses.iter().find(|d| d.name == "cusum").unwrap();
        assert_eq!(cusum.monitor.as_ref().unwrap().statistic.len(), 3);
        let filter = r.defenses.iter().find(|d| d.name == "loss-filter").unwrap();
        assert!(filter.detection.is_some() && filter.retrained.is_some());
    }
    // Threads do not change what a round-based run measures.
    let (again, summary_again) = run_scenario(BADNETS_IN_ROUNDS, 2);
    assert_eq!(summary, summary_again);
    let strip = |rs: &[RunRecord]| -> Vec<String> {
        rs.iter()
            .map(|r| {
                let mut r = r.clone();
                r.seconds.clear();
                for d in &mut r.defenses {
                    d.seconds = 0.0;
                }
                serde_json::to_string(&r).unwrap()
            })
            .collect()
    };
    assert_eq!(strip(&records), strip(&again));
}

#[test]
fn the_central_regime_records_no_rounds() {
    let text = BADNETS_IN_ROUNDS
        .replace(
            "regime = \"rounds\"\nrounds = 3\nepochs-per-round = 1",
            "regime = \"central\"",
        )
        .replace("[[defense]]\nkind = \"cusum\"\n", "");
    let (records, _) = run_scenario(&text, 1);
    assert!(records.iter().all(|r| r.rounds.is_none()));
}
