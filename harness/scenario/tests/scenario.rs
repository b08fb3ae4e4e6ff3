//! Scenario files: every problem reported at once, with key and line.
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

use poisonlab_scenario::Scenario;

const GOOD: &str = r#"
[scenario]
name = "t"
seed = 3
repeats = 2

[data]
source = "blobs"
train = 100
test = 50
classes = 3

[model]
kind = "mlp"
hidden = [8]
epochs = 1

[attack]
kind = "label-flip"
source = 0
target = 2
rate = 0.1

[[defense]]
kind = "knn-label"
k = 5

[[defense]]
kind = "loss-filter"
name = "loss"

[sweep]
"attack.rate" = [0.1, 0.2]
"defense.knn-label.k" = [3, 5, 7]
"#;

fn problems(text: &str) -> Vec<(Option<usize>, String, String)> {
    Scenario::parse(text, "t.toml")
        .expect_err("scenario should be rejected")
        .list
        .into_iter()
        .map(|p| (p.line, p.key, p.message))
        .collect()
}

#[test]
fn a_good_scenario_expands_its_sweep() {
    let s = Scenario::parse(GOOD, "t.toml").unwrap();
    assert_eq!(s.points.len(), 6);
    assert_eq!(s.n_runs(), 12);
    // First key varies slowest.
    let rates: Vec<f64> = s
        .points
        .iter()
        .map(|p| p.attack.params_table()["rate"].as_float().unwrap())
        .collect();
    assert_eq!(rates, [0.1, 0.1, 0.1, 0.2, 0.2, 0.2]);
    let ks: Vec<usize> = s
        .points
        .iter()
        .map(|p| p.defenses[0].kind.params_table()["k"].as_integer().unwrap() as usize)
        .collect();
    assert_eq!(ks, [3, 5, 7, 3, 5, 7]);
    assert_eq!(s.points[0].defenses[1].name, "loss");
    // The resolved scenario parses back to the same plan.
    let again = Scenario::parse(&s.resolved_toml(), "resolved.toml").unwrap();
    assert_eq!(again.points, s.points);
    assert_eq!(again.resolved_toml(), s.resolved_toml());
}

#[test]
fn misspelled_key_bad_rate_and_bad_class_are_all_reported_with_lines() {
    let text = "[scenario]\nname = \"t\"\n\n[attack]\nkind = \"label-flip\"\nsource = 1\ntarget = 12\nrate = 1.5\nrat = 0.1\n";
    let got = problems(text);
    assert_eq!(got.len(), 3, "{got:?}");
    let find = |key: &str| {
        got.iter()
            .find(|p| p.1 == key)
            .unwrap_or_else(|| panic!("{key} missing from {got:?}"))
    };
    assert_eq!(find("attack.rat").0, Some(9));
    assert!(find("attack.rat").2.contains("unknown key"));
    assert_eq!(find("attack.rate").0, Some(8));
    assert!(find("attack.rate").2.contains("1.5"));
    assert_eq!(find("attack.target").0, Some(7));
    assert!(find("attack.target").2.contains("12"));
}

#[test]
fn problems_in_several_tables_are_collected() {
    let text = "[scenario]\nname = \"bad name!\"\nrepeats = 0\nextra = 1\n[model]\nepochs = 0\nkind = \"transformer\"\n[[defense]]\nkind = \"knn-label\"\nk = 0\n[[defense]]\nkind = \"nope\"\n[wat]\n";
    let keys: Vec<String> = problems(text).into_iter().map(|p| p.1).collect();
    for expected in [
        "scenario.extra",
        "model.kind",
        "defense[0].k",
        "defense[1].kind",
        "wat",
    ] {
        assert!(
            keys.contains(&expected.to_string()),
            "{expected} not in {keys:?}"
        );
    }
}

#[test]
fn checks_run_after_unknown_keys_are_dropped() {
    let text = "[scenario]\nname = \"t\"\nrepeats = 0\nbogus = 1\n";
    let keys: Vec<String> = problems(text).into_iter().map(|p| p.1).collect();
    assert_eq!(keys, ["scenario.bogus", "scenario.repeats"]);
}

