use poisonlab_core::{
    BuildContext, Dataset, DefenseInput, FilterVerdict, Kind, LabelTest, ParamError, Rng,
    TrainingFilter,
};

use crate::covariance::Fit;
use crate::robust::{location_scale, robust_z};
use crate::{AnomalyError, AnomalyParams, LabelShiftTest, Method, Space, label_shift_test};

/// Classes with fewer samples than this score 0 and are never flagged: a
/// median and a median absolute deviation of one or two values say nothing
/// about which of them is the odd one out.
pub const MIN_CLASS_SIZE: usize = 3;

/// Concentration steps at most when fitting the robust core of a class.
pub const MAX_C_STEPS: usize = 20;

/// The statistical anomaly-detection filter of Paudice, Muñoz-González,
/// György and Lupu 2018 ("Detection of Adversarial Training Examples in
/// Poisoning Attacks through Anomaly Detection"), with a robust centre
/// (Rousseeuw and Van Driessen 1999) and a Ledoit–Wolf (2004) shrinkage
/// covariance, and Pearson's chi-square label-distribution test against the
/// trusted set; parameters are checked.
#[derive(Debug, Clone)]
pub struct Anomaly {
    params: AnomalyParams,
}

impl Anomaly {
    /// The filter for `params`, or every problem [`AnomalyParams::check`]
    /// finds with them.
    pub fn new(params: AnomalyParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// The parameters this filter runs with.
    pub fn params(&self) -> &AnomalyParams {
        &self.params
    }

    /// True when `test` rejects the trusted label distribution at the
    /// configured `alpha`.
    pub fn rejects_label_shift(&self, test: &LabelShiftTest) -> bool {
        test.rejects(self.params.alpha)
    }

    /// The filter verdict, plus the label-distribution test of the training
    /// labels against the trusted set's labels when `input.trusted` is given
    /// and neither set is empty (`None` otherwise).
    ///
    /// The test does not change the flags: it is a set-level alarm the caller
    /// reports (see [`Anomaly::rejects_label_shift`]). Deterministic: no
    /// random stream is used.
    pub fn inspect_full(
        &self,
        input: DefenseInput<'_>,
    ) -> Result<(FilterVerdict, Option<LabelShiftTest>), AnomalyError> {
        let train = input.train;
        let n = train.len();
        // Each sample's point: its input row, or its embedding.
        let embedded = match self.params.space {
            Space::Input => None,
            Space::Embedding => {
                let e = input.embed();
                if e.rows != n || e.data.len() != n * e.cols {
                    return Err(AnomalyError::EmbeddingShape {
                        rows: e.rows,
                        cols: e.cols,
                        values: e.data.len(),
                        expected: n,
                    });
                }
                Some(e)
            }
        };
        let d = embedded.as_ref().map_or(train.dim(), |e| e.cols);
        let point = |i: usize| match &embedded {
            Some(e) => e.row(i),
            None => train.sample(i),
        };
        if let Some(i) = (0..n).find(|&i| point(i).iter().any(|x| !x.is_finite())) {
            return Err(AnomalyError::NonFinite {
                index: i,
                space: self.params.space,
            });
        }

        let mut members = vec![Vec::new(); train.n_classes()];
        for (i, &y) in train.labels().iter().enumerate() {
            members[y].push(i);
        }
        let mut scores = vec![0.0; n];
        let mut flags = vec![false; n];
        for class in members
            .iter()
            .filter(|m| m.len() >= MIN_CLASS_SIZE && d > 0)
        {
            let points: Vec<f64> = class
                .iter()
                .flat_map(|&i| point(i).iter().map(|&x| f64::from(x)))
                .collect();
            let z = self.class_scores(&points, d);
            for (&i, z) in class.iter().zip(z) {
                scores[i] = z;
                flags[i] = z > self.params.threshold;
            }
        }

        let shift = input.trusted.and_then(|t| {
            let k = train.n_classes().max(t.n_classes());
            label_shift_test(train.labels(), t.labels(), k)
        });
        Ok((FilterVerdict { scores, flags }, shift))
    }

    /// Robust z-scores of one class's row-major `points` (`d` columns).
    fn class_scores(&self, points: &[f64], d: usize) -> Vec<f64> {
        let q = match self.params.method {
            Method::Mad => mean_square_z(points, d),
            Method::Mahalanobis => {
                robust_mahalanobis(points, d, self.params.shrinkage, self.params.threshold)
            }
        };
        normalised_z(&q)
    }
}

/// Robust z of the Wilson–Hilferty cube roots `q^{1/3}` of χ²-like
/// statistics `q` (squared distances): for a Gaussian class `q ∝ χ²_d`,
/// whose cube root is close to normal (Wilson and Hilferty 1931), so the
/// z-score threshold keeps its Gaussian meaning whatever the dimension `d`.
fn normalised_z(q: &[f64]) -> Vec<f64> {
    let t: Vec<f64> = q.iter().map(|v| v.cbrt()).collect();
    robust_z(&t)
}

/// Per row, the mean over features of the squared modified z-score
/// `((x_j − median_j) / (1.4826 · MAD_j))²` (Iglewicz and Hoaglin 1993). A
/// feature whose MAD is 0 uses `1.2533 · mean absolute deviation` instead and
/// is skipped when that is 0 too (a constant feature); all 0 when every
/// feature is skipped. Its square root is the root-mean-square z.
fn mean_square_z(points: &[f64], d: usize) -> Vec<f64> {
    let n = points.len() / d;
    let mut sum = vec![0.0; n];
    let mut used = 0usize;
    let mut column = vec![0.0; n];
    for j in 0..d {
        for (c, row) in column.iter_mut().zip(points.chunks_exact(d)) {
            *c = row[j];
        }
        let (centre, scale) = location_scale(&column);
        if scale <= 0.0 {
            continue;
        }
        used += 1;
        for (s, x) in sum.iter_mut().zip(&column) {
            *s += ((x - centre) / scale).powi(2);
        }
    }
    if used == 0 {
        return sum;
    }
    sum.iter().map(|s| s / used as f64).collect()
}

/// The `h` positions with the smallest `values`, ties to the lower index,
/// in increasing position order.
fn smallest(values: &[f64], h: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
    order.truncate(h);
    order.sort_unstable();
    order
}

/// Squared Mahalanobis distances of one class's rows to a robust fit of the
/// class.
///
/// 1. Start: the `h = ⌊n/2⌋ + 1` rows with the smallest per-feature robust
///    distance ([`mean_square_z`]) from the coordinatewise median.
/// 2. Concentration steps (Rousseeuw and Van Driessen 1999, the C-steps of
///    FAST-MCD): fit the mean and shrinkage covariance of the `h` rows,
///    take the `h` rows closest under it, repeat until they stop changing or
///    [`MAX_C_STEPS`] fits.
/// 3. Reweighting: refit on every row whose normalised z under the core fit
///    is at most `threshold`, and return distances under that fit.
///
/// Fitting on a majority core keeps a cluster of poisons (up to just under
/// half the class) from inflating the covariance along its own direction and
/// masking itself, which a fit on the whole class suffers from.
fn robust_mahalanobis(
    points: &[f64],
    d: usize,
    shrinkage: Option<f64>,
    threshold: f64,
) -> Vec<f64> {
    let n = points.len() / d;
    let h = n / 2 + 1;
    let mut core = smallest(&mean_square_z(points, d), h);
    let mut steps = 0;
    let distances = loop {
        let distances = Fit::new(points, d, &core, shrinkage).squared_distances(points);
        steps += 1;
        let next = smallest(&distances, h);
        if next == core || steps == MAX_C_STEPS {
            break distances;
        }
        core = next;
    };
    let keep: Vec<usize> = normalised_z(&distances)
        .iter()
        .enumerate()
        .filter(|&(_, &z)| z <= threshold)
        .map(|(i, _)| i)
        .collect();
    Fit::new(points, d, &keep, shrinkage).squared_distances(points)
}

impl Kind for Anomaly {
    type Params = AnomalyParams;

