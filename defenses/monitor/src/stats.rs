//! The drift scores behind [`crate::Cusum`]: a two-sample chi-square on class
//! counts, class moments in embedding space, and their conversion to
//! standard-normal scores.

use nalgebra::DMatrix;

/// The standard-normal score of `x` drawn from `χ²_dof` by Wilson and
/// Hilferty's (1931) cube-root approximation:
/// `((x/ν)^{1/3} − (1 − 2/(9ν))) / √(2/(9ν))`. `dof` may be fractional (a
/// Satterthwaite degree of freedom); negative `x` counts as 0.
///
/// Unlike `(x − ν)/√(2ν)`, whose right tail is far heavier than a normal's
/// for small `ν` (for `ν = 1`, `P(score > 3)` is 2 % instead of 0.13 %), its
/// tail keeps normal probabilities, so one noisy round cannot push a CUSUM
/// over its decision interval on its own.
pub(crate) fn wilson_hilferty(x: f64, dof: f64) -> f64 {
    let c = 2.0 / (9.0 * dof);
    ((x.max(0.0) / dof).cbrt() - (1.0 - c)) / c.sqrt()
}

/// Pearson's chi-square test of homogeneity of two samples' class counts
/// (the `2 × k` contingency table of `reference` and `batch`): the statistic
/// and its degrees of freedom, kept classes − 1, where a class is kept when
/// either sample holds it. `None` when either sample is empty or fewer than
/// two classes are kept.
///
/// Comparing with round 1's *counts*, not with its proportions taken as
/// exact, matters: a goodness-of-fit statistic against proportions estimated
/// from a round of the same size has null mean about `2 · dof`, not `dof`.
pub(crate) fn homogeneity_chi_square(reference: &[usize], batch: &[usize]) -> Option<(f64, usize)> {
    let n1: usize = reference.iter().sum();
    let nr: usize = batch.iter().sum();
    if n1 == 0 || nr == 0 {
        return None;
    }
    let (n1, nr) = (n1 as f64, nr as f64);
    let total = n1 + nr;
    let mut statistic = 0.0;
    let mut kept = 0usize;
    for (&a, &b) in reference.iter().zip(batch) {
        let pooled = (a + b) as f64;
        if pooled == 0.0 {
            continue;
        }
        kept += 1;
        let (ea, eb) = (n1 * pooled / total, nr * pooled / total);
        statistic += (a as f64 - ea).powi(2) / ea + (b as f64 - eb).powi(2) / eb;
    }
    (kept >= 2).then_some((statistic, kept - 1))
}

/// One class's reference moments in embedding space.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClassMoments {
    /// Samples the moments come from.
    pub n: usize,
    /// The class mean.
    pub mean: Vec<f64>,
    /// `tr Σ`, from the unbiased sample covariance `S`.
    pub trace: f64,
    /// An estimate of `tr Σ²` (see [`ClassMoments::fit`]).
    pub trace_sq: f64,
}

