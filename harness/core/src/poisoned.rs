use serde::{Deserialize, Serialize};

use crate::{CoreError, Dataset};

/// How poisoned samples enter the training set (`mode` of trigger attacks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Injection {
    /// Change and relabel the chosen samples in place; the training set keeps its size.
    #[default]
    Replace,
    /// Append changed, relabelled copies of the chosen samples; the originals
    /// stay as they were and the copies get fresh ids after the largest one.
    Add,
}

/// Poison the samples `picks` (ascending) of `train`: each one's features go
/// through `change` and its label becomes `relabel(old label)`, in place or as
/// appended copies. Returns the poisoned set and its mask.
///
/// The poisoned set is a view of `train`: it shares every row the attack left
/// alone and stores only the changed or added ones (see [`Dataset`]), so it
/// costs the poisons' rows, not another copy of the training set.
pub fn inject(
    train: &Dataset,
    picks: &[usize],
    mode: Injection,
    change: impl Fn(&mut [f32]),
    relabel: impl Fn(usize) -> usize,
) -> Result<(Dataset, Vec<bool>), CoreError> {
    let mut data = train.clone();
    data.reserve_apart(picks.len());
    let mut is_poison = vec![false; train.len()];
    match mode {
        Injection::Replace => {
            for &i in picks {
                change(data.sample_mut(i));
                data.set_label(i, relabel(train.labels()[i]));
                is_poison[i] = true;
            }
        }
        Injection::Add => {
            let first = match train.ids().iter().max() {
                None => 0,
                Some(&max) => max.checked_add(1).ok_or(CoreError::IdsExhausted)?,
            };
            let mut features = Vec::with_capacity(picks.len() * train.dim());
            let mut labels = Vec::with_capacity(picks.len());
            let mut ids = Vec::with_capacity(picks.len());
            for (n, &i) in picks.iter().enumerate() {
                let start = features.len();
                features.extend_from_slice(train.sample(i));
                change(&mut features[start..]);
                labels.push(relabel(train.labels()[i]));
                ids.push(first.checked_add(n as u64).ok_or(CoreError::IdsExhausted)?);
            }
            let copies = Dataset::new(
                features,
                train.shape().to_vec(),
                labels,
                train.n_classes(),
                Some(ids),
            )?;
            data.extend(&copies);
            is_poison.resize(data.len(), true);
        }
    }
    Ok((data, is_poison))
}

/// A poisoned training set with its ground truth.
///
/// `is_poison[i]` is true when sample `i` of `data` was changed or added by the
/// attack (true = poisoned, never the reverse). Anything that reorders or
/// filters `data` must move the mask with it; [`Poisoned::subset`] does.
#[derive(Debug, Clone)]
pub struct Poisoned {
    /// The training set as the defender receives it.
    pub data: Dataset,
    /// Ground truth, one flag per sample of `data`.
    pub is_poison: Vec<bool>,
    /// The test-time inputs that measure the attack, when it has any
    /// (none for untargeted attacks such as random label flipping).
    pub attack_test: Option<AttackTest>,
}

impl Poisoned {
    /// Number of poisoned samples.
    pub fn n_poison(&self) -> usize {
        self.is_poison.iter().filter(|&&p| p).count()
    }

    /// The samples at `indices`, with their mask entries.
    pub fn subset(&self, indices: &[usize]) -> Poisoned {
        Poisoned {
            data: self.data.subset(indices),
            is_poison: indices.iter().map(|&i| self.is_poison[i]).collect(),
            attack_test: self.attack_test.clone(),
        }
    }
}

/// Poisons for `rate` of `eligible` samples, the rule every attack uses:
/// rounded to nearest (halves away from zero), at least one when the rate is
/// above zero and anything is eligible, never more than `eligible`.
pub fn poison_count(rate: f64, eligible: usize) -> usize {
    let n = (rate * eligible as f64).round() as usize;
    if rate > 0.0 && eligible > 0 {
        n.max(1)
    } else {
        n
    }
    .min(eligible)
}

/// Test inputs on which an attack is measured.
///
/// `inputs` holds the (possibly triggered) test samples labelled with their
/// true class; `targets[i]` is the class the attacker wants input `i` to get.
/// Attack success rate (ASR) is the share predicted as their target, robust
/// accuracy (RA) the share still predicted as their true class.
#[derive(Debug, Clone)]
pub struct AttackTest {
    /// Test inputs as the attacker presents them, with their true labels.
    pub inputs: Dataset,
    /// The attacker's desired class for each input.
    pub targets: Vec<usize>,
}

