use poisonlab_core::{
    BuildContext, DefenseInput, FilterVerdict, Kind, ParamError, Rng, TrainingFilter,
};

use crate::{LossFilterError, LossFilterParams};

/// The loss filter of Koh, Steinhardt and Liang 2018 ("Stronger Data
/// Poisoning Attacks Break Data Sanitization Defenses"): flags the
/// highest-loss `fraction` of the training set. Parameters are checked.
#[derive(Debug, Clone)]
pub struct LossFilter {
    params: LossFilterParams,
}

impl LossFilter {
    /// The filter for `params`, or every problem [`LossFilterParams::check`]
    /// finds with them.
    pub fn new(params: LossFilterParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// The parameters this filter runs with.
    pub fn params(&self) -> &LossFilterParams {
        &self.params
    }
}

impl Kind for LossFilter {
    type Params = LossFilterParams;

    fn build(params: LossFilterParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &LossFilterParams {
        &self.params
    }

    fn describe(&self) -> String {
        // Percent, without the float noise of the product (0.07 · 100 = 7.000000000000001).
        let percent = (self.params.fraction * 100.0 * 1e9).round() / 1e9;
        format!("loss-filter, removes the {percent} % highest-loss samples")
    }
}

impl TrainingFilter for LossFilter {
    type Error = LossFilterError;

    fn inspect(
        &self,
        input: DefenseInput<'_>,
        _rng: &mut Rng,
    ) -> Result<FilterVerdict, LossFilterError> {
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
        // `fraction` < 1 (checked), so `flagged` ≤ n.
        for &i in order.iter().take(flagged) {
            flags[i] = true;
        }
        let scores = losses.into_iter().map(f64::from).collect();
        Ok(FilterVerdict { scores, flags })
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
            .unwrap()
            .inspect(
                DefenseInput::new(&data, &model, None),
                &mut stream(0, 0, "d"),
            )
            .unwrap();
        assert_eq!(v.flags, [false, true, false, true]);
        assert!((v.scores[3] - 10f64.ln()).abs() < 1e-5);
    }

    #[test]
    fn a_fraction_of_one_or_more_cannot_be_built() {
        // Once built, then panicked slicing the ranking past its end.
        for fraction in [1.0, 1.5] {
            let e = LossFilter::new(LossFilterParams { fraction }).unwrap_err();
            assert_eq!(e.len(), 1);
            assert_eq!(e[0].key, "fraction");
            assert_eq!(e[0].message, format!("must be in [0, 1), got {fraction}"));
        }
        let facts = poisonlab_core::DataFacts::default();
        let ctx = BuildContext::new(std::path::Path::new("."), &facts);
        assert!(LossFilter::build(LossFilterParams { fraction: 1.5 }, &ctx).is_err());
    }

    #[test]
    fn builds_and_describes_itself() {
        let facts = poisonlab_core::DataFacts::default();
        let ctx = BuildContext::new(std::path::Path::new("."), &facts);
        let f = LossFilter::build(LossFilterParams::default(), &ctx).unwrap();
        assert_eq!(Kind::params(&f), &LossFilterParams::default());
        assert_eq!(
            f.describe(),
            "loss-filter, removes the 5 % highest-loss samples"
        );
        let f = LossFilter::new(LossFilterParams { fraction: 0.07 }).unwrap();
        assert_eq!(
            f.describe(),
            "loss-filter, removes the 7 % highest-loss samples"
        );
    }
}
