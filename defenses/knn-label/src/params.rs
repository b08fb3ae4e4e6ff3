use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// The `[[defense]]` table for `kind = "knn-label"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct KnnLabelParams {
    /// Neighbours compared with each sample. Default 10 (Peri et al. find k
    /// around the number of poisons per class works best; 10 is a robust default).
    pub k: usize,
}

impl Default for KnnLabelParams {
    fn default() -> Self {
        Self { k: 10 }
    }
}

impl KnnLabelParams {
    /// Check every value.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        ParamChecks::new().at_least("k", self.k, 1).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_must_be_positive() {
        assert!(KnnLabelParams::default().check().is_ok());
        let e = KnnLabelParams { k: 0 }.check().unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].key, "k");
        assert_eq!(e[0].message, "must be at least 1, got 0");
    }
}
