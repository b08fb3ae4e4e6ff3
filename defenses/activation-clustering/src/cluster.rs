//! The numeric pieces, over row-major `f64` points: PCA by power iteration,
//! 2-means with k-means++ starts, silhouettes.

use poisonlab_core::Rng;
use rand::Rng as _;

/// Power-iteration steps per component at most.
const POWER_ITERATIONS: usize = 500;
/// Power iteration stops once `1 − |v·v'|` falls below this.
const POWER_TOLERANCE: f64 = 1e-13;
/// Lloyd iterations per k-means start at most.
const LLOYD_ITERATIONS: usize = 300;

/// A fitted principal component analysis (Pearson 1901, "On Lines and Planes
/// of Closest Fit to Systems of Points in Space"; Hotelling 1933).
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Mean of the fitted points, subtracted before projecting.
    pub mean: Vec<f64>,
    /// Unit-length principal directions, largest variance first. Each one's
    /// entry of largest magnitude is positive, so the signs are deterministic.
    pub components: Vec<Vec<f64>>,
    /// Variance along each component (covariance eigenvalue, divided by n).
    pub variances: Vec<f64>,
}

impl Pca {
    /// Fit the top `k` components (at most the width `cols`) of the
    /// `points.len() / cols` rows in `points`: centre them, form the covariance,
    /// and find each eigenvector by power iteration from a random start drawn
    /// from `rng`, deflating the covariance after each.
    ///
    /// # Panics
    /// When `cols` is 0 or does not divide `points.len()` (a programming error).
    pub fn fit(points: &[f64], cols: usize, k: usize, rng: &mut Rng) -> Self {
        assert!(
            cols > 0 && points.len().is_multiple_of(cols),
            "pca: bad shape"
        );
        let n = points.len() / cols;
        let mut mean = vec![0.0; cols];
        for row in points.chunks_exact(cols) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        // Covariance, cols × cols, row-major.
        let mut cov = vec![0.0; cols * cols];
        let mut centred = vec![0.0; cols];
        for row in points.chunks_exact(cols) {
            for ((c, x), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = x - m;
            }
            for (i, &ci) in centred.iter().enumerate() {
                let cov_row = &mut cov[i * cols..(i + 1) * cols];
                for (v, &cj) in cov_row[i..].iter_mut().zip(&centred[i..]) {
                    *v += ci * cj;
                }
            }
        }
        for i in 0..cols {
            for j in i..cols {
                let v = cov[i * cols + j] / n.max(1) as f64;
                cov[i * cols + j] = v;
                cov[j * cols + i] = v;
            }
        }
        let k = k.min(cols);
        let mut components: Vec<Vec<f64>> = Vec::with_capacity(k);
        let mut variances = Vec::with_capacity(k);
        for _ in 0..k {
            let (v, lambda) = top_eigenvector(&cov, cols, &components, rng);
            // Deflate: cov -= λ v vᵀ.
            for i in 0..cols {
                for j in 0..cols {
                    cov[i * cols + j] -= lambda * v[i] * v[j];
                }
            }
            components.push(v);
            variances.push(lambda.max(0.0));
        }
        Self {
            mean,
            components,
            variances,
        }
    }

    /// Project the rows of `points` (width `mean.len()`) onto the components:
    /// row-major, one column per component.
    pub fn project(&self, points: &[f64]) -> Vec<f64> {
        let cols = self.mean.len();
        let mut out = Vec::with_capacity(points.len() / cols * self.components.len());
        for row in points.chunks_exact(cols) {
            for c in &self.components {
                out.push(
                    row.iter()
                        .zip(&self.mean)
                        .zip(c)
                        .map(|((x, m), v)| (x - m) * v)
                        .sum(),
                );
            }
        }
        out
    }
}

