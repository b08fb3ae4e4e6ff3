//! Detection and model metrics, as `docs/scenario.md` (section Metrics) defines them.
//!
//! Every rate whose denominator is empty is `None` (written as `null`), never a
//! sentinel number.

use serde::{Deserialize, Serialize};

/// Confusion counts of a filter's flags against the ground-truth poison mask
/// (positive = poisoned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Confusion {
    /// Poisoned and flagged.
    pub tp: usize,
    /// Clean but flagged.
    pub fp: usize,
    /// Clean and kept.
    pub tn: usize,
    /// Poisoned but kept.
    #[serde(rename = "fn")]
    pub fn_: usize,
}

fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl Confusion {
    /// Count `flags` against `is_poison`.
    ///
    /// # Panics
    /// When the slices differ in length (a programming error).
    pub fn count(flags: &[bool], is_poison: &[bool]) -> Self {
        assert_eq!(flags.len(), is_poison.len(), "flags and mask lengths");
        let mut c = Confusion::default();
        for (&f, &p) in flags.iter().zip(is_poison) {
            match (f, p) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, false) => c.tn += 1,
                (false, true) => c.fn_ += 1,
            }
        }
        c
    }

    /// True-positive rate (recall): TP / (TP + FN).
    pub fn tpr(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// False-positive rate: FP / (FP + TN).
    pub fn fpr(&self) -> Option<f64> {
        ratio(self.fp, self.fp + self.tn)
    }

    /// Precision: TP / (TP + FP).
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }

    /// F1: 2TP / (2TP + FP + FN).
    pub fn f1(&self) -> Option<f64> {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

/// Area under the ROC curve of `scores` (higher = more suspicious) against
/// `is_poison`: the probability that a random poisoned sample scores above a
/// random clean one, ties counting one half (Mann–Whitney U with mid-ranks).
/// `None` when either class is empty.
///
/// # Panics
/// When the slices differ in length.
pub fn auroc(scores: &[f64], is_poison: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), is_poison.len(), "scores and mask lengths");
    let pos = is_poison.iter().filter(|&&p| p).count();
    let neg = is_poison.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of 1-based mid-ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid_rank * order[i..=j].iter().filter(|&&k| is_poison[k]).count() as f64;
        i = j + 1;
    }
    let (p, n) = (pos as f64, neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// The false-positive rates at which [`roc_tpr`] reads the ROC curve: fine
/// at the low end, where a filter is usable, coarse above.
pub const ROC_FPRS: [f64; 16] = [
    0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0,
];

/// The ROC curve of `scores` (higher = more suspicious) read at each false
/// positive rate in `fprs`: the largest TPR reachable by a threshold whose
/// FPR does not exceed it (thresholds between distinct scores; tied scores
/// move together). `None` when either class is empty.
///
/// # Panics
/// When the slices differ in length.
pub fn roc_tpr(scores: &[f64], is_poison: &[bool], fprs: &[f64]) -> Option<Vec<f64>> {
    assert_eq!(scores.len(), is_poison.len(), "scores and mask lengths");
    let pos = is_poison.iter().filter(|&&p| p).count();
    let neg = is_poison.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    // The curve's corners: (fpr, tpr) after each group of tied scores.
    let mut corners = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        for &k in &order[i..=j] {
            if is_poison[k] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        corners.push((fp as f64 / neg as f64, tp as f64 / pos as f64));
        i = j + 1;
    }
    Some(
        fprs.iter()
            .map(|&f| {
                corners
                    .iter()
                    .filter(|&&(x, _)| x <= f + 1e-12)
                    .map(|&(_, y)| y)
                    .fold(0.0, f64::max)
            })
            .collect(),
    )
}

/// Share of `predicted` equal to `expected`; `None` for no samples.
/// Clean accuracy (CA) with true labels, attack success rate (ASR) with the
/// attacker's targets, robust accuracy (RA) with true labels on triggered inputs.
pub fn agreement(predicted: &[usize], expected: &[usize]) -> Option<f64> {
    assert_eq!(
        predicted.len(),
        expected.len(),
        "prediction and label lengths"
    );
    ratio(
        predicted
            .iter()
            .zip(expected)
            .filter(|(p, e)| p == e)
            .count(),
        predicted.len(),
    )
}

/// Recall of each class: correct predictions among samples of that class
/// (`None` for a class with no samples).
pub fn per_class_recall(
    predicted: &[usize],
    labels: &[usize],
    n_classes: usize,
) -> Vec<Option<f64>> {
    let mut hit = vec![0; n_classes];
    let mut total = vec![0; n_classes];
    for (&p, &y) in predicted.iter().zip(labels) {
        total[y] += 1;
        if p == y {
            hit[y] += 1;
        }
    }
    hit.into_iter()
        .zip(total)
        .map(|(h, t)| ratio(h, t))
        .collect()
}

/// Accuracy recovery: (CA_def − CA_poisoned) / (CA_clean − CA_poisoned).
///
/// `None` when the denominator is below one test sample (`1 / n_test`): the
/// poisoning cost no measurable accuracy, so there is nothing to recover.
pub fn recovery(ca_defended: f64, ca_poisoned: f64, ca_clean: f64, n_test: usize) -> Option<f64> {
    let den = ca_clean - ca_poisoned;
    // A tolerance keeps a one-sample difference from falling just below 1/n.
    (n_test > 0 && den * n_test as f64 >= 1.0 - 1e-9).then(|| (ca_defended - ca_poisoned) / den)
}

/// Defense effectiveness rating (BackdoorBench):
/// DER = (max(0, ASR_p − ASR_d) − max(0, CA_p − CA_d) + 1) / 2, in [0, 1].
pub fn der(asr_poisoned: f64, asr_defended: f64, ca_poisoned: f64, ca_defended: f64) -> f64 {
    ((asr_poisoned - asr_defended).max(0.0) - (ca_poisoned - ca_defended).max(0.0) + 1.0) / 2.0
}

/// Mean, sample standard deviation, 95 % confidence half-width and count of
/// a metric over repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` for one value.
    pub std: Option<f64>,
    /// Half-width of the Student-t 95 % confidence interval of the mean; `None` for one value.
    pub ci95: Option<f64>,
    /// Number of values.
    pub n: usize,
}