impl ClassMoments {
    /// Moments of the `n` rows of row-major `points` (`d` columns); `None`
    /// when `n < 2` or the rows are all equal (`tr S = 0`).
    ///
    /// `tr Σ²` is estimated by Bai and Saranadasa's (1996) unbiased
    /// estimator under normality, `(n−1)² / ((n−2)(n+1)) · (tr S² − (tr S)² /
    /// (n−1))`, since `tr S²` itself is biased upward when `n` is not much
    /// larger than `d`; it is clamped to `[(tr S)² / d, (tr S)²]`, the range
    /// `tr Σ²` can take given `tr Σ`. With `n = 2` it is `(tr S)²`.
    pub fn fit(points: &[f64], d: usize) -> Option<ClassMoments> {
        let n = points.len().checked_div(d)?;
        if n < 2 {
            return None;
        }
        let mut mean = vec![0.0; d];
        for row in points.chunks_exact(d) {
            mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let centred = DMatrix::from_row_iterator(
            n,
            d,
            points
                .chunks_exact(d)
                .flat_map(|row| row.iter().zip(&mean).map(|(x, m)| x - m)),
        );
        let dof = (n - 1) as f64;
        let trace = centred.norm_squared() / dof;
        if trace.is_nan() || trace <= 0.0 {
            return None;
        }
        // tr S² = ‖XᵀX‖²_F / (n−1)² = ‖XXᵀ‖²_F / (n−1)², on the smaller Gram.
        let gram = if n <= d {
            &centred * centred.transpose()
        } else {
            centred.transpose() * &centred
        };
        let trace_s2 = gram.norm_squared() / (dof * dof);
        let trace_sq = if n == 2 {
            trace * trace
        } else {
            let nf = n as f64;
            let unbiased = dof * dof / ((nf - 2.0) * (nf + 1.0)) * (trace_s2 - trace * trace / dof);
            unbiased.clamp(trace * trace / d as f64, trace * trace)
        };
        Some(ClassMoments {
            n,
            mean,
            trace,
            trace_sq,
        })
    }
}

/// The class-means drift score of one batch: per class present in both the
/// batch and the reference, `ratio_c = ‖m_c − μ_c‖² / (tr Σ_c · (1/n_c +
/// 1/n₁_c))`, the squared distance between the batch's class mean `m_c`
/// (from `n_c` samples) and the reference's `μ_c` (from `n₁_c`) over its
/// expectation when both are drawn from the same distribution.
///
/// Under that null each ratio has mean 1 and, for Gaussian class means,
/// variance `2 tr Σ_c² / (tr Σ_c)²` (`2 / d` for an isotropic class in `d`
/// dimensions). Their sum `T` over the `C` classes used is matched to a
/// scaled chi-square `a · χ²_ν` with the same mean and variance V
/// (Satterthwaite 1946): `a = V / (2C)`, `ν = 2C² / V`; the score is
/// [`wilson_hilferty`]`(T / a, ν)`. The approximation assumes the class
/// means are close to Gaussian (many samples per class, or Gaussian
/// embeddings) and the reference moments close to the true ones.
///
/// `batch` holds, per class, the sample count and the sum of its embedding
/// rows. `None` when no class is in both.
pub(crate) fn means_score(
    reference: &[Option<ClassMoments>],
    batch: &[(usize, Vec<f64>)],
) -> Option<f64> {
    let (mut total, mut classes, mut variance) = (0.0, 0.0, 0.0);
    for (moments, (n, sum)) in reference.iter().zip(batch) {
        let Some(m) = moments else { continue };
        if *n == 0 {
            continue;
        }
        let nf = *n as f64;
        let distance: f64 = sum
            .iter()
            .zip(&m.mean)
            .map(|(s, mu)| (s / nf - mu).powi(2))
            .sum();
        total += distance / (m.trace * (1.0 / nf + 1.0 / m.n as f64));
        classes += 1.0;
        variance += 2.0 * m.trace_sq / (m.trace * m.trace);
    }
    if classes == 0.0 {
        return None;
    }
    let scale = variance / (2.0 * classes);
    let dof = 2.0 * classes * classes / variance;
    Some(wilson_hilferty(total / scale, dof))
}

/// The class-means statistic `T = Σ_c ‖m_c − μ_c‖² / (tr_c · (1/n_c +
/// 1/n₁_c))` of [`means_score`], with the means taken from raw rows: per
/// class, the batch's rows and the reference's (row-major, `d` columns) and
/// the reference's `tr Σ_c` (`None`: class skipped).
fn means_statistic(
    classes: &[(&[f64], &[f64], f64)],
    d: usize,
    split: impl Fn(usize, &[f64], &[f64]) -> (Vec<f64>, Vec<f64>),
) -> f64 {
    let mut total = 0.0;
    for (c, &(batch, reference, trace)) in classes.iter().enumerate() {
        let (nb, nr) = (batch.len() / d, reference.len() / d);
        let (sum_b, sum_r) = split(c, batch, reference);
        let distance: f64 = sum_b
            .iter()
            .zip(&sum_r)
            .map(|(b, r)| (b / nb as f64 - r / nr as f64).powi(2))
            .sum();
        total += distance / (trace * (1.0 / nb as f64 + 1.0 / nr as f64));
    }
    total
}

/// Column sums of row-major `rows` with `d` columns.
fn column_sums(rows: &[f64], d: usize) -> Vec<f64> {
    let mut sum = vec![0.0; d];
    for row in rows.chunks_exact(d) {
        sum.iter_mut().zip(row).for_each(|(s, x)| *s += x);
    }
    sum
}

/// The class-means score calibrated on its permutation distribution: the
/// statistic `T` of [`means_score`] for the batch against the reference,
/// and `T` again for `permutations` random reassignments of each class's
/// pooled rows (reference and batch together) into two groups of the same
/// sizes — the distribution `T` has when the batch and the reference come
/// from the same data, whatever that data's shape (a permutation test,
/// exact under exchangeability). A scaled chi-square `a · χ²_ν` is matched
/// to that distribution's mean `M` and variance `V` (`a = V / 2M`, `ν = 2M²
/// / V`) and the score is [`wilson_hilferty`]`(T / a, ν)`: the same shape
/// as the analytic score, with moments measured on the data instead of
/// assumed (Gaussian class means, reference moments taken as exact).
///
/// `classes` holds, per class used, the batch's rows, the reference's rows
/// (row-major, `d` columns, each at least one row) and the reference's
/// `tr Σ_c`. `None` when no class is given or the permutations all give the
/// same `T`.
pub(crate) fn permuted_means_score(
    classes: &[(&[f64], &[f64], f64)],
    d: usize,
    permutations: usize,
    rng: &mut poisonlab_core::Rng,
) -> Option<f64> {
    use rand::seq::SliceRandom;
    if classes.is_empty() || permutations < 2 {
        return None;
    }
    let observed = means_statistic(classes, d, |_, b, r| (column_sums(b, d), column_sums(r, d)));
    // Per class, the pooled rows' total and an index order to shuffle.
    let pooled: Vec<(Vec<f64>, Vec<usize>)> = classes
        .iter()
        .map(|(b, r, _)| {
            let mut total = column_sums(b, d);
            total
                .iter_mut()
                .zip(column_sums(r, d))
                .for_each(|(t, x)| *t += x);
            (total, (0..(b.len() + r.len()) / d).collect())
        })
        .collect();
    let mut orders: Vec<Vec<usize>> = pooled.iter().map(|(_, o)| o.clone()).collect();
    let mut null = Vec::with_capacity(permutations);
    for _ in 0..permutations {
        for order in &mut orders {
            order.shuffle(rng);
        }
        let t = means_statistic(classes, d, |c, b, r| {
            let nb = b.len() / d;
            let row = |i: usize| -> &[f64] {
                if i < nb {
                    &b[i * d..(i + 1) * d]
                } else {
                    &r[(i - nb) * d..(i - nb + 1) * d]
                }
            };
            let mut sum_b = vec![0.0; d];
            for &i in &orders[c][..nb] {
                sum_b.iter_mut().zip(row(i)).for_each(|(s, x)| *s += x);
            }
            let sum_r = pooled[c].0.iter().zip(&sum_b).map(|(t, s)| t - s).collect();
            (sum_b, sum_r)
        });
        null.push(t);
    }
    let n = null.len() as f64;
    let mean = null.iter().sum::<f64>() / n;
    let variance = null.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1.0);
    if !(mean > 0.0 && variance > 0.0) {
        return None;
    }
    let scale = variance / (2.0 * mean);
    let dof = 2.0 * mean * mean / variance;
    Some(wilson_hilferty(observed / scale, dof))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_hilferty_matches_chi_square_quantiles() {
        // Upper quantiles of χ²: (x, dof, normal score of its tail probability).
        for (x, dof, z) in [
            (10.828, 1.0, 3.0902), // p = 0.001
            (3.841, 1.0, 1.6449),  // p = 0.05
            (13.816, 2.0, 3.0902), // p = 0.001
            (18.307, 10.0, 1.6449),
            (9.342, 10.0, 0.0), // the median
        ] {
            let got = wilson_hilferty(x, dof);
            assert!((got - z).abs() < 0.06, "χ²_{dof} = {x}: {got} vs {z}");
        }
        // Large dof: close to (x − ν) / √(2ν).
        let (x, dof) = (1100.0, 1000.0);
        assert!((wilson_hilferty(x, dof) - 100.0 / 2000f64.sqrt()).abs() < 0.1);
        assert!(wilson_hilferty(0.0, 1.0).is_finite());
        assert_eq!(wilson_hilferty(-1.0, 3.0), wilson_hilferty(0.0, 3.0));
    }

