//! Pearson's chi-square test of a batch's label distribution against a
//! reference (Pearson 1900).

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Pearson's chi-square goodness-of-fit test of a batch's class counts
/// against the class proportions of a reference set.
///
/// All per-class vectors have one entry per class `0..k`, with `k` the larger
/// of the `n_classes` given to [`label_shift_test`] and the largest label + 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelShiftTest {
    /// Pearson's `X² = Σ (observed − expected)² / expected` over the kept
    /// classes; `+∞` when the batch holds a class the reference never shows.
    pub statistic: f64,
    /// Degrees of freedom: kept classes − 1 (a class is dropped when it has
    /// neither reference share nor batch count).
    pub dof: usize,
    /// `P(χ²_dof ≥ statistic)`; 1 when `dof` is 0, 0 when the statistic is
    /// infinite.
    pub p_value: f64,
    /// Standardized residuals `(observed − expected) / √expected`, per class:
    /// 0 for dropped classes, `+∞` for classes the reference never shows but
    /// the batch does.
    pub residuals: Vec<f64>,
    /// Batch count per class.
    pub observed: Vec<usize>,
    /// Expected batch count per class: batch size × reference share.
    pub expected: Vec<f64>,
}

impl LabelShiftTest {
    /// True when the test rejects "the batch follows the reference's label
    /// distribution" at significance level `alpha`, i.e. `p ≤ alpha`.
    pub fn rejects(&self, alpha: f64) -> bool {
        self.p_value <= alpha
    }
}

/// Pearson's chi-square goodness-of-fit test of the class counts of `labels`
/// against the class proportions of `reference`; `None` when either is empty.
///
/// A class with zero reference share and zero batch count is dropped (it adds
/// nothing and no degree of freedom). A class with zero reference share but a
/// nonzero batch count is handled explicitly, without smoothing: the
/// statistic is `+∞` and `p = 0`, since under the reference's distribution
/// such a sample is impossible. (A small reference that misses a rare class by
/// chance therefore rejects whenever the batch holds that class.)
///
/// The test is asymptotic: it is reliable when every expected count is at
/// least about 5.
pub fn label_shift_test(
    labels: &[usize],
    reference: &[usize],
    n_classes: usize,
) -> Option<LabelShiftTest> {
    if labels.is_empty() || reference.is_empty() {
        return None;
    }
    let k = labels
        .iter()
        .chain(reference)
        .map(|&l| l + 1)
        .max()
        .unwrap_or(0)
        .max(n_classes);
    let counts = |ls: &[usize]| {
        let mut c = vec![0usize; k];
        ls.iter().for_each(|&l| c[l] += 1);
        c
    };
    let observed = counts(labels);
    let reference_counts = counts(reference);
    let n = labels.len() as f64;
    let m = reference.len() as f64;
    let expected: Vec<f64> = reference_counts.iter().map(|&r| n * r as f64 / m).collect();

    let mut statistic = 0.0;
    let mut kept = 0usize;
    let mut residuals = vec![0.0; k];
    for c in 0..k {
        let (o, e) = (observed[c] as f64, expected[c]);
        if reference_counts[c] == 0 {
            if observed[c] == 0 {
                continue;
            }
            residuals[c] = f64::INFINITY;
            statistic = f64::INFINITY;
        } else {
            residuals[c] = (o - e) / e.sqrt();
            statistic += (o - e).powi(2) / e;
        }
        kept += 1;
    }
    let dof = kept.saturating_sub(1);
    let p_value = if statistic.is_infinite() {
        0.0
    } else if dof == 0 {
        1.0
    } else {
        // dof ≥ 1, so the distribution exists.
        ChiSquared::new(dof as f64).map_or(f64::NAN, |chi| chi.sf(statistic))
    };
    Some(LabelShiftTest {
        statistic,
        dof,
        p_value,
        residuals,
        observed,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(counts: &[usize]) -> Vec<usize> {
        counts
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
            .collect()
    }

    #[test]
    fn two_classes_match_the_hand_computed_test() {
        // Expected 20 and 20: X² = (10² + 10²) / 20 = 10; P(χ²₁ ≥ 10) = erfc(√5).
        let t = label_shift_test(&labels(&[30, 10]), &labels(&[50, 50]), 2).unwrap();
        assert_eq!(t.statistic, 10.0);
        assert_eq!(t.dof, 1);
        assert!(
            (t.p_value - 0.001_565_402_258).abs() < 1e-11,
            "{}",
            t.p_value
        );
        assert_eq!(t.expected, [20.0, 20.0]);
        assert_eq!(t.observed, [30, 10]);
        let r = 10.0 / 20f64.sqrt();
        assert!((t.residuals[0] - r).abs() < 1e-12 && (t.residuals[1] + r).abs() < 1e-12);
        assert!(t.rejects(0.01));
        assert!(!t.rejects(0.001));
    }

    #[test]
    fn three_classes_use_two_degrees_of_freedom() {
        // Expected 20 each: X² = (100 + 0 + 100) / 20 = 10; P(χ²₂ ≥ 10) = e⁻⁵.
        let t = label_shift_test(&labels(&[10, 20, 30]), &labels(&[7, 7, 7]), 3).unwrap();
        assert!((t.statistic - 10.0).abs() < 1e-12);
        assert_eq!(t.dof, 2);
        assert!((t.p_value - (-5f64).exp()).abs() < 1e-12, "{}", t.p_value);
    }

    #[test]
    fn matching_proportions_do_not_reject() {
        let t = label_shift_test(&labels(&[25, 75]), &labels(&[10, 30]), 2).unwrap();
        assert_eq!(t.statistic, 0.0);
        assert_eq!(t.p_value, 1.0);
        assert!(!t.rejects(0.5));
    }

    #[test]
    fn a_class_the_reference_lacks_is_conclusive() {
        let t = label_shift_test(&[0, 1, 2], &[0, 0, 1, 1], 3).unwrap();
        assert_eq!(t.statistic, f64::INFINITY);
        assert_eq!(t.p_value, 0.0);
        assert_eq!(t.dof, 2);
        assert_eq!(t.residuals[2], f64::INFINITY);
        assert!(t.rejects(1e-9));
    }

    #[test]
    fn classes_absent_from_both_sides_are_dropped() {
        let t = label_shift_test(&[0, 1], &[0, 1], 4).unwrap();
        assert_eq!(t.dof, 1);
        assert_eq!(t.statistic, 0.0);
        assert_eq!(t.residuals, [0.0, 0.0, 0.0, 0.0]);
        // One kept class: no degree of freedom, nothing to reject.
        let t = label_shift_test(&[1, 1], &[1], 2).unwrap();
        assert_eq!((t.dof, t.p_value), (0, 1.0));
    }

    #[test]
    fn labels_beyond_n_classes_widen_the_vectors() {
        let t = label_shift_test(&[0, 3], &[0, 3], 2).unwrap();
        assert_eq!(t.observed, [1, 0, 0, 1]);
    }

    #[test]
    fn empty_sides_give_no_test() {
        assert_eq!(label_shift_test(&[], &[0], 1), None);
        assert_eq!(label_shift_test(&[0], &[], 1), None);
    }
}
