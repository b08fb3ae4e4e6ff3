use poisonlab_core::{
    Attack, AttackInput, AttackTest, BuildContext, DataFacts, Kind, ParamError, Poisoned, Rng,
    poison_count,
};
use rand::Rng as _;
use rand::seq::index::sample;

use crate::{Flip, LabelFlipError, LabelFlipParams};

/// The label-flipping attack with checked parameters.
///
/// Random flipping is the adversarial label noise of Biggio, Nelson and
/// Laskov 2011 ("Support Vector Machines Under Adversarial Label Noise",
/// ACML); targeted flipping is the class-pair flip of Tolpegin, Truex, Gursoy
/// and Liu 2020 ("Data Poisoning Attacks Against Federated Learning Systems",
/// ESORICS).
#[derive(Debug, Clone)]
pub struct LabelFlip {
    params: LabelFlipParams,
    plan: Plan,
}

/// What the checked parameters ask for.
#[derive(Debug, Clone, Copy)]
enum Plan {
    Targeted { source: usize, target: usize },
    Random,
}

impl LabelFlip {
    /// The attack for `params`, or every problem with them
    /// ([`LabelFlipParams::check`] without a known class count; classes the
    /// data lacks are errors when poisoning).
    pub fn new(params: LabelFlipParams) -> Result<Self, Vec<ParamError>> {
        Self::checked(params, None)
    }

    fn checked(params: LabelFlipParams, n_classes: Option<usize>) -> Result<Self, Vec<ParamError>> {
        params.check(n_classes)?;
        let plan = match (params.flip, params.source, params.target) {
            (Flip::Targeted, Some(source), Some(target)) => Plan::Targeted { source, target },
            (Flip::Random, _, _) => Plan::Random,
            // `check` requires both classes for targeted flipping.
            (Flip::Targeted, source, target) => {
                return Err([("source", source), ("target", target)]
                    .into_iter()
                    .filter(|(_, c)| c.is_none())
                    .map(|(key, _)| ParamError::new(key, "is required for flip = \"targeted\""))
                    .collect());
            }
        };
        Ok(Self { params, plan })
    }

    /// The parameters this attack was built from.
    pub fn params(&self) -> &LabelFlipParams {
        &self.params
    }
}

fn class(class: usize, classes: usize) -> Result<usize, LabelFlipError> {
    if class >= classes {
        return Err(LabelFlipError::ClassOutOfRange { class, classes });
    }
    Ok(class)
}

impl Kind for LabelFlip {
    type Params = LabelFlipParams;

    fn build(params: LabelFlipParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::checked(params, ctx.facts.n_classes)
    }

    fn params(&self) -> &LabelFlipParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.params.check(facts.n_classes)
    }

    fn describe(&self) -> String {
        let p = &self.params;
        match (p.source, p.target) {
            (Some(s), Some(t)) => format!("label-flip, targeted {s} → {t}, rate {}", p.rate),
            _ => format!("label-flip, random, rate {}", p.rate),
        }
    }
}

