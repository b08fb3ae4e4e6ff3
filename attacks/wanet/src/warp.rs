//! The warping field and bilinear resampling.

use poisonlab_core::Rng;
use rand::Rng as _;

/// A sampling grid: for every output pixel `(i, j)` of an `h × w` image,
/// the normalised source coordinates `(x, y)` in [−1, 1] (x along the
/// columns, −1 the first column, 1 the last) it is read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Warp {
    h: usize,
    w: usize,
    /// `(x, y)` per output pixel, row-major.
    grid: Vec<[f32; 2]>,
}

/// The cubic convolution kernel (Keys 1981) with a = −0.75, as bicubic
/// image resizing uses.
fn cubic(t: f64) -> f64 {
    const A: f64 = -0.75;
    let t = t.abs();
    if t <= 1.0 {
        ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0
    } else if t < 2.0 {
        ((A * t - 5.0 * A) * t + 8.0 * A) * t - 4.0 * A
    } else {
        0.0
    }
}

/// Bicubic resize of a `k × k` plane to `h × w`, corners aligned (source
/// coordinate `o·(k − 1)/(n − 1)`), borders repeated.
fn upsample(plane: &[f64], k: usize, h: usize, w: usize) -> Vec<f64> {
    let line = |src: &dyn Fn(usize) -> f64, n_out: usize| -> Vec<f64> {
        (0..n_out)
            .map(|o| {
                let pos = if n_out > 1 {
                    o as f64 * (k - 1) as f64 / (n_out - 1) as f64
                } else {
                    0.0
                };
                let base = pos.floor();
                (-1..=2)
                    .map(|d: i64| {
                        let idx = (base as i64 + d).clamp(0, k as i64 - 1) as usize;
                        cubic(pos - (base + d as f64)) * src(idx)
                    })
                    .sum()
            })
            .collect()
    };
    // Rows of the k × k plane widened to w columns, then every column to h rows.
    let wide: Vec<Vec<f64>> = (0..k).map(|r| line(&|c| plane[r * k + c], w)).collect();
    let cols: Vec<Vec<f64>> = (0..w).map(|c| line(&|r| wide[r][c], h)).collect();
    (0..h * w).map(|p| cols[p % w][p / w]).collect()
}

/// `n` evenly spaced values from −1 to 1.
fn linspace(n: usize) -> impl Fn(usize) -> f64 {
    move |i| {
        if n > 1 {
            -1.0 + 2.0 * i as f64 / (n - 1) as f64
        } else {
            0.0
        }
    }
}

impl Warp {
    /// The identity grid of an `h × w` image (resampling with it changes nothing).
    pub fn identity(h: usize, w: usize) -> Self {
        let (gx, gy) = (linspace(w), linspace(h));
        let grid = (0..h * w)
            .map(|p| [gx(p % w) as f32, gy(p / w) as f32])
            .collect();
        Self { h, w, grid }
    }

    /// The paper's backdoor warp: a `k × k × 2` field of uniform offsets in
    /// [−1, 1] drawn from `rng`, divided by its mean absolute value,
    /// upsampled bicubically to `h × w`, times `strength / h`, added to the
    /// identity grid and clamped to [−1, 1].
    pub fn random(k: usize, strength: f64, h: usize, w: usize, rng: &mut Rng) -> Self {
        let field: Vec<f64> = (0..2 * k * k)
            .map(|_| rng.random::<f64>() * 2.0 - 1.0)
            .collect();
        let mean_abs = field.iter().map(|v| v.abs()).sum::<f64>() / field.len() as f64;
        let norm = if mean_abs > 0.0 { mean_abs } else { 1.0 };
        // Interleaved (x, y) per control point: plane 0 is x, plane 1 is y.
        let plane =
            |c: usize| -> Vec<f64> { (0..k * k).map(|p| field[2 * p + c] / norm).collect() };
        let (px, py) = (upsample(&plane(0), k, h, w), upsample(&plane(1), k, h, w));
        let scale = strength / h as f64;
        let mut warp = Self::identity(h, w);
        for (p, g) in warp.grid.iter_mut().enumerate() {
            g[0] = (g[0] as f64 + scale * px[p]).clamp(-1.0, 1.0) as f32;
            g[1] = (g[1] as f64 + scale * py[p]).clamp(-1.0, 1.0) as f32;
        }
        warp
    }

    /// This grid plus uniform noise in [−1/h, 1/h] per coordinate drawn from
    /// `rng`, clamped to [−1, 1]: the noise mode's grid.
    pub fn jittered(&self, rng: &mut Rng) -> Self {
        let scale = 1.0 / self.h as f64;
        let grid = self
            .grid
            .iter()
            .map(|g| {
                let mut j = |v: f32| {
                    (v as f64 + (rng.random::<f64>() * 2.0 - 1.0) * scale).clamp(-1.0, 1.0) as f32
                };
                let x = j(g[0]);
                [x, j(g[1])]
            })
            .collect();
        Self {
            h: self.h,
            w: self.w,
            grid,
        }
    }

