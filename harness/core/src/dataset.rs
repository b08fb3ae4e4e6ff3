use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::CoreError;

/// A labelled dataset held in memory: `f32` features, one row per sample.
///
/// Each sample has the same `shape` (`[d]` for tabular data, `[channels, height,
/// width]` for images), a class label below `n_classes`, and a stable id that
/// survives shuffles and filters so reports can name samples.
///
/// Rows are copy-on-write: a clone shares the rows it was cloned from, and
/// changing a sample of it ([`Dataset::sample_mut`]) or appending samples
/// ([`Dataset::extend`]) stores only those rows apart. A poisoned training set
/// made from a clone of the clean one is thus the clean rows plus the rows
/// the attack changed or added. Read rows with [`Dataset::sample`] or
/// [`Dataset::rows`]; [`Dataset::to_features`] copies the whole matrix.
#[derive(Clone)]
pub struct Dataset {
    /// Rows shared with the datasets cloned from this one (or it from them),
    /// row-major; written in place only while no other dataset shares them.
    base: Arc<Vec<f32>>,
    /// Rows of this dataset alone (changed after sharing, or appended),
    /// row-major, in the order they were stored.
    own: Vec<f32>,
    /// Where each sample's row is: `r` below the number of `base` rows is
    /// `base` row `r`, above it `own` row `r − base rows`. `None`: sample
    /// `i` is `base` row `i` (then `own` is empty). No row serves two samples.
    map: Option<Vec<usize>>,
    shape: Vec<usize>,
    labels: Vec<usize>,
    ids: Vec<u64>,
    n_classes: usize,
}

