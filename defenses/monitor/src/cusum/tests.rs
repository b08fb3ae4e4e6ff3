use poisonlab_core::testing::StubClassifier;
use poisonlab_core::{Classifier, Dataset, Matrix};

use super::*;
use crate::{Statistics, summarize};

/// SplitMix64: a small seeded generator, enough for test data.
struct Rand(u64);

impl Rand {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn gauss(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A class drawn with probabilities `shares`.
    fn class(&mut self, shares: &[f64]) -> usize {
        let mut u = self.uniform() * shares.iter().sum::<f64>();
        for (c, &s) in shares.iter().enumerate() {
            if u < s {
                return c;
            }
            u -= s;
        }
        shares.len() - 1
    }
}

/// Class centres in 4-D, 3 apart, unit noise per coordinate.
const DIM: usize = 4;

fn centre(class: usize) -> [f64; DIM] {
    let mut c = [0.0; DIM];
    c[class % DIM] = 3.0;
    c
}

/// A batch whose samples come from the classes `origin[i]` (features) and
/// carry the labels `labels[i]`; `shift` is added to the centre of the
/// origin class.
fn batch_of(
    rng: &mut Rand,
    origin: &[usize],
    labels: Vec<usize>,
    k: usize,
    shift: &dyn Fn(usize) -> [f64; DIM],
) -> Dataset {
    let mut features = Vec::with_capacity(origin.len() * DIM);
    for &o in origin {
        let (c, s) = (centre(o), shift(o));
        features.extend((0..DIM).map(|j| (c[j] + s[j] + rng.gauss()) as f32));
    }
    Dataset::new(features, vec![DIM], labels, k, None).unwrap()
}

/// `n` samples with classes drawn from `shares`, labelled with their class.
fn random_batch(rng: &mut Rand, shares: &[f64], n: usize) -> Dataset {
    let labels: Vec<usize> = (0..n).map(|_| rng.class(shares)).collect();
    batch_of(rng, &labels.clone(), labels, shares.len(), &|_| [0.0; DIM])
}

/// Exactly `counts[c]` samples of each class `c`.
fn counted_batch(rng: &mut Rand, counts: &[usize]) -> Dataset {
    let labels: Vec<usize> = counts
        .iter()
        .enumerate()
        .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
        .collect();
    batch_of(rng, &labels.clone(), labels, counts.len(), &|_| [0.0; DIM])
}

/// Feed `batches` as rounds 1, 2, … with identity embeddings.
fn run(cusum: &mut Cusum, batches: &[Dataset]) -> Vec<RoundCheck> {
    batches
        .iter()
        .enumerate()
        .map(|(r, b)| observe(cusum, r + 1, b).unwrap())
        .collect()
}

fn observe(cusum: &mut Cusum, round: usize, batch: &Dataset) -> Result<RoundCheck, MonitorError> {
    let model = StubClassifier::uniform(batch.n_classes());
    cusum.observe(RoundView {
        round,
        batch,
        model: &model,
        reference: &model,
        audit: None,
        streams: poisonlab_core::Streams { seed: 0, repeat: 0 },
    })
}

fn with(statistics: Statistics) -> Cusum {
    Cusum::new(CusumParams {
        statistics,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn one_round_matches_the_hand_computed_sum() {
    // Reference 50/50, batch 30/10: χ² = 140 · 1000² / (40·100·80·60) on 1
    // dof; slack = k + guard · 40/140.
    let mut rng = Rand(1);
    let mut cusum = with(Statistics::Shares);
    let checks = run(
        &mut cusum,
        &[
            counted_batch(&mut rng, &[50, 50]),
            counted_batch(&mut rng, &[30, 10]),
        ],
    );
    let z = wilson_hilferty(140.0 * 1e6 / 19_200_000.0, 1.0);
    let expected = (z - 0.5 - 2.0 * 40.0 / 140.0).max(0.0);
    assert_eq!(checks[0].statistic, 0.0);
    assert!((checks[1].statistic - expected).abs() < 1e-12);
    assert!(checks[1].statistic > 0.0);
    assert_eq!(cusum.scores().0, Some(z));
    assert_eq!(cusum.scores().1, None);
    assert_eq!(cusum.sums(), (checks[1].statistic, 0.0));
    assert!(checks.iter().all(|c| c.threshold == 5.0 && !c.alarm));

    // guard = 0 is Page's plain CUSUM.
    let mut plain = Cusum::new(CusumParams {
        statistics: Statistics::Shares,
        guard: 0.0,
        ..Default::default()
    })
    .unwrap();
    let checks = run(
        &mut plain,
        &[
            counted_batch(&mut rng, &[50, 50]),
            counted_batch(&mut rng, &[30, 10]),
        ],
    );
    assert!((checks[1].statistic - (z - 0.5)).abs() < 1e-12);
}

#[test]
fn stationary_rounds_raise_no_alarm() {
    // 20 runs of 30 rounds of 300 samples from one distribution. Comparing
    // every round with the same reference sample correlates the scores: on
    // 300 such runs, 94 alarmed with guard = 0 and 1 with the default guard.
    let shares = [0.5, 0.3, 0.2];
    let mut alarmed = 0;
    for seed in 0..20 {
        let mut rng = Rand(1000 + seed);
        let batches: Vec<Dataset> = (0..30)
            .map(|_| random_batch(&mut rng, &shares, 300))
            .collect();
        let checks = run(&mut with(Statistics::Both), &batches);
        assert!(checks.iter().all(|c| c.statistic.is_finite()));
        alarmed += usize::from(summarize(&checks).0.is_some());
    }
    assert!(alarmed <= 1, "{alarmed} of 20 stationary runs alarmed");
}

#[test]
fn stationary_scores_are_standard_normal() {
    // Over many stationary rounds with large references (little shared
    // error), both scores have mean about 0 and variance about 1.
    let shares = [0.4, 0.3, 0.2, 0.1];
    let mut rng = Rand(7);
    let mut zs = (Vec::new(), Vec::new());
    let mut cusum = with(Statistics::Both);
    // Round 1 is the shares reference, round 2 the means reference.
    observe(&mut cusum, 1, &random_batch(&mut rng, &shares, 20_000)).unwrap();
    observe(&mut cusum, 2, &random_batch(&mut rng, &shares, 20_000)).unwrap();
    assert_eq!(cusum.scores().1, None);
    for r in 3..=400 {
        observe(&mut cusum, r, &random_batch(&mut rng, &shares, 400)).unwrap();
        let (s, m) = cusum.scores();
        zs.0.push(s.unwrap());
        zs.1.push(m.unwrap());
    }
    for (name, z) in [("shares", &zs.0), ("means", &zs.1)] {
        let n = z.len() as f64;
        let mean = z.iter().sum::<f64>() / n;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        assert!(mean.abs() < 0.2, "{name}: mean {mean}");
        assert!((var - 1.0).abs() < 0.3, "{name}: variance {var}");
    }
}

/// Rounds of `n` where a share `rate(r)` of class 0's samples arrive
/// relabelled as class 1 (source 0 drifts to target 1), round 1 clean.
fn relabel_drift(rng: &mut Rand, n: usize, rate: &dyn Fn(usize) -> f64) -> Vec<Dataset> {
    let shares = [0.4, 0.3, 0.3];
    (1..=30)
        .map(|r| {
            let origin: Vec<usize> = (0..n).map(|_| rng.class(&shares)).collect();
            let labels = origin
                .iter()
                .map(|&o| {
                    if o == 0 && rng.uniform() < rate(r) {
                        1
                    } else {
                        o
                    }
                })
                .collect();
            batch_of(rng, &origin, labels, 3, &|_| [0.0; DIM])
        })
        .collect()
}

#[test]
fn alarms_within_a_few_rounds_of_a_steady_share_drift() {
    // Each round 5 % more of the source class (share 0.4) is relabelled:
    // its share falls 2 points a round.
    for seed in 0..5 {
        for statistics in [Statistics::Shares, Statistics::Both] {
            let mut rng = Rand(200 + seed);
            let batches = relabel_drift(&mut rng, 2000, &|r| 0.05 * (r - 1) as f64);
            let checks = run(&mut with(statistics), &batches);
            let (first, _) = summarize(&checks);
            let first = first.unwrap();
            assert!(
                (3..=7).contains(&first),
                "{statistics:?}: first alarm {first}"
            );
            // Once alarmed it stays alarmed while the drift goes on.
            assert!(checks[first - 1..].iter().all(|c| c.alarm));
        }
    }
}

#[test]
fn the_means_score_sees_relabelled_samples_the_shares_do_not() {
    // Relabel 10 % more of class 0 as class 1 each round, and keep the
    // shares fixed by relabelling as many of class 1 as class 0: only the
    // class means move.
    let mut rng = Rand(31);
    let shares = [0.4, 0.4, 0.2];
    let n = 500;
    let batches: Vec<Dataset> = (1..=20)
        .map(|r| {
            let origin: Vec<usize> = (0..n).map(|_| rng.class(&shares)).collect();
            let rate = 0.1 * (r - 1) as f64;
            let labels = origin
                .iter()
                .map(|&o| match o {
                    0 | 1 if rng.uniform() < rate => 1 - o,
                    _ => o,
                })
                .collect();
            batch_of(&mut rng, &origin, labels, 3, &|_| [0.0; DIM])
        })
        .collect();
    let shares_only = run(&mut with(Statistics::Shares), &batches);
    let means_only = run(&mut with(Statistics::Means), &batches);
    assert_eq!(summarize(&shares_only).0, None);
    let first = summarize(&means_only).0.unwrap();
    assert!((3..=5).contains(&first), "first alarm {first}");
}

#[test]
fn alarms_within_a_few_rounds_of_a_steady_mean_shift() {
    // Class 0's centre moves 0.15 noise standard deviations a round along
    // one axis; the shares stay put.
    for seed in 0..5 {
        let mut rng = Rand(300 + seed);
        let shares = [0.4, 0.3, 0.3];
        let batches: Vec<Dataset> = (1..=30)
            .map(|r| {
                let labels: Vec<usize> = (0..300).map(|_| rng.class(&shares)).collect();
                let step = 0.15 * (r - 1) as f64;
                let shift = move |c: usize| {
                    let mut s = [0.0; DIM];
                    if c == 0 {
                        s[1] = step;
                    }
                    s
                };
                batch_of(&mut rng, &labels.clone(), labels, 3, &shift)
            })
            .collect();
        let means = run(&mut with(Statistics::Means), &batches);
        let first = summarize(&means).0.unwrap();
        assert!((4..=9).contains(&first), "first alarm {first}");
        let both = run(&mut with(Statistics::Both), &batches);
        assert!(summarize(&both).0.unwrap() <= first);
        assert_eq!(
            summarize(&run(&mut with(Statistics::Shares), &batches)).0,
            None
        );
    }
}

#[test]
fn alarms_on_slow_drift_that_a_previous_round_comparison_never_sees() {
    // Exact counts: class 0 loses 8 of 1000 samples a round to class 1.
    let mut rng = Rand(5);
    let batches: Vec<Dataset> = (0..30)
        .map(|t| counted_batch(&mut rng, &[500 - 8 * t, 500 + 8 * t]))
        .collect();
    let fixed = run(&mut with(Statistics::Shares), &batches);
    let first = summarize(&fixed).0.unwrap();
    assert!((6..=12).contains(&first), "first alarm {first}");

    // The same CUSUM fed each round's score against the round before it.
    let params = CusumParams::default();
    let slack = params.k + params.guard * 0.5;
    let mut sum: f64 = 0.0;
    for pair in batches.windows(2) {
        let mut pairwise = with(Statistics::Shares);
        run(&mut pairwise, pair);
        let z = pairwise.scores().0.unwrap();
        assert!(z < params.k, "round-to-round score {z}");
        sum = (sum + z - slack).max(0.0);
        assert_eq!(sum, 0.0);
    }
}

#[test]
fn the_means_reference_is_the_first_batch_after_round_1() {
    // The round-1 model trained on round 1's batch and embeds it unlike
    // unseen samples, so round 1 is never the means reference: here its
    // batch lies far away, and nothing alarms.
    let mut rng = Rand(37);
    let mut round1 = counted_batch(&mut rng, &[100, 100]);
    round1.features_mut().iter_mut().for_each(|x| *x += 50.0);
    let mut cusum = with(Statistics::Means);
    observe(&mut cusum, 1, &round1).unwrap();
    assert_eq!(cusum.scores(), (None, None));
    observe(&mut cusum, 2, &counted_batch(&mut rng, &[100, 100])).unwrap();
    assert_eq!(cusum.scores(), (None, None));
    for r in 3..=10 {
        let c = observe(&mut cusum, r, &counted_batch(&mut rng, &[100, 100])).unwrap();
        assert!(!c.alarm);
        assert!(cusum.scores().1.is_some());
    }
    // The shares compare with round 1 from round 2 on.
    let mut both = with(Statistics::Both);
    observe(&mut both, 1, &round1).unwrap();
    observe(&mut both, 2, &counted_batch(&mut rng, &[100, 100])).unwrap();
    assert!(both.scores().0.is_some() && both.scores().1.is_none());
}

#[test]
fn an_empty_round_measures_nothing() {
    let mut rng = Rand(9);
    let empty = Dataset::new(vec![], vec![DIM], vec![], 2, None).unwrap();
    let mut cusum = with(Statistics::Both);
    // An empty first round defers the reference to the next batch.
    let c = observe(&mut cusum, 1, &empty).unwrap();
    assert_eq!((c.statistic, c.alarm), (0.0, false));
    observe(&mut cusum, 2, &counted_batch(&mut rng, &[100, 100])).unwrap();
    assert_eq!(cusum.scores(), (None, None));
    let mut last = 0.0;
    for (r, t) in (3..).zip(1..8) {
        last = observe(
            &mut cusum,
            r,
            &counted_batch(&mut rng, &[100 - 12 * t, 100 + 12 * t]),
        )
        .unwrap()
        .statistic;
    }
    assert!(last > 5.0, "{last}");
    assert!(cusum.sums().0 > 5.0);
    let c = observe(&mut cusum, 10, &empty).unwrap();
    assert_eq!((c.round, c.statistic, c.alarm), (10, last, false));
    assert_eq!(cusum.scores(), (None, None));
}

#[test]
fn classes_too_small_for_moments_are_skipped() {
    // Class 2 has one sample in the means reference (round 2): no moments,
    // so its samples in later rounds, wherever they lie, do not move the
    // means score.
    let mut rng = Rand(13);
    let mut cusum = with(Statistics::Means);
    observe(&mut cusum, 1, &counted_batch(&mut rng, &[200, 200, 50])).unwrap();
    observe(&mut cusum, 2, &counted_batch(&mut rng, &[200, 200, 1])).unwrap();
    let mut far = counted_batch(&mut rng, &[200, 200, 50]);
    for i in 400..450 {
        far.sample_mut(i).iter_mut().for_each(|x| *x += 100.0);
    }
    let c = observe(&mut cusum, 3, &far).unwrap();
    assert!(!c.alarm);
    assert!(cusum.scores().1.unwrap() < 3.0);
}

#[test]
fn embeds_with_the_reference_model_only() {
    // The audited model's embedding is never used, even if it is garbage.
    let mut rng = Rand(17);
    let broken = Broken { rows: 1 };
    let reference = StubClassifier::uniform(2);
    let mut cusum = with(Statistics::Both);
    for round in 1..=3 {
        let batch = counted_batch(&mut rng, &[50, 50]);
        let view = RoundView {
            round,
            batch: &batch,
            model: &broken,
            reference: &reference,
            audit: None,
            streams: poisonlab_core::Streams { seed: 0, repeat: 0 },
        };
        assert!(!cusum.observe(view).unwrap().alarm);
    }
}

/// A model whose embedding always has `rows` rows of NaN.
struct Broken {
    rows: usize,
}

impl Classifier for Broken {
    fn n_classes(&self) -> usize {
        2
    }
    fn predict_proba(&self, data: &Dataset) -> Matrix {
        Matrix::new(data.len(), 2, vec![0.5; 2 * data.len()])
    }
    fn embed(&self, _: &Dataset) -> Matrix {
        Matrix::new(self.rows, 2, vec![f32::NAN; 2 * self.rows])
    }
    fn input_gradient(&self, data: &Dataset) -> Matrix {
        Matrix::new(data.len(), data.dim(), vec![0.0; data.len() * data.dim()])
    }
    fn feature_gradient(&self, data: &Dataset, _: &Matrix) -> Matrix {
        self.input_gradient(data)
    }
}

#[test]
fn rejects_non_finite_embeddings_and_keeps_its_state() {
    let mut rng = Rand(19);
    let mut bad = counted_batch(&mut rng, &[10, 10]);
    bad.sample_mut(13)[2] = f32::NAN;
    let mut cusum = with(Statistics::Both);
    // Round 1 is not embedded (see the_means_reference_is_the_first_batch_after_round_1).
    observe(&mut cusum, 1, &bad).unwrap();
    assert_eq!(
        observe(&mut cusum, 2, &bad),
        Err(MonitorError::NonFinite {
            round: 2,
            index: 13
        })
    );
    // Nothing was set: round 2 is still to come and its good batch becomes
    // the means reference.
    observe(&mut cusum, 2, &counted_batch(&mut rng, &[10, 10])).unwrap();
    assert_eq!(
        observe(&mut cusum, 3, &bad),
        Err(MonitorError::NonFinite {
            round: 3,
            index: 13
        })
    );
    assert_eq!(cusum.sums(), (0.0, 0.0));
    // The shares score needs no embedding.
    let mut shares = with(Statistics::Shares);
    observe(&mut shares, 1, &bad).unwrap();
    observe(&mut shares, 2, &bad).unwrap();
}

#[test]
fn rejects_bad_embedding_shapes() {
    let mut rng = Rand(23);
    let batch = counted_batch(&mut rng, &[5, 5]);
    let broken = Broken { rows: 3 };
    let mut cusum = with(Statistics::Means);
    observe(&mut cusum, 1, &batch).unwrap();
    let view = RoundView {
        round: 2,
        batch: &batch,
        model: &broken,
        reference: &broken,
        audit: None,
        streams: poisonlab_core::Streams { seed: 0, repeat: 0 },
    };
    assert_eq!(
        cusum.observe(view),
        Err(MonitorError::EmbeddingShape {
            rows: 3,
            cols: 2,
            values: 6,
            expected: 10
        })
    );
    // A reference embedding that changes width between rounds.
    observe(&mut cusum, 2, &batch).unwrap();
    let narrow = Dataset::new(vec![0.0; 30], vec![3], vec![0; 10], 2, None).unwrap();
    assert_eq!(
        observe(&mut cusum, 3, &narrow),
        Err(MonitorError::EmbeddingWidth {
            expected: DIM,
            got: 3
        })
    );
}

#[test]
fn rejects_rounds_out_of_order_and_other_class_counts() {
    let mut rng = Rand(29);
    let mut cusum = with(Statistics::Both);
    let batch = counted_batch(&mut rng, &[5, 5]);
    assert_eq!(
        observe(&mut cusum, 0, &batch),
        Err(MonitorError::RoundOrder {
            previous: 0,
            got: 0
        })
    );
    observe(&mut cusum, 1, &batch).unwrap();
    observe(&mut cusum, 3, &batch).unwrap();
    assert_eq!(
        observe(&mut cusum, 2, &batch),
        Err(MonitorError::RoundOrder {
            previous: 3,
            got: 2
        })
    );
    let three = counted_batch(&mut rng, &[5, 5, 5]);
    assert_eq!(
        observe(&mut cusum, 4, &three),
        Err(MonitorError::ClassCount {
            expected: 2,
            got: 3
        })
    );
}

#[test]
fn new_and_build_check_the_parameters() {
    let bad = CusumParams {
        k: -1.0,
        h: 0.0,
        guard: f64::NAN,
        ..Default::default()
    };
    let e = Cusum::new(bad.clone()).unwrap_err();
    let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["k", "h", "guard"]);
    let facts = poisonlab_core::DataFacts::default();
    let ctx = BuildContext::new(std::path::Path::new("."), &facts);
    assert_eq!(Cusum::build(bad, &ctx).unwrap_err(), e);
    let built = Cusum::build(CusumParams::default(), &ctx).unwrap();
    assert_eq!(Kind::params(&built), &CusumParams::default());
    assert_eq!(
        built.describe(),
        "cusum of the batches' class shares and class means against an early batch, k 0.5, h 5, guard 2, means calibrated on 200 permutations"
    );
    assert_eq!(
        with(Statistics::Shares).describe(),
        "cusum of the batches' class shares against an early batch, k 0.5, h 5, guard 2"
    );
}
