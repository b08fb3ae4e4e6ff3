use thiserror::Error;

/// Errors from building or transforming a [`crate::Dataset`].
#[derive(Debug, Error, PartialEq)]
pub enum CoreError {
    /// The feature buffer does not hold `n × dim` values.
    #[error("dataset features hold {got} values, expected {n} samples × {dim} = {expected}")]
    FeatureLength {
        /// Values present.
        got: usize,
        /// Samples.
        n: usize,
        /// Values per sample.
        dim: usize,
        /// `n × dim`.
        expected: usize,
    },
    /// A per-sample column (labels, ids) has the wrong length.
    #[error("dataset {what} has {got} entries, expected one per sample ({n})")]
    ColumnLength {
        /// Which column.
        what: &'static str,
        /// Entries present.
        got: usize,
        /// Samples.
        n: usize,
    },
    /// A label is not a class index below the class count.
    #[error("label {label} of sample {index} is not below the class count {classes}")]
    LabelOutOfRange {
        /// Sample position.
        index: usize,
        /// The label.
        label: usize,
        /// Class count.
        classes: usize,
    },
    /// Appending samples would need ids beyond u64::MAX.
    #[error("no sample ids left: the dataset's ids reach u64::MAX")]
    IdsExhausted,
    /// A sample shape with a zero or no dimension.
    #[error("sample shape {0:?} is empty or has a zero dimension")]
    BadShape(Vec<usize>),
}

/// One problem with a user-supplied parameter, named by its key.
///
/// Parameter checks collect every problem they find and return them together,
/// so a user sees all mistakes in a scenario at once. `key` is the key as the
/// user wrote it inside its table (for example `rate`), the runner adds the
/// table and the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The key the problem is about.
    pub key: String,
    /// What is wrong, stating the rule (for example "must be in [0, 1], got 1.5").
    pub message: String,
}

impl ParamError {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl ParamError {
    /// The problem with `key` naming `class` when the data (if its class count
    /// is known) has no such class; `None` when the class exists or the count
    /// is not known yet.
    pub fn class_out_of_range(
        key: &str,
        class: usize,
        n_classes: Option<usize>,
    ) -> Option<ParamError> {
        let k = n_classes?;
        (class >= k).then(|| {
            ParamError::new(
                key,
                format!(
                    "class {class} is not in the dataset, which has {k} classes (0..={})",
                    k.saturating_sub(1)
                ),
            )
        })
    }
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::ParamError;

    #[test]
    fn class_out_of_range_names_the_key_and_the_valid_range() {
        let e = ParamError::class_out_of_range("target", 12, Some(10)).unwrap();
        assert_eq!(e.key, "target");
        assert_eq!(
            e.message,
            "class 12 is not in the dataset, which has 10 classes (0..=9)"
        );
        assert_eq!(ParamError::class_out_of_range("target", 9, Some(10)), None);
        assert_eq!(ParamError::class_out_of_range("target", 12, None), None);
    }
}