impl Dataset {
    /// Build a dataset, checking that every column has one entry per sample and
    /// every label is a class index. Ids default to `0..n` when `ids` is `None`.
    pub fn new(
        features: Vec<f32>,
        shape: Vec<usize>,
        labels: Vec<usize>,
        n_classes: usize,
        ids: Option<Vec<u64>>,
    ) -> Result<Self, CoreError> {
        if shape.is_empty() || shape.contains(&0) {
            return Err(CoreError::BadShape(shape));
        }
        let dim: usize = shape.iter().product();
        let n = labels.len();
        if features.len() != n * dim {
            return Err(CoreError::FeatureLength {
                got: features.len(),
                n,
                dim,
                expected: n * dim,
            });
        }
        let ids = ids.unwrap_or_else(|| (0..n as u64).collect());
        if ids.len() != n {
            return Err(CoreError::ColumnLength {
                what: "ids",
                got: ids.len(),
                n,
            });
        }
        if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= n_classes) {
            return Err(CoreError::LabelOutOfRange {
                index,
                label,
                classes: n_classes,
            });
        }
        Ok(Self::from_parts(features, shape, labels, ids, n_classes))
    }

    /// A dataset owning `features` alone (no row shared, none apart).
    fn from_parts(
        features: Vec<f32>,
        shape: Vec<usize>,
        labels: Vec<usize>,
        ids: Vec<u64>,
        n_classes: usize,
    ) -> Self {
        Self {
            base: Arc::new(features),
            own: Vec::new(),
            map: None,
            shape,
            labels,
            ids,
            n_classes,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the dataset holds no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Shape of one sample: `[d]` or `[channels, height, width]`.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Values per sample (the product of [`Self::shape`]).
    pub fn dim(&self) -> usize {
        self.shape.iter().product()
    }

    /// True for image data (`[channels, height, width]`).
    pub fn is_image(&self) -> bool {
        self.shape.len() == 3
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The features of every sample in order, one row each (no copy).
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> + Clone + '_ {
        (0..self.len()).map(|i| self.sample(i))
    }

    /// The features of the samples in `range`, row-major, in a new buffer
    /// (`range.len() × dim` values): a batch for a model.
    ///
    /// # Panics
    /// When `range` reaches past the last sample (a programming error).
    pub fn copy_rows(&self, range: Range<usize>) -> Vec<f32> {
        let d = self.dim();
        assert!(range.end <= self.len(), "rows {range:?} of {}", self.len());
        if self.map.is_none() {
            return self.base[range.start * d..range.end * d].to_vec();
        }
        let mut out = Vec::with_capacity(range.len() * d);
        for i in range {
            out.extend_from_slice(self.sample(i));
        }
        out
    }

    /// A copy of all features, row-major (`len × dim` values: for a
    /// 60 000-image set, another 188 MB). Read rows in place with
    /// [`Self::sample`] or [`Self::rows`] where that will do.
    pub fn to_features(&self) -> Vec<f32> {
        self.copy_rows(0..self.len())
    }

    /// Samples whose rows are stored apart from the shared ones (changed
    /// after a clone, or appended): what this dataset costs beyond the
    /// rows it shares.
    pub fn rows_apart(&self) -> usize {
        self.own.len() / self.dim()
    }

    /// Make room for `rows` more rows stored apart, so that changing or
    /// appending that many samples of a shared dataset allocates once and
    /// no more than they need.
    pub fn reserve_apart(&mut self, rows: usize) {
        self.own.reserve_exact(rows * self.dim());
    }

    /// The smallest and the largest feature value; `(0, 0)` when there is none.
    pub fn value_range(&self) -> (f32, f32) {
        if self.is_empty() {
            return (0.0, 0.0);
        }
        self.rows()
            .flatten()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    }

    /// All features, row-major, for in-place transforms (normalisation, triggers).
    ///
    /// The dataset first takes every row as its own, in one buffer: rows it
    /// shares with another dataset or stores apart are copied (the whole
    /// matrix); a dataset that shares nothing is written in place. Change a
    /// few samples with [`Self::sample_mut`] instead.
    pub fn features_mut(&mut self) -> &mut [f32] {
        if self.map.is_some() {
            let all = self.to_features();
            *self = Self::from_parts(
                all,
                std::mem::take(&mut self.shape),
                std::mem::take(&mut self.labels),
                std::mem::take(&mut self.ids),
                self.n_classes,
            );
        }
        Arc::make_mut(&mut self.base).as_mut_slice()
    }

    /// The labels, one per sample.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The stable sample ids, one per sample.
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// Rows in the shared buffer.
    fn base_rows(&self) -> usize {
        self.base.len() / self.dim()
    }

    /// Where sample `i`'s row is (see the field `map`).
    fn row_of(&self, i: usize) -> usize {
        match &self.map {
            None => i,
            Some(map) => map[i],
        }
    }

    /// Features of sample `i`.
    ///
    /// # Panics
    /// When `i` is not below [`Self::len`] (a programming error).
    pub fn sample(&self, i: usize) -> &[f32] {
        let d = self.dim();
        assert!(i < self.len(), "sample {i} of {}", self.len());
        let r = self.row_of(i);
        let base_rows = self.base.len() / d;
        if r < base_rows {
            &self.base[r * d..(r + 1) * d]
        } else {
            let k = r - base_rows;
            &self.own[k * d..(k + 1) * d]
        }
    }

    /// Mutable features of sample `i`: while its row is shared with another
    /// dataset, it is copied apart first (one row; the others stay shared).
    /// Once more than half the shared rows would be stored apart, the dataset
    /// takes every row as its own instead (as [`Self::features_mut`] does), so
    /// that a clone changed all over never costs more than a copy.
    ///
    /// # Panics
    /// When `i` is not below [`Self::len`] (a programming error).
    pub fn sample_mut(&mut self, i: usize) -> &mut [f32] {
        let d = self.dim();
        assert!(i < self.len(), "sample {i} of {}", self.len());
        let mut base_rows = self.base_rows();
        let mut r = self.row_of(i);
        if r < base_rows
            && 2 * (self.rows_apart() + 1) > base_rows
            && Arc::get_mut(&mut self.base).is_none()
        {
            self.features_mut();
            (base_rows, r) = (self.base_rows(), i);
        }
        if r < base_rows {
            if Arc::get_mut(&mut self.base).is_some() {
                // No other dataset shares the rows: write in place.
                let base = Arc::get_mut(&mut self.base)
                    .unwrap_or_else(|| unreachable!("checked just above"));
                return &mut base[r * d..(r + 1) * d];
            }
            let k = self.own.len() / d;
            self.own.extend_from_slice(&self.base[r * d..(r + 1) * d]);
            let n = self.len();
            self.map.get_or_insert_with(|| (0..n).collect())[i] = base_rows + k;
            r = base_rows + k;
        }
        let k = r - base_rows;
        &mut self.own[k * d..(k + 1) * d]
    }

    /// Set the label of sample `i`.
    ///
    /// # Panics
    /// When `label` is not below the class count: callers pass class indices
    /// they checked against [`Self::n_classes`].
    pub fn set_label(&mut self, i: usize, label: usize) {
        assert!(label < self.n_classes, "label {label} out of range");
        self.labels[i] = label;
    }

    /// Count of samples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes];
        for &l in &self.labels {
            counts[l] += 1;
        }
        counts
    }

    /// The samples at `indices`, in that order (ids travel with them), in a
    /// buffer of their own (the rows are copied).
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let d = self.dim();
        let mut features = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            features.extend_from_slice(self.sample(i));
        }
        Self::from_parts(
            features,
            self.shape.clone(),
            indices.iter().map(|&i| self.labels[i]).collect(),
            indices.iter().map(|&i| self.ids[i]).collect(),
            self.n_classes,
        )
    }

    /// Append the samples of `other` (same shape and class count) after these:
    /// their rows are copied, apart from any this dataset shares.
    ///
    /// # Panics
    /// When the shapes or class counts differ (a programming error).
    pub fn extend(&mut self, other: &Dataset) {
        assert_eq!(self.shape, other.shape, "extend: shapes differ");
        assert_eq!(
            self.n_classes, other.n_classes,
            "extend: class counts differ"
        );
        let d = self.dim();
        let n = self.len();
        if self.map.is_none()
            && let Some(base) = Arc::get_mut(&mut self.base)
        {
            // Nothing shared or stored apart: grow the one buffer.
            other.rows().for_each(|row| base.extend_from_slice(row));
        } else {
            let first = self.base.len() / d + self.own.len() / d;
            let map = self.map.get_or_insert_with(|| (0..n).collect());
            map.extend(first..first + other.len());
            other.rows().for_each(|row| self.own.extend_from_slice(row));
        }
        self.labels.extend_from_slice(&other.labels);
        self.ids.extend_from_slice(&other.ids);
    }
}

