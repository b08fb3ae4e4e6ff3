//! What every aggregator checks of a round, and the sums and per-coordinate
//! passes they share.

use std::num::NonZeroUsize;

use poisonlab_core::UpdateRound;

use crate::AggregationError;

/// Check what every aggregator needs of `round`: at least one update, all of
/// one length and every value finite, one client id and one sample count per
/// update. Returns the update length.
pub(crate) fn check_round(round: &UpdateRound<'_>) -> Result<usize, AggregationError> {
    let updates = round.updates;
    let n = updates.len();
    let dim = updates.first().ok_or(AggregationError::NoUpdates)?.len();
    for (what, got) in [
        ("client ids", round.clients.len()),
        ("sample counts", round.samples.len()),
    ] {
        if got != n {
            return Err(AggregationError::ColumnLength { what, got, n });
        }
    }
    for (update, u) in updates.iter().enumerate() {
        if u.len() != dim {
            return Err(AggregationError::LengthMismatch {
                index: update,
                len: u.len(),
                expected: dim,
            });
        }
        if let Some((coordinate, &value)) = u.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(AggregationError::NonFinite {
                update,
                coordinate,
                value,
            });
        }
    }
    Ok(dim)
}

/// The updates as slices.
pub(crate) fn rows(updates: &[Vec<f32>]) -> Vec<&[f32]> {
    updates.iter().map(Vec::as_slice).collect()
}

/// `x` rounded to `f32`, saturating at ±`f32::MAX` instead of overflowing
/// to an infinity (a finite `f64` beyond `f32`'s range).
pub(crate) fn saturating_f32(x: f64) -> f32 {
    x.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32
}

/// Σᵢ wᵢ uᵢ / `divisor` over the rows with wᵢ ≠ 0, summed in `f64` and
/// rounded to `f32` once (saturating). `weights` has one entry per row.
pub(crate) fn combine(rows: &[&[f32]], weights: &[f64], divisor: f64, dim: usize) -> Vec<f32> {
    let mut sum = vec![0.0f64; dim];
    for (row, &w) in rows.iter().zip(weights) {
        if w != 0.0 {
            for (s, &v) in sum.iter_mut().zip(row.iter()) {
                *s += w * f64::from(v);
            }
        }
    }
    sum.into_iter()
        .map(|s| saturating_f32(s / divisor))
        .collect()
}

/// The mean of the rows weighted by `weights` (≥ 0, at least one > 0):
/// Σᵢ wᵢ uᵢ / Σᵢ wᵢ in `f64`, rounded once and kept within each coordinate's
/// range over the rows of positive weight, so that rounding never leaves it
/// (the mean of equal values is that value exactly).
pub(crate) fn weighted_mean(rows: &[&[f32]], weights: &[f64], dim: usize) -> Vec<f32> {
    let total: f64 = weights.iter().sum();
    let mut sum = vec![0.0f64; dim];
    let mut low = vec![f32::INFINITY; dim];
    let mut high = vec![f32::NEG_INFINITY; dim];
    for (row, &w) in rows.iter().zip(weights) {
        if w > 0.0 {
            for (((s, lo), hi), &v) in sum.iter_mut().zip(&mut low).zip(&mut high).zip(row.iter()) {
                *s += w * f64::from(v);
                *lo = lo.min(v);
                *hi = hi.max(v);
            }
        }
    }
    sum.into_iter()
        .zip(low.into_iter().zip(high))
        .map(|(s, (lo, hi))| saturating_f32(s / total).clamp(lo, hi))
        .collect()
}

/// Sample counts as mean weights: the counts themselves, or equal weights
/// when they sum to zero (no client reported a sample).
pub(crate) fn sample_weights(samples: &[usize]) -> Vec<f64> {
    if samples.iter().all(|&s| s == 0) {
        vec![1.0; samples.len()]
    } else {
        samples.iter().map(|&s| s as f64).collect()
    }
}