#[test]
fn wrong_types_name_the_key() {
    let text = "[scenario]\nname = \"t\"\n[attack]\nkind = \"label-flip\"\nsource = 1\ntarget = 2\nrate = \"high\"\n";
    let got = problems(text);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0, got[0].1.as_str()), (Some(7), "attack.rate"));
}

#[test]
fn bad_sweep_values_point_at_the_sweep_line() {
    let text = "[scenario]\nname = \"t\"\n[attack]\nkind = \"label-flip\"\nsource = 1\ntarget = 2\n[sweep]\n\"attack.rate\" = [0.1, 1.5]\n\"data.train\" = [10]\n";
    let got = problems(text);
    assert!(
        got.iter()
            .any(|p| p.1 == "attack.rate" && p.0 == Some(8) && p.2.contains("sweep value 1.5")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|p| p.1 == "sweep.data.train" && p.0 == Some(9)),
        "{got:?}"
    );
}

#[test]
fn duplicate_defense_names_and_syntax_errors_are_reported() {
    let text = "[scenario]\nname = \"t\"\n[[defense]]\nkind = \"knn-label\"\n[[defense]]\nkind = \"knn-label\"\n";
    assert!(
        problems(text)
            .iter()
            .any(|p| p.1 == "defense[1].kind" && p.2.contains("taken"))
    );
    let got = problems("[scenario]\nname = \"t\"\nseed = = 3\n");
    assert_eq!(got[0].0, Some(3));
    assert_eq!(got[0].1, "(syntax)");
}

#[test]
fn cnn_on_tabular_data_and_trusted_beyond_train_are_rejected() {
    let text = "[scenario]\nname = \"t\"\n[data]\nsource = \"blobs\"\ntrain = 10\ntrusted = 10\n[model]\nkind = \"cnn\"\n";
    let keys: Vec<String> = problems(text).into_iter().map(|p| p.1).collect();
    assert_eq!(keys, ["data.trusted", "model.kind"]);
}

#[test]
fn nested_keys_can_be_swept() {
    let text = "[scenario]\nname = \"t\"\n[attack]\nkind = \"badnets\"\ntrigger = { shape = \"square\" }\n[sweep]\n\"attack.trigger.size\" = [2, 4]\n";
    let s = Scenario::parse(text, "t.toml").unwrap();
    let sizes: Vec<usize> = s
        .points
        .iter()
        .map(|p| {
            p.attack.params_table()["trigger"]["size"]
                .as_integer()
                .unwrap() as usize
        })
        .collect();
    assert_eq!(sizes, [2, 4]);
}

const HEAD: &str = "[scenario]\nname = \"t\"\n[data]\nsource = \"blobs\"\ntrain = 200\ntest = 50\nclasses = 3\ntrusted = 20\n";

#[test]
fn the_rounds_regime_is_read_with_its_defaults_and_checked() {
    let s = Scenario::parse(
        &format!("{HEAD}[training]\nregime = \"rounds\"\n"),
        "t.toml",
    )
    .unwrap();
    let p = s.points[0].training.rounds().unwrap();
    assert_eq!((p.rounds, p.epochs_per_round), (5, 2));
    assert!(
        s.resolved_toml()
            .contains("[training]\nregime = \"rounds\"\nrounds = 5\nepochs-per-round = 2\n")
    );
    // Central is the default, and it takes no keys.
    let s = Scenario::parse(HEAD, "t.toml").unwrap();
    assert_eq!(s.points[0].training.regime(), "central");
    let keys: Vec<String> = problems(&format!("{HEAD}[training]\nrounds = 3\n"))
        .into_iter()
        .map(|p| p.1)
        .collect();
    assert_eq!(keys, ["training.rounds"]);
    let found = problems(&format!(
        "{HEAD}[training]\nregime = \"rounds\"\nrounds = 1\nepochs-per-round = 0\n"
    ));
    let keys: Vec<&str> = found.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(keys, ["training.rounds", "training.epochs-per-round"]);
    let found = problems(&format!("{HEAD}[training]\nregime = \"federal\"\n"));
    assert_eq!(found[0].1, "training.regime");
    assert!(
        found[0]
            .2
            .contains("expected central, rounds, federated or transfer"),
        "{}",
        found[0].2
    );
}