/// Two datasets are equal when they hold the same samples: shape, class
/// count, labels, ids and every feature value (compared as `f32`s, so a NaN
/// is equal to nothing), however their rows are stored.
impl PartialEq for Dataset {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape
            && self.n_classes == other.n_classes
            && self.labels == other.labels
            && self.ids == other.ids
            && self.rows().zip(other.rows()).all(|(a, b)| a == b)
    }
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("shape", &self.shape)
            .field("n_classes", &self.n_classes)
            .field("labels", &self.labels)
            .field("ids", &self.ids)
            .field("rows", &DebugRows(self))
            .field("rows_apart", &self.rows_apart())
            .finish()
    }
}

/// The rows of a dataset, as a list of lists for [`Debug`].
struct DebugRows<'a>(&'a Dataset);

impl fmt::Debug for DebugRows<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.rows()).finish()
    }
}

/// A dense row-major `f32` matrix: class probabilities, embeddings, gradients.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows (usually samples).
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows × cols` values, row-major.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Wrap `data` as a `rows × cols` matrix.
    ///
    /// # Panics
    /// When `data.len() != rows * cols` (a programming error).
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix data length");
        Self { rows, cols, data }
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The index of the largest value in each row (first one on ties).
    pub fn argmax_rows(&self) -> Vec<usize> {
        (0..self.rows)
            .map(|i| {
                let row = self.row(i);
                let mut best = 0;
                for (j, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = j;
                    }
                }
                best
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        Dataset::new(
            vec![0., 1., 2., 3., 4., 5.],
            vec![2],
            vec![0, 1, 1],
            2,
            Some(vec![10, 11, 12]),
        )
        .unwrap()
    }

    #[test]
    fn new_rejects_inconsistent_columns() {
        assert!(matches!(
            Dataset::new(vec![0.; 5], vec![2], vec![0, 1, 1], 2, None),
            Err(CoreError::FeatureLength { .. })
        ));
        assert!(matches!(
            Dataset::new(vec![0.; 6], vec![2], vec![0, 2, 1], 2, None),
            Err(CoreError::LabelOutOfRange {
                index: 1,
                label: 2,
                ..
            })
        ));
        assert!(matches!(
            Dataset::new(vec![0.; 6], vec![2], vec![0, 1, 1], 2, Some(vec![1])),
            Err(CoreError::ColumnLength { what: "ids", .. })
        ));
        assert!(matches!(
            Dataset::new(vec![], vec![0], vec![], 2, None),
            Err(CoreError::BadShape(_))
        ));
    }

    #[test]
    fn subset_moves_ids_labels_and_rows_together() {
        let d = tiny().subset(&[2, 0]);
        assert_eq!(d.ids(), &[12, 10]);
        assert_eq!(d.labels(), &[1, 0]);
        assert_eq!(d.to_features(), [4., 5., 0., 1.]);
        assert_eq!(d.class_counts(), vec![1, 1]);
    }

    #[test]
    fn a_changed_clone_shares_every_row_it_did_not_change() {
        let clean = tiny();
        let mut view = clean.clone();
        view.sample_mut(1)[0] = 9.0;
        view.set_label(1, 0);
        assert_eq!(view.to_features(), [0., 1., 9., 3., 4., 5.]);
        assert_eq!(view.rows_apart(), 1);
        // The same row again is changed where it now lies.
        view.sample_mut(1)[1] = 8.0;
        assert_eq!(view.sample(1), &[9., 8.]);
        assert_eq!(view.rows_apart(), 1);
        // The original is untouched and stores nothing apart.
        assert_eq!(clean, tiny());
        assert_eq!(clean.rows_apart(), 0);
        // Unchanged rows are the original's, not copies of them.
        assert!(std::ptr::eq(view.sample(0), clean.sample(0)));
        assert!(std::ptr::eq(view.sample(2), clean.sample(2)));
    }

    #[test]
    fn a_clone_changed_mostly_takes_every_row_as_its_own() {
        let clean = tiny();
        let mut view = clean.clone();
        view.sample_mut(0)[0] = -1.0;
        assert_eq!(view.rows_apart(), 1);
        // A second row apart would be more than half of the three.
        view.sample_mut(2)[0] = -2.0;
        assert_eq!(view.rows_apart(), 0);
        assert_eq!(view.to_features(), [-1., 1., 2., 3., -2., 5.]);
        assert!(!std::ptr::eq(view.sample(1), clean.sample(1)));
        assert_eq!(clean, tiny());
    }

    #[test]
    fn a_dataset_sharing_nothing_is_written_in_place() {
        let mut d = tiny();
        d.sample_mut(2)[1] = 7.0;
        assert_eq!(d.rows_apart(), 0);
        assert_eq!(d.to_features(), [0., 1., 2., 3., 4., 7.]);
        // Once the clone it shared with is gone, a view writes in place too.
        let mut view = tiny().clone();
        view.sample_mut(0)[0] = 5.0;
        assert_eq!(view.rows_apart(), 0);
    }

    #[test]
    fn extend_on_a_shared_dataset_stores_the_new_rows_apart() {
        let clean = tiny();
        let mut view = clean.clone();
        view.sample_mut(0)[0] = -1.0;
        view.extend(&tiny().subset(&[2]));
        assert_eq!(view.len(), 4);
        assert_eq!(view.to_features(), [-1., 1., 2., 3., 4., 5., 4., 5.]);
        assert_eq!(view.labels(), &[0, 1, 1, 1]);
        assert_eq!(view.ids(), &[10, 11, 12, 12]);
        assert_eq!(view.rows_apart(), 2);
        view.reserve_apart(1);
        // An appended row changes where it lies.
        view.sample_mut(3)[0] = 6.0;
        assert_eq!(view.sample(3), &[6., 5.]);
        assert_eq!(clean, tiny());
        // A dataset that shares nothing grows its one buffer.
        let mut alone = tiny();
        alone.extend(&tiny());
        assert_eq!(alone.rows_apart(), 0);
        assert_eq!(alone.len(), 6);
    }

    #[test]
    fn features_mut_takes_every_row_as_its_own() {
        let clean = tiny();
        let mut view = clean.clone();
        view.sample_mut(1)[0] = 9.0;
        for v in view.features_mut() {
            *v += 1.0;
        }
        assert_eq!(view.to_features(), [1., 2., 10., 4., 5., 6.]);
        assert_eq!(view.rows_apart(), 0);
        assert_eq!(clean, tiny());
    }

    #[test]
    fn equality_is_by_content_however_rows_are_stored() {
        let clean = tiny();
        let mut view = clean.clone();
        view.sample_mut(1)[0] = 2.0; // the value it had: stored apart, equal
        assert_eq!(view.rows_apart(), 1);
        assert_eq!(view, clean);
        view.sample_mut(1)[0] = 2.5;
        assert_ne!(view, clean);
        let mut relabelled = tiny();
        relabelled.set_label(0, 1);
        assert_ne!(relabelled, tiny());
    }

    #[test]
    fn copy_rows_and_subset_read_through_the_changes() {
        let clean = tiny();
        let mut view = clean.clone();
        view.sample_mut(2)[0] = 8.0;
        assert_eq!(view.copy_rows(1..3), [2., 3., 8., 5.]);
        let s = view.subset(&[2, 0]);
        assert_eq!(s.to_features(), [8., 5., 0., 1.]);
        assert_eq!(s.rows_apart(), 0);
        assert_eq!(view.rows_apart(), 1);
        assert_eq!(view.value_range(), (0.0, 8.0));
    }

    #[test]
    fn argmax_takes_first_on_ties() {
        let m = Matrix::new(2, 3, vec![0.2, 0.5, 0.5, 0.9, 0.0, 0.1]);
        assert_eq!(m.argmax_rows(), vec![1, 0]);
    }
}