/// The dominant eigenvector of the symmetric `cov` (already deflated of the
/// `previous` ones) and its eigenvalue. Each step also removes any drift back
/// towards `previous`, so the components stay orthogonal even where the
/// deflated matrix is numerically zero.
fn top_eigenvector(
    cov: &[f64],
    cols: usize,
    previous: &[Vec<f64>],
    rng: &mut Rng,
) -> (Vec<f64>, f64) {
    let mut v: Vec<f64> = (0..cols).map(|_| rng.random::<f64>() - 0.5).collect();
    orthonormalise(&mut v, previous);
    let mut lambda = 0.0;
    let mut w = vec![0.0; cols];
    for _ in 0..POWER_ITERATIONS {
        for (i, wi) in w.iter_mut().enumerate() {
            *wi = cov[i * cols..(i + 1) * cols]
                .iter()
                .zip(&v)
                .map(|(a, b)| a * b)
                .sum();
        }
        lambda = w.iter().zip(&v).map(|(a, b)| a * b).sum();
        if !orthonormalise(&mut w, previous) {
            // The rest of the space carries no variance: any orthogonal
            // direction will do, and `v` is one.
            break;
        }
        let overlap: f64 = w.iter().zip(&v).map(|(a, b)| a * b).sum();
        std::mem::swap(&mut v, &mut w);
        if 1.0 - overlap.abs() < POWER_TOLERANCE {
            break;
        }
    }
    // Deterministic sign: the entry of largest magnitude is positive.
    let largest = v
        .iter()
        .copied()
        .fold(0.0f64, |acc, x| if x.abs() > acc.abs() { x } else { acc });
    if largest < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    (v, lambda)
}

/// Remove the `basis` directions from `v` and scale it to unit length; false
/// (leaving `v` unchanged in direction) when nothing is left.
fn orthonormalise(v: &mut [f64], basis: &[Vec<f64>]) -> bool {
    for b in basis {
        let dot: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
        v.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
    }
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm < 1e-150 || !norm.is_finite() {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

/// A 2-means clustering (Lloyd 1982, "Least Squares Quantization in PCM",
/// from k-means++ starts, Arthur and Vassilvitskii 2007).
#[derive(Debug, Clone, PartialEq)]
pub struct TwoMeans {
    /// Cluster of each point, 0 or 1. Cluster 1 is never the larger one; when
    /// the two are the same size, the first point is in cluster 0.
    pub assignment: Vec<usize>,
    /// Points in cluster 0 and in cluster 1.
    pub sizes: [usize; 2],
    /// Sum of squared distances of the points to their cluster's centroid.
    pub inertia: f64,
}

impl TwoMeans {
    /// Cluster the rows of `points` (width `cols`) in two: `restarts` runs of
    /// Lloyd's algorithm to convergence, each from a k-means++ start drawn from
    /// `rng`, keeping the one with the lowest inertia (the first on ties).
    /// `None` when no run splits the points (fewer than two distinct points).
    ///
    /// # Panics
    /// When `cols` is 0 or does not divide `points.len()` (a programming error).
    pub fn fit(points: &[f64], cols: usize, restarts: usize, rng: &mut Rng) -> Option<Self> {
        assert!(
            cols > 0 && points.len().is_multiple_of(cols),
            "2-means: bad shape"
        );
        let km = KMeans::fit(points, cols, 2, restarts, rng)?;
        let two = TwoMeans {
            assignment: km.assignment,
            sizes: [km.sizes[0], km.sizes[1]],
            inertia: km.inertia,
        };
        Some(two.canonical())
    }

    /// Relabel so cluster 1 is the smaller one (the one without the first
    /// point on a tie).
    fn canonical(mut self) -> Self {
        let [n0, n1] = self.sizes;
        let swap = n1 > n0 || (n1 == n0 && self.assignment.first() == Some(&1));
        if swap {
            self.assignment.iter_mut().for_each(|a| *a = 1 - *a);
            self.sizes = [n1, n0];
        }
        self
    }
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// A k-means clustering (Lloyd 1982, "Least Squares Quantization in PCM",
/// from k-means++ starts, Arthur and Vassilvitskii 2007, "k-means++: The
/// Advantages of Careful Seeding").
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// Cluster of each point, `0..k`; clusters are numbered by decreasing
    /// size (ties by the first point they hold).
    pub assignment: Vec<usize>,
    /// Points in each cluster, largest first.
    pub sizes: Vec<usize>,
    /// Sum of squared distances of the points to their cluster's centroid.
    pub inertia: f64,
}

impl KMeans {
    /// Cluster the rows of `points` (width `cols`) into `k` groups (at least
    /// 2): `restarts` runs of Lloyd's algorithm to convergence, each from a
    /// k-means++ start drawn from `rng`, keeping the one with the lowest
    /// inertia (the first on ties). `None` when no run yields `k` non-empty
    /// clusters (fewer than `k` distinct points).
    ///
    /// # Panics
    /// When `cols` is 0 or does not divide `points.len()` (a programming error).
    pub fn fit(
        points: &[f64],
        cols: usize,
        k: usize,
        restarts: usize,
        rng: &mut Rng,
    ) -> Option<Self> {
        assert!(
            cols > 0 && points.len().is_multiple_of(cols),
            "k-means: bad shape"
        );
        let mut best: Option<KMeans> = None;
        for _ in 0..restarts.max(1) {
            let Some(run) = lloyd(points, cols, k.max(2), rng) else {
                continue;
            };
            if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
                best = Some(run);
            }
        }
        best.map(Self::canonical)
    }

    /// Renumber the clusters by decreasing size, ties by first member.
    fn canonical(mut self) -> Self {
        let k = self.sizes.len();
        let first: Vec<usize> = (0..k)
            .map(|c| {
                self.assignment
                    .iter()
                    .position(|&a| a == c)
                    .unwrap_or(usize::MAX)
            })
            .collect();
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| {
            self.sizes[b]
                .cmp(&self.sizes[a])
                .then(first[a].cmp(&first[b]))
        });
        let mut rank = vec![0; k];
        for (r, &c) in order.iter().enumerate() {
            rank[c] = r;
        }
        self.assignment.iter_mut().for_each(|a| *a = rank[*a]);
        self.sizes = order.iter().map(|&c| self.sizes[c]).collect();
        self
    }
}

