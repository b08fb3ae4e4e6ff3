//! Test doubles for crates that implement attacks and defenses.

use crate::{Classifier, Dataset, Matrix};

/// A stand-in model: its embedding is the input itself, its class
/// probabilities are the ones given (uniform when none), its input gradient zero.
/// Lets defense tests state exactly what the "model" sees.
#[derive(Debug, Clone)]
pub struct StubClassifier {
    /// Number of classes.
    pub n_classes: usize,
    /// Probabilities returned by `predict_proba`, one row per sample of the
    /// dataset it is asked about; `None` for uniform.
    pub proba: Option<Matrix>,
}

impl StubClassifier {
    /// A stub with uniform probabilities over `n_classes`.
    pub fn uniform(n_classes: usize) -> Self {
        Self {
            n_classes,
            proba: None,
        }
    }
}

impl Classifier for StubClassifier {
    fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn predict_proba(&self, data: &Dataset) -> Matrix {
        self.proba.clone().unwrap_or_else(|| {
            let k = self.n_classes;
            Matrix::new(data.len(), k, vec![1.0 / k as f32; data.len() * k])
        })
    }

    fn embed(&self, data: &Dataset) -> Matrix {
        Matrix::new(data.len(), data.dim(), data.to_features())
    }

    fn input_gradient(&self, data: &Dataset) -> Matrix {
        Matrix::new(data.len(), data.dim(), vec![0.0; data.len() * data.dim()])
    }

    /// The embedding is the identity, so the gradient is `x − target`.
    fn feature_gradient(&self, data: &Dataset, targets: &Matrix) -> Matrix {
        let diff = data
            .rows()
            .flatten()
            .zip(&targets.data)
            .map(|(x, t)| x - t)
            .collect();
        Matrix::new(data.len(), data.dim(), diff)
    }
}

/// A stub is a model without parameters (for attacks that take a surrogate
/// [`crate::Model`] but only query it as a classifier in tests).
impl crate::Model for StubClassifier {
    fn n_parameters(&self) -> usize {
        0
    }
    fn parameters(&self) -> Vec<f32> {
        Vec::new()
    }
    fn set_parameters(&mut self, values: &[f32]) -> Result<(), crate::ParameterError> {
        crate::ParameterError::check(0, values)
    }
    fn clone_box(&self) -> Box<dyn crate::Model> {
        Box::new(self.clone())
    }
    fn loss_gradient(&self, _: &crate::Dataset) -> Vec<f32> {
        Vec::new()
    }
}