impl AttackTest {
    /// How an all-to-one backdoor is measured: the test samples whose class
    /// is not `target`, each passed through `trigger`, all wanting `target`.
    pub fn all_to_one(test: &Dataset, target: usize, mut trigger: impl FnMut(&mut [f32])) -> Self {
        let idx: Vec<usize> = (0..test.len())
            .filter(|&i| test.labels()[i] != target)
            .collect();
        let mut inputs = test.subset(&idx);
        for j in 0..inputs.len() {
            trigger(inputs.sample_mut(j));
        }
        Self {
            inputs,
            targets: vec![target; idx.len()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn four() -> Dataset {
        Dataset::new(
            vec![0.0, 1.0, 2.0, 3.0],
            vec![1],
            vec![0, 1, 0, 1],
            2,
            Some(vec![5, 9, 2, 7]),
        )
        .unwrap()
    }

    #[test]
    fn all_to_one_keeps_the_other_classes_triggered() {
        let t = AttackTest::all_to_one(&four(), 1, |x| x[0] += 10.0);
        assert_eq!(t.inputs.to_features(), [10.0, 12.0]);
        assert_eq!(t.inputs.labels(), &[0, 0]);
        assert_eq!(t.inputs.ids(), &[5, 2]);
        assert_eq!(t.targets, vec![1, 1]);
    }

    #[test]
    fn inject_replace_changes_only_the_picks() {
        let (d, mask) = inject(
            &four(),
            &[1, 2],
            Injection::Replace,
            |x| x[0] += 10.0,
            |y| 1 - y,
        )
        .unwrap();
        assert_eq!(d.to_features(), [0.0, 11.0, 12.0, 3.0]);
        assert_eq!(d.labels(), &[0, 0, 1, 1]);
        assert_eq!(d.ids(), &[5, 9, 2, 7]);
        assert_eq!(mask, [false, true, true, false]);
    }

    #[test]
    fn inject_add_appends_copies_with_fresh_ids() {
        let (d, mask) = inject(&four(), &[0, 3], Injection::Add, |x| x[0] += 10.0, |_| 1).unwrap();
        assert_eq!(d.to_features(), [0.0, 1.0, 2.0, 3.0, 10.0, 13.0]);
        assert_eq!(d.labels(), &[0, 1, 0, 1, 1, 1]);
        assert_eq!(d.ids(), &[5, 9, 2, 7, 10, 11]);
        assert_eq!(mask, [false, false, false, false, true, true]);
        let full = Dataset::new(vec![0.0], vec![1], vec![0], 2, Some(vec![u64::MAX])).unwrap();
        assert_eq!(
            inject(&full, &[0], Injection::Add, |_| {}, |y| y),
            Err(CoreError::IdsExhausted)
        );
    }

    /// What `inject` made before it shared rows: a full copy of the
    /// training set, changed in place or extended.
    fn full_copy(
        train: &Dataset,
        picks: &[usize],
        mode: Injection,
        change: impl Fn(&mut [f32]),
        relabel: impl Fn(usize) -> usize,
    ) -> (Vec<f32>, Vec<usize>, Vec<u64>) {
        let d = train.dim();
        let mut features = train.to_features();
        let mut labels = train.labels().to_vec();
        let mut ids = train.ids().to_vec();
        let next = train.ids().iter().max().map_or(0, |m| m + 1);
        for (n, &i) in picks.iter().enumerate() {
            match mode {
                Injection::Replace => {
                    change(&mut features[i * d..(i + 1) * d]);
                    labels[i] = relabel(labels[i]);
                }
                Injection::Add => {
                    let mut row = train.sample(i).to_vec();
                    change(&mut row);
                    features.extend(row);
                    labels.push(relabel(train.labels()[i]));
                    ids.push(next + n as u64);
                }
            }
        }
        (features, labels, ids)
    }

    proptest::proptest! {
        #[test]
        fn the_poisoned_view_reads_what_the_full_copy_held(
            n in 1usize..40,
            dim in 1usize..7,
            seed in 0u64..1000,
            rate in 0.0f64..=1.0,
            add in proptest::bool::ANY,
        ) {
            use rand::{Rng as _, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let features: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>()).collect();
            let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..3)).collect();
            let ids: Vec<u64> = (0..n as u64).map(|i| 3 * i + 1).collect();
            let train = Dataset::new(features, vec![dim], labels, 3, Some(ids)).unwrap();
            let before = train.to_features();
            let picks: Vec<usize> = (0..n).filter(|_| rng.random_bool(rate)).collect();
            let mode = if add { Injection::Add } else { Injection::Replace };
            let change = |x: &mut [f32]| {
                for (j, v) in x.iter_mut().enumerate() {
                    *v = 1.0 - *v * 0.5 + j as f32;
                }
            };
            let relabel = |y: usize| (y + 1) % 3;
            let (view, mask) = inject(&train, &picks, mode, change, relabel).unwrap();
            let (features, labels, ids) = full_copy(&train, &picks, mode, change, relabel);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for (i, row) in view.rows().enumerate() {
                proptest::prop_assert_eq!(bits(row), bits(&features[i * dim..(i + 1) * dim]));
            }
            proptest::prop_assert_eq!(bits(&view.to_features()), bits(&features));
            proptest::prop_assert_eq!(view.labels(), &labels[..]);
            proptest::prop_assert_eq!(view.ids(), &ids[..]);
            let flagged: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
            let expected: Vec<usize> = match mode {
                Injection::Replace => picks.clone(),
                Injection::Add => (n..n + picks.len()).collect(),
            };
            proptest::prop_assert_eq!(flagged, expected);
            // Only the poisons are stored apart (all rows are the view's own
            // once they would be more than half); the clean set is unchanged.
            let apart = match mode {
                Injection::Replace if 2 * picks.len() > n => 0,
                _ => picks.len(),
            };
            proptest::prop_assert_eq!(view.rows_apart(), apart);
            proptest::prop_assert_eq!(bits(&train.to_features()), bits(&before));
        }
    }

    #[test]
    fn poison_count_rounds_and_keeps_one() {
        assert_eq!(poison_count(0.1, 25), 3); // 2.5 rounds away from zero
        assert_eq!(poison_count(0.1, 24), 2);
        assert_eq!(poison_count(0.001, 100), 1);
        assert_eq!(poison_count(0.0, 100), 0);
        assert_eq!(poison_count(1.0, 7), 7);
        assert_eq!(poison_count(0.5, 0), 0);
    }
}