/// The mean of `values` (finite, at least one), summed in `f64` and rounded
/// to `f32` once, kept within the values' range.
pub(crate) fn mean_of(values: &[f32]) -> f32 {
    let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
    let (low, high) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    saturating_f32(sum / values.len() as f64).clamp(low, high)
}

/// The median of sorted finite values (at least one), in `f64`: the middle
/// value, or the midpoint of the two middle values for an even count.
pub(crate) fn median_of_sorted(sorted: &[f32]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        f64::from(sorted[n / 2])
    } else {
        (f64::from(sorted[n / 2 - 1]) + f64::from(sorted[n / 2])) / 2.0
    }
}

/// Below this many values in all, work runs on the calling thread.
const PARALLEL_MIN: usize = 1 << 18;

/// Threads for a pass over `work` values: one for small passes, else the
/// machine's parallelism (at most 8). Results never depend on it.
pub(crate) fn threads_for(work: usize) -> usize {
    if work < PARALLEL_MIN {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, NonZeroUsize::get)
            .min(8)
    }
}

/// Apply `f` to every coordinate's values across `rows` (all of length
/// `dim`), given as a scratch column in row order that `f` may reorder.
/// Coordinates are split into contiguous ranges over threads; each
/// coordinate's result depends on its column alone, so the output does not
/// depend on the split.
pub(crate) fn per_coordinate<F>(rows: &[&[f32]], dim: usize, f: F) -> Vec<f32>
where
    F: Fn(&mut [f32]) -> f32 + Sync,
{
    let mut out = vec![0.0f32; dim];
    let threads = threads_for(rows.len() * dim);
    let per = dim.div_ceil(threads).max(1);
    let run = |start: usize, out: &mut [f32]| {
        let mut column = vec![0.0f32; rows.len()];
        for (offset, o) in out.iter_mut().enumerate() {
            let j = start + offset;
            for (c, row) in column.iter_mut().zip(rows) {
                *c = row[j];
            }
            *o = f(&mut column);
        }
    };
    if threads == 1 {
        run(0, &mut out);
    } else {
        std::thread::scope(|s| {
            for (k, chunk) in out.chunks_mut(per).enumerate() {
                let run = &run;
                s.spawn(move || run(k * per, chunk));
            }
        });
    }
    out
}

/// Euclidean norm of `v`, summed in `f64`.
pub(crate) fn norm(v: &[f32]) -> f64 {
    crate::pairwise::dot(v, v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_mean_weighs_and_stays_in_range() {
        let a = [1.0f32, 10.0];
        let b = [4.0f32, 10.0];
        let far = [1e30f32, -1e30];
        // (1 · 1 + 2 · 4) / 3 = 3; a zero weight leaves `far` out of sum and range.
        let got = weighted_mean(&[&a, &b, &far], &[1.0, 2.0, 0.0], 2);
        assert_eq!(got, [3.0, 10.0]);
    }

    #[test]
    fn combine_saturates_instead_of_overflowing() {
        let a = [f32::MAX, 1.0];
        let got = combine(&[&a], &[4.0], 1.0, 2);
        assert_eq!(got, [f32::MAX, 4.0]);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median_of_sorted(&[1.0, 3.0, 8.0]), 3.0);
        assert_eq!(median_of_sorted(&[1.0, 3.0, 8.0, 9.0]), 5.5);
    }

    #[test]
    fn per_coordinate_gives_the_same_on_one_thread_and_several() {
        let data: Vec<Vec<f32>> = (0..4)
            .map(|i| (0..70_000).map(|j| ((i * 7 + j) % 13) as f32).collect())
            .collect();
        let refs = rows(&data);
        assert!(threads_for(refs.len() * 70_000) >= 1);
        let max = |c: &mut [f32]| c.iter().copied().fold(f32::MIN, f32::max);
        let got = per_coordinate(&refs, 70_000, max);
        for (j, g) in got.iter().enumerate() {
            let want = (0..4)
                .map(|i| ((i * 7 + j) % 13) as f32)
                .fold(f32::MIN, f32::max);
            assert_eq!(*g, want);
        }
    }
}
