use poisonlab_core::{
    Attack, AttackInput, AttackTest, BuildContext, DataFacts, Dataset, Kind, ParamError, Poisoned,
    Rng, poison_count,
};
use rand::seq::index::sample;

use crate::{DriftError, DriftParams, Method, Schedule};

/// Gradual drift injection with checked parameters: "boiling frog"
/// poisoning of a model retrained round by round, after Kloft and Laskov
/// 2010, "Online Anomaly Detection under Adversarial Impact" (AISTATS), who
/// showed that an attacker who poisons each retraining round a little more
/// can move an online learner arbitrarily far without any single round
/// looking abnormal.
///
/// As an [`Attack`] it poisons every round of the run's [`RoundPlan`]
/// (`[training] regime = "rounds"`; [`Attack::needs_rounds`]):
/// round r's share of the training set gets [`Drift::poison_round`] with the
/// run's stream `attack:round{r}`.
///
/// [`RoundPlan`]: poisonlab_core::RoundPlan
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    params: DriftParams,
}

impl Drift {
    /// The attack for `params`, or every problem with them
    /// ([`DriftParams::check`] without a known class count; classes the data
    /// lacks are errors when poisoning).
    pub fn new(params: DriftParams) -> Result<Self, Vec<ParamError>> {
        params.check(None)?;
        Ok(Self { params })
    }

    /// The parameters.
    pub fn params(&self) -> &DriftParams {
        &self.params
    }

    /// [`DriftParams::check_rounds`]: whether the parameters fit a run of
    /// `rounds` training rounds (`step-at` must be one of them).
    pub fn check_rounds(&self, rounds: usize) -> Result<(), Vec<ParamError>> {
        self.params.check_rounds(rounds)
    }

    /// Poison round `round` (1-based) of a run of `rounds` rounds, given that
    /// round's fresh clean data. `target_mean` is the mean features of the
    /// target class in clean data the attacker has seen (used by
    /// `method = "shift"`). Poisons `round(rate(round) · |source samples|)`
    /// of the round's source-class samples (at least one when the rate is
    /// above zero).
    pub fn poison_round(
        &self,
        round: usize,
        rounds: usize,
        data: &Dataset,
        target_mean: &[f32],
        rng: &mut Rng,
    ) -> Result<Poisoned, DriftError> {
        let p = &self.params;
        if round == 0 || round > rounds {
            return Err(DriftError::Round { round, rounds });
        }
        if let (Schedule::Step, Some(step_at)) = (p.schedule, p.step_at)
            && (step_at == 0 || step_at > rounds)
        {
            return Err(DriftError::StepAt { step_at, rounds });
        }
        let k = data.n_classes();
        for class in [p.source, p.target] {
            if class >= k {
                return Err(DriftError::ClassOutOfRange { class, classes: k });
            }
        }
        let rate = p.rate(round, rounds);
        let eligible: Vec<usize> = (0..data.len())
            .filter(|&i| data.labels()[i] == p.source)
            .collect();
        let n = poison_count(rate, eligible.len());
        let mut out = data.clone();
        let mut is_poison = vec![false; data.len()];
        let mut picked: Vec<usize> = sample(rng, eligible.len(), n)
            .into_iter()
            .map(|j| eligible[j])
            .collect();
        picked.sort_unstable();
        let step = rate as f32;
        for i in picked {
            if p.method == Method::Shift {
                for (v, &m) in out.sample_mut(i).iter_mut().zip(target_mean) {
                    *v += step * (m - *v);
                }
            }
            out.set_label(i, p.target);
            is_poison[i] = true;
        }
        Ok(Poisoned {
            data: out,
            is_poison,
            attack_test: None,
        })
    }

    /// The test inputs that measure the drift: source-class test samples, wanted as the target.
    pub fn attack_test(&self, test: &Dataset) -> AttackTest {
        let idx: Vec<usize> = (0..test.len())
            .filter(|&i| test.labels()[i] == self.params.source)
            .collect();
        AttackTest {
            inputs: test.subset(&idx),
            targets: vec![self.params.target; idx.len()],
        }
    }
}

