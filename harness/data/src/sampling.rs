//! The few random draws this crate makes, written out so the data a seed gives
//! depends only on the ChaCha8 stream, not on how a `rand` release happens to
//! turn raw bits into floats, ranges or shuffles.
//!
//! Every function reads whole `u64`s from the stream with `next_u64`.

use poisonlab_core::Rng;
use rand::RngCore;

/// Uniform on `[0, 1)`: the top 53 bits of one `u64`.
pub(crate) fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Uniform on `[lo, hi)`.
pub(crate) fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng)
}

/// Uniform on `[lo, hi)` as `f32`.
pub(crate) fn uniform_f32(rng: &mut Rng, lo: f32, hi: f32) -> f32 {
    uniform(rng, f64::from(lo), f64::from(hi)) as f32
}

/// True with probability `p`.
pub(crate) fn chance(rng: &mut Rng, p: f64) -> bool {
    unit(rng) < p
}

/// Two independent standard normals (Box–Muller on two `unit` draws).
pub(crate) fn normal_pair(rng: &mut Rng) -> (f64, f64) {
    // 1 - unit is in (0, 1], so the log is finite.
    let u1 = 1.0 - unit(rng);
    let u2 = unit(rng);
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
    (r * c, r * s)
}

/// One standard normal (the first of a [`normal_pair`]; the second is dropped).
pub(crate) fn normal(rng: &mut Rng) -> f64 {
    normal_pair(rng).0
}

/// An approximately standard normal value from one `u64`, cheaply: the sum
/// of its four 16-bit quarters as uniforms (Irwin–Hall, n = 4), centred and
/// scaled to unit variance. Bounded by ±√12 ≈ ±3.46; used for pixel noise.
pub(crate) fn quick_normal(rng: &mut Rng) -> f32 {
    let v = rng.next_u64();
    let sum = (v & 0xffff) + ((v >> 16) & 0xffff) + ((v >> 32) & 0xffff) + (v >> 48);
    // Each quarter is uniform on 0..65536 (mean 32767.5); four sum to mean 131070.
    const SCALE: f32 = 1.732_050_8 / 65_536.0; // √3 / 2^16
    (sum as f32 - 131_070.0) * SCALE
}

/// Uniform on `0..n` without modulo bias (rejection on the low zone).
///
/// # Panics
/// When `n == 0` (a programming error: callers pass a non-empty range).
pub(crate) fn below(rng: &mut Rng, n: usize) -> usize {
    assert!(n > 0, "below(0)");
    let n = n as u64;
    // 2^64 mod n: values under it would make small results more likely.
    let threshold = n.wrapping_neg() % n;
    loop {
        let v = rng.next_u64();
        if v >= threshold {
            return (v % n) as usize;
        }
    }
}

/// Fisher–Yates shuffle (from the back, swapping with `below(i + 1)`).
pub(crate) fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i + 1);
        items.swap(i, j);
    }
}

/// `n` labels with every class `n / classes` or one more times (label `i % classes`
/// for position `i`), then shuffled: class counts differ by at most one.
pub(crate) fn balanced_labels(rng: &mut Rng, n: usize, classes: usize) -> Vec<usize> {
    let mut labels: Vec<usize> = (0..n).map(|i| i % classes).collect();
    shuffle(rng, &mut labels);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn unit_stays_in_range_and_averages_a_half() {
        let mut rng = Rng::seed_from_u64(3);
        let xs: Vec<f64> = (0..20_000).map(|_| unit(&mut rng)).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut rng = Rng::seed_from_u64(4);
        let n = 40_000;
        let mut xs = Vec::with_capacity(n);
        for _ in 0..n / 2 {
            let (a, b) = normal_pair(&mut rng);
            xs.push(a);
            xs.push(b);
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 1.0).abs() < 0.03, "var {var}");
    }

    #[test]
    fn quick_normal_has_unit_moments_and_bounded_tails() {
        let mut rng = Rng::seed_from_u64(7);
        let n = 40_000;
        let xs: Vec<f64> = (0..n).map(|_| f64::from(quick_normal(&mut rng))).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 1.0).abs() < 0.03, "var {var}");
        assert!(xs.iter().all(|x| x.abs() < 3.47));
        // About as many beyond 2σ as a normal (4.6 %; Irwin–Hall 4: about 4.0 %).
        let tails = xs.iter().filter(|x| x.abs() > 2.0).count() as f64 / n as f64;
        assert!((0.03..0.055).contains(&tails), "tails {tails}");
    }

    #[test]
    fn below_covers_the_range_evenly() {
        let mut rng = Rng::seed_from_u64(5);
        let mut counts = [0usize; 7];
        for _ in 0..7_000 {
            counts[below(&mut rng, 7)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn balanced_labels_differ_by_at_most_one_per_class() {
        let mut rng = Rng::seed_from_u64(6);
        let labels = balanced_labels(&mut rng, 23, 10);
        let mut counts = [0usize; 10];
        for &l in &labels {
            counts[l] += 1;
        }
        assert_eq!(counts, [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]);
        // Shuffled, not left in i % 10 order.
        assert_ne!(labels, (0..23).map(|i| i % 10).collect::<Vec<_>>());
    }
}