    /// The normalised source coordinates of output pixel `(i, j)`.
    pub fn at(&self, i: usize, j: usize) -> [f32; 2] {
        self.grid[i * self.w + j]
    }

    /// Resample one `[c, h, w]` image (row-major, every channel) through the
    /// grid, bilinearly, corners aligned. The result is a convex combination
    /// of input pixels, so it stays in their range.
    pub fn apply(&self, x: &mut [f32]) {
        let (h, w) = (self.h, self.w);
        let src = x.to_vec();
        let channels = x.len() / (h * w);
        for (p, g) in self.grid.iter().enumerate() {
            let col = (g[0] as f64 + 1.0) / 2.0 * (w - 1) as f64;
            let row = (g[1] as f64 + 1.0) / 2.0 * (h - 1) as f64;
            let (c0, r0) = (col.floor() as usize, row.floor() as usize);
            let (c1, r1) = ((c0 + 1).min(w - 1), (r0 + 1).min(h - 1));
            let (fc, fr) = (col - c0 as f64, row - r0 as f64);
            for ch in 0..channels {
                let px = |r: usize, c: usize| src[ch * h * w + r * w + c] as f64;
                let top = px(r0, c0) * (1.0 - fc) + px(r0, c1) * fc;
                let bottom = px(r1, c0) * (1.0 - fc) + px(r1, c1) * fc;
                x[ch * h * w + p] = (top * (1.0 - fr) + bottom * fr) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::seed::stream;
    use proptest::prelude::*;

    #[test]
    fn cubic_kernel_interpolates() {
        assert_eq!(cubic(0.0), 1.0);
        assert!(cubic(1.0).abs() < 1e-12 && cubic(2.0).abs() < 1e-12);
        // Partition of unity at any offset.
        for t in [0.1, 0.37, 0.5, 0.9] {
            let s: f64 = (-1..=2).map(|d| cubic(t - d as f64)).sum();
            assert!((s - 1.0).abs() < 1e-12, "{s}");
        }
    }

    #[test]
    fn upsampling_keeps_corners_and_constants() {
        let plane = [1.0, 2.0, 3.0, 4.0];
        let up = upsample(&plane, 2, 5, 5);
        assert_eq!([up[0], up[4], up[20], up[24]], [1.0, 2.0, 3.0, 4.0]);
        // Linear data is reproduced exactly by the cubic kernel: the middle is the mean.
        assert!((up[12] - 2.5).abs() < 1e-12);
        let flat = upsample(&[0.7; 9], 3, 4, 6);
        assert!(flat.iter().all(|v| (v - 0.7).abs() < 1e-12));
    }

    #[test]
    fn identity_changes_nothing_and_a_shift_moves_pixels() {
        let img: Vec<f32> = (0..2 * 12).map(|v| v as f32 / 24.0).collect();
        let mut same = img.clone();
        Warp::identity(3, 4).apply(&mut same);
        for (a, b) in same.iter().zip(&img) {
            assert!((a - b).abs() < 1e-6);
        }
        // Every pixel reads from one column to its right (the last repeats).
        let mut shift = Warp::identity(1, 3);
        for g in &mut shift.grid {
            g[0] = (g[0] + 1.0).min(1.0);
        }
        let mut row = vec![0.0, 0.5, 1.0];
        shift.apply(&mut row);
        assert_eq!(row, [0.5, 1.0, 1.0]);
    }

    #[test]
    fn the_backdoor_warp_is_small_and_seeded() {
        let a = Warp::random(4, 0.5, 28, 28, &mut stream(1, 0, "w"));
        let b = Warp::random(4, 0.5, 28, 28, &mut stream(1, 0, "w"));
        assert_eq!(a, b);
        let id = Warp::identity(28, 28);
        let moved: f64 = (0..28 * 28)
            .map(|p| (a.grid[p][0] - id.grid[p][0]).abs() as f64)
            .sum::<f64>()
            / (28.0 * 28.0);
        // Mean |offset| ≈ s/h (before the bicubic smoothing shrinks it a little).
        assert!(
            moved > 0.1 * 0.5 / 28.0 && moved < 2.0 * 0.5 / 28.0,
            "{moved}"
        );
    }

    proptest! {
        #[test]
        fn warped_images_stay_in_range(seed in 0u64..100, s in 0.1f64..5.0, k in 2usize..6) {
            let mut rng = stream(seed, 0, "t");
            let img: Vec<f32> = (0..3 * 9 * 7).map(|_| rng.random::<f32>()).collect();
            let warp = Warp::random(k, s, 9, 7, &mut rng).jittered(&mut rng);
            let mut x = img.clone();
            warp.apply(&mut x);
            let (lo, hi) = img.iter().fold((1f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
            prop_assert!(x.iter().all(|&v| v >= lo - 1e-6 && v <= hi + 1e-6));
        }
    }
}
