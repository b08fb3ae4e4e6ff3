//! FastICA over row-major `f64` points: the dimension reduction Chen et al.
//! 2018 apply to activations (to 10 components) before clustering them.
//!
//! The estimator is symmetric ("parallel") FastICA with the logcosh contrast
//! (Hyvärinen 1999, "Fast and robust fixed-point algorithms for independent
//! component analysis", IEEE Transactions on Neural Networks 10(3); Hyvärinen
//! and Oja 2000, "Independent component analysis: algorithms and
//! applications", Neural Networks 13(4–5)):
//!
//! 1. Centre the points and whiten them by PCA: with the covariance
//!    `C = E D Eᵀ` (divided by n; nalgebra's `SymmetricEigen`), keep the `k`
//!    largest eigenvalues above `1e-12 ×` the largest and map each point `x` to
//!    `z = D^{-1/2} Eᵀ (x − mean)`, so `z` has identity covariance.
//! 2. Start `W` (k × k) from a standard Gaussian matrix drawn from the `rng`
//!    (Box–Muller over uniform draws) and decorrelate it.
//! 3. Repeat, at most 200 times, the fixed-point step for every row `w` at
//!    once, `w ← E[z g(wᵀz)] − E[g'(wᵀz)] w` with `g = tanh`,
//!    `g' = 1 − tanh²`, followed by the symmetric decorrelation
//!    `W ← (W Wᵀ)^{-1/2} W` (again through `SymmetricEigen`). Stop once
//!    `max |1 − |diag(W_new W_oldᵀ)||` falls below `1e-4`.
//! 4. Make the answer canonical: order the components by decreasing
//!    |excess kurtosis| of the fitted points' projections, and flip each whose
//!    projection has negative skewness.
//!
//! ICA determines components only up to order and sign, which step 4 fixes;
//! the whitening is folded into the stored unmixing rows, so a projection is
//! one matrix product.

// Nothing outside the tests calls this yet: the `ica` reduction is wired into
// the detector separately. Remove once it is.

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use poisonlab_core::Rng;
use rand::Rng as _;

/// Fixed-point iterations at most.
const MAX_ITERATIONS: usize = 200;
/// The iteration stops once `max |1 − |diag(W_new W_oldᵀ)||` is below this.
const TOLERANCE: f64 = 1e-4;
/// Whitening keeps only covariance eigenvalues above this fraction of the
/// largest: the others are rounding noise in directions without variance.
const RELATIVE_RANK_TOLERANCE: f64 = 1e-12;
/// The points have no variance when the largest covariance eigenvalue is at
/// most `(NO_VARIANCE × largest |value|)²`: what is left is rounding in the
/// mean, not spread.
const NO_VARIANCE: f64 = 1e-12;

/// A fitted independent component analysis (FastICA, Hyvärinen and Oja 2000).
#[derive(Debug, Clone, PartialEq)]
pub struct FastIca {
    /// Mean of the fitted points, subtracted before projecting.
    pub mean: Vec<f64>,
    /// One row per independent component, each `mean.len()` wide, with the
    /// whitening folded in: component `i` of a point `x` is
    /// `unmixing[i] · (x − mean)`. On the fitted points every component has
    /// mean 0 and variance 1, and the components are uncorrelated. Ordered by
    /// decreasing |excess kurtosis| of the fitted points' components, each
    /// signed so those have non-negative skewness.
    pub unmixing: Vec<Vec<f64>>,
    /// Whether the fixed-point iteration met its tolerance (`1e-4`) within
    /// its 200 iterations. When not, the components are those of the last
    /// iteration: whitened and decorrelated, but not necessarily independent.
    pub converged: bool,
    /// Fixed-point iterations run.
    pub iterations: usize,
}