    fn build(params: AnomalyParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &AnomalyParams {
        &self.params
    }

    fn describe(&self) -> String {
        let p = &self.params;
        let method = match (p.method, p.shrinkage) {
            (Method::Mad, _) => "MAD z-scores".to_string(),
            (Method::Mahalanobis, None) => "robust Mahalanobis, Ledoit–Wolf shrinkage".to_string(),
            (Method::Mahalanobis, Some(s)) => format!("robust Mahalanobis, shrinkage {s}"),
        };
        format!(
            "anomaly ({method}, {} space), flags robust z above {}; label test at alpha {}",
            p.space, p.threshold, p.alpha
        )
    }
}

impl TrainingFilter for Anomaly {
    type Error = AnomalyError;

    fn inspect(
        &self,
        input: DefenseInput<'_>,
        _rng: &mut Rng,
    ) -> Result<FilterVerdict, AnomalyError> {
        self.inspect_full(input).map(|(v, _)| v)
    }

    /// Pearson's chi-square test of the training labels against the trusted
    /// labels' class proportions ([`label_shift_test`]), rejecting at
    /// `alpha`; `None` without a trusted set or when either set is empty.
    /// An infinite statistic (a class the trusted set never shows) is
    /// reported as `None`, with p-value 0.
    fn label_test(&self, train: &Dataset, trusted: Option<&Dataset>) -> Option<LabelTest> {
        let trusted = trusted?;
        let t = label_shift_test(train.labels(), trusted.labels(), train.n_classes())?;
        Some(LabelTest {
            statistic: t.statistic.is_finite().then_some(t.statistic),
            dof: t.dof,
            p_value: t.p_value,
            rejects: t.rejects(self.params.alpha),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::seed::stream;
    use poisonlab_core::testing::StubClassifier;
    use poisonlab_core::{Classifier, Dataset, Matrix};
    use rand::Rng as _;

    /// `n` points in `dim` dimensions with independent standard-normal
    /// coordinates (Box–Muller).
    fn gaussian(n: usize, dim: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n * dim)
            .map(|_| {
                let u: f64 = 1.0 - rng.random::<f64>();
                let t: f64 = rng.random::<f64>();
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * t).cos()) as f32
            })
            .collect()
    }

