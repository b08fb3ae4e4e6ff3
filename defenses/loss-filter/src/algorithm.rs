use poisonlab_core::{Defense, DefenseInput, FilterVerdict, Rng, Verdict};

use crate::{LossFilterError, LossFilterParams};

/// The loss filter with checked parameters.
#[derive(Debug, Clone)]
pub struct LossFilter {
    params: LossFilterParams,
}

impl LossFilter {
    /// A filter for parameters that passed [`LossFilterParams::check`].
    pub fn new(params: LossFilterParams) -> Self {
        Self { params }
    }
}

impl Defense for LossFilter {
    type Error = LossFilterError;

    fn inspect(&self, input: DefenseInput<'_>, _rng: &mut Rng) -> Result<Verdict, LossFilterError> {
        let losses = input.model.losses(input.train);
        if let Some((index, &loss)) = losses.iter().enumerate().find(|(_, l)| !l.is_finite()) {
            return Err(LossFilterError::NonFiniteLoss { index, loss });
        }
        let n = losses.len();
        let flagged = (self.params.fraction * n as f64).round() as usize;
        let mut order: Vec<usize> = (0..n).collect();
        // Highest loss first; equal losses keep index order.
        order.sort_by(|&a, &b| losses[b].total_cmp(&losses[a]).then(a.cmp(&b)));
        let mut flags = vec![false; n];
        for &i in &order[..flagged] {
            flags[i] = true;
        }
        let scores = losses.into_iter().map(f64::from).collect();
        Ok(Verdict::Filter(FilterVerdict { scores, flags }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::seed::stream;
    use poisonlab_core::testing::StubClassifier;
    use poisonlab_core::{Dataset, Matrix};

    #[test]
    fn flags_the_highest_losses() {
        // Probability of the true class: 0.9, 0.2, 0.6, 0.1 -> the last two of
        // the ranking are samples 3 and 1.
        let data = Dataset::new(vec![0.; 4], vec![1], vec![0, 0, 1, 1], 2, None).unwrap();
        let proba = Matrix::new(4, 2, vec![0.9, 0.1, 0.2, 0.8, 0.4, 0.6, 0.9, 0.1]);
        let model = StubClassifier {
            n_classes: 2,
            proba: Some(proba),
        };
        let v = LossFilter::new(LossFilterParams { fraction: 0.5 })
            .inspect(
                DefenseInput::new(&data, &model, None),
                &mut stream(0, 0, "d"),
            )
            .unwrap();
        let v = v.as_filter().unwrap();
        assert_eq!(v.flags, [false, true, false, true]);
        assert!((v.scores[3] - 10f64.ln()).abs() < 1e-5);
    }
}
