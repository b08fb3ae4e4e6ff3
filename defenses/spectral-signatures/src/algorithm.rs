use poisonlab_core::reclassify::{
    Candidate, GroupJudgement, Neighbours, called_elsewhere, judge_group, resolve_single_source,
};
use poisonlab_core::whiten::{class_members, whiten_classes};
use poisonlab_core::{
    BuildContext, DefenseInput, FilterVerdict, Kind, ParamError, Rng, TrainingFilter,
};

use crate::{SpectralRule, SpectralScore, SpectralSignaturesError, SpectralSignaturesParams};

/// Power-iteration steps at most.
pub const MAX_ITERATIONS: usize = 200;

/// Power iteration stops once the unit direction moves less than this.
pub const TOLERANCE: f64 = 1e-6;

/// Split rule: the smaller side must hold at least this many samples.
pub const MIN_SIDE: usize = 2;

/// The spectral-signatures filter of Tran, Li and Madry 2018 ("Spectral
/// Signatures in Backdoor Attacks", NeurIPS), with the whitening of SPECTRE
/// (Hayase et al. 2021) and the split rule described in the crate
/// documentation; parameters are checked.
#[derive(Debug, Clone)]
pub struct SpectralSignatures {
    params: SpectralSignaturesParams,
}

impl SpectralSignatures {
    /// The filter for `params`, or every problem
    /// [`SpectralSignaturesParams::check`] finds with them.
    pub fn new(params: SpectralSignaturesParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// The parameters this filter runs with.
    pub fn params(&self) -> &SpectralSignaturesParams {
        &self.params
    }
}

impl Kind for SpectralSignatures {
    type Params = SpectralSignaturesParams;

    fn build(
        params: SpectralSignaturesParams,
        _ctx: &BuildContext<'_>,
    ) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &SpectralSignaturesParams {
        &self.params
    }

