use poisonlab_core::{Defense, DefenseInput, FilterVerdict, Matrix, Rng, Verdict};

use crate::{SpectralRule, SpectralSignaturesError, SpectralSignaturesParams};

/// Power-iteration steps at most.
pub const MAX_ITERATIONS: usize = 200;

/// Power iteration stops once the unit direction moves less than this.
pub const TOLERANCE: f64 = 1e-6;

/// Outlier rule: a class counts as poisoned only if its top-direction share of
/// variance exceeds this multiple of the median share of the other classes.
pub const SHARE_RATIO: f64 = 1.5;

/// Outlier rule: a class counts as poisoned only if at least this fraction of
/// its samples lie beyond the z-score threshold.
pub const MIN_OUTLIER_FRACTION: f64 = 0.01;

/// 1 / Φ⁻¹(3/4): turns a median absolute deviation into a standard deviation.
const MAD_TO_SD: f64 = 1.4826;

/// √(π/2): turns a mean absolute deviation into a standard deviation, the
/// fallback when more than half the values are equal (MAD = 0).
const MEAN_AD_TO_SD: f64 = 1.253314;

/// The spectral-signatures filter with checked parameters.
#[derive(Debug, Clone)]
pub struct SpectralSignatures {
    params: SpectralSignaturesParams,
}

impl SpectralSignatures {
    /// A filter for parameters that passed [`SpectralSignaturesParams::check`].
    pub fn new(params: SpectralSignaturesParams) -> Self {
        Self { params }
    }
}

/// The top right singular vector of a matrix and its squared singular value.
#[derive(Debug, Clone, PartialEq)]
pub struct TopDirection {
    /// Unit vector `v` maximising `‖M v‖`, `cols` long (sign arbitrary).
    pub vector: Vec<f64>,
    /// `σ₁² = ‖M v‖²`, the largest eigenvalue of `Mᵀ M`.
    pub sigma_sq: f64,
}