    #[test]
    fn homogeneity_matches_the_two_by_two_formula() {
        // N (ad − bc)² / (row and column totals) = 140 · 1000² / (40·100·80·60).
        let (x, dof) = homogeneity_chi_square(&[50, 50], &[30, 10]).unwrap();
        assert!((x - 140.0 * 1e6 / 19_200_000.0).abs() < 1e-9, "{x}");
        assert_eq!(dof, 1);
    }

    #[test]
    fn homogeneity_of_equal_proportions_is_zero() {
        let (x, dof) = homogeneity_chi_square(&[10, 20, 30], &[20, 40, 60]).unwrap();
        assert!(x.abs() < 1e-12);
        assert_eq!(dof, 2);
    }

    #[test]
    fn homogeneity_keeps_classes_either_sample_holds() {
        // Class 2 is new in the batch: finite, and one more degree of freedom.
        // Expected 2, 1, 1 per sample: classes 1 and 2 add 1 + 1 each.
        let (x, dof) = homogeneity_chi_square(&[2, 2, 0, 0], &[2, 0, 2, 0]).unwrap();
        assert_eq!(dof, 2);
        assert!((x - 4.0).abs() < 1e-12, "{x}");
        assert_eq!(homogeneity_chi_square(&[3, 0], &[2, 0]), None);
        assert_eq!(homogeneity_chi_square(&[], &[]), None);
        assert_eq!(homogeneity_chi_square(&[0, 0], &[1, 1]), None);
    }