    /// Correlated Gaussian points: coordinate `j` adds `0.5 ×` coordinate
    /// `j − 1` and is scaled by `1 + j / 4`.
    fn correlated(n: usize, dim: usize, rng: &mut Rng) -> Vec<f32> {
        let mut p = gaussian(n, dim, rng);
        for row in p.chunks_exact_mut(dim) {
            for j in 1..dim {
                row[j] += 0.5 * row[j - 1];
            }
            for (j, x) in row.iter_mut().enumerate() {
                *x *= 1.0 + j as f32 / 4.0;
            }
        }
        p
    }

    fn run(params: AnomalyParams, data: &Dataset) -> FilterVerdict {
        let model = StubClassifier::uniform(data.n_classes());
        let (v, _) = Anomaly::new(params)
            .unwrap()
            .inspect_full(DefenseInput::new(data, &model, None))
            .unwrap();
        v
    }

    fn flagged(v: &FilterVerdict) -> Vec<usize> {
        (0..v.flags.len()).filter(|&i| v.flags[i]).collect()
    }

    fn every_setting() -> Vec<AnomalyParams> {
        let mut all = Vec::new();
        for method in [Method::Mahalanobis, Method::Mad] {
            for space in [Space::Embedding, Space::Input] {
                for shrinkage in [None, Some(0.1)] {
                    all.push(AnomalyParams {
                        method,
                        space,
                        shrinkage,
                        ..Default::default()
                    });
                }
            }
        }
        all
    }

    const DIM: usize = 8;

    /// Two correlated Gaussian classes of 200 in 8-D, the second centred at
    /// (6, …, 6). Class 0's samples 0..5 are pushed 30 along one axis each
    /// (about 10 standard deviations); class 1's samples 210, 250, 290, 330,
    /// 370 are pushed −30 along axis 3 and +30 along axis 5.
    const OUTLIERS: [usize; 10] = [0, 1, 2, 3, 4, 210, 250, 290, 330, 370];

    fn two_classes_with_outliers() -> Dataset {
        let mut rng = stream(11, 0, "two-classes");
        let mut features = correlated(200, DIM, &mut rng);
        let mut second = correlated(200, DIM, &mut rng);
        second.iter_mut().for_each(|x| *x += 6.0);
        features.extend(second);
        for i in 0..5 {
            features[i * DIM + i] += 30.0;
        }
        for i in [210, 250, 290, 330, 370] {
            features[i * DIM + 3] -= 30.0;
            features[i * DIM + 5] += 30.0;
        }
        let labels = (0..400).map(|i| i / 200).collect();
        Dataset::new(features, vec![DIM], labels, 2, None).unwrap()
    }

    #[test]
    fn every_setting_flags_exactly_the_far_outliers() {
        let data = two_classes_with_outliers();
        for params in every_setting() {
            let v = run(params.clone(), &data);
            assert_eq!(flagged(&v), OUTLIERS, "{params:?}");
        }
    }