#[test]
fn keys_that_moved_to_training_name_their_new_place() {
    let found = problems(&format!(
        "{HEAD}[attack]\nkind = \"drift\"\nsource = 0\ntarget = 1\nrounds = 4\nepochs-per-round = 3\n"
    ));
    let keys: Vec<&str> = found.iter().map(|p| p.1.as_str()).collect();
    assert!(
        keys.contains(&"attack.rounds") && keys.contains(&"attack.epochs-per-round"),
        "{keys:?}"
    );
    assert!(
        found.iter().all(|p| p.0.is_some()),
        "every problem has its line"
    );
    let moved = found.iter().find(|p| p.1 == "attack.rounds").unwrap();
    assert!(moved.2.contains("[training]"), "{}", moved.2);
}

#[test]
fn the_regime_decides_what_needs_rounds() {
    // A round-based attack and the round monitors need the rounds regime…
    let drift = "[attack]\nkind = \"drift\"\nsource = 0\ntarget = 1\n";
    let found = problems(&format!("{HEAD}{drift}[[defense]]\nkind = \"cusum\"\n"));
    let keys: Vec<&str> = found.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(keys, ["attack.kind", "defense[0].kind"]);
    assert!(found[0].2.contains("regime = \"rounds\""), "{}", found[0].2);
    // …and with it, they read; any other attack may train in rounds too.
    let rounds = "[training]\nregime = \"rounds\"\nrounds = 4\n";
    assert!(
        Scenario::parse(
            &format!("{HEAD}{rounds}{drift}[[defense]]\nkind = \"cusum\"\n"),
            "t.toml"
        )
        .is_ok()
    );
    let flip = "[attack]\nkind = \"label-flip\"\nsource = 0\ntarget = 1\nrate = 0.2\n";
    assert!(Scenario::parse(&format!("{HEAD}{rounds}{flip}"), "t.toml").is_ok());
    // A step schedule's round must lie within the regime's rounds.
    let found = problems(&format!(
        "{HEAD}{rounds}[attack]\nkind = \"drift\"\nsource = 0\ntarget = 1\nschedule = \"step\"\nstep-at = 6\n"
    ));
    assert_eq!(found[0].1, "attack.step-at");
    // training.* can be swept.
    let s = Scenario::parse(
        &format!("{HEAD}{rounds}{flip}[sweep]\n\"training.rounds\" = [2, 3]\n"),
        "t.toml",
    )
    .unwrap();
    let swept: Vec<usize> = s
        .points
        .iter()
        .map(|p| p.training.rounds().unwrap().rounds)
        .collect();
    assert_eq!(swept, [2, 3]);
}

#[test]
fn unknown_kinds_list_the_table() {
    let found = problems(&format!("{HEAD}[attack]\nkind = \"badnet\"\n"));
    assert_eq!(found[0].1, "attack.kind");
    for e in poisonlab_scenario::kinds::ATTACKS {
        assert!(found[0].2.contains(e.name), "{}", found[0].2);
    }
    let found = problems(&format!("{HEAD}[[defense]]\nkind = \"sstrip\"\n"));
    for e in poisonlab_scenario::kinds::DEFENSES {
        assert!(found[0].2.contains(e.name), "{}", found[0].2);
    }
}

#[test]
fn what_a_kind_needs_is_checked_at_every_sweep_point() {
    let text = format!(
        "{HEAD}[training]\nregime = \"rounds\"\n[attack]\nkind = \"drift\"\nsource = 0\ntarget = 1\n[sweep]\n\"training.regime\" = [\"rounds\", \"central\"]\n"
    );
    let found = problems(&text);
    assert_eq!(found[0].1, "attack.kind", "{found:?}");
}

