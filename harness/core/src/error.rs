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

/// Collects every problem of one parameter table, in the order checked, for
/// the `check()` methods: the common rules word their messages the same way
/// in every crate.
#[derive(Debug, Default)]
pub struct ParamChecks {
    errors: Vec<ParamError>,
}

impl ParamChecks {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `value` must be a finite number > 0.
    pub fn positive(&mut self, key: &str, value: f64) -> &mut Self {
        if !(value.is_finite() && value > 0.0) {
            self.push(ParamError::new(
                key,
                format!("must be a finite number > 0, got {value}"),
            ));
        }
        self
    }

    /// `value` must be a finite number ≥ 0.
    pub fn non_negative(&mut self, key: &str, value: f64) -> &mut Self {
        if !(value.is_finite() && value >= 0.0) {
            self.push(ParamError::new(
                key,
                format!("must be a finite number ≥ 0, got {value}"),
            ));
        }
        self
    }

    /// `value` must lie in `(low, high]`.
    pub fn in_range_left_open(&mut self, key: &str, value: f64, low: f64, high: f64) -> &mut Self {
        if !(value > low && value <= high) {
            self.push(ParamError::new(
                key,
                format!("must be in ({low}, {high}], got {value}"),
            ));
        }
        self
    }

    /// `value` must be in [0, 1].
    pub fn in_unit_interval(&mut self, key: &str, value: f64) -> &mut Self {
        if !(0.0..=1.0).contains(&value) {
            self.push(ParamError::new(
                key,
                format!("must be in [0, 1], got {value}"),
            ));
        }
        self
    }

    /// `value` must be at least `min`.
    pub fn at_least(&mut self, key: &str, value: usize, min: usize) -> &mut Self {
        if value < min {
            self.push(ParamError::new(
                key,
                format!("must be at least {min}, got {value}"),
            ));
        }
        self
    }

    /// Record a problem no common rule covers.
    pub fn push(&mut self, error: ParamError) -> &mut Self {
        self.errors.push(error);
        self
    }

    /// `Ok` when nothing was wrong, else every problem found.
    pub fn finish(&mut self) -> Result<(), Vec<ParamError>> {
        let errors = std::mem::take(&mut self.errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod param_checks_tests {
    use super::*;

    #[test]
    fn common_rules_word_their_messages_alike_and_keep_order() {
        let e = ParamChecks::new()
            .positive("a", 0.0)
            .positive("ok", 1.0)
            .non_negative("b", f64::NAN)
            .in_range_left_open("c", 0.7, 0.0, 0.5)
            .at_least("d", 0, 1)
            .at_least("e", 1, 2)
            .finish()
            .unwrap_err();
        let got: Vec<(String, String)> = e.into_iter().map(|e| (e.key, e.message)).collect();
        let want = [
            ("a", "must be a finite number > 0, got 0"),
            ("b", "must be a finite number ≥ 0, got NaN"),
            ("c", "must be in (0, 0.5], got 0.7"),
            ("d", "must be at least 1, got 0"),
            ("e", "must be at least 2, got 1"),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, m), (wk, wm)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), m.as_str()), (wk, wm));
        }
        assert!(ParamChecks::new().positive("x", 2.0).finish().is_ok());
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