    #[test]
    fn a_clean_gaussian_class_is_almost_never_flagged() {
        for dim in [2, 8, 32] {
            let mut rng = stream(5, dim as u64, "clean");
            let n = 2000;
            let data =
                Dataset::new(correlated(n, dim, &mut rng), vec![dim], vec![0; n], 1, None).unwrap();
            for params in every_setting() {
                let v = run(params.clone(), &data);
                let count = flagged(&v).len();
                // A Gaussian has z > 3.5 for about 0.02 %; allow 0.5 %.
                assert!(count <= n / 200, "{dim}-D {params:?}: {count} flagged");
                assert!(v.scores.iter().all(|s| s.is_finite()));
            }
        }
    }

    #[test]
    fn mahalanobis_sees_a_broken_correlation_that_mad_misses() {
        // x₂ ≈ x₁; the last point (1.5, −1.5) is typical in each feature alone.
        let mut rng = stream(2, 0, "corr");
        let n = 300;
        let mut features = Vec::new();
        for row in gaussian(n, 2, &mut rng).chunks_exact(2) {
            features.extend([row[0], row[0] + 0.1 * row[1]]);
        }
        features.extend([1.5, -1.5]);
        let data = Dataset::new(features, vec![2], vec![0; n + 1], 1, None).unwrap();
        let maha = run(AnomalyParams::default(), &data);
        assert_eq!(flagged(&maha), [n]);
        let mad = run(
            AnomalyParams {
                method: Method::Mad,
                ..Default::default()
            },
            &data,
        );
        assert!(!mad.flags[n], "z = {}", mad.scores[n]);
    }

    #[test]
    fn a_poison_cluster_does_not_mask_itself() {
        // A 32-D class of 200 whose last 30 (15 %) are shifted 12 along the
        // diagonal. A fit on the whole class stretches the covariance along
        // the shift and the cluster hides; the robust core flags it all.
        let dim = 32;
        let mut rng = stream(3, 0, "cluster");
        let mut features = gaussian(200, dim, &mut rng);
        let shift = 12.0 / (dim as f32).sqrt();
        for x in &mut features[170 * dim..] {
            *x += shift;
        }
        let data = Dataset::new(features, vec![dim], vec![0; 200], 1, None).unwrap();
        let v = run(AnomalyParams::default(), &data);
        assert!(v.flags[170..].iter().all(|&f| f), "{:?}", &v.scores[170..]);
        assert!(flagged(&v).len() <= 30 + 2, "{:?}", flagged(&v));

        let points: Vec<f64> = data.rows().flatten().map(|&x| f64::from(x)).collect();
        let all: Vec<usize> = (0..200).collect();
        let naive = normalised_z(&Fit::new(&points, dim, &all, None).squared_distances(&points));
        let caught = naive[170..].iter().filter(|&&z| z > 3.5).count();
        assert!(caught < 5, "a whole-class fit caught {caught} of 30");
    }

    #[test]
    fn scores_are_robust_z_centred_on_each_class() {
        let data = two_classes_with_outliers();
        let v = run(AnomalyParams::default(), &data);
        for class in [&v.scores[..200], &v.scores[200..]] {
            let (centre, scale) = location_scale(class);
            assert!(centre.abs() < 1e-9, "{centre}");
            assert!((scale - 1.0).abs() < 1e-9, "{scale}");
        }
        let lowest_outlier = OUTLIERS
            .iter()
            .map(|&i| v.scores[i])
            .fold(f64::INFINITY, f64::min);
        assert!(lowest_outlier > 6.0, "{lowest_outlier}");
    }

    #[test]
    fn wilson_hilferty_makes_squared_distances_symmetric() {
        // q = 1, 2, …: cube roots, then robust z about the median.
        let q = [1.0, 8.0, 27.0];
        let z = normalised_z(&q);
        // t = 1, 2, 3: median 2, MAD 1.
        assert!((z[0] + 1.0 / 1.4826).abs() < 1e-12 && z[1] == 0.0);
        assert!((z[2] - 1.0 / 1.4826).abs() < 1e-12);
    }

    #[test]
    fn mad_statistic_matches_hand_computed_values() {
        // Feature 0: 0, 1, 2, 3, 10 -> median 2, MAD 1.
        // Feature 1: constant -> skipped.
        let pts = [0.0, 5.0, 1.0, 5.0, 2.0, 5.0, 3.0, 5.0, 10.0, 5.0];
        let q = mean_square_z(&pts, 2);
        assert!((q[4] - (8.0f64 / 1.4826).powi(2)).abs() < 1e-9);
        assert_eq!(q[2], 0.0);
        assert_eq!(mean_square_z(&[1.0, 1.0, 1.0], 1), [0.0, 0.0, 0.0]);
    }