impl Attack for LabelFlip {
    type Error = LabelFlipError;

    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, LabelFlipError> {
        let train = input.train;
        let k = train.n_classes();
        let mut data = train.clone();
        let mut is_poison = vec![false; train.len()];
        let attack_test = match self.plan {
            Plan::Targeted { source, target } => {
                let source = class(source, k)?;
                let target = class(target, k)?;
                let eligible: Vec<usize> = (0..train.len())
                    .filter(|&i| train.labels()[i] == source)
                    .collect();
                let n = poison_count(self.params.rate, eligible.len());
                for pick in sample(rng, eligible.len(), n) {
                    let i = eligible[pick];
                    data.set_label(i, target);
                    is_poison[i] = true;
                }
                let idx: Vec<usize> = (0..input.test.len())
                    .filter(|&i| input.test.labels()[i] == source)
                    .collect();
                Some(AttackTest {
                    inputs: input.test.subset(&idx),
                    targets: vec![target; idx.len()],
                })
            }
            Plan::Random => {
                if k < 2 {
                    return Err(LabelFlipError::SingleClass);
                }
                let n = poison_count(self.params.rate, train.len());
                for i in sample(rng, train.len(), n) {
                    // Uniform over the k − 1 other classes.
                    let old = train.labels()[i];
                    let draw = rng.random_range(0..k - 1);
                    data.set_label(i, if draw >= old { draw + 1 } else { draw });
                    is_poison[i] = true;
                }
                None
            }
        };
        Ok(Poisoned {
            data,
            is_poison,
            attack_test,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::Dataset;
    use poisonlab_core::seed::stream;
    use proptest::prelude::*;

    fn data(n: usize, k: usize) -> Dataset {
        Dataset::new(
            (0..n).map(|i| i as f32).collect(),
            vec![1],
            (0..n).map(|i| i % k).collect(),
            k,
            None,
        )
        .unwrap()
    }

    fn params(flip: Flip, rate: f64) -> LabelFlipParams {
        let (source, target) = match flip {
            Flip::Targeted => (Some(1), Some(2)),
            Flip::Random => (None, None),
        };
        LabelFlipParams {
            flip,
            source,
            target,
            rate,
        }
    }

    #[test]
    fn targeted_flips_only_source_to_target_and_builds_the_test() {
        let train = data(100, 4);
        let test = data(40, 4);
        let p = LabelFlip::new(params(Flip::Targeted, 0.2))
            .unwrap()
            .poison(AttackInput::new(&train, &test), &mut stream(0, 0, "attack"))
            .unwrap();
        assert_eq!(p.n_poison(), 5); // 0.2 × 25 source samples
        for i in 0..100 {
            if p.is_poison[i] {
                assert_eq!((train.labels()[i], p.data.labels()[i]), (1, 2));
            } else {
                assert_eq!(train.labels()[i], p.data.labels()[i]);
            }
        }
        assert_eq!(p.data.to_features(), train.to_features());
        let t = p.attack_test.unwrap();
        assert_eq!(t.inputs.len(), 10);
        assert!(t.inputs.labels().iter().all(|&y| y == 1));
        assert!(t.targets.iter().all(|&y| y == 2));
    }

    #[test]
    fn same_stream_same_poison() {
        let train = data(200, 3);
        let a = LabelFlip::new(params(Flip::Random, 0.1))
            .unwrap()
            .poison(AttackInput::new(&train, &train), &mut stream(0, 0, "a"))
            .unwrap();
        let b = LabelFlip::new(params(Flip::Random, 0.1))
            .unwrap()
            .poison(AttackInput::new(&train, &train), &mut stream(0, 0, "a"))
            .unwrap();
        assert_eq!(a.is_poison, b.is_poison);
        assert_eq!(a.data, b.data);
    }

    #[test]
    fn new_refuses_bad_parameters() {
        let errs = LabelFlip::new(LabelFlipParams {
            source: None,
            ..params(Flip::Targeted, 1.5)
        })
        .unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["rate", "source"]);
        // Without data facts a class index cannot be out of range yet.
        assert!(
            LabelFlip::new(LabelFlipParams {
                target: Some(40),
                ..params(Flip::Targeted, 0.1)
            })
            .is_ok()
        );
    }

    #[test]
    fn build_and_check_data_check_classes_against_the_data() {
        let p = LabelFlipParams {
            target: Some(4),
            ..params(Flip::Targeted, 0.1)
        };
        let base = std::path::Path::new(".");
        let four = DataFacts {
            n_classes: Some(4),
            shape: None,
        };
        let errs = LabelFlip::build(p.clone(), &BuildContext::new(base, &four)).unwrap_err();
        assert_eq!(errs[0].key, "target");
        let unknown = DataFacts::default();
        let built = LabelFlip::build(p, &BuildContext::new(base, &unknown)).unwrap();
        assert_eq!(built.check_data(&four).unwrap_err()[0].key, "target");
        let five = DataFacts {
            n_classes: Some(5),
            ..four
        };
        assert!(built.check_data(&five).is_ok());
    }

    #[test]
    fn describe_names_the_flip() {
        let targeted = LabelFlip::new(params(Flip::Targeted, 0.2)).unwrap();
        assert_eq!(targeted.describe(), "label-flip, targeted 1 → 2, rate 0.2");
        let random = LabelFlip::new(params(Flip::Random, 0.05)).unwrap();
        assert_eq!(random.describe(), "label-flip, random, rate 0.05");
        assert_eq!(Kind::params(&random), &params(Flip::Random, 0.05));
    }

    #[test]
    fn a_class_the_data_lacks_is_an_error_not_a_panic() {
        let train = data(20, 2);
        let err = LabelFlip::new(LabelFlipParams {
            target: Some(3),
            ..params(Flip::Targeted, 0.5)
        })
        .unwrap()
        .poison(
            AttackInput::new(&train, &train),
            &mut stream(0, 0, "attack"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            LabelFlipError::ClassOutOfRange {
                class: 3,
                classes: 2
            }
        );
    }

    proptest! {
        #[test]
        fn random_flip_counts_exactly_and_never_keeps_the_class(
            n in 1usize..300, k in 2usize..12, rate in 0.0f64..=1.0, seed in any::<u64>()
        ) {
            let train = data(n, k);
            let p = LabelFlip::new(params(Flip::Random, rate)).unwrap()
                .poison(AttackInput::new(&train, &train), &mut stream(seed, 0, "attack"))
                .unwrap();
            prop_assert_eq!(p.n_poison(), poison_count(rate, n));
            let expected = (rate * n as f64).round() as usize;
            prop_assert!(p.n_poison() == expected || (expected == 0 && rate > 0.0 && p.n_poison() == 1));
            for i in 0..n {
                prop_assert_eq!(p.is_poison[i], p.data.labels()[i] != train.labels()[i]);
            }
        }

        #[test]
        fn targeted_flip_counts_exactly(n in 1usize..300, rate in 0.0f64..=1.0, seed in any::<u64>()) {
            let train = data(n, 4);
            let eligible = train.labels().iter().filter(|&&y| y == 1).count();
            let p = LabelFlip::new(params(Flip::Targeted, rate)).unwrap()
                .poison(AttackInput::new(&train, &train), &mut stream(seed, 0, "attack"))
                .unwrap();
            prop_assert_eq!(p.n_poison(), poison_count(rate, eligible));
        }
    }
}
