//! Behaviour every aggregator shares: the round checks, and the property
//! that any finite round gives a finite update of the right length.

use poisonlab_core::{Kind, UpdateAggregator, stream};
use proptest::prelude::*;

use crate::testing::{Round, ctx, rng, round};
use crate::*;

type Boxed = Box<dyn UpdateAggregator<Error = AggregationError>>;

/// Every kind, with f as large as a round of `n` allows (at least 0).
fn all(n: usize) -> Vec<(&'static str, Boxed)> {
    let c = ctx();
    let krum_f = n.saturating_sub(3) / 2;
    let bulyan_f = n.saturating_sub(3) / 4;
    vec![
        (
            "fedavg",
            Box::new(FedAvg::build(FedAvgParams {}, &c).unwrap()),
        ),
        (
            "median",
            Box::new(Median::build(MedianParams {}, &c).unwrap()),
        ),
        (
            "trimmed-mean",
            Box::new(TrimmedMean::build(TrimmedMeanParams::default(), &c).unwrap()),
        ),
        (
            "krum",
            Box::new(Krum::build(KrumParams { f: krum_f }, &c).unwrap()),
        ),
        (
            "multi-krum",
            Box::new(MultiKrum::build(MultiKrumParams { f: krum_f, m: None }, &c).unwrap()),
        ),
        (
            "bulyan",
            Box::new(Bulyan::build(BulyanParams { f: bulyan_f }, &c).unwrap()),
        ),
        (
            "norm-clipping",
            Box::new(NormClipping::build(NormClippingParams::default(), &c).unwrap()),
        ),
        (
            "norm-clipping with noise",
            Box::new(
                NormClipping::build(
                    NormClippingParams {
                        bound: Some(1.0),
                        noise: 1.0,
                    },
                    &c,
                )
                .unwrap(),
            ),
        ),
        (
            "fltrust",
            Box::new(FlTrust::build(FlTrustParams {}, &c).unwrap()),
        ),
        (
            "foolsgold",
            Box::new(FoolsGold::build(FoolsGoldParams::default(), &c).unwrap()),
        ),
        (
            "tolpegin-pca",
            Box::new(TolpeginPca::build(TolpeginPcaParams::default(), &c).unwrap()),
        ),
        (
            "tolpegin-pca class 0",
            Box::new(
                TolpeginPca::build(
                    TolpeginPcaParams {
                        class: Some(0),
                        ..TolpeginPcaParams::default()
                    },
                    &c,
                )
                .unwrap(),
            ),
        ),
    ]
}

/// `updates` as a round with a root update (the first update) for FLTrust.
fn rooted(updates: &[Vec<f32>]) -> Round {
    let mut r = round(updates);
    r.root = updates.first().cloned();
    r
}

#[test]
fn every_aggregator_rejects_no_updates() {
    for (name, mut a) in all(5) {
        let e = a.aggregate(rooted(&[]).view(), &mut rng()).unwrap_err();
        assert_eq!(e, AggregationError::NoUpdates, "{name}");
        assert_eq!(
            e.to_string(),
            "no updates to aggregate; at least one is needed"
        );
    }
}

#[test]
fn every_aggregator_rejects_updates_of_different_lengths() {
    let updates = vec![vec![1.0, 2.0], vec![1.0, 2.0], vec![1.0]];
    for (name, mut a) in all(3) {
        let e = a
            .aggregate(rooted(&updates).view(), &mut rng())
            .unwrap_err();
        assert_eq!(
            e,
            AggregationError::LengthMismatch {
                index: 2,
                len: 1,
                expected: 2
            },
            "{name}"
        );
        assert_eq!(
            e.to_string(),
            "update 2 has 1 values but update 0 has 2; all updates must have one length"
        );
    }
}

#[test]
fn every_aggregator_rejects_values_that_are_not_finite() {
    for (name, mut a) in all(3) {
        let updates = vec![vec![1.0, 2.0], vec![1.0, 2.0], vec![1.0, f32::INFINITY]];
        let e = a
            .aggregate(rooted(&updates).view(), &mut rng())
            .unwrap_err();
        let want = AggregationError::NonFinite {
            update: 2,
            coordinate: 1,
            value: f32::INFINITY,
        };
        assert_eq!(e, want, "{name}");
        assert_eq!(
            e.to_string(),
            "update 2 holds inf at coordinate 1; every value must be finite"
        );
        let updates = vec![vec![f32::NAN, 2.0], vec![1.0, 2.0], vec![1.0, 2.0]];
        let e = a
            .aggregate(rooted(&updates).view(), &mut rng())
            .unwrap_err();
        assert!(
            matches!(
                e,
                AggregationError::NonFinite {
                    update: 0,
                    coordinate: 0,
                    value
                } if value.is_nan()
            ),
            "{name}: {e}"
        );
    }
}

