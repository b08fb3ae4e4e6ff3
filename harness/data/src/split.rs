//! Train/test pairs, holdouts and truncation.

use poisonlab_core::{CoreError, Dataset, Rng};

use crate::DataError;
use crate::sampling::below;

/// First id of a generated test split: train ids are `0..train`, test ids
/// `TEST_ID_OFFSET..TEST_ID_OFFSET + test`, so the two never collide
/// (splits are capped well below this many samples).
pub const TEST_ID_OFFSET: u64 = 1_000_000_000;

/// A training set and a test set drawn together.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// The training samples (ids from 0).
    pub train: Dataset,
    /// The test samples (ids from [`TEST_ID_OFFSET`]).
    pub test: Dataset,
}

/// A generated dataset with ids `first_id..first_id + n`.
///
/// # Panics
/// When the columns disagree: generators build them consistent by construction.
pub(crate) fn build(
    features: Vec<f32>,
    shape: Vec<usize>,
    labels: Vec<usize>,
    n_classes: usize,
    first_id: u64,
) -> Dataset {
    let ids = (first_id..).take(labels.len()).collect();
    Dataset::new(features, shape, labels, n_classes, Some(ids))
        .expect("generators build consistent dataset columns")
}

/// A dataset read from files, with ids `first_id..first_id + n`; an error
/// when the columns disagree.
pub(crate) fn try_build(
    features: Vec<f32>,
    shape: Vec<usize>,
    labels: Vec<usize>,
    n_classes: usize,
    first_id: u64,
) -> Result<Dataset, CoreError> {
    let ids = (first_id..).take(labels.len()).collect();
    Dataset::new(features, shape, labels, n_classes, Some(ids))
}

/// The first `n` samples of `data` (all of them when `n` is `None` or at least
/// the sample count).
pub fn limit(data: &Dataset, n: Option<usize>) -> Dataset {
    match n {
        Some(n) if n < data.len() => data.subset(&(0..n).collect::<Vec<_>>()),
        _ => data.clone(),
    }
}

/// Hold `n` samples of `data` out, keeping class proportions: returns
/// `(rest, held_out)`.
///
/// Class `c` with `count[c]` of the `len` samples gives up `n · count[c] / len`
/// samples rounded by largest remainder: every class gets the floor of its
/// share, and the samples left over go one each to the classes with the largest
/// fractional parts (the lower class index first on ties). Which samples of a
/// class are held out is drawn from `rng`, class by class in index order
/// (a partial Fisher–Yates shuffle of the class's positions). Both outputs keep
/// the order the samples had in `data`, and ids travel with their samples, so
/// `rest` and `held_out` are disjoint and together hold every sample once.
///
/// # Errors
/// [`DataError::HoldoutTooLarge`] unless `n < data.len()`.
pub fn stratified_holdout(
    data: &Dataset,
    n: usize,
    rng: &mut Rng,
) -> Result<(Dataset, Dataset), DataError> {
    if n >= data.len() {
        return Err(DataError::HoldoutTooLarge { n, len: data.len() });
    }
    let quotas = holdout_quotas(&data.class_counts(), n);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); data.n_classes()];
    for (i, &label) in data.labels().iter().enumerate() {
        by_class[label].push(i);
    }
    let mut held = vec![false; data.len()];
    for (positions, &quota) in by_class.iter_mut().zip(&quotas) {
        for k in 0..quota {
            let j = k + below(rng, positions.len() - k);
            positions.swap(k, j);
            held[positions[k]] = true;
        }
    }
    let (out, rest): (Vec<usize>, Vec<usize>) = (0..data.len()).partition(|&i| held[i]);
    Ok((data.subset(&rest), data.subset(&out)))
}

