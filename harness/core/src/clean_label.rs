//! What every clean-label crafting attack shares (feature collision,
//! Bullseye Polytope, Witches' Brew, MetaPoison): the checks of the keys
//! they all take (`target-class`, `base-class`, `targets`,
//! `poisons-per-target`), the draw of the target test instances and of the
//! base-class training samples that become their poisons, and the poisoned
//! set assembled from what was crafted for each target.

use rand::seq::index::sample;
use thiserror::Error;

use crate::{AttackInput, AttackTest, Dataset, ParamChecks, ParamError, Poisoned, Rng};

/// Check the keys every crafting attack takes, in this order:
/// `target-class` and `base-class` exist in the data (when its class count
/// is known) and differ, `targets` and `poisons-per-target` are at least 1.
pub fn check_targets(
    checks: &mut ParamChecks,
    target_class: usize,
    base_class: usize,
    targets: usize,
    poisons_per_target: usize,
    n_classes: Option<usize>,
) {
    for (key, c) in [("target-class", target_class), ("base-class", base_class)] {
        if let Some(e) = ParamError::class_out_of_range(key, c, n_classes) {
            checks.push(e);
        }
    }
    if target_class == base_class {
        checks.push(ParamError::new(
            "base-class",
            "must differ from target-class",
        ));
    }
    checks
        .at_least("targets", targets, 1)
        .at_least("poisons-per-target", poisons_per_target, 1);
}

/// How a crafting attack crafts, for the run's record (the targets and the
/// budget come from the poisoned set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crafting {
    /// The L∞ bound of the perturbations, when the kind has one.
    pub epsilon: Option<f64>,
    /// Optimisation steps (iterations) per target.
    pub steps: usize,
}

/// Why a crafting plan cannot be drawn from the data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    /// The training and test samples have different shapes.
    #[error("train samples have shape {train:?} but test samples {test:?}")]
    ShapeMismatch {
        /// Shape of a training sample.
        train: Vec<usize>,
        /// Shape of a test sample.
        test: Vec<usize>,
    },
    /// A class the parameters name is not in the dataset.
    #[error("class {class} is not in the dataset, which has {classes} classes")]
    ClassOutOfRange {
        /// The class named by `target-class` or `base-class`.
        class: usize,
        /// The dataset's class count.
        classes: usize,
    },
    /// Not enough test instances of the target class.
    #[error("wanted {wanted} target instances of class {class}, the test set has {available}")]
    TooFewTargets {
        /// Class of the targets.
        class: usize,
        /// Targets asked for.
        wanted: usize,
        /// Test instances of that class.
        available: usize,
    },
    /// Not enough training instances of the base class.
    #[error("wanted {wanted} base instances of class {class}, the training set has {available}")]
    TooFewBases {
        /// The base class.
        class: usize,
        /// Bases asked for (targets × poisons per target).
        wanted: usize,
        /// Training instances of that class.
        available: usize,
    },
}

/// The targets of a crafting attack and the bases of their poisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CraftPlan {
    /// Test rows of the targets (instances of the target class).
    pub targets: Vec<usize>,
    /// Training rows of the bases (instances of the base class), the
    /// `poisons_per_target` of target `i` at `i · poisons_per_target..`.
    pub bases: Vec<usize>,
    /// Poisons per target.
    pub poisons_per_target: usize,
    /// The class the targets should be taken for.
    pub base_class: usize,
}

impl CraftPlan {
    /// Check the data and draw `targets` test instances of `target_class`,
    /// then `targets × poisons_per_target` distinct training samples of
    /// `base_class`, each uniformly without replacement from `rng` (in that
    /// order: two draws).
    pub fn draw(
        train: &Dataset,
        test: &Dataset,
        (target_class, base_class): (usize, usize),
        targets: usize,
        poisons_per_target: usize,
        rng: &mut Rng,
    ) -> Result<Self, PlanError> {
        if train.shape() != test.shape() {
            return Err(PlanError::ShapeMismatch {
                train: train.shape().to_vec(),
                test: test.shape().to_vec(),
            });
        }
        let classes = train.n_classes();
        for class in [target_class, base_class] {
            if class >= classes {
                return Err(PlanError::ClassOutOfRange { class, classes });
            }
        }
        let of_class = |d: &Dataset, c: usize| -> Vec<usize> {
            (0..d.len()).filter(|&i| d.labels()[i] == c).collect()
        };
        let target_pool = of_class(test, target_class);
        if target_pool.len() < targets {
            return Err(PlanError::TooFewTargets {
                class: target_class,
                wanted: targets,
                available: target_pool.len(),
            });
        }
        let base_pool = of_class(train, base_class);
        let wanted = targets.saturating_mul(poisons_per_target);
        if base_pool.len() < wanted {
            return Err(PlanError::TooFewBases {
                class: base_class,
                wanted,
                available: base_pool.len(),
            });
        }
        let pick = |pool: &[usize], n: usize, rng: &mut Rng| -> Vec<usize> {
            sample(rng, pool.len(), n)
                .into_iter()
                .map(|i| pool[i])
                .collect()
        };
        let targets = pick(&target_pool, targets, rng);
        let bases = pick(&base_pool, wanted, rng);
        Ok(Self {
            targets,
            bases,
            poisons_per_target,
            base_class,
        })
    }