impl Summary {
    /// Summarise `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Summary> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Some(Summary {
                mean,
                std: None,
                ci95: None,
                n,
            });
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = var.sqrt();
        Some(Summary {
            mean,
            std: Some(std),
            ci95: Some(t_975(n - 1) * std / (n as f64).sqrt()),
            n,
        })
    }
}

/// The 0.975 quantile of Student's t distribution with `df` degrees of freedom.
fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        31..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn confusion_rates_golden() {
        // flags:  T T T F F F F F
        // poison: T T F T F F F F  -> tp 2, fp 1, fn 1, tn 4
        let flags = [true, true, true, false, false, false, false, false];
        let mask = [true, true, false, true, false, false, false, false];
        let c = Confusion::count(&flags, &mask);
        assert_eq!(
            c,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 4,
                fn_: 1
            }
        );
        assert!(close(c.tpr().unwrap(), 2.0 / 3.0));
        assert!(close(c.fpr().unwrap(), 1.0 / 5.0));
        assert!(close(c.precision().unwrap(), 2.0 / 3.0));
        assert!(close(c.f1().unwrap(), 4.0 / 6.0));
    }

    #[test]
    fn empty_denominators_are_none() {
        let c = Confusion::count(&[false, false], &[false, false]);
        assert_eq!(c.tpr(), None);
        assert_eq!(c.precision(), None);
        assert_eq!(c.f1(), None);
        assert_eq!(c.fpr(), Some(0.0));
    }

    #[test]
    fn auroc_golden_with_ties() {
        // positives: 0.9, 0.5 ; negatives: 0.5, 0.1, 0.3
        // pairs (p > n): 0.9 beats all 3; 0.5 beats 0.1, 0.3, ties 0.5 -> 2.5
        // AUC = 5.5 / 6
        let scores = [0.9, 0.5, 0.5, 0.1, 0.3];
        let mask = [true, true, false, false, false];
        assert!(close(auroc(&scores, &mask).unwrap(), 5.5 / 6.0));
    }

    #[test]
    fn auroc_extremes() {
        let mask = [true, false, false];
        assert!(close(auroc(&[1.0, 0.0, 0.0], &mask).unwrap(), 1.0));
        assert!(close(auroc(&[0.0, 1.0, 1.0], &mask).unwrap(), 0.0));
        assert!(close(auroc(&[0.5, 0.5, 0.5], &mask).unwrap(), 0.5));
        assert_eq!(auroc(&[0.5, 0.5], &[false, false]), None);
    }

    #[test]
    fn agreement_and_recall() {
        assert!(close(
            agreement(&[0, 1, 2, 2], &[0, 1, 1, 2]).unwrap(),
            0.75
        ));
        assert_eq!(agreement(&[], &[]), None);
        let r = per_class_recall(&[0, 1, 2, 2], &[0, 1, 1, 2], 4);
        assert_eq!(r, vec![Some(1.0), Some(0.5), Some(1.0), None]);
    }

    #[test]
    fn recovery_golden() {
        // clean 0.90, poisoned 0.70, defended 0.85 -> 0.15 / 0.20 = 0.75
        assert!(close(recovery(0.85, 0.70, 0.90, 1000).unwrap(), 0.75));
        // one test sample of difference out of 100 is enough
        assert!(recovery(0.90, 0.89, 0.90, 100).is_some());
        // less than one test sample: undefined, not -1
        assert_eq!(recovery(0.90, 0.899, 0.90, 100), None);
        // poisoning improved accuracy: undefined
        assert_eq!(recovery(0.90, 0.95, 0.90, 100), None);
    }

    #[test]
    fn der_golden() {
        // ASR 0.9 -> 0.1, CA 0.95 -> 0.93: (0.8 - 0.02 + 1) / 2 = 0.89
        assert!(close(der(0.9, 0.1, 0.95, 0.93), 0.89));
        // defense raises CA and ASR: (0 - 0 + 1) / 2
        assert!(close(der(0.2, 0.3, 0.90, 0.95), 0.5));
        // perfect defense: 1
        assert!(close(der(1.0, 0.0, 0.9, 0.9), 1.0));
    }

    #[test]
    fn summary_golden() {
        // values 1, 2, 3, 4: mean 2.5, var 5/3, ci = 3.182 * sqrt(5/3) / 2
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!(close(s.mean, 2.5));
        assert!(close(s.std.unwrap(), (5.0f64 / 3.0).sqrt()));
        assert!(close(s.ci95.unwrap(), 3.182 * (5.0f64 / 3.0).sqrt() / 2.0));
        assert_eq!(s.n, 4);
        let one = Summary::of(&[0.3]).unwrap();
        assert_eq!((one.std, one.ci95), (None, None));
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn roc_is_read_at_the_given_false_positive_rates() {
        // Scores: poisons 0.9, 0.7; clean 0.8, 0.3, 0.2, 0.1.
        let scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
        let mask = [true, false, true, false, false, false];
        let tpr = roc_tpr(&scores, &mask, &[0.0, 0.25, 0.5, 1.0]).unwrap();
        assert_eq!(tpr, [0.5, 1.0, 1.0, 1.0]);
        // Tied scores move together: one poison and one clean at 0.5.
        let tpr = roc_tpr(&[0.5, 0.5, 0.1], &[true, false, false], &[0.0, 0.5]).unwrap();
        assert_eq!(tpr, [0.0, 1.0]);
        assert_eq!(roc_tpr(&[0.1], &[true], &[0.0]), None);
    }
}