impl Attack for Drift {
    type Error = DriftError;

    /// Poison every round of `input.rounds`: round r (1-based) of `n` gets
    /// [`Drift::poison_round`]`(r, n, …)` on its samples, with the clean
    /// training set's target-class mean and the run's stream
    /// `attack:round{r}`, and the poisoned samples go back in place. Draws
    /// nothing from the attack's own stream: each round's choices come from its own stream.
    fn poison(&self, input: AttackInput<'_>, _rng: &mut Rng) -> Result<Poisoned, DriftError> {
        let plan = input.rounds.ok_or(DriftError::NoRounds)?;
        let train = input.train;
        let rounds = plan.ranges.len();
        for (r, range) in plan.ranges.iter().enumerate() {
            if !range.is_empty() && range.end > train.len() {
                return Err(DriftError::RoundOutOfData {
                    round: r + 1,
                    start: range.start,
                    end: range.end,
                    len: train.len(),
                });
            }
        }
        // The attacker knows the clean target-class mean (for method = "shift").
        let target_mean = class_mean(train, self.params.target);
        let mut data = train.clone();
        let mut is_poison = vec![false; train.len()];
        for (r, range) in plan.ranges.iter().enumerate() {
            let idx: Vec<usize> = range.clone().collect();
            let chunk = train.subset(&idx);
            let rng = &mut plan.streams.named(&format!("attack:round{}", r + 1));
            let round = self.poison_round(r + 1, rounds, &chunk, &target_mean, rng)?;
            for (k, &i) in idx.iter().enumerate() {
                data.sample_mut(i).copy_from_slice(round.data.sample(k));
                data.set_label(i, round.data.labels()[k]);
                is_poison[i] = round.is_poison[k];
            }
        }
        Ok(Poisoned {
            data,
            is_poison,
            attack_test: Some(self.attack_test(input.test)),
        })
    }

    fn needs_rounds(&self) -> bool {
        true
    }
}

impl Kind for Drift {
    type Params = DriftParams;

    fn build(params: DriftParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check(ctx.facts.n_classes)?;
        if let Some(rounds) = ctx.rounds {
            params.check_rounds(rounds)?;
        }
        Ok(Self { params })
    }

    fn params(&self) -> &DriftParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.params.check(facts.n_classes)
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "drift {} → {}, {:?} schedule to {} of each round's class-{} samples, {:?}",
            p.source, p.target, p.schedule, p.max_rate, p.source, p.method
        )
    }
}