    #[test]
    fn moments_of_a_hand_computed_class() {
        // Rows (0,0), (2,0), (0,2), (2,2): mean (1,1), S = (4/3) I.
        let points = [0.0, 0.0, 2.0, 0.0, 0.0, 2.0, 2.0, 2.0];
        let m = ClassMoments::fit(&points, 2).unwrap();
        assert_eq!(m.n, 4);
        assert_eq!(m.mean, [1.0, 1.0]);
        assert!((m.trace - 8.0 / 3.0).abs() < 1e-12);
        // tr S² = 32/9; (tr S)² = 64/9; unbiased: 9/(2·5) · (32/9 − 64/27)
        // = 16/15, below the floor (tr S)²/d = 32/9, so clamped to it.
        assert!((m.trace_sq - 32.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn the_trace_square_estimate_is_not_clamped_when_it_need_not_be() {
        // Rows (±1, 0) and (0, ±10): mean 0, S = diag(2/3, 200/3),
        // tr S = 202/3, tr S² = (4 + 40000)/9.
        let points = [1.0, 0.0, -1.0, 0.0, 0.0, 10.0, 0.0, -10.0];
        let m = ClassMoments::fit(&points, 2).unwrap();
        let (t, t2) = (202.0 / 3.0, 40004.0 / 9.0);
        assert!((m.trace - t).abs() < 1e-12);
        let unbiased = 9.0 / 10.0 * (t2 - t * t / 3.0);
        assert!(unbiased > t * t / 2.0 && unbiased < t * t);
        assert!((m.trace_sq - unbiased).abs() < 1e-9, "{}", m.trace_sq);
    }

    #[test]
    fn moments_need_two_distinct_rows() {
        assert_eq!(ClassMoments::fit(&[1.0, 2.0], 2), None);
        assert_eq!(ClassMoments::fit(&[1.0, 2.0, 1.0, 2.0], 2), None);
        let m = ClassMoments::fit(&[0.0, 0.0, 2.0, 0.0], 2).unwrap();
        assert_eq!(m.trace_sq, m.trace * m.trace);
    }

    #[test]
    fn the_permuted_score_is_calibrated_where_the_analytic_one_is_not() {
        // Heavy-tailed rows (a few huge values) in 4-D: the analytic score's
        // Gaussian assumptions fail, the permutation null does not care. Over
        // 200 equal-distribution batch pairs, the permuted score exceeds the
        // normal 95 % point (1.645) about 5 % of the time.
        use rand::Rng as _;
        let mut rng = poisonlab_core::seed::stream(1, 0, "test");
        let d = 4;
        let draw = |rng: &mut poisonlab_core::Rng, n: usize| -> Vec<f64> {
            (0..n * d)
                .map(|_| {
                    let u: f64 = rng.random_range(0.01..1.0);
                    u.powf(-1.5) // Pareto-like tail
                })
                .collect()
        };
        let mut over = 0;
        for _ in 0..200 {
            let (b, r) = (draw(&mut rng, 40), draw(&mut rng, 40));
            let trace = ClassMoments::fit(&r, d).unwrap().trace;
            let z = permuted_means_score(&[(&b, &r, trace)], d, 100, &mut rng).unwrap();
            if z > 1.645 {
                over += 1;
            }
        }
        assert!(
            (3..=20).contains(&over),
            "{over} of 200 over the 95 % point"
        );
    }

    #[test]
    fn the_permuted_score_sees_a_shift() {
        use rand::Rng as _;
        let mut rng = poisonlab_core::seed::stream(2, 0, "test");
        let d = 3;
        let r: Vec<f64> = (0..50 * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b: Vec<f64> = (0..50 * d).map(|_| rng.random_range(-0.5..1.5)).collect();
        let trace = ClassMoments::fit(&r, d).unwrap().trace;
        let z = permuted_means_score(&[(&b, &r, trace)], d, 200, &mut rng).unwrap();
        assert!(z > 4.0, "{z}");
        assert_eq!(permuted_means_score(&[], d, 200, &mut rng), None);
    }

    #[test]
    fn means_score_of_a_hand_computed_shift() {
        // One isotropic class in 2-D, tr Σ = 2, tr Σ² = 2, from 100 samples;
        // the batch mean of 100 samples sits 0.2 from it: ratio =
        // 0.04 / (2 · 0.02) = 1, variance 1, so a = 0.5, ν = 2 and the score
        // is WH(2, 2): P(χ²₂ > 2) = e⁻¹, whose normal score is 0.3375.
        let reference = vec![Some(ClassMoments {
            n: 100,
            mean: vec![0.0, 0.0],
            trace: 2.0,
            trace_sq: 2.0,
        })];
        let batch = vec![(100, vec![20.0, 0.0])];
        let z = means_score(&reference, &batch).unwrap();
        assert!((z - wilson_hilferty(2.0, 2.0)).abs() < 1e-12);
        assert!((z - 0.3375).abs() < 0.01, "{z}");
        // Classes without a reference or without batch samples are skipped.
        let reference = vec![reference[0].clone(), None];
        let batch = vec![(0, vec![0.0, 0.0]), (5, vec![1.0, 1.0])];
        assert_eq!(means_score(&reference, &batch), None);
    }
}