const FEDERATED: &str = r#"
[scenario]
name = "fed"

[data]
source = "synthetic-digits"
train = 500
test = 100

[model]
kind = "logreg"

[training]
regime = "federated"

[federated]
clients = 10
per-round = 5

[attack]
kind = "label-flip"
source = 4
target = 6

[[defense]]
kind = "krum"
f = 1
"#;

/// The problems of FEDERATED with `from` replaced by `to`, as "key: message".
fn federated_problems(from: &str, to: &str) -> Vec<String> {
    assert!(FEDERATED.contains(from), "{from}");
    problems(&FEDERATED.replace(from, to))
        .into_iter()
        .map(|(_, key, message)| format!("{key}: {message}"))
        .collect()
}

#[test]
fn a_federated_scenario_reads_and_resolves() {
    let s = Scenario::parse(FEDERATED, "f.toml").unwrap();
    let p = s.points[0].training.federated().unwrap();
    assert_eq!((p.clients, p.per_round, p.rounds), (10, 5, 50));
    let resolved = s.resolved_toml();
    assert!(resolved.contains("[federated]"), "{resolved}");
    assert!(resolved.contains("regime = \"federated\""), "{resolved}");
    // The resolved file reads back to the same scenario.
    let again = Scenario::parse(&resolved, "r.toml").unwrap();
    assert_eq!(again.points, s.points);
}

#[test]
fn federated_bad_input_names_the_key_and_the_bound() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "per-round = 5",
            "per-round = 11",
            "federated.per-round: must be at most clients = 10, got 11",
        ),
        (
            "per-round = 5",
            "per-round = 5\nalpha = 0.0",
            "federated.alpha: must be a positive number",
        ),
        (
            "per-round = 5",
            "per-round = 5\nmalicious = 1.0",
            "federated.malicious: must be a share in [0, 1), got 1",
        ),
        (
            "f = 1",
            "f = 2",
            "defense[0].f: krum needs per-round > 2f + 2: with per-round = 5, f must be at most 1, got 2",
        ),
        (
            "kind = \"krum\"\nf = 1",
            "kind = \"bulyan\"\nf = 1",
            "defense[0].f: bulyan needs per-round ≥ 4f + 3",
        ),
        (
            "kind = \"krum\"\nf = 1",
            "kind = \"fltrust\"",
            "defense[0].kind: fltrust needs trusted clean samples",
        ),
        (
            "kind = \"krum\"\nf = 1",
            "kind = \"loss-filter\"",
            "defense[0].kind: loss-filter is not a defense of the federated regime yet",
        ),
        (
            "regime = \"federated\"",
            "regime = \"federated\"\nrounds = 3",
            "training.rounds: unknown",
        ),
    ];
    for (from, to, expected) in cases {
        let found = federated_problems(from, to);
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "{to:?}: expected {expected:?}, got {found:?}"
        );
    }
}

#[test]
fn federated_kinds_stay_in_the_federated_regime() {
    let central = FEDERATED
        .replace("regime = \"federated\"", "regime = \"central\"")
        .replace("[federated]\nclients = 10\nper-round = 5\n", "");
    let found: Vec<String> = problems(&central)
        .into_iter()
        .map(|(_, k, m)| format!("{k}: {m}"))
        .collect();
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("defense[0].kind: krum aggregates federated clients' updates")),
        "{found:?}"
    );
    let central_sign_flip = central.replace(
        "kind = \"label-flip\"\nsource = 4\ntarget = 6",
        "kind = \"sign-flip\"",
    );
    let found: Vec<String> = problems(&central_sign_flip)
        .into_iter()
        .map(|(_, k, m)| format!("{k}: {m}"))
        .collect();
    assert!(
        found
            .iter()
            .any(|p| p
                .starts_with("attack.kind: sign-flip poisons federated clients' model updates")),
        "{found:?}"
    );
    let stray = FEDERATED.replace("regime = \"federated\"", "regime = \"central\"");
    let found: Vec<String> = problems(&stray)
        .into_iter()
        .map(|(_, k, m)| format!("{k}: {m}"))
        .collect();
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("federated: applies to [training] regime = \"federated\" only")),
        "{found:?}"
    );
}