    fn describe(&self) -> String {
        let p = &self.params;
        let space = if p.whiten {
            "whitened embedding"
        } else {
            "embedding"
        };
        let score = match p.score {
            SpectralScore::Squared => "squared",
            SpectralScore::Oriented => "oriented",
        };
        match p.rule {
            SpectralRule::Paper => format!(
                "spectral-signatures ({space}, {score} scores), removes the top {} × {} of every class",
                p.eps_multiplier, p.expected_rate
            ),
            SpectralRule::Split => format!(
                "spectral-signatures ({space}, {score} scores), split rule over the top {} directions, poison below {} explained by {}-NN",
                p.directions, p.explained_threshold, p.k
            ),
        }
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

/// The top `m` right singular vectors of `matrix` (row-major, `cols` wide),
/// each found by [`top_singular_vector`] after projecting the earlier ones out
/// of every row (deflation); fewer when the rows run out of spread.
pub fn singular_directions(matrix: &[f64], cols: usize, m: usize) -> Vec<TopDirection> {
    let mut rest = matrix.to_vec();
    let mut found = Vec::new();
    for _ in 0..m.min(cols) {
        let top = top_singular_vector(&rest, cols);
        if top.sigma_sq <= 0.0 {
            break;
        }
        for row in rest.chunks_mut(cols) {
            let p = dot(row, &top.vector);
            for (x, v) in row.iter_mut().zip(&top.vector) {
                *x -= p * v;
            }
        }
        found.push(top);
    }
    found
}

/// Most refinement steps per direction.
pub const MAX_REFINEMENTS: usize = 50;

/// Refine a direction towards the one that best separates the two groups it
/// splits the rows into: split the projections (exact 1-D 2-means), take the
/// unit difference of the two groups' means as the new direction, and repeat
/// until the split stops changing (at most [`MAX_REFINEMENTS`] steps). A
/// poison cluster that differs from its class in several directions at once
/// is only partly aligned with the top singular vector; its mean difference
/// is the direction along which it separates best.
pub fn refine(rows: &[f64], cols: usize, start: &TopDirection) -> TopDirection {
    let mut v = start.vector.clone();
    let mut previous: Option<Vec<bool>> = None;
    for _ in 0..MAX_REFINEMENTS {
        let projections: Vec<f64> = rows.chunks(cols).map(|r| dot(r, &v)).collect();
        let Some(split) = Split::best(&projections) else {
            break;
        };
        let high: Vec<bool> = projections.iter().map(|&p| p > split.cut).collect();
        if previous.as_ref() == Some(&high) {
            break;
        }
        let mut diff = vec![0.0; cols];
        let (n_high, n_low) = (split.high.0 as f64, split.low.0 as f64);
        for (row, &h) in rows.chunks(cols).zip(&high) {
            let w = if h { 1.0 / n_high } else { -1.0 / n_low };
            for (d, x) in diff.iter_mut().zip(row) {
                *d += w * x;
            }
        }
        let len = dot(&diff, &diff).sqrt();
        if len == 0.0 {
            break;
        }
        v = diff.iter().map(|d| d / len).collect();
        previous = Some(high);
    }
    let sigma_sq = rows.chunks(cols).map(|r| dot(r, &v).powi(2)).sum();
    TopDirection {
        vector: v,
        sigma_sq,
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The best split of a set of numbers into a low and a high group: the one
/// with the least within-group sum of squares (exact 1-D 2-means).
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Values above this (exclusive) are in the high group.
    pub cut: f64,
    /// Size, mean and (population) variance of the low group.
    pub low: (usize, f64, f64),
    /// Size, mean and (population) variance of the high group.
    pub high: (usize, f64, f64),
}

impl Split {
    /// The exact 2-means split of `values` (sorted internally): every cut
    /// between neighbours in sorted order is tried with prefix sums, and the
    /// one with the smallest within-group sum of squares wins (the lowest cut
    /// on ties). `None` for fewer than two distinct values.
    pub fn best(values: &[f64]) -> Option<Self> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let (mut s, mut q) = (vec![0.0; n + 1], vec![0.0; n + 1]);
        for (i, x) in v.iter().enumerate() {
            s[i + 1] = s[i] + x;
            q[i + 1] = q[i] + x * x;
        }
        let sse = |a: usize, b: usize| {
            let m = (b - a) as f64;
            (q[b] - q[a]) - (s[b] - s[a]).powi(2) / m
        };
        let best = (1..n)
            .filter(|&k| v[k - 1] < v[k])
            .map(|k| (k, sse(0, k) + sse(k, n)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))?;
        let k = best.0;
        let group = |a: usize, b: usize| {
            let m = (b - a) as f64;
            let mean = (s[b] - s[a]) / m;
            (b - a, mean, (sse(a, b) / m).max(0.0))
        };
        Some(Self {
            cut: v[k - 1],
            low: group(0, k),
            high: group(k, n),
        })
    }

    /// Distance between the group means over the root mean of their
    /// variances (Ashman's D): about 2.7 for a Gaussian cut at its median,
    /// larger the more clearly the values form two groups. Infinite for two
    /// groups of constants.
    pub fn separation(&self) -> f64 {
        let gap = self.high.1 - self.low.1;
        let spread = ((self.low.2 + self.high.2) / 2.0).sqrt();
        if spread > 0.0 {
            gap / spread
        } else {
            f64::INFINITY
        }
    }

    /// True when the high group is the smaller one (the low group on ties).
    fn high_is_smaller(&self) -> bool {
        self.high.0 < self.low.0
    }
}

/// One class as the split rule judged it, before the single-source evidence.
struct JudgedClass {
    class: usize,
    members: Vec<usize>,
    /// Scores along the chosen direction, towards the suspect side.
    scores: Vec<f64>,
    /// `1 − explained` of the class's best group.
    scatter: f64,
}

/// One class seen along its top singular direction.
#[derive(Clone)]
struct ClassSpectrum {
    /// Training-set positions of the class's samples.
    members: Vec<usize>,
    /// `⟨x − μ, v⟩` per member, `x` whitened when the defense whitens.
    projections: Vec<f64>,
    /// The best two-way split of the projections, when there is one.
    split: Option<Split>,
}

impl ClassSpectrum {
    /// The class seen along `direction` (none: every projection 0).
    fn new(
        members: Vec<usize>,
        rows: &[f64],
        cols: usize,
        direction: Option<&TopDirection>,
    ) -> Self {
        let projections: Vec<f64> = match direction {
            Some(top) if cols > 0 => rows.chunks(cols).map(|r| dot(r, &top.vector)).collect(),
            _ => vec![0.0; members.len()],
        };
        let split = Split::best(&projections);
        Self {
            members,
            projections,
            split,
        }
    }

    /// Scores by `kind`: squared projections, or the oriented distance from
    /// the larger side's mean towards the smaller side, in standard
    /// deviations of the larger side (1 where it has no spread).
    fn scores(&self, kind: SpectralScore) -> Vec<f64> {
        match (kind, &self.split) {
            (SpectralScore::Squared, _) => self.projections.iter().map(|p| p * p).collect(),
            (SpectralScore::Oriented, Some(split)) => {
                let (sign, centre, var) = if split.high_is_smaller() {
                    (1.0, split.low.1, split.low.2)
                } else {
                    (-1.0, split.high.1, split.high.2)
                };
                let unit = if var > 0.0 { var.sqrt() } else { 1.0 };
                self.projections
                    .iter()
                    .map(|p| sign * (p - centre) / unit)
                    .collect()
            }
            _ => vec![0.0; self.projections.len()],
        }
    }

    /// Training-set positions of the smaller side of the split: the suspect
    /// group. Empty for even splits, unsplit classes, and sides under
    /// [`MIN_SIDE`] samples.
    fn suspects(&self) -> Vec<usize> {
        let Some(split) = &self.split else {
            return Vec::new();
        };
        if split.low.0 == split.high.0 || split.low.0.min(split.high.0) < MIN_SIDE {
            return Vec::new();
        }
        let high = split.high_is_smaller();
        self.members
            .iter()
            .zip(&self.projections)
            .filter(|&(_, &p)| (p > split.cut) == high)
            .map(|(&i, _)| i)
            .collect()
    }

    /// The `k` highest of `scores`, ties to the lower position.
    fn top_k(scores: &[f64], k: usize) -> Vec<bool> {
        let n = scores.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let mut flags = vec![false; n];
        for &i in &order[..k.min(n)] {
            flags[i] = true;
        }
        flags
    }
}

impl TrainingFilter for SpectralSignatures {
    type Error = SpectralSignaturesError;

    fn inspect(
        &self,
        input: DefenseInput<'_>,
        _rng: &mut Rng,
    ) -> Result<FilterVerdict, SpectralSignaturesError> {
        let train = input.train;
        let n = train.len();
        // Shared with the other defenses embedding this set at the same time.
        let embedding = input.embed();
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
        let p = &self.params;
        let members = class_members(train.labels(), train.n_classes());
        let mut scores = vec![0.0; n];
        let mut flags = vec![false; n];
        // Split rule: per class, its members, scores and the suspects judged
        // poison so far; both sides of every direction are candidates for the
        // single-source evidence, judged across classes afterwards.
        let mut judged_classes: Vec<JudgedClass> = Vec::new();
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut suspect = vec![false; n];
        // Split rule: each class seen along each of its top directions, to be
        // judged once the embedding is gone (the judging needs no embedding).
        let mut seen: Vec<(usize, Vec<usize>, Vec<ClassSpectrum>)> = Vec::new();
        // One class's whitened rows at a time.
        for (class, whitened) in whiten_classes(&embedding, &members, p.whiten, p.ridge).enumerate()
        {
            let (members, rows, cols) = (whitened.members, whitened.rows, whitened.cols);
            let directions = if members.is_empty() || cols == 0 {
                Vec::new()
            } else {
                let m = match p.rule {
                    SpectralRule::Paper => 1,
                    SpectralRule::Split => p.directions,
                };
                singular_directions(&rows, cols, m)
            };
            let along =
                |d: Option<&TopDirection>| ClassSpectrum::new(members.clone(), &rows, cols, d);
            match p.rule {
                SpectralRule::Paper => {
                    let spectrum = along(directions.first());
                    let share = p.eps_multiplier * p.expected_rate;
                    let k = (share * members.len() as f64).round() as usize;
                    let class_scores = spectrum.scores(p.score);
                    let class_flags = ClassSpectrum::top_k(&class_scores, k);
                    for ((&i, s), f) in members.iter().zip(class_scores).zip(class_flags) {
                        scores[i] = s;
                        flags[i] = f;
                    }
                }
                SpectralRule::Split => {
                    let spectra = directions
                        .iter()
                        .map(|d| match p.refine {
                            true => along(Some(&refine(&rows, cols, d))),
                            false => along(Some(d)),
                        })
                        .collect();
                    seen.push((class, members, spectra));
                }
            }
        }
        // Every class is whitened: the embedding is no longer needed, and the
        // neighbour index below does not share the memory with it.
        drop(embedding);
        // One neighbour index (same reference samples) for every class, built
        // when the split rule first needs it.
        let mut index: Option<Neighbours<'_>> = None;
        for (class, members, spectra) in seen {
            // Among the top directions and both sides of each, the group the
            // most scattered in origin (the first on ties); the larger side
            // too, as poison can outnumber its class.
            let index = index.get_or_insert_with(|| input.neighbours(p.max_reference));
            index.ask_within(&members);
            let mut best: Option<(ClassSpectrum, Vec<usize>, GroupJudgement, bool)> = None;
            for spectrum in spectra {
                let smaller = spectrum.suspects();
                if smaller.is_empty() {
                    continue;
                }
                let larger: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|i| !smaller.contains(i))
                    .collect();
                // The larger side only where the smaller one is a reference
                // for it (at least half its size).
                let sides: &[(&Vec<usize>, &Vec<usize>, bool)] =
                    if 2 * smaller.len() >= larger.len() {
                        &[(&smaller, &larger, false), (&larger, &smaller, true)]
                    } else {
                        &[(&smaller, &larger, false)]
                    };
                for &(group, rest, flipped) in sides {
                    let judged = judge_group(index, class, group, rest, p.k, p.explained_threshold);
                    if best
                        .as_ref()
                        .is_none_or(|b| judged.explained < b.2.explained)
                    {
                        best = Some((spectrum.clone(), group.clone(), judged, flipped));
                    }
                    if p.single_source_threshold > 0.0 {
                        candidates.push(Candidate {
                            class,
                            members: group.clone(),
                            rest: rest.clone(),
                        });
                    }
                }
            }
            let (spectrum, suspects, judged, flipped) = best.unwrap_or_else(|| {
                let none = GroupJudgement {
                    explained: 1.0,
                    baseline: None,
                    poison: false,
                };
                let unsplit = ClassSpectrum::new(members.clone(), &[], 0, None);
                (unsplit, Vec::new(), none, false)
            });
            if judged.poison {
                for &i in &suspects {
                    suspect[i] = true;
                }
            }
            // Scores point towards the suspect side.
            let sign = if flipped { -1.0 } else { 1.0 };
            let class_scores = spectrum
                .scores(p.score)
                .into_iter()
                .map(|s| sign * s)
                .collect();
            judged_classes.push(JudgedClass {
                class,
                members,
                scores: class_scores,
                scatter: 1.0 - judged.explained,
            });
        }
        if let Some(index) = &index {
            // Single-source evidence across classes.
            let resolved = resolve_single_source(
                index,
                &candidates,
                &suspect.clone(),
                p.k,
                p.single_source_threshold,
            );
            let mut single = vec![0.0f64; train.n_classes()];
            for (cand, (ratio, poison)) in candidates.iter().zip(resolved) {
                if poison {
                    for &i in &cand.members {
                        suspect[i] = true;
                    }
                }
                single[cand.class] = single[cand.class].max(1.0 - ratio);
            }
            for JudgedClass {
                class,
                members,
                scores: class_scores,
                scatter,
            } in judged_classes
            {
                // Weight by how strongly the class's best group looks
                // assembled from elsewhere, so a class whose side is a
                // writing style of its own ranks below a poisoned one.
                let weight = scatter.max(single[class]);
                let suspects: Vec<usize> =
                    members.iter().copied().filter(|&i| suspect[i]).collect();
                let class_flags = if suspects.is_empty() {
                    vec![false; members.len()]
                } else {
                    called_elsewhere(index, class, &members, &suspects, p.k)
                };
                for ((&i, s), f) in members.iter().zip(class_scores).zip(class_flags) {
                    scores[i] = s * weight;
                    flags[i] = f;
                }
            }
        }
        Ok(FilterVerdict { scores, flags })
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
        SpectralSignatures::new(params)
            .unwrap()
            .inspect(
                DefenseInput::new(data, &model, None),
                &mut stream(0, 0, "d"),
            )
            .unwrap()
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

    /// Four classes of `clean` points around `8 e_{4+c}`, every point's axis 0
    /// scaled by `scale` (a shared "activation scale" direction), then
    /// `per_source` poisons drawn like each of classes 1, 2 and 3 but
    /// labelled 0, at the end. Returns the data and the poison mask.
    fn scattered_set(clean: usize, per_source: usize, scale: f32) -> (Dataset, Vec<bool>) {
        let mut rng = stream(11, 0, "scattered");
        let mut features = Vec::new();
        let mut labels = Vec::new();
        let sources = (0..4).flat_map(|c| vec![(c, c); clean]);
        let poisons = (1..4).flat_map(|c| vec![(c, 0); per_source]);
        for (drawn_as, label) in sources.chain(poisons) {
            let mut x = gaussian_points(1, &mut rng);
            x[0] *= scale;
            x[4 + drawn_as] += 8.0;
            features.extend(x);
            labels.push(label);
        }
        let n = labels.len();
        let truth = (0..n).map(|i| i >= 4 * clean).collect();
        (
            Dataset::new(features, vec![DIM], labels, 4, None).unwrap(),
            truth,
        )
    }

    #[test]
    fn split_rule_flags_exactly_the_poison_and_nothing_in_clean_classes() {
        for per_source in [3, 10, 30] {
            let (data, truth) = scattered_set(100, per_source, 1.0);
            let v = run(SpectralSignaturesParams::default(), &data);
            assert_eq!(v.flags, truth, "{per_source} per source");
        }
    }

    #[test]
    fn split_rule_leaves_a_shifted_group_of_one_origin_alone() {
        // The shifted points of `poisoned_set` sit apart from their class but
        // their neighbours are all of one class: a style, not poison.
        let v = run(SpectralSignaturesParams::default(), &poisoned_set(3));
        assert_eq!(flagged(&v), Vec::<usize>::new());
    }

    #[test]
    fn split_rule_flags_nothing_without_poison() {
        let mut rng = stream(3, 0, "clean");
        let features = gaussian_points(300, &mut rng);
        let labels = (0..300).map(|i| i / 100).collect();
        let data = Dataset::new(features, vec![DIM], labels, 3, None).unwrap();
        let v = run(SpectralSignaturesParams::default(), &data);
        assert_eq!(flagged(&v), Vec::<usize>::new());
    }

    /// Four classes of 150 (class c shifted 6 along axis c), then `n`
    /// poisons from class 2 alone with a trigger (6 along the last axis),
    /// labelled 0: a single-source backdoor.
    fn single_source(seed: u64, n: usize) -> (Dataset, Vec<bool>) {
        let mut rng = stream(seed, 0, "single-source");
        let mut features = gaussian_points(600 + n, &mut rng);
        let mut labels: Vec<usize> = (0..600).map(|i| i / 150).collect();
        for i in 0..600 + n {
            let axis = if i < 600 { i / 150 } else { 2 };
            features[i * DIM + axis] += 6.0;
            if i >= 600 {
                features[i * DIM + DIM - 1] += 6.0;
            }
        }
        labels.resize(600 + n, 0);
        let mask = (0..600 + n).map(|i| i >= 600).collect();
        (
            Dataset::new(features, vec![DIM], labels, 4, None).unwrap(),
            mask,
        )
    }

    #[test]
    fn single_source_poison_is_flagged_by_its_own_label_share() {
        for seed in 0..3 {
            let (data, mask) = single_source(seed, 40);
            let v = run(SpectralSignaturesParams::default(), &data);
            assert_eq!(v.flags, mask, "seed {seed}");
            let off = SpectralSignaturesParams {
                single_source_threshold: 0.0,
                ..SpectralSignaturesParams::default()
            };
            assert!(!run(off, &data).flags.contains(&true), "seed {seed}");
        }
    }

    #[test]
    fn a_clean_class_with_a_stray_point_is_not_poisoned() {
        // One far point per class: a side of one sample is never flagged.
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
    fn poisons_score_above_every_clean_sample_of_every_class() {
        let (data, truth) = scattered_set(100, 5, 1.0);
        let v = run(SpectralSignaturesParams::default(), &data);
        let (mut lowest_poison, mut highest_clean) = (f64::INFINITY, f64::NEG_INFINITY);
        for (&s, &t) in v.scores.iter().zip(&truth) {
            if t {
                lowest_poison = lowest_poison.min(s);
            } else {
                highest_clean = highest_clean.max(s);
            }
        }
        assert!(
            lowest_poison > highest_clean,
            "{lowest_poison} vs {highest_clean}"
        );
    }

    #[test]
    fn whitened_oriented_scores_find_poison_that_is_half_the_class() {
        // Class 0: 52 clean, 48 poisons (16 from each other class), and a
        // shared scale direction with sd 20.
        let (data, truth) = scattered_set(52, 16, 20.0);
        let auroc = |params: SpectralSignaturesParams| {
            poisonlab_core::metrics::auroc(&run(params, &data).scores, &truth).unwrap()
        };
        let default = SpectralSignaturesParams::default();
        assert!(auroc(default.clone()) > 0.999);
        let v = run(default.clone(), &data);
        assert_eq!(v.flags, truth);
        // The paper's plain centring: the scale direction wins, the poison is missed.
        let plain = SpectralSignaturesParams {
            rule: SpectralRule::Paper,
            whiten: false,
            score: SpectralScore::Squared,
            ..default.clone()
        };
        let got = auroc(plain);
        assert!(got < 0.8, "{got}");
        // Whitened but squared: both halves sit as far from the class mean.
        let squared = SpectralSignaturesParams {
            rule: SpectralRule::Paper,
            score: SpectralScore::Squared,
            ..default
        };
        let got = auroc(squared);
        assert!(got < 0.95, "{got}");
    }

    #[test]
    fn split_is_exact_two_means_in_one_dimension() {
        let s = Split::best(&[5.0, 0.0, 1.0, 6.0, 2.0]).unwrap();
        assert_eq!(s.cut, 2.0);
        assert_eq!(s.low.0, 3);
        assert_eq!(s.high.0, 2);
        assert!((s.low.1 - 1.0).abs() < 1e-12 && (s.high.1 - 5.5).abs() < 1e-12);
        assert!((s.low.2 - 2.0 / 3.0).abs() < 1e-12 && (s.high.2 - 0.25).abs() < 1e-12);
        let d = 4.5 / ((2.0 / 3.0 + 0.25) / 2.0f64).sqrt();
        assert!((s.separation() - d).abs() < 1e-12);
        assert_eq!(Split::best(&[1.0, 1.0]), None);
        assert_eq!(Split::best(&[]), None);
        assert_eq!(
            Split::best(&[0.0, 0.0, 3.0]).unwrap().separation(),
            f64::INFINITY
        );
    }

    #[test]
    fn a_gaussian_cut_at_its_median_separates_by_about_2_7() {
        let mut rng = stream(5, 0, "gauss");
        let values: Vec<f64> = gaussian_points(2000, &mut rng)
            .chunks(DIM)
            .map(|r| f64::from(r[0]))
            .collect();
        let d = Split::best(&values).unwrap().separation();
        assert!((2.4..3.0).contains(&d), "{d}");
    }

    #[test]
    fn same_input_gives_the_same_verdict_whatever_the_rng() {
        let data = poisoned_set(2);
        let model = StubClassifier::uniform(3);
        let defense = SpectralSignatures::new(SpectralSignaturesParams::default()).unwrap();
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
        for rule in [SpectralRule::Paper, SpectralRule::Split] {
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
        let err = SpectralSignatures::new(SpectralSignaturesParams::default())
            .unwrap()
            .inspect(
                DefenseInput::new(&data, &StubClassifier::uniform(2), None),
                &mut stream(0, 0, "d"),
            );
        assert_eq!(
            err,
            Err(SpectralSignaturesError::NonFiniteEmbedding { index: 1 })
        );
    }

    #[test]
    fn new_and_build_check_the_parameters() {
        let bad = SpectralSignaturesParams {
            expected_rate: 0.9,
            k: 0,
            ..Default::default()
        };
        let e = SpectralSignatures::new(bad.clone()).unwrap_err();
        let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["expected-rate", "k"]);
        let facts = poisonlab_core::DataFacts::default();
        let ctx = BuildContext::new(std::path::Path::new("."), &facts);
        assert_eq!(SpectralSignatures::build(bad, &ctx).unwrap_err(), e);
        let built = SpectralSignatures::build(SpectralSignaturesParams::default(), &ctx).unwrap();
        assert_eq!(Kind::params(&built), &SpectralSignaturesParams::default());
        assert_eq!(
            built.describe(),
            "spectral-signatures (whitened embedding, oriented scores), split rule over the top 3 directions, poison below 0.35 explained by 10-NN"
        );
        let paper = SpectralSignatures::new(SpectralSignaturesParams {
            rule: SpectralRule::Paper,
            score: SpectralScore::Squared,
            whiten: false,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            paper.describe(),
            "spectral-signatures (embedding, squared scores), removes the top 1.5 × 0.05 of every class"
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
            prop_assert!(v.scores.iter().all(|s| s.is_finite()));
        }
    }
}