    #[test]
    fn smallest_breaks_ties_by_index() {
        assert_eq!(smallest(&[3.0, 1.0, 1.0, 0.0, 1.0], 3), [1, 2, 3]);
    }

    #[test]
    fn tiny_and_empty_classes_score_zero() {
        // Class 0: one sample; class 1: two far apart; class 2: empty.
        let data = Dataset::new(vec![1., 0., 100.], vec![1], vec![0, 1, 1], 3, None).unwrap();
        for params in every_setting() {
            let v = run(params, &data);
            assert_eq!(v.scores, [0.0, 0.0, 0.0]);
            assert_eq!(v.flags, [false, false, false]);
        }
    }

    #[test]
    fn duplicated_samples_with_one_stray_flag_the_stray() {
        // Nine identical points and one other: MAD 0 everywhere.
        let mut features = [1.0f32, 2.0].repeat(9);
        features.extend([1.0, 3.0]);
        let data = Dataset::new(features, vec![2], vec![0; 10], 1, None).unwrap();
        for params in every_setting() {
            let v = run(params.clone(), &data);
            assert_eq!(flagged(&v), [9], "{params:?} {:?}", v.scores);
        }
    }

    #[test]
    fn constant_features_in_input_space_are_handled() {
        // A 3-feature class whose last feature is always 0 (a black border
        // pixel), and one sample that lights it: no shrinkage makes the
        // covariance singular.
        let mut rng = stream(8, 0, "border");
        let mut features = Vec::new();
        for row in gaussian(100, 2, &mut rng).chunks_exact(2) {
            features.extend([row[0], row[1], 0.0]);
        }
        features[50 * 3 + 2] = 1.0;
        let data = Dataset::new(features, vec![3], vec![0; 100], 1, None).unwrap();
        for shrinkage in [Some(0.0), None] {
            let v = run(
                AnomalyParams {
                    space: Space::Input,
                    shrinkage,
                    ..Default::default()
                },
                &data,
            );
            assert_eq!(flagged(&v), [50], "{shrinkage:?}");
        }
    }