#[test]
fn scaling_reads_its_backdoor_table() {
    let text = FEDERATED.replace(
        "kind = \"label-flip\"\nsource = 4\ntarget = 6",
        "kind = \"scaling\"\nfactor = 5.0\n\n[attack.backdoor]\nkind = \"blend\"",
    );
    let s = Scenario::parse(&text, "s.toml").unwrap();
    let attack = &s.points[0].attack;
    assert!(attack.update_attack().is_some());
    let t = attack.params_table();
    assert_eq!(t.get("factor").and_then(|v| v.as_float()), Some(5.0));
    let backdoor = t.get("backdoor").and_then(|v| v.as_table()).unwrap();
    assert_eq!(backdoor.get("kind").and_then(|v| v.as_str()), Some("blend"));
    let again = Scenario::parse(&s.resolved_toml(), "r.toml").unwrap();
    assert_eq!(again.points[0].attack, *attack);
    let bad = text.replace("kind = \"blend\"", "kind = \"alie\"");
    let found: Vec<String> = problems(&bad)
        .into_iter()
        .map(|(_, k, m)| format!("{k}: {m}"))
        .collect();
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("attack.backdoor.kind: must be an attack on the data")),
        "{found:?}"
    );
}

#[test]
fn an_expectation_can_name_the_sweep_points_it_holds_at() {
    let text = format!(
        "{FEDERATED}\n[sweep]\n\"federated.malicious\" = [0.0, 0.5]\n\n[expect]\n\"poisoned.ca\" = {{ min = 0.5, at = {{ \"federated.malicious\" = 0.5 }} }}\n"
    );
    let s = Scenario::parse(&text, "e.toml").unwrap();
    let e = &s.expect[0];
    assert_eq!(e.at.len(), 1);
    let at = |v: f64| move |k: &str| (k == "federated.malicious").then_some(toml::Value::Float(v));
    assert!(e.applies(at(0.5)));
    assert!(!e.applies(at(0.0)));
    let again = Scenario::parse(&s.resolved_toml(), "r.toml").unwrap();
    assert_eq!(again.expect, s.expect);
    for (bad, message) in [
        (
            "\"federated.malicious\" = 0.3",
            "at: federated.malicious = 0.3 is not one of the values [sweep] gives it",
        ),
        (
            "\"federated.clients\" = 3",
            "at: \"federated.clients\" is not a swept key",
        ),
    ] {
        let t = text.replace("\"federated.malicious\" = 0.5 }", &format!("{bad} }}"));
        let found: Vec<String> = problems(&t).into_iter().map(|p| p.2).collect();
        assert!(found.iter().any(|m| m.starts_with(message)), "{found:?}");
    }
}

const TRANSFER: &str = r#"
[scenario]
name = "tr"

[data]
source = "synthetic-digits"
train = 500
test = 100

[model]
kind = "mlp"

[training]
regime = "transfer"
pretrain = "classes"
pretrain-classes = [0, 1, 2, 3, 4]
fine-tune = "full"
poison = "fine-tune"

[attack]
kind = "feature-collision"
target-class = 5
base-class = 6
"#;

