//! The federated regime: clients, selections, aggregators and attacks on
//! named streams; identical results for any thread count; bad updates
//! rejected with the round and client named.
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

mod common;

use common::{run_scenario, without_seconds};
use poisonlab_results::AGGREGATOR;

const FLIP: &str = r#"
[scenario]
name = "federated"
seed = 5
repeats = 2

[data]
source = "blobs"
train = 600
test = 200
dim = 8
classes = 3
trusted = 30

[model]
kind = "logreg"

[training]
regime = "federated"

[federated]
clients = 10
per-round = 5
rounds = 4
learning-rate = 0.1
malicious = 0.3
split = "dirichlet"
alpha = 1.0

[attack]
kind = "label-flip"
source = 1
target = 2
rate = 1.0

[[defense]]
kind = "median"

[[defense]]
kind = "krum"
f = 1

[[defense]]
kind = "fltrust"

[[defense]]
kind = "foolsgold"
"#;

#[test]
fn federations_are_recorded_round_by_round_and_thread_independent() {
    let (records, summary) = run_scenario(FLIP, 1);
    assert_eq!(records.len(), 2);
    for r in &records {
        let f = r
            .federation
            .as_ref()
            .expect("a federated run records its clients");
        assert_eq!(f.clients, 10);
        assert_eq!(f.malicious.len(), 3);
        assert_eq!(f.sizes.iter().sum::<usize>(), r.n_train);
        assert_eq!(f.poisoned.iter().sum::<usize>(), r.n_poison);
        assert!(r.n_poison > 0, "malicious clients flipped their 1s");
        let rounds = r.rounds.as_ref().unwrap();
        assert_eq!(rounds.len(), 4);
        assert!(
            rounds
                .iter()
                .all(|x| x.malicious.is_some() && x.source_recall.is_some())
        );
        assert!(r.poisoned.source_recall.is_some() && r.clean.source_recall.is_some());
        assert_eq!(
            r.defenses.len(),
            6,
            "four aggregators and the two references"
        );
        for d in &r.defenses {
            assert_eq!(d.kind, AGGREGATOR);
            assert!(d.error.is_none(), "{}: {:?}", d.name, d.error);
            assert_eq!(d.rounds.as_ref().unwrap().len(), 4, "{}", d.name);
            assert!(d.retrained.as_ref().unwrap().ca.is_some());
        }
        // Krum leaves every update but one out: client-level detection.
        let krum = r.defenses.iter().find(|d| d.name == "krum").unwrap();
        let det = krum.detection.as_ref().unwrap();
        assert_eq!(det.tp + det.fp, 4 * 4, "four of five left out each round");
        assert!(
            r.defenses
                .iter()
                .find(|d| d.name == "median")
                .unwrap()
                .detection
                .is_none()
        );
    }
    for key in [
        "\"poisoned.source-recall\"",
        "\"defense.krum.source-recall\"",
        "\"defense.median.round.4.ca\"",
        "\"round.2.malicious\"",
    ] {
        assert!(summary.contains(key), "{key} missing from summary.json");
    }
    let (threaded, summary3) = run_scenario(FLIP, 3);
    assert_eq!(without_seconds(records), without_seconds(threaded));
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("seconds"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&summary), strip(&summary3));
}

#[test]
fn no_attacker_means_the_undefended_federation_is_the_clean_one() {
    let text = FLIP.replace("malicious = 0.3", "malicious = 0.0");
    let (records, _) = run_scenario(&text, 2);
    for r in &records {
        assert_eq!(r.n_poison, 0);
        assert_eq!(r.clean, r.poisoned);
        assert!(r.federation.as_ref().unwrap().malicious.is_empty());
        for name in ["perfect", "random"] {
            let d = r.defenses.iter().find(|d| d.name == name).unwrap();
            assert_eq!(d.retrained.as_ref(), Some(&r.clean), "{name}");
        }
    }
}

#[test]
fn a_non_finite_update_is_rejected_with_its_round_and_client() {
    // Noise of std 1e39 overflows f32: every crafted update is refused, the
    // federations go on with the honest clients, no model turns NaN.
    let text = FLIP
        .replace(
            "[attack]\nkind = \"label-flip\"\nsource = 1\ntarget = 2\nrate = 1.0",
            "[attack]\nkind = \"gaussian\"\nstd = 1e39",
        )
        .replace("split = \"dirichlet\"", "split = \"iid\"")
        .replace("per-round = 5", "per-round = 8");
    let (records, _) = run_scenario(&text, 1);
    for r in &records {
        let f = r.federation.as_ref().unwrap();
        assert!(!f.rejected.is_empty(), "the noise was refused");
        for x in &f.rejected {
            assert!((1..=4).contains(&x.round));
            let client = x.client.expect("a client's update");
            assert!(f.malicious.contains(&client), "{x:?}");
        }
        assert!(f.rejected.iter().any(|x| x.federation == "poisoned"));
        assert!(f.rejected.iter().any(|x| x.federation == "krum"));
        assert!(r.poisoned.ca.is_some_and(f64::is_finite));
        for d in &r.defenses {
            assert!(d.error.is_none(), "{}: {:?}", d.name, d.error);
        }
    }
}

#[test]
fn a_scaled_backdoor_replaces_the_fedavg_model() {
    let text = r#"
[scenario]
name = "replacement"
seed = 3

[data]
source = "synthetic-digits"
train = 600
test = 200

[model]
kind = "logreg"

[training]
regime = "federated"

[federated]
clients = 6
per-round = 6
rounds = 3
learning-rate = 0.1
malicious = 0.2
attack-from-round = 3

[attack]
kind = "scaling"

[attack.backdoor]
kind = "badnets"
target = 0
rate = 0.5

[[defense]]
kind = "median"
"#;
    let (records, _) = run_scenario(text, 2);
    let r = &records[0];
    let rounds = r.rounds.as_ref().unwrap();
    assert_eq!(rounds[1].malicious, Some(0), "no attack before round 3");
    assert_eq!(rounds[2].malicious, Some(1));
    let asr = r.poisoned.asr.unwrap();
    let median = r.defenses[0].retrained.as_ref().unwrap().asr.unwrap();
    assert!(asr > 0.5, "model replacement plants the backdoor: {asr}");
    assert!(
        median < asr,
        "the median keeps most of it out: {median} vs {asr}"
    );
}
