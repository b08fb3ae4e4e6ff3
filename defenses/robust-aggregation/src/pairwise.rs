//! Pairwise squared distances and dot products of a round's updates, the
//! O(n² d) part of Krum, Bulyan and FoolsGold.
//!
//! Each pair's sum runs over the coordinates in blocks of [`BLOCK`] (so the
//! block of every update stays in cache while all pairs use it), and within
//! a block over [`LANES`] independent `f64` accumulators, which the
//! compiler turns into SIMD: every f32 value is widened to f64 and the
//! difference taken exactly there (no ‖a‖² + ‖b‖² − 2a·b cancellation).
//! Pairs are split over threads, each pair summed by one thread in one fixed
//! order, so the result does not depend on the thread count.

use crate::common::threads_for;

/// Coordinates per block: 50 updates × 4 KiB stay within a core's L2 cache.
const BLOCK: usize = 1024;

/// Independent accumulators per sum (SIMD lanes).
const LANES: usize = 8;

/// A symmetric n × n matrix of pair values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Symmetric {
    n: usize,
    values: Vec<f64>,
}

impl Symmetric {
    /// The value of pair (i, j).
    pub(crate) fn get(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.n + j]
    }
}

/// Squared Euclidean distances between all rows (all of one length);
/// zero on the diagonal.
pub(crate) fn squared_distances(rows: &[&[f32]]) -> Symmetric {
    pairwise(rows, false, squared_distance)
}

/// Dot products between all rows (all of one length), the diagonal holding
/// each row's squared norm.
pub(crate) fn gram(rows: &[&[f32]]) -> Symmetric {
    pairwise(rows, true, dot)
}

/// ‖a − b‖², summed in `f64`.
pub(crate) fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    lanes(a, b, |x, y| {
        let d = f64::from(x) - f64::from(y);
        d * d
    })
}

/// a · b, summed in `f64`.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f64 {
    lanes(a, b, |x, y| f64::from(x) * f64::from(y))
}

/// Σ term(aᵢ, bᵢ) over [`LANES`] accumulators, then the lanes and the tail.
#[inline(always)]
fn lanes(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f64) -> f64 {
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0.0f64; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for k in 0..LANES {
            acc[k] += term(x[k], y[k]);
        }
    }
    let tail: f64 = a_tail.iter().zip(b_tail).map(|(&x, &y)| term(x, y)).sum();
    acc.iter().sum::<f64>() + tail
}

/// `kernel` summed over every pair (i < j, or i ≤ j with `diagonal`) of
/// `rows`, block by block.
fn pairwise<K>(rows: &[&[f32]], diagonal: bool, kernel: K) -> Symmetric
where
    K: Fn(&[f32], &[f32]) -> f64 + Sync + Copy,
{
    let n = rows.len();
    let dim = rows.first().map_or(0, |r| r.len());
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (if diagonal { i } else { i + 1 }..n).map(move |j| (i, j)))
        .collect();
    let mut sums = vec![0.0f64; pairs.len()];
    let threads = threads_for(pairs.len() * dim);
    let per = pairs.len().div_ceil(threads).max(1);
    let run = |pairs: &[(usize, usize)], sums: &mut [f64]| {
        for start in (0..dim).step_by(BLOCK) {
            let end = (start + BLOCK).min(dim);
            for (&(i, j), s) in pairs.iter().zip(sums.iter_mut()) {
                *s += kernel(&rows[i][start..end], &rows[j][start..end]);
            }
        }
    };
    if threads == 1 {
        run(&pairs, &mut sums);
    } else {
        std::thread::scope(|s| {
            for (p, out) in pairs.chunks(per).zip(sums.chunks_mut(per)) {
                let run = &run;
                s.spawn(move || run(p, out));
            }
        });
    }
    let mut values = vec![0.0f64; n * n];
    for (&(i, j), &s) in pairs.iter().zip(&sums) {
        values[i * n + j] = s;
        values[j * n + i] = s;
    }
    Symmetric { n, values }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_dots_match_the_definitions() {
        // 21 values: two full lanes of 8 and a tail of 5.
        let a: Vec<f32> = (0..21).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..21).map(|i| (i * i) as f32 / 10.0).collect();
        let want_d: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum();
        let want_dot: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        assert!((squared_distance(&a, &b) - want_d).abs() <= 1e-12 * want_d);
        assert!((dot(&a, &b) - want_dot).abs() <= 1e-12 * want_dot);
        let d = squared_distances(&[&a, &b, &a]);
        assert_eq!(d.get(0, 0), 0.0);
        assert_eq!(d.get(0, 1), d.get(1, 0));
        assert_eq!(d.get(0, 2), 0.0);
        let g = gram(&[&a, &b]);
        assert_eq!(g.get(0, 0), dot(&a, &a));
        assert_eq!(g.get(1, 0), dot(&a, &b));
    }

    #[test]
    fn the_thread_split_does_not_change_a_bit() {
        // Large enough to run on several threads (where the machine has
        // them), long enough for several blocks; compared with one thread.
        let rows: Vec<Vec<f32>> = (0..6)
            .map(|i| {
                (0..60_000)
                    .map(|j| ((i * 31 + j * 17) % 101) as f32 / 7.0)
                    .collect()
            })
            .collect();
        let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let d = squared_distances(&refs);
        for i in 0..6 {
            for j in 0..6 {
                let mut one = 0.0;
                for start in (0..60_000).step_by(BLOCK) {
                    let end = (start + BLOCK).min(60_000);
                    one += squared_distance(&refs[i][start..end], &refs[j][start..end]);
                }
                if i == j {
                    one = 0.0;
                }
                assert_eq!(d.get(i, j).to_bits(), one.to_bits(), "{i} {j}");
            }
        }
    }
}