#[test]
fn the_transfer_regime_is_read_checked_and_resolved() {
    let s = Scenario::parse(TRANSFER, "t.toml").unwrap();
    let t = s.points[0].training.transfer().unwrap();
    assert_eq!((t.pretrain_epochs, t.fine_tune_epochs), (5, 5));
    let again = Scenario::parse(&s.resolved_toml(), "r.toml").unwrap();
    assert_eq!(again.points, s.points);
    for (from, to, expected) in [
        (
            "pretrain-classes = [0, 1, 2, 3, 4]",
            "pretrain-classes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
            "training.pretrain-classes: lists every class of the 10",
        ),
        (
            "pretrain-classes = [0, 1, 2, 3, 4]",
            "pretrain-classes = [0, 12]",
            "training.pretrain-classes: ",
        ),
        (
            "pretrain-classes = [0, 1, 2, 3, 4]",
            "",
            "training.pretrain-classes: is required with pretrain = \"classes\"",
        ),
        (
            "fine-tune = \"full\"",
            "fine-tune = \"all\"",
            "training.fine-tune: ",
        ),
        (
            "poison = \"fine-tune\"",
            "poison = \"fine-tune\"\nfine-tune-epochs = 0",
            "training.fine-tune-epochs: must be at least 1, got 0",
        ),
    ] {
        let found: Vec<String> = problems(&TRANSFER.replace(from, to))
            .into_iter()
            .map(|(_, k, m)| format!("{k}: {m}"))
            .collect();
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "{to:?}: {found:?}"
        );
    }
}

const ATTACK_GRID: &str = r#"
[scenario]
name = "grid"
[data]
source = "synthetic-digits"
train = 200
test = 50
[sweep]
attack = [
  { name = "a2o", kind = "badnets", rate = 0.1 },
  { name = "a2a", kind = "badnets", all-to-all = true },
  { name = "wanet", kind = "wanet", cross-ratio = 0 },
]
"defense.knn-label.k" = [5, 10]
[[defense]]
kind = "knn-label"
[expect]
"poisoned.asr" = { min = 0.5, at = { attack = "a2a" } }
"#;

#[test]
fn a_sweep_over_whole_attacks_names_its_points() {
    let s = Scenario::parse(ATTACK_GRID, "t.toml").unwrap();
    assert_eq!(s.points.len(), 6);
    let kinds: Vec<&str> = s.points.iter().map(|p| p.attack.kind()).collect();
    assert_eq!(
        kinds,
        ["badnets", "badnets", "badnets", "badnets", "wanet", "wanet"]
    );
    assert_eq!(
        s.points[2].assignments[0],
        ("attack".to_string(), toml::Value::String("a2a".into()))
    );
    assert_eq!(
        s.points[2].attack.params_table()["all-to-all"].as_bool(),
        Some(true)
    );
    // The first attack's rate, the second's default: nothing leaks between them.
    assert_eq!(
        s.points[0].attack.params_table()["rate"].as_float(),
        Some(0.1)
    );
    assert_eq!(
        s.points[2].attack.params_table()["rate"].as_float(),
        Some(0.05)
    );
    assert_eq!(s.expect[0].at[0].1, toml::Value::String("a2a".into()));
    // The resolved scenario parses back to the same plan.
    let again = Scenario::parse(&s.resolved_toml(), "resolved.toml").unwrap();
    assert_eq!(again.points, s.points);
}

#[test]
fn a_sweep_over_whole_attacks_is_checked() {
    let with =
        |sweep: &str, extra: &str| format!("[scenario]\nname = \"t\"\n{extra}\n[sweep]\n{sweep}\n");
    let cases = [
        (
            with("attack = [{ kind = \"badnets\" }]", ""),
            "needs a non-empty string `name`",
        ),
        (
            with(
                "attack = [{ name = \"x\", kind = \"badnets\" }, { name = \"x\", kind = \"blend\" }]",
                "",
            ),
            "two attacks are named \"x\"",
        ),
        (with("attack = [1]", ""), "is not a table"),
        (with("attack = []", ""), "non-empty array"),
        (
            with(
                "attack = [{ name = \"x\", kind = \"badnets\" }]",
                "[attack]\nkind = \"badnets\"",
            ),
            "takes no [attack] table",
        ),
        (
            with(
                "attack = [{ name = \"x\", kind = \"badnets\" }]\n\"attack.rate\" = [0.1]",
                "",
            ),
            "cannot be swept beside it",
        ),
    ];
    for (text, want) in cases {
        let got = problems(&text);
        assert!(
            got.iter()
                .any(|p| p.1 == "sweep.attack" && p.2.contains(want)),
            "{want}: {got:?}"
        );
    }
    // A bad key inside one attack points at the [sweep] line and names the value.
    let got = problems(&with(
        "attack = [{ name = \"x\", kind = \"badnets\", rat = 0.1 }]",
        "",
    ));
    assert!(
        got.iter()
            .any(|p| p.0 == Some(5) && p.2.contains("rat") && p.2.contains("sweep value \"x\"")),
        "{got:?}"
    );
}

