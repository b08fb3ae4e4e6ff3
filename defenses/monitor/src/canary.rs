use poisonlab_core::{BuildContext, Kind, ParamError, RoundCheck, RoundMonitor, RoundView};

use crate::{CanaryParams, MonitorError};

/// The canary audit: per-class accuracy of each round's model on the fixed
/// trusted audit set, against round 1 (holdout auditing on trusted data, as
/// in the provenance-based defense of Baracaldo, Chen, Ludwig and Safavi
/// 2017, "Mitigating Poisoning Attacks on Machine Learning Models: A Data
/// Provenance Based Approach", AISec, which judges harm by performance on
/// trusted samples).
///
/// The first observed round (normally round 1) records each class's audit
/// accuracy `p₁`; it never alarms. In every later round `r` the accuracy `p_r`
/// of [`RoundView::model`] is measured again and a class **alarms** when its
/// fall `p₁ − p_r` is both
/// - larger than `threshold`, and
/// - at least `z` standard errors of a one-sided two-proportion z-test on the
///   class's `n` audit samples, `(p₁ − p_r) / √(p̄ (1 − p̄) · 2 / n)` with
///   `p̄ = (p₁ + p_r) / 2`, so that a class with few audit samples does not
///   alarm on noise (20 samples falling from 0.9 to 0.75 is 1.25 standard
///   errors).
///
/// The two accuracies are measured on the same samples, so they are
/// positively correlated and the unpaired standard error above is larger
/// than the true one: the test is conservative.
///
/// [`RoundCheck::statistic`] is the largest fall over the classes the audit
/// set holds (0 in the first round; negative when every class improved),
/// [`RoundCheck::threshold`] is `threshold`, and the round alarms when any
/// class does. Classes without audit samples are not audited.
#[derive(Debug, Clone)]
pub struct Canary {
    params: CanaryParams,
    /// Per class: audit samples and the first round's correct predictions.
    reference: Option<(Vec<usize>, Vec<usize>)>,
    last_round: usize,
}

impl Canary {
    /// A canary audit for `params`, with no round seen yet, or every problem
    /// [`CanaryParams::check`] finds with them.
    pub fn new(params: CanaryParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self {
            params,
            reference: None,
            last_round: 0,
        })
    }

    /// The parameters this audit runs with.
    pub fn params(&self) -> &CanaryParams {
        &self.params
    }
}

impl Kind for Canary {
    type Params = CanaryParams;

    fn build(params: CanaryParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &CanaryParams {
        &self.params
    }

    fn describe(&self) -> String {
        format!(
            "canary, alarms when a class's audit accuracy falls more than {} below round 1's, by at least {} standard errors",
            self.params.threshold, self.params.z
        )
    }
}

impl RoundMonitor for Canary {
    type Error = MonitorError;