    /// Craft the poisons of every target in turn and assemble the poisoned
    /// set: `craft(i, target_row, base_rows)` returns the crafted samples
    /// (one per base, in order, labels unchanged), which replace their bases
    /// in a copy of the training set. Each target is reported to the
    /// input's progress listener before it is crafted. The attack's test
    /// inputs are the targets, to be taken for the base class.
    pub fn assemble<E>(
        &self,
        input: &AttackInput<'_>,
        mut craft: impl FnMut(usize, usize, &[usize]) -> Result<Dataset, E>,
    ) -> Result<Poisoned, E> {
        let mut data = input.train.clone();
        let mut is_poison = vec![false; data.len()];
        let total = self.targets.len();
        for (i, (&t, chunk)) in self
            .targets
            .iter()
            .zip(self.bases.chunks(self.poisons_per_target.max(1)))
            .enumerate()
        {
            input.report(i, total);
            let crafted = craft(i, t, chunk)?;
            for (k, &row) in chunk.iter().enumerate() {
                data.sample_mut(row).copy_from_slice(crafted.sample(k));
                is_poison[row] = true;
            }
        }
        Ok(Poisoned {
            data,
            is_poison,
            attack_test: Some(AttackTest {
                inputs: input.test.subset(&self.targets),
                targets: vec![self.base_class; self.targets.len()],
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::stream;

    fn data(n: usize, k: usize) -> Dataset {
        let labels: Vec<usize> = (0..n).map(|i| i % k).collect();
        let x = labels.iter().map(|&c| c as f32).collect();
        Dataset::new(x, vec![1], labels, k, None).expect("valid")
    }

    #[test]
    fn the_plan_draws_distinct_rows_of_the_right_classes() {
        let (train, test) = (data(60, 3), data(30, 3));
        let plan = CraftPlan::draw(&train, &test, (0, 1), 4, 5, &mut stream(1, 0, "p"))
            .expect("enough of both");
        assert_eq!(plan.targets.len(), 4);
        assert!(plan.targets.iter().all(|&i| test.labels()[i] == 0));
        assert_eq!(plan.bases.len(), 20);
        assert!(plan.bases.iter().all(|&i| train.labels()[i] == 1));
        let mut b = plan.bases.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(b.len(), 20, "distinct bases");
        let again = CraftPlan::draw(&train, &test, (0, 1), 4, 5, &mut stream(1, 0, "p"));
        assert_eq!(again, Ok(plan));
    }

    #[test]
    fn the_plan_names_what_is_missing() {
        let (train, test) = (data(60, 3), data(30, 3));
        let mut rng = stream(1, 0, "p");
        assert_eq!(
            CraftPlan::draw(&train, &test, (0, 1), 11, 1, &mut rng),
            Err(PlanError::TooFewTargets {
                class: 0,
                wanted: 11,
                available: 10
            })
        );
        assert_eq!(
            CraftPlan::draw(&train, &test, (0, 1), 3, 7, &mut rng),
            Err(PlanError::TooFewBases {
                class: 1,
                wanted: 21,
                available: 20
            })
        );
        assert_eq!(
            CraftPlan::draw(&train, &test, (0, 3), 1, 1, &mut rng),
            Err(PlanError::ClassOutOfRange {
                class: 3,
                classes: 3
            })
        );
    }

    #[test]
    fn assembling_replaces_exactly_the_bases() {
        let (train, test) = (data(60, 3), data(30, 3));
        let plan =
            CraftPlan::draw(&train, &test, (0, 1), 2, 3, &mut stream(2, 0, "p")).expect("enough");
        let input = AttackInput::new(&train, &test);
        let p = plan
            .assemble(&input, |_, _, chunk| {
                let mut d = train.subset(chunk);
                for i in 0..d.len() {
                    d.sample_mut(i)[0] = 9.0;
                }
                Ok::<_, ()>(d)
            })
            .expect("crafted");
        assert_eq!(p.n_poison(), 6);
        for i in 0..train.len() {
            let want = if plan.bases.contains(&i) {
                9.0
            } else {
                train.sample(i)[0]
            };
            assert_eq!(p.data.sample(i)[0], want);
            assert_eq!(p.is_poison[i], plan.bases.contains(&i));
        }
        assert_eq!(p.data.labels(), train.labels());
        let t = p.attack_test.expect("targets");
        assert_eq!(t.targets, vec![1, 1]);
        assert_eq!(t.inputs.len(), 2);
    }

    #[test]
    fn the_shared_keys_are_checked_in_order() {
        let mut checks = ParamChecks::new();
        check_targets(&mut checks, 12, 12, 0, 0, Some(10));
        let keys: Vec<String> = checks
            .finish()
            .expect_err("all wrong")
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(
            keys,
            [
                "target-class",
                "base-class",
                "base-class",
                "targets",
                "poisons-per-target"
            ]
        );
    }
}