/// Mean features of `class` in `data` (zeros when it has none).
pub fn class_mean(data: &Dataset, class: usize) -> Vec<f32> {
    let mut mean = vec![0f32; data.dim()];
    let mut n = 0usize;
    for i in (0..data.len()).filter(|&i| data.labels()[i] == class) {
        for (m, v) in mean.iter_mut().zip(data.sample(i)) {
            *m += v;
        }
        n += 1;
    }
    if n > 0 {
        mean.iter_mut().for_each(|m| *m /= n as f32);
    }
    mean
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use super::*;
    use poisonlab_core::seed::stream;
    use poisonlab_core::{RoundPlan, Streams};
    use proptest::prelude::*;

    fn data(n: usize) -> Dataset {
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let x = labels
            .iter()
            .flat_map(|&c| vec![c as f32 / 2.0; 2])
            .collect();
        Dataset::new(x, vec![2], labels, 3, None).unwrap()
    }

    /// Varied features and ids, so a sample put back in the wrong place shows.
    fn varied(n: usize, seed: u64) -> Dataset {
        use rand::Rng as _;
        let mut rng = stream(seed, 0, "data");
        let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..4)).collect();
        let x = (0..n * 3).map(|_| rng.random::<f32>()).collect();
        let ids = (0..n as u64).map(|i| 1000 + 7 * i).collect();
        Dataset::new(x, vec![3], labels, 4, Some(ids)).unwrap()
    }

    fn params(method: Method) -> DriftParams {
        DriftParams {
            source: 0,
            target: 2,
            max_rate: 0.8,
            method,
            ..DriftParams::default()
        }
    }

    fn drift(p: DriftParams) -> Drift {
        Drift::new(p).unwrap()
    }

    /// The runner's split: `rounds` contiguous ranges of (nearly) equal size.
    fn round_ranges(n: usize, rounds: usize) -> Vec<Range<usize>> {
        (0..rounds)
            .map(|r| r * n / rounds..(r + 1) * n / rounds)
            .collect()
    }

    /// The per-round loop done by hand, as the runner did it before the
    /// attack owned it: each round's chunk poisoned with stream
    /// `attack:round{r}`, written back into a copy of the training set.
    fn by_hand(
        d: &Drift,
        train: &Dataset,
        test: &Dataset,
        ranges: &[Range<usize>],
        (seed, repeat): (u64, u64),
    ) -> Poisoned {
        let target_mean = class_mean(train, d.params().target);
        let mut poisoned = train.clone();
        let mut is_poison = vec![false; train.len()];
        for (r, range) in ranges.iter().enumerate() {
            let idx: Vec<usize> = range.clone().collect();
            let chunk = train.subset(&idx);
            let rng = &mut stream(seed, repeat, &format!("attack:round{}", r + 1));
            let round = d
                .poison_round(r + 1, ranges.len(), &chunk, &target_mean, rng)
                .unwrap();
            for (k, &i) in idx.iter().enumerate() {
                poisoned.sample_mut(i).copy_from_slice(round.data.sample(k));
                poisoned.set_label(i, round.data.labels()[k]);
                is_poison[i] = round.is_poison[k];
            }
        }
        Poisoned {
            data: poisoned,
            is_poison,
            attack_test: Some(d.attack_test(test)),
        }
    }

    fn with_plan(d: &Drift, train: &Dataset, test: &Dataset, plan: RoundPlan<'_>) -> Poisoned {
        d.poison(
            AttackInput::new(train, test).with_rounds(plan),
            &mut stream(0, 0, "attack"),
        )
        .unwrap()
    }

    fn assert_same(a: &Poisoned, b: &Poisoned) {
        assert_eq!(a.data, b.data);
        assert_eq!(a.is_poison, b.is_poison);
        let (ta, tb) = (a.attack_test.as_ref(), b.attack_test.as_ref());
        assert_eq!(ta.map(|t| &t.inputs), tb.map(|t| &t.inputs));
        assert_eq!(ta.map(|t| &t.targets), tb.map(|t| &t.targets));
    }

    #[test]
    fn shift_moves_toward_the_target_mean_and_relabels() {
        let d = data(30); // 10 samples of class 0 at 0.0, class 2 at 1.0
        let drift = drift(params(Method::Shift));
        let mean = class_mean(&d, 2);
        assert_eq!(mean, vec![1.0, 1.0]);
        let p = drift
            .poison_round(2, 4, &d, &mean, &mut stream(0, 0, "d"))
            .unwrap();
        assert_eq!(p.n_poison(), 4); // rate 0.4 of 10
        for i in (0..30).filter(|&i| p.is_poison[i]) {
            assert_eq!(p.data.labels()[i], 2);
            assert_eq!(p.data.sample(i), &[0.4, 0.4]);
        }
        for i in (0..30).filter(|&i| !p.is_poison[i]) {
            assert_eq!(
                (p.data.labels()[i], p.data.sample(i)),
                (d.labels()[i], d.sample(i))
            );
        }
    }

    #[test]
    fn rounds_outside_the_run_are_errors() {
        let d = data(30);
        let drift = drift(params(Method::Relabel));
        for round in [0, 5] {
            assert_eq!(
                drift
                    .poison_round(round, 4, &d, &[0.0, 0.0], &mut stream(0, 0, "d"))
                    .unwrap_err(),
                DriftError::Round { round, rounds: 4 }
            );
        }
    }

    #[test]
    fn step_at_after_the_last_round_is_an_error() {
        let late = drift(DriftParams {
            schedule: Schedule::Step,
            step_at: Some(5),
            ..params(Method::Relabel)
        });
        let d = data(30);
        assert_eq!(
            late.poison_round(1, 4, &d, &[0.0, 0.0], &mut stream(0, 0, "d"))
                .unwrap_err(),
            DriftError::StepAt {
                step_at: 5,
                rounds: 4
            }
        );
        assert_eq!(late.check_rounds(4).unwrap_err()[0].key, "step-at");
        assert!(late.check_rounds(5).is_ok());
    }

    #[test]
    fn the_schedule_spreads_over_the_plans_rounds() {
        // Linear to 0.8: round 3 of 4 poisons 0.6, round 3 of 8 only 0.3, of 10 sources.
        let d = data(30);
        let drift = drift(params(Method::Relabel));
        let count = |rounds| {
            drift
                .poison_round(3, rounds, &d, &[0.0, 0.0], &mut stream(0, 0, "d"))
                .unwrap()
                .n_poison()
        };
        assert_eq!((count(4), count(8)), (6, 3));
    }

    #[test]
    fn attack_equals_the_round_loop_by_hand() {
        let (train, test) = (varied(203, 1), varied(50, 2));
        let streams = Streams {
            seed: 11,
            repeat: 2,
        };
        let schedules = [
            (Schedule::Linear, None),
            (Schedule::Step, Some(2)),
            (Schedule::Step, None),
            (Schedule::Exponential, None),
        ];
        for method in [Method::Relabel, Method::Shift] {
            for (schedule, step_at) in schedules {
                let d = drift(DriftParams {
                    schedule,
                    step_at,
                    ..params(method)
                });
                for rounds in [2, 3, 5] {
                    let ranges = round_ranges(train.len(), rounds);
                    let plan = RoundPlan {
                        ranges: &ranges,
                        streams,
                    };
                    let got = with_plan(&d, &train, &test, plan);
                    let want = by_hand(&d, &train, &test, &ranges, (11, 2));
                    assert_same(&got, &want);
                    assert!(got.n_poison() > 0 || schedule == Schedule::Step);
                    assert_eq!(got.data.ids(), train.ids());
                }
            }
        }
    }

    #[test]
    fn each_round_draws_from_its_own_stream() {
        let train = varied(120, 3);
        let d = drift(DriftParams {
            max_rate: 0.5,
            ..params(Method::Relabel)
        });
        let ranges = round_ranges(train.len(), 3);
        let plan = |seed| RoundPlan {
            ranges: &ranges,
            streams: Streams { seed, repeat: 0 },
        };
        let a = with_plan(&d, &train, &train, plan(1));
        let again = d
            .poison(
                AttackInput::new(&train, &train).with_rounds(plan(1)),
                &mut stream(9, 9, "other"),
            )
            .unwrap();
        assert_same(&a, &again); // the attack stream is not used
        let b = with_plan(&d, &train, &train, plan(2));
        assert_ne!(a.is_poison, b.is_poison);
    }

    #[test]
    fn without_rounds_it_says_how_to_get_them() {
        let train = data(30);
        let d = drift(params(Method::Relabel));
        assert!(d.needs_rounds());
        assert!(!d.needs_surrogate());
        let err = d
            .poison(AttackInput::new(&train, &train), &mut stream(0, 0, "a"))
            .unwrap_err();
        assert_eq!(err, DriftError::NoRounds);
        assert!(
            err.to_string()
                .contains("set `[training] regime = \"rounds\"`"),
            "{err}"
        );
    }

    #[test]
    fn rounds_past_the_training_set_are_an_error_not_a_panic() {
        let train = data(30);
        let d = drift(params(Method::Relabel));
        let ranges = [0..15, 15..31];
        let plan = RoundPlan {
            ranges: &ranges,
            streams: Streams { seed: 0, repeat: 0 },
        };
        let err = d
            .poison(
                AttackInput::new(&train, &train).with_rounds(plan),
                &mut stream(0, 0, "a"),
            )
            .unwrap_err();
        assert_eq!(
            err,
            DriftError::RoundOutOfData {
                round: 2,
                start: 15,
                end: 31,
                len: 30
            }
        );
    }

    #[test]
    fn classes_the_data_lacks_are_errors() {
        let train = data(30); // 3 classes
        let d = drift(DriftParams {
            target: 3,
            ..params(Method::Relabel)
        });
        let ranges = round_ranges(30, 2);
        let plan = RoundPlan {
            ranges: &ranges,
            streams: Streams { seed: 0, repeat: 0 },
        };
        let err = d
            .poison(
                AttackInput::new(&train, &train).with_rounds(plan),
                &mut stream(0, 0, "a"),
            )
            .unwrap_err();
        assert_eq!(
            err,
            DriftError::ClassOutOfRange {
                class: 3,
                classes: 3
            }
        );
    }

    #[test]
    fn new_refuses_bad_parameters() {
        let errs = Drift::new(DriftParams {
            target: 0,
            max_rate: 0.0,
            ..params(Method::Relabel)
        })
        .unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["target", "max-rate"]);
    }

    #[test]
    fn build_and_check_data_check_classes_against_the_data() {
        let p = DriftParams {
            target: 3,
            ..params(Method::Relabel)
        };
        let base = std::path::Path::new(".");
        let three = DataFacts {
            n_classes: Some(3),
            shape: None,
        };
        let errs = Drift::build(p.clone(), &BuildContext::new(base, &three)).unwrap_err();
        assert_eq!(errs[0].key, "target");
        let unknown = DataFacts::default();
        let built = Drift::build(p.clone(), &BuildContext::new(base, &unknown)).unwrap();
        assert_eq!(built.check_data(&three).unwrap_err()[0].key, "target");
        assert_eq!(Kind::params(&built), &p);
    }

    #[test]
    fn describe_leaves_the_rounds_to_the_training_table() {
        let d = drift(DriftParams {
            source: 7,
            target: 1,
            max_rate: 0.5,
            schedule: Schedule::Linear,
            step_at: None,
            method: Method::Shift,
        });
        assert_eq!(
            d.describe(),
            "drift 7 → 1, Linear schedule to 0.5 of each round's class-7 samples, Shift"
        );
    }

    proptest! {
        #[test]
        fn poison_grows_with_the_schedule(n in 30usize..300, seed in any::<u64>()) {
            let d = data(n);
            let drift = drift(DriftParams { schedule: Schedule::Linear, ..params(Method::Relabel) });
            let counts: Vec<usize> = (1..=4)
                .map(|r| drift.poison_round(r, 4, &d, &[0.0, 0.0], &mut stream(seed, 0, "d")).unwrap().n_poison())
                .collect();
            prop_assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
            let sources = d.labels().iter().filter(|&&y| y == 0).count();
            prop_assert_eq!(counts[3], (0.8 * sources as f64).round() as usize);
        }

        #[test]
        fn attack_equals_the_round_loop_for_any_run(
            n in 0usize..150, rounds in 1usize..7, seed in any::<u64>(), repeat in 0u64..4,
            shift in any::<bool>()
        ) {
            let (train, test) = (varied(n, seed), varied(20, seed ^ 1));
            let method = if shift { Method::Shift } else { Method::Relabel };
            let d = drift(params(method));
            let ranges = round_ranges(n, rounds);
            let plan = RoundPlan { ranges: &ranges, streams: Streams { seed, repeat } };
            let got = with_plan(&d, &train, &test, plan);
            let want = by_hand(&d, &train, &test, &ranges, (seed, repeat));
            prop_assert_eq!(&got.data, &want.data);
            prop_assert_eq!(&got.is_poison, &want.is_poison);
        }
    }
}
