use poisonlab_core::{Attack, AttackInput, AttackTest, Poisoned, Rng};
use rand::Rng as _;
use rand::seq::index::sample;

use poisonlab_core::poison_count;

use crate::{Flip, LabelFlipError, LabelFlipParams};

/// The label-flipping attack with checked parameters.
#[derive(Debug, Clone)]
pub struct LabelFlip {
    params: LabelFlipParams,
}

impl LabelFlip {
    /// An attack for parameters that passed [`LabelFlipParams::check`].
    pub fn new(params: LabelFlipParams) -> Self {
        Self { params }
    }

    fn class(&self, class: Option<usize>, classes: usize) -> Result<usize, LabelFlipError> {
        // `check` guarantees presence for targeted flipping.
        let class = class.unwrap_or_default();
        if class >= classes {
            return Err(LabelFlipError::ClassOutOfRange { class, classes });
        }
        Ok(class)
    }
}

impl Attack for LabelFlip {
    type Error = LabelFlipError;

    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, LabelFlipError> {
        let train = input.train;
        let k = train.n_classes();
        let mut data = train.clone();
        let mut is_poison = vec![false; train.len()];
        let attack_test = match self.params.flip {
            Flip::Targeted => {
                let source = self.class(self.params.source, k)?;
                let target = self.class(self.params.target, k)?;
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
            Flip::Random => {
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
        assert_eq!(p.data.features(), train.features());
        let t = p.attack_test.unwrap();
        assert_eq!(t.inputs.len(), 10);
        assert!(t.inputs.labels().iter().all(|&y| y == 1));
        assert!(t.targets.iter().all(|&y| y == 2));
    }

    #[test]
    fn same_stream_same_poison() {
        let train = data(200, 3);
        let a = LabelFlip::new(params(Flip::Random, 0.1))
            .poison(AttackInput::new(&train, &train), &mut stream(0, 0, "a"))
            .unwrap();
        let b = LabelFlip::new(params(Flip::Random, 0.1))
            .poison(AttackInput::new(&train, &train), &mut stream(0, 0, "a"))
            .unwrap();
        assert_eq!(a.is_poison, b.is_poison);
        assert_eq!(a.data, b.data);
    }

    proptest! {
        #[test]
        fn random_flip_counts_exactly_and_never_keeps_the_class(
            n in 1usize..300, k in 2usize..12, rate in 0.0f64..=1.0, seed in any::<u64>()
        ) {
            let train = data(n, k);
            let p = LabelFlip::new(params(Flip::Random, rate))
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
            let p = LabelFlip::new(params(Flip::Targeted, rate))
                .poison(AttackInput::new(&train, &train), &mut stream(seed, 0, "attack"))
                .unwrap();
            prop_assert_eq!(p.n_poison(), poison_count(rate, eligible));
        }
    }
}