#[test]
fn a_sweep_over_the_attack_kind_reads_back_from_its_resolved_file() {
    let text = "[scenario]\nname = \"k\"\n\n[attack]\nkind = \"badnets\"\ntarget = 0\nrate = 0.1\n\n\
                [sweep]\n\"attack.kind\" = [\"badnets\", \"blend\"]\n";
    let s = Scenario::parse(text, "k.toml").unwrap();
    let again = Scenario::parse(&s.resolved_toml(), "resolved.toml").unwrap();
    assert_eq!(again.points, s.points);
    // Badnets' own keys (the trigger) are not written for blend to reject.
    assert!(
        !s.resolved_toml().contains("trigger"),
        "{}",
        s.resolved_toml()
    );
}

#[test]
fn report_roc_points_name_values_of_the_first_swept_key() {
    let base = "[scenario]\nname = \"r\"\n\n[attack]\nkind = \"badnets\"\n\n";
    let ok =
        format!("{base}[report]\nroc-points = [0.1]\n\n[sweep]\n\"attack.rate\" = [0.05, 0.1]\n");
    let s = Scenario::parse(&ok, "r.toml").unwrap();
    assert_eq!(s.report.roc_points, [toml::Value::Float(0.1)]);
    assert_eq!(s.report.large_sweep, 12);
    // It survives the resolved file.
    let again = Scenario::parse(&s.resolved_toml(), "resolved.toml").unwrap();
    assert_eq!(again.report, s.report);
    let bad =
        format!("{base}[report]\nroc-points = [0.3]\n\n[sweep]\n\"attack.rate\" = [0.05, 0.1]\n");
    let got = problems(&bad);
    assert!(
        got.iter().any(|p| p.1 == "report.roc-points"
            && p.2
                .contains("0.3 is not one of the values [sweep] gives attack.rate")),
        "{got:?}"
    );
    let no_sweep = format!("{base}[report]\nroc-points = [0.3]\n");
    assert!(
        problems(&no_sweep)
            .iter()
            .any(|p| p.2.contains("there is no [sweep]"))
    );
    let zero = format!("{base}[report]\nlarge-sweep = 0\n");
    assert!(problems(&zero).iter().any(|p| p.1 == "report.large-sweep"));
    let typo = format!("{base}[report]\nroc-point = [0.3]\n");
    assert!(
        problems(&typo)
            .iter()
            .any(|p| p.1 == "report.roc-point" && p.2.contains("unknown key"))
    );
}

#[test]
fn one_metric_can_be_bounded_per_point() {
    let text = ATTACK_GRID.replace(
        "\"poisoned.asr\" = { min = 0.5, at = { attack = \"a2a\" } }",
        "\"poisoned.asr\" = [{ min = 0.5, at = { attack = \"a2a\" } }, { max = 0.2, at = { attack = \"wanet\" } }]",
    );
    let s = Scenario::parse(&text, "t.toml").unwrap();
    assert_eq!(s.expect.len(), 2);
    assert_eq!((s.expect[0].min, s.expect[1].max), (Some(0.5), Some(0.2)));
    assert_eq!(s.expect[1].at[0].1, toml::Value::String("wanet".into()));
    let again = Scenario::parse(&s.resolved_toml(), "resolved.toml").unwrap();
    assert_eq!(again.expect, s.expect);
    let bad = ATTACK_GRID.replace(
        "\"poisoned.asr\" = { min = 0.5, at = { attack = \"a2a\" } }",
        "\"poisoned.asr\" = [{ min = 0.5 }, 3]",
    );
    let got = problems(&bad);
    assert!(
        got.iter()
            .any(|p| p.1 == "expect.poisoned.asr" && p.2.contains("array of such tables")),
        "{got:?}"
    );
}
