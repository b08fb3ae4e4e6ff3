//! Shrinkage covariance (Ledoit and Wolf 2004) and Mahalanobis distances.

use nalgebra::{Cholesky, DMatrix};

/// Relative ridge `RIDGE · μ · I` added when a shrunk covariance does not
/// factorise (a singular sample covariance with zero shrinkage).
pub const RIDGE: f64 = 1e-6;

/// A Cholesky pivot `p` with `p² ≤ MIN_PIVOT · μ` counts as zero.
const MIN_PIVOT: f64 = 1e-12;

/// Ledoit and Wolf's (2004, "A well-conditioned estimator for
/// large-dimensional covariance matrices") shrinkage covariance of the
/// row-major `points` with `cols` columns, and its intensity `δ`.
///
/// With the rows `x_k` centred on their mean, `S = (1/n) Σ x_k x_kᵀ` (divisor
/// `n`, as in the paper), `μ = tr S / d`, `δ̂² = ‖S − μI‖²_F` and
/// `b̄² = (1/n²) Σ ‖x_k x_kᵀ − S‖²_F`, the intensity is
/// `δ = min(b̄², δ̂²) / δ̂²` and the estimate `δ μ I + (1 − δ) S`. When
/// `S` already is `μI` (`δ̂² = 0`) the intensity is 0 and the estimate `S`.
/// An empty `points` gives the `cols × cols` zero matrix and intensity 0.
///
/// # Panics
/// When `cols` is 0 or does not divide `points.len()` (a programming error).
pub fn ledoit_wolf(points: &[f64], cols: usize) -> (DMatrix<f64>, f64) {
    assert!(
        cols > 0 && points.len().is_multiple_of(cols),
        "matrix shape"
    );
    let rows: Vec<usize> = (0..points.len() / cols).collect();
    let (_, x) = centred(points, cols, &rows);
    let s = sample_covariance(&x);
    let delta = ledoit_wolf_intensity(&x, &s);
    (shrink(s, delta), delta)
}

