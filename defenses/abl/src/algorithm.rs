use poisonlab_core::tune::{Direction, Tuning, tune};
use poisonlab_core::{
    BuildContext, FilterVerdict, Kind, ModelRepair, ModelVerdict, ParamError, RepairInput, Rng,
};

use crate::{AblError, AblParams};

/// Anti-backdoor learning (Li et al. 2021, NeurIPS).
///
/// 1. **Isolation.** A model is trained from fresh initial weights (the
///    run's architecture) for `isolation-epochs` on the training set with the
///    LGA loss `sign(L − γ) · L` on each minibatch's mean cross-entropy `L`
///    (Adam; a batch below γ is ascended, so clean samples cannot be fitted
///    much below γ while the quickly learned poison can).
/// 2. Each sample's score is minus its loss under that model; the
///    `isolation-ratio` share with the lowest losses (ties to the lower
///    index) is isolated — the verdict the runner scores against the poison
///    mask (and retrains without, like a filter's).
/// 3. **Unlearning.** The deployed model (trained on the whole training
///    set) ascends the cross-entropy of the isolated samples at their
///    delivered labels for `unlearn-epochs` (Adam), breaking the link
///    between the trigger and the target.
#[derive(Debug, Clone)]
pub struct Abl {
    params: AblParams,
}

impl Abl {
    /// Anti-backdoor learning with checked `params`.
    pub fn new(params: AblParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// The isolation verdict: scores (minus the loss under the LGA-trained
    /// model) and the lowest-loss share flagged.
    pub fn isolate(
        &self,
        input: &RepairInput<'_>,
        rng: &mut Rng,
    ) -> Result<FilterVerdict, AblError> {
        let p = &self.params;
        let train = input.train;
        let mut model = input
            .trainer
            .train_from(None, train, None, 0, rng)
            .map_err(AblError::Train)?;
        let tuning = Tuning {
            learning_rate: p.learning_rate,
            batch_size: p.batch_size,
            epochs: p.isolation_epochs,
        };
        tune(
            model.as_mut(),
            train,
            &tuning,
            Direction::Flood(p.gamma as f32),
            &[],
            rng,
        )?;
        let scores: Vec<f64> = model.losses(train).iter().map(|&l| -f64::from(l)).collect();
        let n = scores.len();
        let k = ((p.isolation_ratio * n as f64).ceil() as usize).min(n);
        Ok(lowest_losses(scores, k))
    }
}

/// Flag the `k` highest scores (lowest losses), ties to the lower index.
fn lowest_losses(scores: Vec<f64>, k: usize) -> FilterVerdict {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut flags = vec![false; scores.len()];
    for &i in order.iter().take(k) {
        flags[i] = true;
    }
    FilterVerdict { scores, flags }
}

impl Kind for Abl {
    type Params = AblParams;

    fn build(params: AblParams, _: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &AblParams {
        &self.params
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "abl: isolate the {} lowest-loss share after {} epochs of LGA training (γ {}), unlearn it {} epochs",
            p.isolation_ratio, p.isolation_epochs, p.gamma, p.unlearn_epochs
        )
    }
}

impl ModelRepair for Abl {
    type Error = AblError;

    fn repair(&self, input: RepairInput<'_>, rng: &mut Rng) -> Result<ModelVerdict, Self::Error> {
        let isolation = self.isolate(&input, rng)?;
        let isolated: Vec<usize> = (0..isolation.flags.len())
            .filter(|&i| isolation.flags[i])
            .collect();
        let mut repaired = input.model.clone_box();
        let tuning = Tuning {
            learning_rate: self.params.unlearn_learning_rate,
            batch_size: self.params.batch_size,
            epochs: self.params.unlearn_epochs,
        };
        tune(
            repaired.as_mut(),
            &input.train.subset(&isolated),
            &tuning,
            Direction::Ascend,
            &[],
            rng,
        )?;
        Ok(ModelVerdict {
            inspection: None,
            isolation: Some(isolation),
            repaired: Some(repaired),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolates_the_lowest_losses_with_ties_to_the_lower_index() {
        let v = lowest_losses(vec![-0.5, -0.1, -0.9, -0.1, -2.0], 2);
        assert_eq!(v.flags, [false, true, false, true, false]);
        let v = lowest_losses(vec![-0.1, -0.1, -0.1], 2);
        assert_eq!(v.flags, [true, true, false]);
    }
}