impl FastIca {
    /// Fit `k` independent components of the `points.len() / cols` rows in
    /// `points`, `cols` wide (see the module documentation for the steps).
    /// `k` is capped at the width and at the rank of the centred points (the
    /// covariance eigenvalues above `1e-12 ×` the largest), so fewer
    /// components may come back; `k = 0` gives none. The random start of the
    /// iteration is drawn from `rng`: the same stream gives the same result.
    ///
    /// `None` when there are fewer than 2 rows, a value is not finite, the
    /// covariance overflows, or the points have no variance (their largest
    /// covariance eigenvalue is at most `(1e-12 × largest |value|)²`, which
    /// covers identical rows up to rounding in the mean).
    ///
    /// # Panics
    /// When `cols` is 0 or does not divide `points.len()` (a programming error).
    pub fn fit(points: &[f64], cols: usize, k: usize, rng: &mut Rng) -> Option<Self> {
        assert!(
            cols > 0 && points.len().is_multiple_of(cols),
            "fast-ica: bad shape"
        );
        let n = points.len() / cols;
        if n < 2 || !points.iter().all(|x| x.is_finite()) {
            return None;
        }
        let mut mean = vec![0.0; cols];
        for row in points.chunks_exact(cols) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        // Centred points, n × cols.
        let centred = DMatrix::from_fn(n, cols, |r, c| points[r * cols + c] - mean[c]);
        let cov = centred.tr_mul(&centred) / n as f64;
        if !cov.iter().all(|v| v.is_finite()) {
            return None;
        }
        let (values, vectors) = sorted_eigen(cov)?;
        let largest = values.first().copied().unwrap_or(0.0);
        let scale = points.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
        if largest.is_nan() || largest <= (NO_VARIANCE * scale).powi(2) {
            return None;
        }
        let rank = values
            .iter()
            .take_while(|&&v| v > RELATIVE_RANK_TOLERANCE * largest)
            .count();
        let k = k.min(rank);
        // Whitening, k × cols: row j is e_jᵀ / √λ_j.
        let whitening = DMatrix::from_fn(k, cols, |j, c| vectors[(c, j)] / values[j].sqrt());
        // Whitened points, one per column (k × n), and their transpose.
        let z_t = &centred * whitening.transpose();
        let z = z_t.transpose();

        let start = DMatrix::from_fn(k, k, |_, _| standard_normal(rng));
        let mut w = decorrelate(&start).unwrap_or_else(|| DMatrix::identity(k, k));
        let mut converged = k == 0;
        let mut iterations = 0;
        while !converged && iterations < MAX_ITERATIONS {
            let Some(next) = fixed_point_step(&w, &z, &z_t) else {
                // W Wᵀ went singular or non-finite: keep the last good W.
                break;
            };
            iterations += 1;
            let change = (&next * w.transpose())
                .diagonal()
                .iter()
                .fold(0.0f64, |acc, d| acc.max((1.0 - d.abs()).abs()));
            w = next;
            converged = change < TOLERANCE;
        }

        // Canonical order and signs from the fitted points' components.
        let sources = &w * &z; // [k, n]
        let shapes: Vec<(f64, f64)> = sources
            .row_iter()
            .map(|s| skew_kurtosis(s.iter()))
            .collect();
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| shapes[b].1.abs().total_cmp(&shapes[a].1.abs()));
        let full = &w * &whitening; // [k, cols]
        let unmixing = order
            .iter()
            .map(|&i| {
                let sign = if shapes[i].0 < 0.0 { -1.0 } else { 1.0 };
                full.row(i).iter().map(|v| sign * v).collect()
            })
            .collect();
        Some(Self {
            mean,
            unmixing,
            converged,
            iterations,
        })
    }

    /// Project the rows of `points` (width `mean.len()`) onto the independent
    /// components: row-major, `dims()` columns, one row per point.
    pub fn project(&self, points: &[f64]) -> Vec<f64> {
        let cols = self.mean.len();
        let mut out = Vec::with_capacity(points.len() / cols.max(1) * self.unmixing.len());
        for row in points.chunks_exact(cols) {
            for u in &self.unmixing {
                out.push(
                    row.iter()
                        .zip(&self.mean)
                        .zip(u)
                        .map(|((x, m), v)| (x - m) * v)
                        .sum(),
                );
            }
        }
        out
    }

    /// Number of independent components: the columns of a projection.
    pub fn dims(&self) -> usize {
        self.unmixing.len()
    }
}