#[test]
fn every_aggregator_rejects_columns_without_one_entry_per_update() {
    let updates = vec![vec![1.0], vec![2.0], vec![3.0]];
    for (name, mut a) in all(3) {
        let mut r = rooted(&updates);
        r.clients.pop();
        let e = a.aggregate(r.view(), &mut rng()).unwrap_err();
        assert_eq!(
            e,
            AggregationError::ColumnLength {
                what: "client ids",
                got: 2,
                n: 3
            },
            "{name}"
        );
        let mut r = rooted(&updates);
        r.samples.push(1);
        let e = a.aggregate(r.view(), &mut rng()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the round has 4 sample counts for 3 updates; it needs one per update",
            "{name}"
        );
    }
}

#[test]
fn deterministic_aggregators_leave_the_rng_unused() {
    let updates: Vec<Vec<f32>> = (0..7)
        .map(|i| vec![i as f32, (i * i) as f32 / 3.0, -(i as f32)])
        .collect();
    // Two fresh copies of each: FoolsGold's second call would see a history.
    for (k, (name, mut a)) in all(7).into_iter().enumerate() {
        if name == "norm-clipping with noise" {
            continue;
        }
        let Some((_, mut b)) = all(7).into_iter().nth(k) else {
            panic!("{name} has no twin");
        };
        let x = a
            .aggregate(rooted(&updates).view(), &mut stream(1, 0, "a"))
            .unwrap();
        let y = b
            .aggregate(rooted(&updates).view(), &mut stream(2, 3, "b"))
            .unwrap();
        assert_eq!(x, y, "{name}");
    }
}

/// Finite f32 values of every magnitude, zero and subnormals included.
fn value() -> impl Strategy<Value = f32> {
    prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO
}

/// 1 to 11 updates of 1 to 4 values, with sample counts and a root update.
fn rounds() -> impl Strategy<Value = Round> {
    (1usize..12, 1usize..5).prop_flat_map(|(n, d)| {
        (
            proptest::collection::vec(proptest::collection::vec(value(), d), n),
            proptest::collection::vec(0usize..5, n),
            proptest::collection::vec(value(), d),
        )
            .prop_map(|(updates, samples, root)| {
                let mut r = round(&updates);
                r.samples = samples;
                r.root = Some(root);
                r
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_aggregator_gives_a_finite_update_of_the_right_length(r in rounds()) {
        let n = r.updates.len();
        let dim = r.updates[0].len();
        for (name, mut a) in all(n) {
            let got = a.aggregate(r.view(), &mut rng());
            let needs_three = matches!(name, "krum" | "multi-krum" | "bulyan");
            if needs_three && n < 3 {
                prop_assert!(got.is_err(), "{}", name);
                continue;
            }
            let got = got.map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
            prop_assert_eq!(got.update.len(), dim, "{}", name);
            prop_assert!(got.update.iter().all(|v| v.is_finite()), "{}: {:?}", name, got.update);
            if let Some(s) = &got.suspicion {
                prop_assert_eq!(s.len(), n, "{}", name);
                prop_assert!(s.iter().all(|v| v.is_finite()), "{}: {:?}", name, s);
            }
            if let Some(f) = &got.flagged {
                prop_assert_eq!(f.len(), n, "{}", name);
            }
        }
    }

    #[test]
    fn aggregators_of_identical_updates_return_that_update(
        update in proptest::collection::vec(value(), 1..6),
        n in 1usize..12,
    ) {
        let updates = vec![update.clone(); n];
        for (name, mut a) in all(n) {
            // Identical clients are FoolsGold's sybils: all get weight 0.
            // Noise moves the update; Krum's kinds need 3 updates.
            if name == "foolsgold" || name == "norm-clipping with noise"
                || (n < 3 && matches!(name, "krum" | "multi-krum" | "bulyan"))
            {
                continue;
            }
            let got = a.aggregate(rooted(&updates).view(), &mut rng()).unwrap();
            prop_assert_eq!(&got.update, &update, "{}", name);
        }
    }
}