/// Per-class holdout sizes for `n` samples out of classes of sizes `counts`,
/// by largest remainder (ties to the lower class index). Needs `n <= sum(counts)`.
fn holdout_quotas(counts: &[usize], n: usize) -> Vec<usize> {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return vec![0; counts.len()];
    }
    // Exact integer shares: n · count = quota · total + remainder.
    let mut quotas: Vec<usize> = Vec::with_capacity(counts.len());
    let mut remainders: Vec<(usize, usize)> = Vec::with_capacity(counts.len());
    for (c, &count) in counts.iter().enumerate() {
        let share = n as u128 * count as u128;
        quotas.push((share / total as u128) as usize);
        remainders.push(((share % total as u128) as usize, c));
    }
    let left = n - quotas.iter().sum::<usize>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, c) in remainders.iter().take(left) {
        quotas[c] += 1;
    }
    quotas
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::Rng;
    use proptest::prelude::*;
    use rand::SeedableRng;

    /// `labels` as a one-feature dataset whose feature is the id, ids from 100.
    fn labelled(labels: &[usize], classes: usize) -> Dataset {
        let ids: Vec<u64> = (100..).take(labels.len()).collect();
        let features = ids.iter().map(|&i| i as f32).collect();
        Dataset::new(features, vec![1], labels.to_vec(), classes, Some(ids))
            .expect("consistent columns")
    }

    #[test]
    fn quotas_by_largest_remainder_worked_by_hand() {
        // 5 of [6, 3, 1]: shares 3.0, 1.5, 0.5 -> floors 3, 1, 0 (4), the one
        // left goes to the tie 0.5 / 0.5 at the lower index: class 1.
        assert_eq!(holdout_quotas(&[6, 3, 1], 5), vec![3, 2, 0]);
        // 10 of [50, 30, 20]: exact.
        assert_eq!(holdout_quotas(&[50, 30, 20], 10), vec![5, 3, 2]);
        // 4 of [3, 3, 3]: 1.33 each -> 1, 1, 1, the fourth to class 0.
        assert_eq!(holdout_quotas(&[3, 3, 3], 4), vec![2, 1, 1]);
        // 3 of [7, 0, 2]: 2.33, 0, 0.67 -> 2, 0, 0, then class 2 (0.67 > 0.33).
        assert_eq!(holdout_quotas(&[7, 0, 2], 3), vec![2, 0, 1]);
    }

    #[test]
    fn holdout_keeps_proportions_exactly() {
        // 6 of class 0, 3 of class 1, 1 of class 2, interleaved.
        let labels = [0, 1, 0, 0, 2, 1, 0, 0, 1, 0];
        let data = labelled(&labels, 3);
        let (rest, held) =
            stratified_holdout(&data, 5, &mut Rng::seed_from_u64(1)).expect("n < len");
        assert_eq!(held.class_counts(), vec![3, 2, 0]);
        assert_eq!(rest.class_counts(), vec![3, 1, 1]);
    }

    #[test]
    fn holdout_is_disjoint_complete_and_keeps_order() {
        let labels: Vec<usize> = (0..40).map(|i| (i * 7 % 11) % 4).collect();
        let data = labelled(&labels, 4);
        let (rest, held) =
            stratified_holdout(&data, 13, &mut Rng::seed_from_u64(2)).expect("n < len");
        assert_eq!(held.len(), 13);
        assert_eq!(rest.len(), 27);
        let mut all: Vec<u64> = rest.ids().iter().chain(held.ids()).copied().collect();
        all.sort_unstable();
        assert_eq!(all, data.ids());
        assert!(rest.ids().windows(2).all(|w| w[0] < w[1]));
        assert!(held.ids().windows(2).all(|w| w[0] < w[1]));
        // Rows and labels moved with their ids.
        for d in [&rest, &held] {
            for i in 0..d.len() {
                let id = d.ids()[i];
                assert_eq!(d.sample(i), &[id as f32]);
                assert_eq!(d.labels()[i], labels[(id - 100) as usize]);
            }
        }
    }

    #[test]
    fn holdout_choice_depends_on_the_rng() {
        let labels: Vec<usize> = (0..100).map(|i| i % 2).collect();
        let data = labelled(&labels, 2);
        let pick = |seed| {
            let (_, held) =
                stratified_holdout(&data, 10, &mut Rng::seed_from_u64(seed)).expect("n < len");
            held.ids().to_vec()
        };
        assert_eq!(pick(3), pick(3));
        assert_ne!(pick(3), pick(4));
    }

    #[test]
    fn holdout_of_zero_keeps_everything() {
        let data = labelled(&[0, 1, 1], 2);
        let (rest, held) =
            stratified_holdout(&data, 0, &mut Rng::seed_from_u64(0)).expect("n < len");
        assert_eq!(rest, data);
        assert!(held.is_empty());
    }

    #[test]
    fn holdout_must_leave_a_sample() {
        let data = labelled(&[0, 1, 1], 2);
        let mut rng = Rng::seed_from_u64(0);
        assert_eq!(
            stratified_holdout(&data, 3, &mut rng).expect_err("n == len"),
            DataError::HoldoutTooLarge { n: 3, len: 3 }
        );
        assert!(stratified_holdout(&data, 2, &mut rng).is_ok());
    }

    #[test]
    fn limit_takes_the_first_samples() {
        let data = labelled(&[0, 1, 1, 0], 2);
        assert_eq!(limit(&data, Some(2)).ids(), &[100, 101]);
        assert_eq!(limit(&data, Some(0)).len(), 0);
        assert_eq!(limit(&data, Some(9)), data);
        assert_eq!(limit(&data, None), data);
    }

    proptest! {
        #[test]
        fn holdout_never_loses_or_duplicates_an_id(
            labels in proptest::collection::vec(0usize..5, 1..200),
            frac in 0.0f64..1.0,
            seed in any::<u64>(),
        ) {
            let data = labelled(&labels, 5);
            let n = ((data.len() as f64) * frac) as usize; // < len
            let (rest, held) = stratified_holdout(&data, n, &mut Rng::seed_from_u64(seed)).expect("n < len");
            prop_assert_eq!(held.len(), n);
            let mut all: Vec<u64> = rest.ids().iter().chain(held.ids()).copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all.as_slice(), data.ids());
            // Each class gives up its share rounded down or up.
            for (c, (&h, &total)) in held.class_counts().iter().zip(&data.class_counts()).enumerate() {
                let share = n as f64 * total as f64 / data.len() as f64;
                prop_assert!(h as f64 >= share.floor() && h as f64 <= share.ceil(), "class {}", c);
            }
        }
    }
}