/// Eigenvalues of the symmetric `m`, largest first, and the matching
/// eigenvectors as columns, each signed so its entry of largest magnitude is
/// positive. `None` if the decomposition does not converge.
fn sorted_eigen(m: DMatrix<f64>) -> Option<(Vec<f64>, DMatrix<f64>)> {
    let dim = m.nrows();
    let eigen = SymmetricEigen::try_new(m, f64::EPSILON, 1000 * dim.max(1))?;
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let values = order.iter().map(|&i| eigen.eigenvalues[i]).collect();
    let mut vectors = DMatrix::zeros(dim, dim);
    for (j, &i) in order.iter().enumerate() {
        let v = eigen.eigenvectors.column(i);
        let largest = v
            .iter()
            .copied()
            .fold(0.0f64, |acc, x| if x.abs() > acc.abs() { x } else { acc });
        let sign = if largest < 0.0 { -1.0 } else { 1.0 };
        vectors.set_column(j, &(v * sign));
    }
    Some((values, vectors))
}

/// Symmetric decorrelation `(W Wᵀ)^{-1/2} W`: the orthogonal matrix nearest
/// to `w`. `None` when `W Wᵀ` is singular or not finite.
fn decorrelate(w: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let gram = w * w.transpose();
    if !gram.iter().all(|v| v.is_finite()) {
        return None;
    }
    let dim = gram.nrows();
    if dim == 0 {
        return Some(w.clone());
    }
    let eigen = SymmetricEigen::try_new(gram, f64::EPSILON, 1000 * dim.max(1))?;
    let largest = eigen.eigenvalues.iter().fold(0.0f64, |acc, &v| acc.max(v));
    if eigen
        .eigenvalues
        .iter()
        .any(|&v| v.is_nan() || v <= f64::EPSILON * largest)
    {
        return None;
    }
    let inv_sqrt = DVector::from_iterator(dim, eigen.eigenvalues.iter().map(|v| 1.0 / v.sqrt()));
    let e = &eigen.eigenvectors;
    let root = e * DMatrix::from_diagonal(&inv_sqrt) * e.transpose();
    Some(root * w)
}

/// One symmetric FastICA step with the logcosh contrast: every row `w` of
/// `w` becomes `E[z tanh(wᵀz)] − E[1 − tanh²(wᵀz)] w` over the whitened
/// points `z` (columns of `z`, k × n; `z_t` is its transpose), then the rows
/// are decorrelated.
fn fixed_point_step(
    w: &DMatrix<f64>,
    z: &DMatrix<f64>,
    z_t: &DMatrix<f64>,
) -> Option<DMatrix<f64>> {
    let n = z.ncols() as f64;
    let g = (w * z).map(f64::tanh); // [k, n]
    let mut next = (&g * z_t) / n; // [k, k]
    for (i, g_row) in g.row_iter().enumerate() {
        let slope = g_row.iter().map(|t| 1.0 - t * t).sum::<f64>() / n;
        let mut row = next.row_mut(i);
        row -= w.row(i) * slope;
    }
    decorrelate(&next)
}