/// The mean of the rows `subset` of `points` and those rows centred on it,
/// as an `n × d` matrix.
fn centred(points: &[f64], d: usize, subset: &[usize]) -> (Vec<f64>, DMatrix<f64>) {
    let n = subset.len();
    let mut mean = vec![0.0; d];
    for &i in subset {
        for (m, x) in mean.iter_mut().zip(&points[i * d..(i + 1) * d]) {
            *m += x;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    let x = DMatrix::from_fn(n, d, |r, c| points[subset[r] * d + c] - mean[c]);
    (mean, x)
}

/// `XᵀX / n` for centred rows `X` (the zero matrix when there are none).
fn sample_covariance(x: &DMatrix<f64>) -> DMatrix<f64> {
    x.tr_mul(x) / x.nrows().max(1) as f64
}

/// Ledoit–Wolf intensity for centred rows `x` and their covariance `s`.
///
/// Uses `Σ_k ‖x_k x_kᵀ − S‖² = Σ_k ‖x_k‖⁴ − n ‖S‖²` (because
/// `Σ_k x_kᵀ S x_k = n tr S²`), which needs no `d × d` matrix per sample.
fn ledoit_wolf_intensity(x: &DMatrix<f64>, s: &DMatrix<f64>) -> f64 {
    let n = x.nrows();
    let d = s.nrows();
    if n == 0 || d == 0 {
        return 0.0;
    }
    let mu = s.trace() / d as f64;
    let mut target_gap = s.clone();
    for j in 0..d {
        target_gap[(j, j)] -= mu;
    }
    let delta_sq = target_gap.norm_squared();
    if delta_sq <= 0.0 {
        return 0.0;
    }
    let fourth: f64 = x.row_iter().map(|r| r.norm_squared().powi(2)).sum();
    let n = n as f64;
    let b_bar_sq = ((fourth / n - s.norm_squared()) / n).max(0.0);
    b_bar_sq.min(delta_sq) / delta_sq
}

/// `δ μ I + (1 − δ) S` with `μ = tr S / d`.
fn shrink(s: DMatrix<f64>, delta: f64) -> DMatrix<f64> {
    let d = s.nrows();
    let mu = if d == 0 { 0.0 } else { s.trace() / d as f64 };
    let mut out = s * (1.0 - delta);
    for j in 0..d {
        out[(j, j)] += delta * mu;
    }
    out
}

/// A Gaussian model of a point cloud: its mean and the lower Cholesky factor
/// `L` of its shrunk covariance `Σ = L Lᵀ`.
#[derive(Debug, Clone)]
pub(crate) struct Fit {
    mean: Vec<f64>,
    chol_l: DMatrix<f64>,
}

impl Fit {
    /// Fit the rows `subset` of the row-major `points` (`d` columns): their
    /// mean and their covariance shrunk with `shrinkage` (Ledoit–Wolf's
    /// intensity when `None`).
    ///
    /// The covariance is factorised by Cholesky; when that fails or a pivot
    /// is at rounding level (a singular covariance, possible only with
    /// shrinkage 0 or tiny) [`RIDGE`]` · μ · I` is added,
    /// and when that fails too the fit falls back to `μ I`. When every point
    /// of the subset is the same (`μ = 0`) the covariance is taken as `I`, so
    /// distances are Euclidean.
    pub(crate) fn new(points: &[f64], d: usize, subset: &[usize], shrinkage: Option<f64>) -> Self {
        let (mean, x) = centred(points, d, subset);
        let s = sample_covariance(&x);
        let delta = shrinkage.unwrap_or_else(|| ledoit_wolf_intensity(&x, &s));
        let sigma = shrink(s, delta);
        let mu = sigma.trace() / d.max(1) as f64;
        let identity = DMatrix::<f64>::identity(d, d);
        // A factor whose pivots fall to rounding level is as good as singular.
        let factor = |m: DMatrix<f64>| {
            Cholesky::new(m)
                .map(Cholesky::unpack)
                .filter(|l| l.diagonal().iter().all(|p| p * p > MIN_PIVOT * mu))
        };
        let chol_l = if !(mu > 0.0 && mu.is_finite()) {
            identity
        } else if let Some(l) = factor(sigma.clone()) {
            l
        } else if let Some(l) = factor(sigma + &identity * (RIDGE * mu)) {
            l
        } else {
            identity * mu.sqrt()
        };
        Self { mean, chol_l }
    }

    /// Squared Mahalanobis distance `(x − m)ᵀ Σ⁻¹ (x − m)` of every row of
    /// `points`, computed as `‖L⁻¹ (x − m)‖²` by forward substitution (no
    /// inverse is formed).
    pub(crate) fn squared_distances(&self, points: &[f64]) -> Vec<f64> {
        let d = self.mean.len();
        if d == 0 {
            return Vec::new();
        }
        let n = points.len() / d;
        // [d, n]: one centred sample per column.
        let mut v = DMatrix::from_fn(d, n, |r, c| points[c * d + r] - self.mean[r]);
        if !self.chol_l.solve_lower_triangular_mut(&mut v) {
            // Unreachable: a Cholesky factor has a positive diagonal.
            return vec![f64::INFINITY; n];
        }
        v.column_iter().map(|c| c.norm_squared()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (1, 0), (−1, 0), (0, 2), (0, −2), shifted by (5, −3).
    /// S = diag(0.5, 2), μ = 1.25, ‖S − μI‖² = 1.125,
    /// b̄² = (4 · 4.25) / 16 = 1.0625, δ = 1.0625 / 1.125 = 17/18.
    const CROSS: [f64; 8] = [6.0, -3.0, 4.0, -3.0, 5.0, -1.0, 5.0, -5.0];

    #[test]
    fn ledoit_wolf_matches_the_hand_computed_intensity() {
        let (sigma, delta) = ledoit_wolf(&CROSS, 2);
        assert!((delta - 17.0 / 18.0).abs() < 1e-12, "{delta}");
        // δμ + (1 − δ)·S_jj: (21.25 + 0.5) / 18 and (21.25 + 2) / 18.
        assert!((sigma[(0, 0)] - 21.75 / 18.0).abs() < 1e-12);
        assert!((sigma[(1, 1)] - 23.25 / 18.0).abs() < 1e-12);
        assert!(sigma[(0, 1)].abs() < 1e-12 && sigma[(1, 0)].abs() < 1e-12);
    }

    #[test]
    fn ledoit_wolf_keeps_off_diagonal_terms_shrunk() {
        // Rows (2, 2), (−2, −2), (1, −1), (−1, 1):
        // S = [[2.5, 1.5], [1.5, 2.5]], μ = 2.5, ‖S − μI‖² = 4.5,
        // ‖x‖⁴ = 64, 64, 4, 4 -> Σ/n = 34; ‖S‖² = 17; b̄² = (34 − 17) / 4 = 4.25.
        let pts = [2.0, 2.0, -2.0, -2.0, 1.0, -1.0, -1.0, 1.0];
        let (sigma, delta) = ledoit_wolf(&pts, 2);
        assert!((delta - 4.25 / 4.5).abs() < 1e-12, "{delta}");
        assert!((sigma[(0, 1)] - (1.0 - 4.25 / 4.5) * 1.5).abs() < 1e-12);
        assert!((sigma[(0, 0)] - 2.5).abs() < 1e-12);
    }

    #[test]
    fn ledoit_wolf_intensity_is_clipped_at_one() {
        // (±1, 0), (0, ±1.2): S = diag(0.5, 0.72), μ = 0.61, ‖S − μI‖² = 0.0242,
        // b̄² = ((1 + 1 + 2.0736 + 2.0736) / 4 − 0.7684) / 4 = 0.1921 > 0.0242.
        let (sigma, delta) = ledoit_wolf(&[1.0, 0.0, -1.0, 0.0, 0.0, 1.2, 0.0, -1.2], 2);
        assert_eq!(delta, 1.0);
        assert!((sigma[(0, 0)] - 0.61).abs() < 1e-12 && (sigma[(1, 1)] - 0.61).abs() < 1e-12);
        assert_eq!(sigma[(0, 1)], 0.0);
    }

    #[test]
    fn ledoit_wolf_of_a_scaled_identity_does_not_shrink() {
        let (sigma, delta) = ledoit_wolf(&[1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0], 2);
        assert_eq!(delta, 0.0);
        assert!((sigma[(0, 0)] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn distances_match_hand_computed_values() {
        let all = [0, 1, 2, 3];
        // No shrinkage: Σ = diag(0.5, 2); x − m = (1, 1) -> 1/0.5 + 1/2 = 2.5.
        let fit = Fit::new(&CROSS, 2, &all, Some(0.0));
        let d = fit.squared_distances(&[6.0, -2.0, 5.0, -3.0]);
        assert!((d[0] - 2.5).abs() < 1e-12, "{d:?}");
        assert_eq!(d[1], 0.0);
        // Full shrinkage: Σ = 1.25 I -> 2 / 1.25.
        let fit = Fit::new(&CROSS, 2, &all, Some(1.0));
        let d = fit.squared_distances(&[6.0, -2.0]);
        assert!((d[0] - 1.6).abs() < 1e-12);
        // Correlated: Σ = [[2.5, 1.5], [1.5, 2.5]], x = (1, −1):
        // Σ⁻¹ = [[2.5, −1.5], [−1.5, 2.5]] / 4 -> (2.5 + 3 + 2.5) / 4 = 2.
        let pts = [2.0, 2.0, -2.0, -2.0, 1.0, -1.0, -1.0, 1.0];
        let fit = Fit::new(&pts, 2, &all, Some(0.0));
        let d = fit.squared_distances(&[1.0, -1.0, 1.0, 1.0]);
        assert!((d[0] - 2.0).abs() < 1e-12, "{d:?}");
        // (1, 1): Σ⁻¹ quadratic form (2.5 − 3 + 2.5) / 4 = 0.5.
        assert!((d[1] - 0.5).abs() < 1e-12, "{d:?}");
    }

    #[test]
    fn fit_uses_only_the_subset() {
        let pts = [0.0, 0.0, 2.0, 0.0, 100.0, 100.0];
        let fit = Fit::new(&pts, 2, &[0, 1], Some(1.0));
        // Mean (1, 0), S = diag(1, 0), μ = 0.5 -> Σ = 0.5 I.
        let d = fit.squared_distances(&[1.0, 1.0]);
        assert!((d[0] - 2.0).abs() < 1e-12, "{d:?}");
    }

    #[test]
    fn singular_covariance_gets_a_ridge() {
        // All points on the x axis, no shrinkage: S = diag(1, 0) is singular.
        let pts = [1.0, 0.0, -1.0, 0.0];
        let fit = Fit::new(&pts, 2, &[0, 1], Some(0.0));
        let d = fit.squared_distances(&[1.0, 0.0, 0.0, 1.0]);
        assert!((d[0] - 1.0).abs() < 1e-6, "{d:?}");
        // Off the line: 1 / (RIDGE · μ) with μ = 0.5.
        assert!((d[1] / (1.0 / (RIDGE * 0.5)) - 1.0).abs() < 1e-6, "{d:?}");
    }

    #[test]
    fn identical_points_give_euclidean_distances() {
        let pts = [3.0, 4.0, 3.0, 4.0];
        let fit = Fit::new(&pts, 2, &[0, 1], None);
        assert_eq!(fit.squared_distances(&[3.0, 4.0, 4.0, 4.0]), [0.0, 1.0]);
    }
}