    fn observe(&mut self, view: RoundView<'_>) -> Result<RoundCheck, MonitorError> {
        if view.round <= self.last_round {
            return Err(MonitorError::RoundOrder {
                previous: self.last_round,
                got: view.round,
            });
        }
        let audit = view.audit.ok_or(MonitorError::NoAudit)?;
        if audit.is_empty() {
            return Err(MonitorError::EmptyAudit);
        }
        let predicted = view.model.predict(audit);
        if predicted.len() != audit.len() {
            return Err(MonitorError::PredictionLength {
                got: predicted.len(),
                expected: audit.len(),
            });
        }
        let counts = audit.class_counts();
        let mut correct = vec![0usize; counts.len()];
        for (&y, &p) in audit.labels().iter().zip(&predicted) {
            if y == p {
                correct[y] += 1;
            }
        }

        let threshold = self.params.threshold;
        let Some((ref_counts, ref_correct)) = &self.reference else {
            self.reference = Some((counts, correct));
            self.last_round = view.round;
            return Ok(RoundCheck {
                round: view.round,
                statistic: 0.0,
                threshold,
                alarm: false,
            });
        };
        if *ref_counts != counts {
            return Err(MonitorError::AuditChanged {
                expected: ref_counts.clone(),
                got: counts,
            });
        }

        let mut statistic = f64::NEG_INFINITY;
        let mut alarm = false;
        for ((&n, &before), &after) in counts.iter().zip(ref_correct).zip(&correct) {
            if n == 0 {
                continue;
            }
            let fall = (before as f64 - after as f64) / n as f64;
            statistic = statistic.max(fall);
            alarm |= fall > threshold && fall_z(before, after, n) >= self.params.z;
        }
        self.last_round = view.round;
        Ok(RoundCheck {
            round: view.round,
            // The audit set is not empty, so some class was audited.
            statistic,
            threshold,
            alarm,
        })
    }
}

/// The one-sided two-proportion z statistic of a fall from `before` to
/// `after` correct out of `n`: `(p₁ − p_r) / √(p̄ (1 − p̄) · 2 / n)` with the
/// pooled `p̄`; 0 when both proportions are equal (including all 0 or all 1).
fn fall_z(before: usize, after: usize, n: usize) -> f64 {
    let n = n as f64;
    let (p1, pr) = (before as f64 / n, after as f64 / n);
    let pooled = (p1 + pr) / 2.0;
    let se = (pooled * (1.0 - pooled) * 2.0 / n).sqrt();
    if se > 0.0 { (p1 - pr) / se } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::testing::StubClassifier;
    use poisonlab_core::{Dataset, Matrix};

    /// An audit set with `counts[c]` samples of class `c` (feature = index).
    fn audit(counts: &[usize]) -> Dataset {
        let labels: Vec<usize> = counts
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
            .collect();
        let features = (0..labels.len()).map(|i| i as f32).collect();
        Dataset::new(features, vec![1], labels, counts.len(), None).unwrap()
    }

    /// A model that gets the first `right[c]` samples of each class `c` of
    /// `audit` right and calls the rest the next class.
    fn model(audit: &Dataset, right: &[usize]) -> StubClassifier {
        let k = audit.n_classes();
        let mut seen = vec![0; k];
        let mut proba = vec![0.0; audit.len() * k];
        for (i, &y) in audit.labels().iter().enumerate() {
            let p = if seen[y] < right[y] { y } else { (y + 1) % k };
            seen[y] += 1;
            proba[i * k + p] = 1.0;
        }
        StubClassifier {
            n_classes: k,
            proba: Some(Matrix::new(audit.len(), k, proba)),
        }
    }

    fn observe(
        canary: &mut Canary,
        round: usize,
        audit: Option<&Dataset>,
        model: &StubClassifier,
    ) -> Result<RoundCheck, MonitorError> {
        let batch = self::audit(&[1, 1]);
        canary.observe(RoundView {
            round,
            batch: &batch,
            model,
            reference: model,
            audit,
            streams: poisonlab_core::Streams { seed: 0, repeat: 0 },
        })
    }

    #[test]
    fn fall_z_matches_the_hand_computed_test() {
        // 45 → 20 of 50: p̄ = 0.65, se = √(0.65 · 0.35 · 2 / 50) = 0.095394,
        // z = 0.5 / 0.095394 = 5.2414.
        assert!((fall_z(45, 20, 50) - 5.241_424_1).abs() < 1e-6);
        // 18 → 15 of 20: p̄ = 0.825, se = √(0.825 · 0.175 · 0.1) = 0.120156.
        assert!((fall_z(18, 15, 20) - 1.248_375_3).abs() < 1e-6);
        assert_eq!(fall_z(20, 20, 20), 0.0);
        assert_eq!(fall_z(0, 0, 20), 0.0);
        assert!(fall_z(10, 12, 20) < 0.0);
    }

    #[test]
    fn alarms_in_the_round_one_class_collapses() {
        let a = audit(&[50, 50, 50, 50]);
        let mut canary = Canary::new(CanaryParams::default()).unwrap();
        let rounds = [
            [45, 45, 45, 45],
            [44, 46, 45, 43],
            [45, 44, 20, 45],
            [45, 45, 18, 44],
        ];
        let checks: Vec<RoundCheck> = rounds
            .iter()
            .enumerate()
            .map(|(r, right)| observe(&mut canary, r + 1, Some(&a), &model(&a, right)).unwrap())
            .collect();
        let alarms: Vec<bool> = checks.iter().map(|c| c.alarm).collect();
        assert_eq!(alarms, [false, false, true, true]);
        assert_eq!(checks[0].statistic, 0.0);
        assert!((checks[1].statistic - 0.04).abs() < 1e-12);
        assert!((checks[2].statistic - 0.5).abs() < 1e-12);
        assert!((checks[3].statistic - 0.54).abs() < 1e-12);
        assert!(checks.iter().all(|c| c.threshold == 0.1));
        assert_eq!(crate::summarize(&checks), (Some(3), 2));
    }

    #[test]
    fn a_large_fall_in_a_small_class_is_not_enough() {
        // Class 1 has 20 audit samples: 18 → 15 right is a fall of 0.15 >
        // threshold, but only 1.25 standard errors.
        let a = audit(&[200, 20]);
        let mut canary = Canary::new(CanaryParams::default()).unwrap();
        observe(&mut canary, 1, Some(&a), &model(&a, &[180, 18])).unwrap();
        let c = observe(&mut canary, 2, Some(&a), &model(&a, &[178, 15])).unwrap();
        assert!((c.statistic - 0.15).abs() < 1e-12);
        assert!(!c.alarm);
        // The same fall on 200 samples is 4 standard errors.
        let c = observe(&mut canary, 3, Some(&a), &model(&a, &[150, 18])).unwrap();
        assert!((c.statistic - 0.15).abs() < 1e-12);
        assert!(c.alarm);
    }

    #[test]
    fn a_significant_fall_within_the_threshold_is_not_enough() {
        // 1000 samples: 0.95 → 0.88 is about 5.8 standard errors but below 0.1.
        let a = audit(&[1000, 10]);
        let mut canary = Canary::new(CanaryParams::default()).unwrap();
        observe(&mut canary, 1, Some(&a), &model(&a, &[950, 10])).unwrap();
        let c = observe(&mut canary, 2, Some(&a), &model(&a, &[880, 10])).unwrap();
        assert!(fall_z(950, 880, 1000) > 5.0);
        assert!(!c.alarm);
        let strict = CanaryParams {
            threshold: 0.05,
            ..Default::default()
        };
        let mut canary = Canary::new(strict).unwrap();
        observe(&mut canary, 1, Some(&a), &model(&a, &[950, 10])).unwrap();
        let c = observe(&mut canary, 2, Some(&a), &model(&a, &[880, 10])).unwrap();
        assert!(c.alarm);
    }

    #[test]
    fn the_first_round_never_alarms_and_improvements_are_negative() {
        let a = audit(&[50, 50]);
        let mut canary = Canary::new(CanaryParams::default()).unwrap();
        let c = observe(&mut canary, 1, Some(&a), &model(&a, &[0, 0])).unwrap();
        assert!(!c.alarm);
        let c = observe(&mut canary, 2, Some(&a), &model(&a, &[40, 45])).unwrap();
        assert!((c.statistic + 0.8).abs() < 1e-12);
        assert!(!c.alarm);
    }

    #[test]
    fn needs_a_non_empty_fixed_audit_set() {
        let a = audit(&[5, 5]);
        let m = model(&a, &[5, 5]);
        let mut canary = Canary::new(CanaryParams::default()).unwrap();
        assert_eq!(
            observe(&mut canary, 1, None, &m),
            Err(MonitorError::NoAudit)
        );
        let empty = Dataset::new(vec![], vec![1], vec![], 2, None).unwrap();
        assert_eq!(
            observe(&mut canary, 1, Some(&empty), &m),
            Err(MonitorError::EmptyAudit)
        );
        // The failed calls set nothing: round 1 still sets the reference.
        assert!(!observe(&mut canary, 1, Some(&a), &m).unwrap().alarm);
        let other = audit(&[6, 4]);
        assert_eq!(
            observe(&mut canary, 2, Some(&other), &model(&other, &[6, 4])),
            Err(MonitorError::AuditChanged {
                expected: vec![5, 5],
                got: vec![6, 4]
            })
        );
        assert_eq!(
            observe(&mut canary, 2, None, &m),
            Err(MonitorError::NoAudit)
        );
    }

    #[test]
    fn rejects_rounds_out_of_order_and_short_predictions() {
        let a = audit(&[5, 5]);
        let m = model(&a, &[5, 5]);
        let mut canary = Canary::new(CanaryParams::default()).unwrap();
        assert_eq!(
            observe(&mut canary, 0, Some(&a), &m),
            Err(MonitorError::RoundOrder {
                previous: 0,
                got: 0
            })
        );
        observe(&mut canary, 1, Some(&a), &m).unwrap();
        observe(&mut canary, 2, Some(&a), &m).unwrap();
        assert_eq!(
            observe(&mut canary, 2, Some(&a), &m),
            Err(MonitorError::RoundOrder {
                previous: 2,
                got: 2
            })
        );
        let short = StubClassifier {
            n_classes: 2,
            proba: Some(Matrix::new(3, 2, vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0])),
        };
        assert_eq!(
            observe(&mut canary, 3, Some(&a), &short),
            Err(MonitorError::PredictionLength {
                got: 3,
                expected: 10
            })
        );
    }

    #[test]
    fn new_and_build_check_the_parameters() {
        let bad = CanaryParams {
            threshold: 1.0,
            z: 0.0,
        };
        let e = Canary::new(bad.clone()).unwrap_err();
        let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["threshold", "z"]);
        let facts = poisonlab_core::DataFacts::default();
        let ctx = BuildContext::new(std::path::Path::new("."), &facts);
        assert_eq!(Canary::build(bad, &ctx).unwrap_err(), e);
        let built = Canary::build(CanaryParams::default(), &ctx).unwrap();
        assert_eq!(Kind::params(&built), &CanaryParams::default());
        assert_eq!(
            built.describe(),
            "canary, alarms when a class's audit accuracy falls more than 0.1 below round 1's, by at least 3 standard errors"
        );
    }
}