/// Skewness and excess kurtosis of `values`; both 0 when they do not vary.
fn skew_kurtosis<'a>(values: impl Iterator<Item = &'a f64> + Clone) -> (f64, f64) {
    let (count, sum) = values
        .clone()
        .fold((0usize, 0.0), |(c, s), x| (c + 1, s + x));
    if count == 0 {
        return (0.0, 0.0);
    }
    let mean = sum / count as f64;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for x in values {
        let d = x - mean;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let c = count as f64;
    let (m2, m3, m4) = (m2 / c, m3 / c, m4 / c);
    if m2.is_nan() || m2 <= 0.0 {
        return (0.0, 0.0);
    }
    (m3 / m2.powf(1.5), m4 / (m2 * m2) - 3.0)
}

/// A standard normal draw by Box–Muller from two uniform draws.
fn standard_normal(rng: &mut Rng) -> f64 {
    // 1 − U lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::seed::stream;

    /// `n` samples each of a uniform and a Laplace source, both with mean 0
    /// and variance 1.
    fn sources(n: usize, rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
        let half_width = 3.0f64.sqrt();
        let uniform = (0..n)
            .map(|_| (2.0 * rng.random::<f64>() - 1.0) * half_width)
            .collect();
        // Laplace with scale 1/√2 by inverse CDF.
        let b = std::f64::consts::FRAC_1_SQRT_2;
        let laplace = (0..n)
            .map(|_| {
                let u = rng.random::<f64>() - 0.5;
                -b * u.signum() * (1.0 - 2.0 * u.abs()).max(f64::MIN_POSITIVE).ln()
            })
            .collect();
        (uniform, laplace)
    }

    fn correlation(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
        for (x, y) in a.iter().zip(b) {
            ab += (x - ma) * (y - mb);
            aa += (x - ma) * (x - ma);
            bb += (y - mb) * (y - mb);
        }
        ab / (aa * bb).sqrt()
    }

    /// Column `c` of the row-major `m`, `cols` wide.
    fn column(m: &[f64], cols: usize, c: usize) -> Vec<f64> {
        m.chunks_exact(cols).map(|r| r[c]).collect()
    }

    /// The uniform and Laplace sources mixed by a fixed 2 × 2 matrix plus an
    /// offset.
    fn mixed(rng: &mut Rng) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (u, l) = sources(2000, rng);
        let points = u
            .iter()
            .zip(&l)
            .flat_map(|(a, b)| [3.0 + 1.0 * a + 0.6 * b, -1.0 + 0.4 * a + 1.0 * b])
            .collect();
        (u, l, points)
    }

    #[test]
    fn recovers_two_mixed_non_gaussian_sources() {
        for seed in 0..3 {
            let (u, l, points) = mixed(&mut stream(seed, 0, "data"));
            let ica = FastIca::fit(&points, 2, 2, &mut stream(seed, 0, "ica")).unwrap();
            assert!(ica.converged, "{} iterations", ica.iterations);
            assert_eq!(ica.dims(), 2);
            let projected = ica.project(&points);
            assert_eq!(projected.len(), 2000 * 2);
            // Each component matches exactly one source, and they differ.
            let mut matched = Vec::new();
            for c in 0..2 {
                let s = column(&projected, 2, c);
                let r = [correlation(&s, &u).abs(), correlation(&s, &l).abs()];
                let hits: Vec<usize> = (0..2).filter(|&i| r[i] > 0.98).collect();
                assert_eq!(hits.len(), 1, "component {c}: {r:?}");
                matched.push(hits[0]);
                // Canonical sign: non-negative skewness.
                assert!(skew_kurtosis(s.iter()).0 >= 0.0);
            }
            // Laplace (excess kurtosis 3) before uniform (−1.2).
            assert_eq!(matched, [1, 0]);
        }
    }

    #[test]
    fn components_are_white_on_the_fitted_points() {
        let (_, _, points) = mixed(&mut stream(7, 0, "data"));
        let ica = FastIca::fit(&points, 2, 2, &mut stream(7, 0, "ica")).unwrap();
        let p = ica.project(&points);
        let (a, b) = (column(&p, 2, 0), column(&p, 2, 1));
        let n = a.len() as f64;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(s, t)| s * t).sum::<f64>() / n;
        assert!(mean(&a).abs() < 1e-9 && mean(&b).abs() < 1e-9);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-9);
        assert!((dot(&b, &b) - 1.0).abs() < 1e-9);
        assert!(dot(&a, &b).abs() < 1e-9);
    }

    #[test]
    fn the_same_stream_gives_the_same_result() {
        let (_, _, points) = mixed(&mut stream(1, 0, "data"));
        let a = FastIca::fit(&points, 2, 2, &mut stream(1, 0, "ica")).unwrap();
        let b = FastIca::fit(&points, 2, 2, &mut stream(1, 0, "ica")).unwrap();
        assert_eq!(a, b);
        // Another start converges to the same components, up to tolerance.
        let c = FastIca::fit(&points, 2, 2, &mut stream(2, 0, "ica")).unwrap();
        for (x, y) in a.unmixing.iter().flatten().zip(c.unmixing.iter().flatten()) {
            assert!((x - y).abs() < 1e-2, "{a:?} vs {c:?}");
        }
    }

    #[test]
    fn degenerate_inputs_give_none() {
        let mut rng = stream(0, 0, "ica");
        assert_eq!(FastIca::fit(&[1.0, 2.0, 3.0], 3, 2, &mut rng), None);
        assert_eq!(FastIca::fit(&[], 3, 2, &mut rng), None);
        // Identical rows whose mean does not come out exact in floating point.
        let row = [0.1, 0.7, 1e3];
        let points: Vec<f64> = (0..7).flat_map(|_| row).collect();
        assert_eq!(FastIca::fit(&points, 3, 2, &mut rng), None);
        assert_eq!(FastIca::fit(&[0.0; 12], 3, 2, &mut rng), None);
        assert_eq!(
            FastIca::fit(&[1.0, f64::NAN, 2.0, 3.0], 2, 2, &mut rng),
            None
        );
    }

    #[test]
    fn k_is_capped_at_the_width() {
        let mut data = stream(3, 0, "data");
        let points: Vec<f64> = (0..3 * 500).map(|_| data.random::<f64>()).collect();
        let ica = FastIca::fit(&points, 3, 10, &mut stream(3, 0, "ica")).unwrap();
        assert_eq!(ica.dims(), 3);
        assert!(ica.unmixing.iter().all(|u| u.len() == 3));
        assert_eq!(ica.project(&points).len(), 500 * 3);
        let none = FastIca::fit(&points, 3, 0, &mut stream(3, 0, "ica")).unwrap();
        assert_eq!(none.dims(), 0);
        assert!(none.project(&points).is_empty());
    }

    #[test]
    fn k_is_capped_at_the_rank() {
        // Three non-Gaussian sources spread over five dimensions.
        let mut data = stream(4, 0, "data");
        let (u, l) = sources(1000, &mut data);
        let e: Vec<f64> = (0..1000)
            .map(|_| -(1.0 - data.random::<f64>()).ln() - 1.0)
            .collect();
        let mixing = [
            [1.0, 0.2, 0.0],
            [0.0, 1.0, 0.5],
            [0.3, 0.0, 1.0],
            [1.0, 1.0, 0.0],
            [0.5, -0.5, 2.0],
        ];
        let points: Vec<f64> = (0..1000)
            .flat_map(|t| mixing.map(|m| m[0] * u[t] + m[1] * l[t] + m[2] * e[t]))
            .collect();
        let ica = FastIca::fit(&points, 5, 10, &mut stream(4, 0, "ica")).unwrap();
        assert_eq!(ica.dims(), 3);
        assert!(ica.converged);
        // The exponential source (excess kurtosis 6, skewness 2) comes first,
        // with its sign intact.
        let first = column(&ica.project(&points), 3, 0);
        assert!(correlation(&first, &e) > 0.98);
    }

    #[test]
    fn gaussian_data_does_not_panic() {
        // No independent components to find: the iteration may wander, but
        // the answer is still white and deterministic.
        let mut data = stream(5, 0, "data");
        let points: Vec<f64> = (0..4 * 300).map(|_| standard_normal(&mut data)).collect();
        let a = FastIca::fit(&points, 4, 4, &mut stream(5, 0, "ica")).unwrap();
        let b = FastIca::fit(&points, 4, 4, &mut stream(5, 0, "ica")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.dims(), 4);
        assert!(a.iterations <= MAX_ITERATIONS);
        assert!(a.unmixing.iter().flatten().all(|v| v.is_finite()));
    }
}