    #[test]
    fn same_input_gives_the_same_verdict_whatever_the_rng() {
        let data = two_classes_with_outliers();
        let model = StubClassifier::uniform(2);
        let defense = Anomaly::new(AnomalyParams::default()).unwrap();
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
    fn inspect_returns_the_full_verdict() {
        let data = two_classes_with_outliers();
        let model = StubClassifier::uniform(2);
        let defense = Anomaly::new(AnomalyParams::default()).unwrap();
        let verdict = defense
            .inspect(
                DefenseInput::new(&data, &model, None),
                &mut stream(0, 0, "d"),
            )
            .unwrap();
        let (full, shift) = defense
            .inspect_full(DefenseInput::new(&data, &model, None))
            .unwrap();
        assert_eq!(verdict, full);
        assert_eq!(shift, None);
    }

    #[test]
    fn trusted_set_gets_a_label_shift_test() {
        // Train: 30 of class 0, 10 of class 1; trusted: 50 / 50.
        let mut rng = stream(4, 0, "shift");
        let labels: Vec<usize> = (0..40).map(|i| usize::from(i >= 30)).collect();
        let train = Dataset::new(gaussian(40, 2, &mut rng), vec![2], labels, 2, None).unwrap();
        let trusted_labels = (0..100).map(|i| i % 2).collect();
        let trusted =
            Dataset::new(gaussian(100, 2, &mut rng), vec![2], trusted_labels, 2, None).unwrap();
        let model = StubClassifier::uniform(2);
        let defense = Anomaly::new(AnomalyParams::default()).unwrap();
        let (_, shift) = defense
            .inspect_full(DefenseInput::new(&train, &model, Some(&trusted)))
            .unwrap();
        let shift = shift.unwrap();
        assert_eq!(shift.statistic, 10.0);
        assert!((shift.p_value - 0.001_565_402_258).abs() < 1e-11);
        assert!(defense.rejects_label_shift(&shift));
    }

    #[test]
    fn label_test_reports_the_label_shift_test_at_alpha() {
        let train = Dataset::new(
            vec![0.0; 40],
            vec![1],
            (0..40).map(|i| usize::from(i >= 30)).collect(),
            2,
            None,
        )
        .unwrap();
        let trusted = Dataset::new(
            vec![0.0; 100],
            vec![1],
            (0..100).map(|i| i % 2).collect(),
            2,
            None,
        )
        .unwrap();
        let defense = Anomaly::new(AnomalyParams::default()).unwrap();
        let t = defense.label_test(&train, Some(&trusted)).unwrap();
        assert_eq!(t.statistic, Some(10.0));
        assert_eq!(t.dof, 1);
        assert!((t.p_value - 0.001_565_402_258).abs() < 1e-11);
        assert!(t.rejects);
        // p ≈ 0.0016 is above a stricter alpha.
        let strict = Anomaly::new(AnomalyParams {
            alpha: 0.001,
            ..Default::default()
        })
        .unwrap();
        assert!(!strict.label_test(&train, Some(&trusted)).unwrap().rejects);
        // No trusted set, or an empty one: no test.
        assert_eq!(defense.label_test(&train, None), None);
        let empty = Dataset::new(vec![], vec![1], vec![], 2, None).unwrap();
        assert_eq!(defense.label_test(&train, Some(&empty)), None);
        // A class the trusted set never shows: infinite statistic, reported as none.
        let only_zero = Dataset::new(vec![0.0; 10], vec![1], vec![0; 10], 2, None).unwrap();
        let t = defense.label_test(&train, Some(&only_zero)).unwrap();
        assert_eq!((t.statistic, t.p_value, t.rejects), (None, 0.0, true));
    }

    #[test]
    fn new_and_build_check_the_parameters() {
        let bad = AnomalyParams {
            threshold: 0.0,
            alpha: 0.9,
            ..Default::default()
        };
        let e = Anomaly::new(bad.clone()).unwrap_err();
        let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["threshold", "alpha"]);
        let facts = poisonlab_core::DataFacts::default();
        let ctx = BuildContext::new(std::path::Path::new("."), &facts);
        assert_eq!(Anomaly::build(bad, &ctx).unwrap_err(), e);
        let built = Anomaly::build(AnomalyParams::default(), &ctx).unwrap();
        assert_eq!(Kind::params(&built), &AnomalyParams::default());
        assert_eq!(
            built.describe(),
            "anomaly (robust Mahalanobis, Ledoit–Wolf shrinkage, embedding space), flags robust z above 3.5; label test at alpha 0.01"
        );
        let mad = Anomaly::new(AnomalyParams {
            method: Method::Mad,
            space: Space::Input,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            mad.describe(),
            "anomaly (MAD z-scores, input space), flags robust z above 3.5; label test at alpha 0.01"
        );
    }

    #[test]
    fn non_finite_values_are_an_error_naming_the_sample() {
        let data = Dataset::new(
            vec![0., 1., 2., 3., f32::INFINITY, 5.],
            vec![2],
            vec![0, 1, 0],
            2,
            None,
        )
        .unwrap();
        for space in [Space::Embedding, Space::Input] {
            let err = Anomaly::new(AnomalyParams {
                space,
                ..Default::default()
            })
            .unwrap()
            .inspect_full(DefenseInput::new(&data, &StubClassifier::uniform(2), None));
            assert_eq!(err, Err(AnomalyError::NonFinite { index: 2, space }));
        }
    }

    /// A model whose embedding has one row too few.
    struct ShortEmbedding;

    impl Classifier for ShortEmbedding {
        fn n_classes(&self) -> usize {
            2
        }
        fn predict_proba(&self, data: &Dataset) -> Matrix {
            StubClassifier::uniform(2).predict_proba(data)
        }
        fn embed(&self, data: &Dataset) -> Matrix {
            Matrix::new(data.len() - 1, 1, vec![0.0; data.len() - 1])
        }
        fn input_gradient(&self, data: &Dataset) -> Matrix {
            StubClassifier::uniform(2).input_gradient(data)
        }
        fn feature_gradient(&self, data: &Dataset, targets: &Matrix) -> Matrix {
            StubClassifier::uniform(2).feature_gradient(data, targets)
        }
    }

    #[test]
    fn embedding_of_the_wrong_shape_is_an_error() {
        let data = Dataset::new(vec![0., 1., 2.], vec![1], vec![0, 1, 0], 2, None).unwrap();
        let err = Anomaly::new(AnomalyParams::default())
            .unwrap()
            .inspect_full(DefenseInput::new(&data, &ShortEmbedding, None));
        assert_eq!(
            err,
            Err(AnomalyError::EmbeddingShape {
                rows: 2,
                cols: 1,
                values: 2,
                expected: 3
            })
        );
    }
}
