use poisonlab_core::{
    BuildContext, DefenseInput, FilterVerdict, Kind, Matrix, ParamError, Rng, TrainingFilter,
};

use crate::{KnnLabelError, KnnLabelParams};

/// The deep k-NN label-consistency filter of Peri et al. 2020 ("Deep k-NN
/// Defense Against Clean-label Data Poisoning Attacks", ECCV workshops),
/// with checked parameters.
#[derive(Debug, Clone)]
pub struct KnnLabel {
    params: KnnLabelParams,
}

impl KnnLabel {
    /// The filter for `params`, or every problem [`KnnLabelParams::check`]
    /// finds with them.
    pub fn new(params: KnnLabelParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// The parameters this filter runs with.
    pub fn params(&self) -> &KnnLabelParams {
        &self.params
    }
}

impl Kind for KnnLabel {
    type Params = KnnLabelParams;

    fn build(params: KnnLabelParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &KnnLabelParams {
        &self.params
    }

    fn describe(&self) -> String {
        format!(
            "knn-label, flags samples whose label is outvoted among their {} nearest neighbours (embedding)",
            self.params.k
        )
    }
}

/// Rows whose distances to all others come from one matrix product.
const BLOCK: usize = 128;

/// The `k` nearest other rows of each row of `points` by Euclidean distance,
/// nearest first; ties go to the lower index so the answer is deterministic.
///
/// Squared distances are `‖a‖² + ‖b‖² − 2 a·b`, the dot products of a block of
/// rows against all rows in one matrix product (nalgebra, matrixmultiply's
/// vector kernels): exact all pairs, at matrix-multiplication speed.
pub fn nearest_neighbours(points: &Matrix, k: usize) -> Vec<Vec<usize>> {
    let (n, d) = (points.rows, points.cols);
    let norms: Vec<f32> = (0..n)
        .map(|i| points.row(i).iter().map(|v| v * v).sum())
        .collect();
    // n × d, row i = points.row(i).
    let all = nalgebra::DMatrix::from_row_slice(n, d, &points.data[..n * d]);
    let mut order: Vec<usize> = Vec::with_capacity(n);
    let mut dist = vec![0f32; n];
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        // d × block: column b = row start + b (row-major rows are columns here).
        let block =
            nalgebra::DMatrix::from_column_slice(d, end - start, &points.data[start * d..end * d]);
        let dots = &all * block; // [n, block]
        for (b, i) in (start..end).enumerate() {
            for ((d, &nj), &g) in dist.iter_mut().zip(&norms).zip(dots.column(b).iter()) {
                // Squared distance; clamp the rounding error of the expansion.
                *d = (norms[i] + nj - 2.0 * g).max(0.0);
            }
            order.clear();
            order.extend((0..n).filter(|&j| j != i));
            let cmp = |a: &usize, b: &usize| dist[*a].total_cmp(&dist[*b]).then(a.cmp(b));
            if k < order.len() {
                order.select_nth_unstable_by(k, cmp);
                order.truncate(k);
            }
            order.sort_by(cmp);
            out.push(order.clone());
        }
    }
    out
}

impl TrainingFilter for KnnLabel {
    type Error = KnnLabelError;

    fn inspect(
        &self,
        input: DefenseInput<'_>,
        _rng: &mut Rng,
    ) -> Result<FilterVerdict, KnnLabelError> {
        let k = self.params.k;
        let train = input.train;
        if train.len() <= k {
            return Err(KnnLabelError::TooFewSamples { k, n: train.len() });
        }
        let embedding = input.embed();
        let labels = train.labels();
        let mut votes = vec![0usize; train.n_classes()];
        let mut scores = Vec::with_capacity(train.len());
        let mut flags = Vec::with_capacity(train.len());
        for (i, neighbours) in nearest_neighbours(&embedding, k).into_iter().enumerate() {
            votes.fill(0);
            for &j in &neighbours {
                votes[labels[j]] += 1;
            }
            let most = votes.iter().copied().max().unwrap_or(0);
            let own = votes[labels[i]];
            scores.push((k - own) as f64 / k as f64);
            flags.push(own < most);
        }
        Ok(FilterVerdict { scores, flags })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::Dataset;
    use poisonlab_core::seed::stream;
    use poisonlab_core::testing::StubClassifier;
    use proptest::prelude::*;

    #[test]
    fn flags_the_sample_whose_label_disagrees_with_its_cluster() {
        // Two clusters on a line: {0, 1, 2, 3} labelled 0 except x = 2 labelled 1,
        // and {10, 11, 12, 13} labelled 1.
        let xs = [0., 1., 2., 3., 10., 11., 12., 13.];
        let labels = vec![0, 0, 1, 0, 1, 1, 1, 1];
        let data = Dataset::new(xs.to_vec(), vec![1], labels, 2, None).unwrap();
        let v = KnnLabel::new(KnnLabelParams { k: 3 })
            .unwrap()
            .inspect(
                DefenseInput::new(&data, &StubClassifier::uniform(2), None),
                &mut stream(0, 0, "d"),
            )
            .unwrap();
        assert_eq!(
            v.flags,
            [false, false, true, false, false, false, false, false]
        );
        // x = 2: neighbours 1, 3, 0 all label 0 -> score 1.
        assert_eq!(v.scores[2], 1.0);
        // x = 1: neighbours 0, 2, 3 -> one of three disagrees.
        assert!((v.scores[1] - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn neighbours_break_ties_by_index() {
        let m = Matrix::new(4, 1, vec![0., 1., -1., 2.]);
        let nn = nearest_neighbours(&m, 2);
        assert_eq!(nn[0], vec![1, 2]);
        assert_eq!(nn[3], vec![1, 0]);
    }

    #[test]
    fn too_few_samples_is_an_error() {
        let data = Dataset::new(vec![0., 1.], vec![1], vec![0, 1], 2, None).unwrap();
        let err = KnnLabel::new(KnnLabelParams { k: 2 }).unwrap().inspect(
            DefenseInput::new(&data, &StubClassifier::uniform(2), None),
            &mut stream(0, 0, "d"),
        );
        assert_eq!(err, Err(KnnLabelError::TooFewSamples { k: 2, n: 2 }));
    }

    #[test]
    fn new_and_build_check_the_parameters() {
        let e = KnnLabel::new(KnnLabelParams { k: 0 }).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].key, "k");
        let facts = poisonlab_core::DataFacts::default();
        let ctx = BuildContext::new(std::path::Path::new("."), &facts);
        assert_eq!(
            KnnLabel::build(KnnLabelParams { k: 0 }, &ctx).unwrap_err(),
            e
        );
        let built = KnnLabel::build(KnnLabelParams::default(), &ctx).unwrap();
        assert_eq!(Kind::params(&built), &KnnLabelParams::default());
        assert_eq!(
            built.describe(),
            "knn-label, flags samples whose label is outvoted among their 10 nearest neighbours (embedding)"
        );
    }

    proptest! {
        #[test]
        fn neighbours_match_brute_force(xs in proptest::collection::vec(-100i32..100, 3..40), k in 1usize..5) {
            let n = xs.len();
            let k = k.min(n - 1);
            let m = Matrix::new(n, 1, xs.iter().map(|&x| x as f32).collect());
            let nn = nearest_neighbours(&m, k);
            for i in 0..n {
                let mut all: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                all.sort_by_key(|&j| ((xs[i] - xs[j]).abs(), j));
                prop_assert_eq!(&nn[i], &all[..k].to_vec());
            }
        }
    }
}
