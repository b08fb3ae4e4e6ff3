use crate::CoreError;

/// A labelled dataset held in memory: row-major `f32` features, one row per sample.
///
/// Each sample has the same `shape` (`[d]` for tabular data, `[channels, height,
/// width]` for images), a class label below `n_classes`, and a stable id that
/// survives shuffles and filters so reports can name samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Vec<f32>,
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
        Ok(Self {
            features,
            shape,
            labels,
            ids,
            n_classes,
        })
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

    /// All features, row-major.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// The smallest and the largest feature value; `(0, 0)` when there is none.
    pub fn value_range(&self) -> (f32, f32) {
        if self.features.is_empty() {
            return (0.0, 0.0);
        }
        self.features
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    }

    /// All features, row-major, for in-place transforms (normalisation, triggers).
    pub fn features_mut(&mut self) -> &mut [f32] {
        &mut self.features
    }

    /// The labels, one per sample.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The stable sample ids, one per sample.
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// Features of sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.features[i * d..(i + 1) * d]
    }

    /// Mutable features of sample `i`.
    pub fn sample_mut(&mut self, i: usize) -> &mut [f32] {
        let d = self.dim();
        &mut self.features[i * d..(i + 1) * d]
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

    /// The samples at `indices`, in that order (ids travel with them).
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let d = self.dim();
        let mut features = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            features.extend_from_slice(self.sample(i));
        }
        Dataset {
            features,
            shape: self.shape.clone(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            ids: indices.iter().map(|&i| self.ids[i]).collect(),
            n_classes: self.n_classes,
        }
    }

    /// Append the samples of `other` (same shape and class count) after these.
    ///
    /// # Panics
    /// When the shapes or class counts differ (a programming error).
    pub fn extend(&mut self, other: &Dataset) {
        assert_eq!(self.shape, other.shape, "extend: shapes differ");
        assert_eq!(
            self.n_classes, other.n_classes,
            "extend: class counts differ"
        );
        self.features.extend_from_slice(&other.features);
        self.labels.extend_from_slice(&other.labels);
        self.ids.extend_from_slice(&other.ids);
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
        assert_eq!(d.features(), &[4., 5., 0., 1.]);
        assert_eq!(d.class_counts(), vec![1, 1]);
    }

    #[test]
    fn argmax_takes_first_on_ties() {
        let m = Matrix::new(2, 3, vec![0.2, 0.5, 0.5, 0.9, 0.0, 0.1]);
        assert_eq!(m.argmax_rows(), vec![1, 0]);
    }
}
