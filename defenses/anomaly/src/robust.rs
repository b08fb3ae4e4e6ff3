//! Medians and modified z-scores (Iglewicz and Hoaglin 1993).

/// 1 / Φ⁻¹(3/4): turns a median absolute deviation into a standard deviation.
pub(crate) const MAD_TO_SD: f64 = 1.4826;

/// √(π/2): turns a mean absolute deviation into a standard deviation, the
/// fallback when more than half the values are equal (MAD = 0).
pub(crate) const MEAN_AD_TO_SD: f64 = 1.2533;

/// The median; 0 for an empty slice.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Centre and robust standard deviation of `values`: the median and
/// `1.4826 · MAD`, or `1.2533 · mean absolute deviation` from the median when
/// the MAD is 0; the scale is 0 when that is 0 too (all values equal).
pub(crate) fn location_scale(values: &[f64]) -> (f64, f64) {
    let centre = median(values);
    let deviations: Vec<f64> = values.iter().map(|x| (x - centre).abs()).collect();
    let mut scale = MAD_TO_SD * median(&deviations);
    if scale <= 0.0 {
        scale = MEAN_AD_TO_SD * deviations.iter().sum::<f64>() / values.len().max(1) as f64;
    }
    (centre, scale)
}

/// Modified z-scores `(x − median) / scale` with the scale of
/// [`location_scale`]; all 0 when the scale is 0.
pub(crate) fn robust_z(values: &[f64]) -> Vec<f64> {
    let (centre, scale) = location_scale(values);
    if scale <= 0.0 {
        return vec![0.0; values.len()];
    }
    values.iter().map(|x| (x - centre) / scale).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn z_uses_the_scaled_mad() {
        // median 3, |deviations| 2 1 0 1 7 -> MAD 1.
        let z = robust_z(&[1.0, 2.0, 3.0, 4.0, 10.0]);
        assert!((z[4] - 7.0 / 1.4826).abs() < 1e-12);
        assert!((z[0] + 2.0 / 1.4826).abs() < 1e-12);
    }

    #[test]
    fn z_falls_back_to_the_mean_absolute_deviation() {
        // Four equal values: MAD 0; mean |deviation| = 5 / 5 = 1.
        let z = robust_z(&[0.0, 0.0, 0.0, 0.0, 5.0]);
        assert!((z[4] - 5.0 / 1.2533).abs() < 1e-12);
        assert_eq!(z[0], 0.0);
    }

    #[test]
    fn z_is_zero_when_all_values_are_equal() {
        assert_eq!(robust_z(&[2.0, 2.0, 2.0]), [0.0, 0.0, 0.0]);
    }
}