/// One k-means++ start and Lloyd iterations until no point moves.
fn lloyd(points: &[f64], cols: usize, k: usize, rng: &mut Rng) -> Option<KMeans> {
    let n = points.len() / cols;
    if n < k {
        return None;
    }
    let row = |i: usize| &points[i * cols..(i + 1) * cols];
    // k-means++: the first centre uniformly, each next ∝ squared distance to
    // the nearest centre so far.
    let mut centres: Vec<Vec<f64>> = vec![row(rng.random_range(0..n)).to_vec()];
    let mut d2: Vec<f64> = (0..n)
        .map(|i| squared_distance(row(i), &centres[0]))
        .collect();
    while centres.len() < k {
        let total: f64 = d2.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            return None;
        }
        let mut target = rng.random::<f64>() * total;
        let mut pick = None;
        for (i, &d) in d2.iter().enumerate() {
            if d > 0.0 && target < d {
                pick = Some(i);
                break;
            }
            target -= d;
        }
        // Rounding ran past the end: take the last point away from every centre.
        let pick = pick.or_else(|| d2.iter().rposition(|&d| d > 0.0))?;
        centres.push(row(pick).to_vec());
        for (i, d) in d2.iter_mut().enumerate() {
            *d = d.min(squared_distance(row(i), &centres[centres.len() - 1]));
        }
    }
    let nearest = |x: &[f64], centres: &[Vec<f64>]| {
        (0..centres.len())
            .min_by(|&a, &b| {
                squared_distance(x, &centres[a]).total_cmp(&squared_distance(x, &centres[b]))
            })
            .unwrap_or(0)
    };
    let mut assignment = vec![usize::MAX; n];
    for _ in 0..LLOYD_ITERATIONS {
        let mut moved = false;
        for (i, a) in assignment.iter_mut().enumerate() {
            let c = nearest(row(i), &centres);
            if *a != c {
                *a = c;
                moved = true;
            }
        }
        if !moved {
            break;
        }
        let mut sums = vec![vec![0.0; cols]; k];
        let mut sizes = vec![0usize; k];
        for (i, &a) in assignment.iter().enumerate() {
            sizes[a] += 1;
            sums[a].iter_mut().zip(row(i)).for_each(|(s, x)| *s += x);
        }
        if sizes.contains(&0) {
            return None;
        }
        for c in 0..k {
            for (m, s) in centres[c].iter_mut().zip(&sums[c]) {
                *m = s / sizes[c] as f64;
            }
        }
    }
    let mut sizes = vec![0usize; k];
    let mut inertia = 0.0;
    for (i, &a) in assignment.iter().enumerate() {
        sizes[a] += 1;
        inertia += squared_distance(row(i), &centres[a]);
    }
    if sizes.contains(&0) {
        return None;
    }
    Some(KMeans {
        assignment,
        sizes,
        inertia,
    })
}