/// The top right singular vector of the row-major matrix `matrix` with `cols`
/// columns, by power iteration on `Mᵀ M` (applied as `Mᵀ (M v)`, never formed).
///
/// The start is the row with the largest norm (the lowest index on ties), so the
/// answer is deterministic; iteration stops after [`MAX_ITERATIONS`] steps or
/// once the direction moves less than [`TOLERANCE`]. A zero matrix gives the
/// first unit vector and `σ₁² = 0`.
///
/// # Panics
/// When `cols` is 0 or does not divide `matrix.len()` (a programming error).
pub fn top_singular_vector(matrix: &[f64], cols: usize) -> TopDirection {
    assert!(
        cols > 0 && matrix.len().is_multiple_of(cols),
        "matrix shape"
    );
    let rows: Vec<&[f64]> = matrix.chunks(cols).collect();
    let norm = |x: &[f64]| dot(x, x).sqrt();
    let start = (0..rows.len())
        .max_by(|&a, &b| norm(rows[a]).total_cmp(&norm(rows[b])).then(b.cmp(&a)))
        .map(|i| rows[i])
        .filter(|r| norm(r) > 0.0);
    let Some(start) = start else {
        let mut vector = vec![0.0; cols];
        vector[0] = 1.0;
        return TopDirection {
            vector,
            sigma_sq: 0.0,
        };
    };
    let mut v: Vec<f64> = start.iter().map(|x| x / norm(start)).collect();
    let mut w = vec![0.0; cols];
    for _ in 0..MAX_ITERATIONS {
        // w = Mᵀ (M v)
        w.fill(0.0);
        for row in &rows {
            let p = dot(row, &v);
            for (wj, x) in w.iter_mut().zip(*row) {
                *wj += p * x;
            }
        }
        let len = norm(&w);
        if len == 0.0 {
            break;
        }
        let mut moved = 0.0;
        for (vj, wj) in v.iter_mut().zip(&w) {
            let next = wj / len;
            moved += (next - *vj) * (next - *vj);
            *vj = next;
        }
        if moved.sqrt() < TOLERANCE {
            break;
        }
    }
    let sigma_sq = rows.iter().map(|r| dot(r, &v).powi(2)).sum();
    TopDirection {
        vector: v,
        sigma_sq,
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The median; 0 for an empty slice.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One class seen along its top singular direction.
struct ClassSpectrum {
    /// Training-set positions of the class's samples.
    members: Vec<usize>,
    /// `⟨x − μ, v⟩` per member.
    projections: Vec<f64>,
    /// `σ₁² / Σ‖x − μ‖²`: the share of the class's variance along `v`;
    /// `None` for classes with fewer than two samples or no spread.
    share: Option<f64>,
}

impl ClassSpectrum {
    fn new(embedding: &Matrix, members: Vec<usize>) -> Self {
        let d = embedding.cols;
        if members.is_empty() || d == 0 {
            let projections = vec![0.0; members.len()];
            return Self {
                members,
                projections,
                share: None,
            };
        }
        let mut mean = vec![0.0; d];
        for &i in &members {
            for (m, &x) in mean.iter_mut().zip(embedding.row(i)) {
                *m += f64::from(x);
            }
        }
        mean.iter_mut().for_each(|m| *m /= members.len() as f64);
        let centred: Vec<f64> = members
            .iter()
            .flat_map(|&i| {
                embedding
                    .row(i)
                    .iter()
                    .zip(&mean)
                    .map(|(&x, m)| f64::from(x) - m)
            })
            .collect();
        let top = top_singular_vector(&centred, d);
        let projections = centred.chunks(d).map(|r| dot(r, &top.vector)).collect();
        let trace = dot(&centred, &centred);
        let share = (members.len() >= 2 && trace > 0.0).then(|| top.sigma_sq / trace);
        Self {
            members,
            projections,
            share,
        }
    }

    /// Squared projections divided by their median (by their mean where the
    /// median is 0; all 0 where every projection is).
    fn normalised_scores(&self) -> Vec<f64> {
        let raw: Vec<f64> = self.projections.iter().map(|p| p * p).collect();
        let mut scale = median(&raw);
        if scale <= 0.0 {
            scale = raw.iter().sum::<f64>() / raw.len().max(1) as f64;
        }
        if scale <= 0.0 {
            return vec![0.0; raw.len()];
        }
        raw.iter().map(|s| s / scale).collect()
    }

    /// Modified z-scores of the projections: `(p − median) / (1.4826 · MAD)`.
    fn robust_z(&self) -> Vec<f64> {
        let p = &self.projections;
        let centre = median(p);
        let deviations: Vec<f64> = p.iter().map(|x| (x - centre).abs()).collect();
        let mut scale = MAD_TO_SD * median(&deviations);
        if scale <= 0.0 {
            scale = MEAN_AD_TO_SD * deviations.iter().sum::<f64>() / p.len().max(1) as f64;
        }
        if scale <= 0.0 {
            return vec![0.0; p.len()];
        }
        p.iter().map(|x| (x - centre) / scale).collect()
    }

    /// The paper's rule: the `k` highest squared projections, ties to the lower index.
    fn top_k(&self, k: usize) -> Vec<bool> {
        let n = self.projections.len();
        let mut order: Vec<usize> = (0..n).collect();
        let s = |i: usize| self.projections[i].powi(2);
        order.sort_by(|&a, &b| s(b).total_cmp(&s(a)).then(a.cmp(&b)));
        let mut flags = vec![false; n];
        for &i in &order[..k.min(n)] {
            flags[i] = true;
        }
        flags
    }
}

impl Defense for SpectralSignatures {
    type Error = SpectralSignaturesError;

    fn inspect(
        &self,
        input: DefenseInput<'_>,
        _rng: &mut Rng,
    ) -> Result<Verdict, SpectralSignaturesError> {
        let train = input.train;
        let n = train.len();
        let embedding = input.model.embed(train);
        if embedding.rows != n {
            return Err(SpectralSignaturesError::EmbeddingRows {
                got: embedding.rows,
                expected: n,
            });
        }
        if let Some(at) = embedding.data.iter().position(|x| !x.is_finite()) {
            return Err(SpectralSignaturesError::NonFiniteEmbedding {
                index: at / embedding.cols.max(1),
            });
        }
        let mut members = vec![Vec::new(); train.n_classes()];
        for (i, &y) in train.labels().iter().enumerate() {
            members[y].push(i);
        }
        let classes: Vec<ClassSpectrum> = members
            .into_iter()
            .map(|m| ClassSpectrum::new(&embedding, m))
            .collect();

        let mut scores = vec![0.0; n];
        let mut flags = vec![false; n];
        for (c, class) in classes.iter().enumerate() {
            let class_flags = match self.params.rule {
                SpectralRule::Paper => {
                    let rate = self.params.eps_multiplier * self.params.expected_rate;
                    class.top_k((rate * class.members.len() as f64).round() as usize)
                }
                SpectralRule::Outlier => self.outlier_flags(c, &classes),
            };
            for ((&i, s), f) in class
                .members
                .iter()
                .zip(class.normalised_scores())
                .zip(class_flags)
            {
                scores[i] = s;
                flags[i] = f;
            }
        }
        Ok(Verdict::Filter(FilterVerdict { scores, flags }))
    }
}

impl SpectralSignatures {
    /// The outlier rule for class `c`: samples with `|z| > threshold`, if the
    /// class looks poisoned (see the crate documentation); otherwise none.
    fn outlier_flags(&self, c: usize, classes: &[ClassSpectrum]) -> Vec<bool> {
        let class = &classes[c];
        let n = class.members.len();
        let beyond: Vec<bool> = class
            .robust_z()
            .iter()
            .map(|z| z.abs() > self.params.threshold)
            .collect();
        let count = beyond.iter().filter(|&&b| b).count();
        let enough = count > 0 && count as f64 >= MIN_OUTLIER_FRACTION * n as f64;
        let Some(share) = class.share else {
            return vec![false; n];
        };
        let others: Vec<f64> = classes
            .iter()
            .enumerate()
            .filter(|&(o, _)| o != c)
            .filter_map(|(_, o)| o.share)
            .collect();
        let stands_out = others.is_empty() || share > SHARE_RATIO * median(&others);
        if enough && stands_out {
            beyond
        } else {
            vec![false; n]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::seed::stream;
    use poisonlab_core::testing::StubClassifier;
    use poisonlab_core::{Dataset, Rng};
    use proptest::prelude::*;
    use rand::Rng as _;

    const DIM: usize = 8;

    /// `n` points with independent standard-normal coordinates (Box–Muller).
    fn gaussian_points(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n * DIM)
            .map(|_| {
                let u: f64 = 1.0 - rng.random::<f64>();
                let t: f64 = rng.random::<f64>();
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * t).cos()) as f32
            })
            .collect()
    }

    /// Class 0: 95 Gaussian points then 5 shifted by 10 along the third axis
    /// (positions 95..100); then `clean` more classes of 100 Gaussian points.
    fn poisoned_set(clean: usize) -> Dataset {
        let mut rng = stream(7, 0, "points");
        let mut features = gaussian_points(100, &mut rng);
        for i in 95..100 {
            features[i * DIM + 2] += 10.0;
        }
        let mut labels = vec![0; 100];
        for c in 1..=clean {
            features.extend(gaussian_points(100, &mut rng));
            labels.extend([c; 100]);
        }
        Dataset::new(features, vec![DIM], labels, clean + 1, None).unwrap()
    }

    fn run(params: SpectralSignaturesParams, data: &Dataset) -> FilterVerdict {
        let model = StubClassifier::uniform(data.n_classes());
        let verdict = SpectralSignatures::new(params)
            .inspect(
                DefenseInput::new(data, &model, None),
                &mut stream(0, 0, "d"),
            )
            .unwrap();
        verdict.as_filter().unwrap().clone()
    }

    fn flagged(v: &FilterVerdict) -> Vec<usize> {
        (0..v.flags.len()).filter(|&i| v.flags[i]).collect()
    }

    #[test]
    fn power_iteration_finds_the_axis_of_largest_variance() {
        // Mᵀ M = diag(18, 2, 2): variances 9, 1, 1 over two samples each.
        #[rustfmt::skip]
        let m = [
            3., 0., 0.,  -3., 0., 0.,
            0., 1., 0.,   0., -1., 0.,
            0., 0., 1.,   0., 0., -1.,
        ];
        let top = top_singular_vector(&m, 3);
        assert!((top.vector[0].abs() - 1.0).abs() < 1e-9, "{:?}", top.vector);
        assert!(top.vector[1].abs() < 1e-6 && top.vector[2].abs() < 1e-6);
        assert!((top.sigma_sq - 18.0).abs() < 1e-9);
    }

    #[test]
    fn power_iteration_finds_a_direction_orthogonal_to_all_ones() {
        // Largest spread along (1, −1, 0)/√2, which an all-ones start would miss.
        let s = std::f64::consts::FRAC_1_SQRT_2;
        #[rustfmt::skip]
        let m = [
            3. * s, -3. * s, 0.,  -3. * s, 3. * s, 0.,
            s, s, 0.,             -s, -s, 0.,
            0., 0., 2.,            0., 0., -2.,
        ];
        let top = top_singular_vector(&m, 3);
        assert!(
            (top.vector[0] + top.vector[1]).abs() < 1e-6,
            "{:?}",
            top.vector
        );
        assert!((top.vector[0].abs() - s).abs() < 1e-6);
        assert!((top.sigma_sq - 18.0).abs() < 1e-9);
    }

    #[test]
    fn zero_matrix_has_zero_singular_value() {
        let top = top_singular_vector(&[0.0; 6], 2);
        assert_eq!(top.sigma_sq, 0.0);
        assert_eq!(top.vector, [1.0, 0.0]);
    }

    #[test]
    fn paper_rule_flags_exactly_the_shifted_points() {
        let data = poisoned_set(0);
        let v = run(
            SpectralSignaturesParams {
                rule: SpectralRule::Paper,
                eps_multiplier: 1.0,
                expected_rate: 0.05,
                ..Default::default()
            },
            &data,
        );
        assert_eq!(flagged(&v), (95..100).collect::<Vec<_>>());
    }

    #[test]
    fn paper_rule_removes_its_share_of_a_clean_class_too() {
        let data = poisoned_set(1);
        let v = run(
            SpectralSignaturesParams {
                rule: SpectralRule::Paper,
                ..Default::default()
            },
            &data,
        );
        // round(1.5 · 0.05 · 100) = 8 per class.
        assert_eq!(v.flags[..100].iter().filter(|&&f| f).count(), 8);
        assert_eq!(v.flags[100..].iter().filter(|&&f| f).count(), 8);
        assert!(v.flags[95..100].iter().all(|&f| f));
    }

    #[test]
    fn outlier_rule_flags_exactly_the_shifted_points_and_nothing_in_clean_classes() {
        for clean in [1, 3] {
            let data = poisoned_set(clean);
            let v = run(SpectralSignaturesParams::default(), &data);
            assert_eq!(
                flagged(&v),
                (95..100).collect::<Vec<_>>(),
                "{clean} clean classes"
            );
        }
    }

    #[test]
    fn outlier_rule_flags_nothing_without_poison() {
        let mut rng = stream(3, 0, "clean");
        let features = gaussian_points(300, &mut rng);
        let labels = (0..300).map(|i| i / 100).collect();
        let data = Dataset::new(features, vec![DIM], labels, 3, None).unwrap();
        let v = run(SpectralSignaturesParams::default(), &data);
        assert_eq!(flagged(&v), Vec::<usize>::new());
    }

    #[test]
    fn a_clean_class_with_a_stray_point_is_not_poisoned() {
        // One far point per class: every class's top share rises alike, so
        // none stands out and nothing is flagged.
        let mut rng = stream(4, 0, "stray");
        let mut features = gaussian_points(300, &mut rng);
        for c in 0..3 {
            features[(c * 100) * DIM + c] += 12.0;
        }
        let labels = (0..300).map(|i| i / 100).collect();
        let data = Dataset::new(features, vec![DIM], labels, 3, None).unwrap();
        let v = run(SpectralSignaturesParams::default(), &data);
        assert_eq!(flagged(&v), Vec::<usize>::new());
    }

    #[test]
    fn scores_are_normalised_by_the_class_median() {
        let data = poisoned_set(1);
        let v = run(SpectralSignaturesParams::default(), &data);
        for class in [&v.scores[..100], &v.scores[100..]] {
            assert!((median(class) - 1.0).abs() < 1e-9);
        }
        let lowest_poison = v.scores[95..100]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let highest_clean = v.scores[..95].iter().copied().fold(0.0, f64::max);
        assert!(
            lowest_poison > 2.0 * highest_clean,
            "{lowest_poison} vs {highest_clean}"
        );
    }

    #[test]
    fn same_input_gives_the_same_verdict_whatever_the_rng() {
        let data = poisoned_set(2);
        let model = StubClassifier::uniform(3);
        let defense = SpectralSignatures::new(SpectralSignaturesParams::default());
        let a = defense.inspect(
            DefenseInput::new(&data, &model, None),
            &mut stream(0, 0, "d"),
        );
        let b = defense.inspect(
            DefenseInput::new(&data, &model, None),
            &mut stream(9, 1, "e"),
        );
        assert_eq!(a.unwrap(), b.unwrap());
    }

    #[test]
    fn tiny_and_empty_classes_get_finite_scores_and_no_flags() {
        // Class 0 one sample, class 1 two identical samples, class 2 empty.
        let data = Dataset::new(vec![1., 2., 2.], vec![1], vec![0, 1, 1], 3, None).unwrap();
        for rule in [SpectralRule::Paper, SpectralRule::Outlier] {
            let v = run(
                SpectralSignaturesParams {
                    rule,
                    ..Default::default()
                },
                &data,
            );
            assert_eq!(v.scores, [0.0, 0.0, 0.0]);
            assert_eq!(v.flags, [false, false, false]);
        }
    }

    #[test]
    fn non_finite_embedding_is_an_error() {
        let data = Dataset::new(vec![0., 1., f32::NAN, 3.], vec![2], vec![0, 1], 2, None).unwrap();
        let err = SpectralSignatures::new(SpectralSignaturesParams::default()).inspect(
            DefenseInput::new(&data, &StubClassifier::uniform(2), None),
            &mut stream(0, 0, "d"),
        );
        assert_eq!(
            err,
            Err(SpectralSignaturesError::NonFiniteEmbedding { index: 1 })
        );
    }

    proptest! {
        #[test]
        fn paper_rule_flags_the_rounded_share_of_every_class(
            xs in proptest::collection::vec(-50i32..50, 1..80),
            rate in 0.01f64..0.5,
            eps in 0.5f64..2.0,
        ) {
            let n = xs.len();
            let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
            let features = xs.iter().flat_map(|&x| [x as f32, (x % 7) as f32]).collect();
            let data = Dataset::new(features, vec![2], labels.clone(), 3, None).unwrap();
            let v = run(SpectralSignaturesParams {
                rule: SpectralRule::Paper,
                eps_multiplier: eps,
                expected_rate: rate,
                ..Default::default()
            }, &data);
            for c in 0..3 {
                let size = labels.iter().filter(|&&y| y == c).count();
                let got = (0..n).filter(|&i| labels[i] == c && v.flags[i]).count();
                let want = ((eps * rate * size as f64).round() as usize).min(size);
                prop_assert_eq!(got, want);
            }
            prop_assert!(v.scores.iter().all(|s| s.is_finite() && *s >= 0.0));
        }
    }
}