/// The silhouette of each row of `points` (width `cols`) under a two-cluster
/// `assignment`: `(b − a) / max(a, b)` with `a` its mean Euclidean distance to
/// the other members of its cluster and `b` to the members of the other
/// cluster; 0 for a point alone in its cluster (Rousseeuw 1987). Takes
/// `O(n² · cols)` time, each distance computed once for both of its points;
/// each point's sums add its partners' distances in their order (the
/// earlier partners' from their rows, the later from its own), so the result
/// is the plain double loop's to the bit (a test checks).
///
/// # Panics
/// When `assignment` does not hold one cluster (0 or 1) per row.
pub fn silhouettes(points: &[f64], cols: usize, assignment: &[usize]) -> Vec<f64> {
    let n = assignment.len();
    assert_eq!(points.len(), n * cols, "silhouettes: bad shape");
    let mut sizes = [0usize; 2];
    for &a in assignment {
        sizes[a] += 1;
    }
    let row = |i: usize| &points[i * cols..(i + 1) * cols];
    // Per point, the sums of its distances to the members of each cluster.
    let mut sums = vec![[0.0f64; 2]; n];
    for i in 0..n {
        let (x, own) = (row(i), assignment[i]);
        let (done, later) = sums.split_at_mut(i + 1);
        let mine = &mut done[i];
        for (k, theirs) in later.iter_mut().enumerate() {
            let j = i + 1 + k;
            let d = squared_distance(x, row(j)).sqrt();
            mine[assignment[j]] += d;
            theirs[own] += d;
        }
    }
    (0..n)
        .map(|i| {
            let own = assignment[i];
            if sizes[own] < 2 || sizes[1 - own] == 0 {
                return 0.0;
            }
            let a = sums[i][own] / (sizes[own] - 1) as f64;
            let b = sums[i][1 - own] / sizes[1 - own] as f64;
            let m = a.max(b);
            if m > 0.0 { (b - a) / m } else { 0.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::seed::stream;

    #[test]
    fn pca_finds_the_constructed_directions() {
        // The 8 sign combinations of ±3·u1 ± 2·u2 ± 1·u3 + offset, with
        // u1 = (1, 1, 0)/√2, u2 = (0, 0, 1), u3 = (1, −1, 0)/√2: the covariance
        // is 9·u1u1ᵀ + 4·u2u2ᵀ + 1·u3u3ᵀ.
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let (u1, u2, u3) = ([s, s, 0.0], [0.0, 0.0, 1.0], [s, -s, 0.0]);
        let offset = [5.0, -2.0, 1.0];
        let mut points = Vec::new();
        for a in [-3.0, 3.0] {
            for b in [-2.0, 2.0] {
                for c in [-1.0, 1.0] {
                    for d in 0..3 {
                        points.push(offset[d] + a * u1[d] + b * u2[d] + c * u3[d]);
                    }
                }
            }
        }
        let pca = Pca::fit(&points, 3, 2, &mut stream(0, 0, "pca"));
        for (m, o) in pca.mean.iter().zip(offset) {
            assert!((m - o).abs() < 1e-12);
        }
        assert_eq!(pca.components.len(), 2);
        for (got, want) in pca.components.iter().zip([u1, u2]) {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
            }
        }
        assert!((pca.variances[0] - 9.0).abs() < 1e-9);
        assert!((pca.variances[1] - 4.0).abs() < 1e-9);
        // The first point is offset − 3u1 − 2u2 − u3: it projects to (−3, −2).
        let p = pca.project(&points[..3]);
        assert!(
            (p[0] + 3.0).abs() < 1e-6 && (p[1] + 2.0).abs() < 1e-6,
            "{p:?}"
        );
    }

    #[test]
    fn pca_caps_the_components_at_the_width_and_keeps_them_orthonormal() {
        // Rank-one data in 3-D: the second and third directions carry nothing.
        let points: Vec<f64> = (0..6)
            .flat_map(|i| [i as f64, 2.0 * i as f64, 0.0])
            .collect();
        let pca = Pca::fit(&points, 3, 10, &mut stream(0, 0, "pca"));
        assert_eq!(pca.components.len(), 3);
        for (i, a) in pca.components.iter().enumerate() {
            for (j, b) in pca.components.iter().enumerate() {
                let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-9, "{i} {j} {dot}");
            }
        }
        assert!(pca.variances[1].abs() < 1e-9);
    }

    #[test]
    fn two_means_recovers_two_separated_clusters_exactly() {
        // 7 points around (0, 0), 3 around (10, 10), interleaved.
        let big = [
            [0.1, 0.0],
            [-0.2, 0.3],
            [0.0, -0.1],
            [0.3, 0.2],
            [-0.1, -0.3],
            [0.2, -0.2],
            [0.0, 0.1],
        ];
        let small = [[10.0, 10.2], [9.8, 10.0], [10.1, 9.9]];
        let mut points = Vec::new();
        let mut truth = Vec::new();
        let (mut b, mut s) = (big.iter(), small.iter());
        for i in 0..10 {
            let p = if i % 3 == 1 { s.next() } else { None };
            match p {
                Some(p) => {
                    points.extend_from_slice(p);
                    truth.push(1);
                }
                None => {
                    points.extend_from_slice(b.next().unwrap());
                    truth.push(0);
                }
            }
        }
        for seed in 0..5 {
            let km = TwoMeans::fit(&points, 2, 3, &mut stream(seed, 0, "km")).unwrap();
            assert_eq!(km.assignment, truth);
            assert_eq!(km.sizes, [7, 3]);
        }
    }

    #[test]
    fn two_means_of_identical_points_is_none() {
        let points = vec![1.0; 8];
        assert_eq!(TwoMeans::fit(&points, 2, 3, &mut stream(0, 0, "km")), None);
        assert_eq!(
            TwoMeans::fit(&[1.0, 2.0], 2, 3, &mut stream(0, 0, "km")),
            None
        );
    }

    /// Each distance once for both points: the plain double loop's values,
    /// bit for bit.
    #[test]
    fn silhouettes_equal_the_double_loop_to_the_bit() {
        let mut rng = stream(9, 0, "silhouettes");
        let (n, cols) = (57, 3);
        let points: Vec<f64> = (0..n * cols).map(|_| rng.random_range(-2.0..2.0)).collect();
        let assignment: Vec<usize> = (0..n).map(|_| rng.random_range(0..2)).collect();
        let row = |i: usize| &points[i * cols..(i + 1) * cols];
        let sizes = [0, 1].map(|c| assignment.iter().filter(|&&a| a == c).count());
        let plain: Vec<f64> = (0..n)
            .map(|i| {
                let mut sums = [0.0f64; 2];
                for j in (0..n).filter(|&j| j != i) {
                    sums[assignment[j]] += squared_distance(row(i), row(j)).sqrt();
                }
                let own = assignment[i];
                let a = sums[own] / (sizes[own] - 1) as f64;
                let b = sums[1 - own] / sizes[1 - own] as f64;
                (b - a) / a.max(b)
            })
            .collect();
        let ours = silhouettes(&points, cols, &assignment);
        assert_eq!(
            ours.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            plain.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn silhouettes_match_hand_computation() {
        // 1-D: {0, 1} and {4}. Point 0: a = 1, b = 4 -> 0.75. Point 1: a = 1,
        // b = 3 -> 2/3. Point 4 is alone -> 0.
        let s = silhouettes(&[0.0, 1.0, 4.0], 1, &[0, 0, 1]);
        assert!((s[0] - 0.75).abs() < 1e-12);
        assert!((s[1] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s[2], 0.0);
    }
}
