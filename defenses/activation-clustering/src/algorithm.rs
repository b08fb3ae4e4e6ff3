use poisonlab_core::reclassify::{Candidate, called_elsewhere, judge_group, resolve_single_source};
use poisonlab_core::whiten::{class_members, whiten_classes};
use poisonlab_core::{
    BuildContext, DefenseInput, FilterVerdict, Kind, ParamError, Rng, TrainingFilter,
};

use crate::cluster::{KMeans, Pca, TwoMeans, silhouettes};
use crate::ica::FastIca;
use crate::{ActivationClusteringError, ActivationClusteringParams, Reduce, Rule};

/// Activation clustering (Chen, Carvalho, Baracaldo, Ludwig, Edwards, Lee,
/// Molloy and Srivastava 2018, "Detecting Backdoor Attacks on Deep Neural
/// Networks by Activation Clustering", AAAI SafeAI workshop) with checked
/// parameters; the rules are described in the crate documentation.
#[derive(Debug, Clone)]
pub struct ActivationClustering {
    params: ActivationClusteringParams,
}

/// What clustering found in one class (by training label).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSplit {
    /// The class.
    pub class: usize,
    /// Positions in the training set of the class's samples, in order.
    pub members: Vec<usize>,
    /// Per member: true when it is in the smaller cluster.
    pub in_smaller: Vec<bool>,
    /// Sizes of the larger and the smaller cluster; `[n, 0]` when the class
    /// could not be split (fewer than two distinct embeddings).
    pub sizes: [usize; 2],
    /// Mean silhouette of the split, in [−1, 1]; 0 when unsplit.
    pub silhouette: f64,
    /// Per member: its silhouette, negated for members of the larger cluster
    /// (its margin towards the smaller cluster); 0 when unsplit.
    pub scores: Vec<f64>,
}

impl ClassSplit {
    /// Share of the class in the smaller cluster.
    pub fn smaller_share(&self) -> f64 {
        self.sizes[1] as f64 / self.members.len().max(1) as f64
    }

    /// True when one cluster is strictly smaller than the other: only then is
    /// there a cluster to call poison.
    pub fn has_smaller(&self) -> bool {
        self.sizes[1] > 0 && self.sizes[1] < self.sizes[0]
    }

    /// Training-set positions of the smaller cluster.
    pub fn smaller_members(&self) -> Vec<usize> {
        self.members
            .iter()
            .zip(&self.in_smaller)
            .filter(|(_, s)| **s)
            .map(|(&i, _)| i)
            .collect()
    }
}

/// One class's embeddings after centring, whitening and reduction.
struct Reduced {
    class: usize,
    members: Vec<usize>,
    /// Row-major, `width` wide; empty when the class could not be reduced.
    points: Vec<f64>,
    width: usize,
}

impl ActivationClustering {
    /// The detector for `params`, or every problem
    /// [`ActivationClusteringParams::check`] finds with them.
    pub fn new(params: ActivationClusteringParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// The parameters this detector runs with.
    pub fn params(&self) -> &ActivationClusteringParams {
        &self.params
    }

    /// Embed the training set, and per class (in class order) centre its
    /// embeddings (whitened against the other classes when `whiten`) and
    /// reduce them to `dims` dimensions by PCA or FastICA. Classes that cannot
    /// be reduced (fewer than two samples, no spread) come back with width 0.
    fn reduce_classes(
        &self,
        input: &DefenseInput<'_>,
        rng: &mut Rng,
    ) -> Result<Vec<Reduced>, ActivationClusteringError> {
        let train = input.train;
        // Shared with the other defenses embedding this set at the same time.
        let embedding = input.embed();
        if embedding.rows != train.len() {
            return Err(ActivationClusteringError::EmbeddingRows {
                got: embedding.rows,
                expected: train.len(),
            });
        }
        if let Some(pos) = embedding.data.iter().position(|v| !v.is_finite()) {
            return Err(ActivationClusteringError::NonFiniteEmbedding {
                index: pos / embedding.cols.max(1),
            });
        }
        let p = &self.params;
        let members = class_members(train.labels(), train.n_classes());
        let mut out = Vec::with_capacity(members.len());
        // One class's whitened rows at a time.
        for (class, centred) in whiten_classes(&embedding, &members, p.whiten, p.ridge).enumerate()
        {
            let (points, cols) = (centred.rows, centred.cols);
            let (points, width) = if centred.members.len() < 2 || cols == 0 {
                (Vec::new(), 0)
            } else {
                match p.reduce {
                    Reduce::Pca => {
                        let pca = Pca::fit(&points, cols, p.dims, rng);
                        (pca.project(&points), pca.components.len())
                    }
                    Reduce::Ica => match FastIca::fit(&points, cols, p.dims, rng) {
                        Some(ica) => (ica.project(&points), ica.dims()),
                        None => (Vec::new(), 0),
                    },
                }
            };
            out.push(Reduced {
                class,
                members: centred.members,
                points,
                width,
            });
        }
        Ok(out)
    }

    /// Per class (in class order): reduce its embeddings
    /// (`reduce_classes`), split them with 2-means and score the
    /// split. Every random choice (power-iteration and ICA starts, k-means++
    /// starts) comes from `rng`.
    pub fn split_classes(
        &self,
        input: &DefenseInput<'_>,
        rng: &mut Rng,
    ) -> Result<Vec<ClassSplit>, ActivationClusteringError> {
        let mut splits = Vec::new();
        for r in self.reduce_classes(input, rng)? {
            let Reduced {
                class,
                members,
                points: reduced,
                width,
            } = r;
            let n = members.len();
            let unsplit = ClassSplit {
                class,
                in_smaller: vec![false; n],
                sizes: [n, 0],
                silhouette: 0.0,
                scores: vec![0.0; n],
                members: members.clone(),
            };
            if width == 0 {
                splits.push(unsplit);
                continue;
            }
            let Some(km) = TwoMeans::fit(&reduced, width, self.params.restarts, rng) else {
                splits.push(unsplit);
                continue;
            };
            let sil = silhouettes(&reduced, width, &km.assignment);
            let silhouette = sil.iter().sum::<f64>() / n as f64;
            let scores = sil
                .iter()
                .zip(&km.assignment)
                .map(|(&s, &a)| if a == 1 { s } else { -s })
                .collect();
            splits.push(ClassSplit {
                class,
                in_smaller: km.assignment.iter().map(|&a| a == 1).collect(),
                sizes: km.sizes,
                silhouette,
                scores,
                members,
            });
        }
        Ok(splits)
    }

    /// Whether the smaller cluster of `split` is poison under the rule, for
    /// every rule but exclusionary reclassification.
    fn judge_by_shape(&self, split: &ClassSplit) -> bool {
        let p = &self.params;
        if !split.has_smaller() {
            return false;
        }
        let small = split.smaller_share() < p.size_threshold;
        let separated = split.silhouette > p.silhouette_threshold;
        match p.rule {
            Rule::RelativeSize => small,
            Rule::Silhouette => separated,
            Rule::Combined => {
                separated || (small && split.silhouette > p.silhouette_threshold / 2.0)
            }
            Rule::ExclusionaryReclassification | Rule::Reclassification => false,
        }
    }

    /// The reclassification rule over every class: cluster it into k groups
    /// for every k from 2 to `clusters`, judge each group by neighbour
    /// reclassification ([`judge_group`]), and in a class with a poison group
    /// flag the members their neighbours outside the poison groups call
    /// another label ([`called_elsewhere`]). A sample's score is the largest
    /// `1 − explained` among the groups it fell in.
    fn reclassification(
        &self,
        input: &DefenseInput<'_>,
        rng: &mut Rng,
    ) -> Result<FilterVerdict, ActivationClusteringError> {
        let p = &self.params;
        let train = input.train;
        let n = train.len();
        let mut scores = vec![0.0f64; n];
        let mut flags = vec![false; n];
        // Reduced first, so that the embedding is gone before the index is built.
        let reduced = self.reduce_classes(input, rng)?;
        // One neighbour index (same reference samples) for every class.
        let mut index = input.neighbours(p.max_reference);
        let mut suspect = vec![false; n];
        let mut classes = Vec::new();
        let mut candidates = Vec::new();
        for r in reduced {
            if r.width == 0 || r.members.len() < 2 {
                continue;
            }
            index.ask_within(&r.members);
            let position: std::collections::HashMap<usize, usize> =
                r.members.iter().enumerate().map(|(k, &i)| (i, k)).collect();
            for k in 2..=p.clusters.min(r.members.len()) {
                let Some(km) = KMeans::fit(&r.points, r.width, k, p.restarts, rng) else {
                    continue;
                };
                for c in 0..km.sizes.len() {
                    let (group, rest): (Vec<usize>, Vec<usize>) = r
                        .members
                        .iter()
                        .partition(|&&i| km.assignment[position[&i]] == c);
                    let j = judge_group(&index, r.class, &group, &rest, p.k, p.explained_threshold);
                    for &i in &group {
                        scores[i] = scores[i].max(1.0 - j.explained);
                        suspect[i] |= j.poison;
                    }
                    if p.single_source_threshold > 0.0 {
                        candidates.push(Candidate {
                            class: r.class,
                            members: group,
                            rest,
                        });
                    }
                }
            }
            classes.push((r.class, r.members));
        }
        // Single-source evidence, judged across classes.
        for (cand, (ratio, poison)) in candidates.iter().zip(resolve_single_source(
            &index,
            &candidates,
            &suspect.clone(),
            p.k,
            p.single_source_threshold,
        )) {
            for &i in &cand.members {
                scores[i] = scores[i].max(1.0 - ratio);
                suspect[i] |= poison;
            }
        }
        for (class, members) in classes {
            let suspects: Vec<usize> = members.iter().copied().filter(|&i| suspect[i]).collect();
            if !suspects.is_empty() {
                let called = called_elsewhere(&index, class, &members, &suspects, p.k);
                for (&i, c) in members.iter().zip(called) {
                    flags[i] = c;
                }
            }
        }
        Ok(FilterVerdict { scores, flags })
    }

    /// Exclusionary reclassification of one class's smaller cluster: true when
    /// the model retrained without it predicts less than `er-threshold` of it
    /// as its own label.
    fn judge_by_retraining(
        &self,
        input: &DefenseInput<'_>,
        split: &ClassSplit,
    ) -> Result<bool, ActivationClusteringError> {
        if !split.has_smaller() {
            return Ok(false);
        }
        let retrain = input.retrain.ok_or(ActivationClusteringError::NoRetrain)?;
        let removed = split.smaller_members();
        let mut keep = vec![true; input.train.len()];
        for &i in &removed {
            keep[i] = false;
        }
        let kept: Vec<usize> = (0..keep.len()).filter(|&i| keep[i]).collect();
        let model = retrain(&input.train.subset(&kept)).map_err(|message| {
            ActivationClusteringError::RetrainFailed {
                class: split.class,
                message,
            }
        })?;
        let predicted = model.predict(&input.train.subset(&removed));
        if predicted.len() != removed.len() {
            return Err(ActivationClusteringError::PredictionLength {
                class: split.class,
                got: predicted.len(),
                expected: removed.len(),
            });
        }
        let own = predicted.iter().filter(|&&c| c == split.class).count();
        Ok((own as f64) < self.params.er_threshold * removed.len() as f64)
    }
}

impl Kind for ActivationClustering {
    type Params = ActivationClusteringParams;

    fn build(
        params: ActivationClusteringParams,
        _ctx: &BuildContext<'_>,
    ) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &ActivationClusteringParams {
        &self.params
    }

    fn describe(&self) -> String {
        let p = &self.params;
        let reduce = match p.reduce {
            Reduce::Pca => "PCA",
            Reduce::Ica => "ICA",
        };
        let whiten = if p.whiten { "whitened, " } else { "" };
        let rule = match p.rule {
            Rule::Reclassification => format!(
                "k-means with 2 to {} clusters, poison below {} explained by {}-NN",
                p.clusters, p.explained_threshold, p.k
            ),
            Rule::ExclusionaryReclassification => format!(
                "2-means, exclusionary reclassification below {}",
                p.er_threshold
            ),
            Rule::RelativeSize => format!("2-means, relative size below {}", p.size_threshold),
            Rule::Silhouette => format!("2-means, silhouette above {}", p.silhouette_threshold),
            Rule::Combined => format!(
                "2-means, silhouette above {} or relative size below {}",
                p.silhouette_threshold, p.size_threshold
            ),
        };
        format!(
            "activation-clustering ({whiten}{reduce} to {} dimensions), {rule}",
            p.dims
        )
    }
}

impl TrainingFilter for ActivationClustering {
    type Error = ActivationClusteringError;

    fn inspect(
        &self,
        input: DefenseInput<'_>,
        rng: &mut Rng,
    ) -> Result<FilterVerdict, ActivationClusteringError> {
        if self.params.rule == Rule::ExclusionaryReclassification && input.retrain.is_none() {
            return Err(ActivationClusteringError::NoRetrain);
        }
        if self.params.rule == Rule::Reclassification {
            return self.reclassification(&input, rng);
        }
        let n = input.train.len();
        let mut scores = vec![0.0; n];
        let mut flags = vec![false; n];
        for split in self.split_classes(&input, rng)? {
            let poison = match self.params.rule {
                Rule::ExclusionaryReclassification => self.judge_by_retraining(&input, &split)?,
                _ => self.judge_by_shape(&split),
            };
            for (&i, &s) in split.members.iter().zip(&split.scores) {
                scores[i] = s;
            }
            if poison {
                for i in split.smaller_members() {
                    flags[i] = true;
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
    use poisonlab_core::{Classifier, Dataset, Matrix};
    use rand::Rng as _;

    /// Standard deviation of a synthetic class along each axis.
    type Spread = fn(usize) -> f32;
    /// What `DefenseInput::retrain` holds.
    type Retrain<'a> = dyn Fn(&Dataset) -> Result<Box<dyn Classifier>, String> + 'a;

    /// Embedding width of the synthetic data (reduced to 10 by PCA).
    const WIDTH: usize = 32;

    fn normal(rng: &mut Rng) -> f32 {
        // Box–Muller.
        let u: f64 = 1.0 - rng.random::<f64>();
        let v: f64 = rng.random();
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    /// `n` samples of class `label`: an isotropic unit Gaussian blob, with the
    /// first `poison` of them shifted by `shift` along the first axis.
    fn blob(rng: &mut Rng, n: usize, poison: usize, shift: f32, centre: f32) -> Vec<f32> {
        (0..n)
            .flat_map(|i| {
                let s = if i < poison { shift } else { 0.0 };
                (0..WIDTH)
                    .map(|d| normal(rng) + centre + if d == 0 { s } else { 0.0 })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Class 0: a clean blob of 200. Class 1: 200 samples of which `poison`
    /// are shifted by `shift`. Returns the data and the poison mask.
    fn two_classes(seed: u64, poison: usize, shift: f32) -> (Dataset, Vec<bool>) {
        let mut rng = stream(seed, 0, "data");
        let mut features = blob(&mut rng, 200, 0, 0.0, 0.0);
        features.extend(blob(&mut rng, 200, poison, shift, 5.0));
        let labels = [vec![0; 200], vec![1; 200]].concat();
        let mask = (0..400).map(|i| (200..200 + poison).contains(&i)).collect();
        (
            Dataset::new(features, vec![WIDTH], labels, 2, None).unwrap(),
            mask,
        )
    }

    fn run(params: ActivationClusteringParams, data: &Dataset, seed: u64) -> FilterVerdict {
        let model = StubClassifier::uniform(data.n_classes());
        ActivationClustering::new(params)
            .unwrap()
            .inspect(
                DefenseInput::new(data, &model, None),
                &mut stream(seed, 0, "defense"),
            )
            .unwrap()
    }

    fn splits(data: &Dataset, seed: u64) -> Vec<ClassSplit> {
        let model = StubClassifier::uniform(data.n_classes());
        ActivationClustering::new(with(Rule::Silhouette))
            .unwrap()
            .split_classes(
                &DefenseInput::new(data, &model, None),
                &mut stream(seed, 0, "defense"),
            )
            .unwrap()
    }

    /// An isotropic-ish class of 300 whose standard deviation along axis `d`
    /// is `sd(d)`, centred at 0.
    fn shaped_class(seed: u64, sd: impl Fn(usize) -> f32) -> Dataset {
        let mut rng = stream(seed, 0, "data");
        let f: Vec<f32> = (0..300)
            .flat_map(|_| {
                (0..WIDTH)
                    .map(|d| sd(d) * normal(&mut rng))
                    .collect::<Vec<_>>()
            })
            .collect();
        Dataset::new(f, vec![WIDTH], vec![0; 300], 1, None).unwrap()
    }

    #[test]
    #[ignore = "prints the silhouettes the default threshold is chosen from"]
    fn measure_silhouettes() {
        for (poison, shift) in [
            (0, 0.0),
            (20, 4.0),
            (20, 5.0),
            (20, 6.0),
            (20, 8.0),
            (10, 8.0),
            (96, 6.0),
            (96, 8.0),
        ] {
            let sils: Vec<String> = (0..10)
                .map(|seed| {
                    let (data, _) = two_classes(seed, poison, shift);
                    let s = splits(&data, seed);
                    format!(
                        "{:.3}/{:.3}({:.2})",
                        s[0].silhouette,
                        s[1].silhouette,
                        s[1].smaller_share()
                    )
                })
                .collect();
            eprintln!("poison {poison} shift {shift}: {}", sils.join(" "));
        }
        let spectra: [(&str, Spread); 6] = [
            ("1-D", |d| f32::from(u8::from(d < 1))),
            ("2-D", |d| f32::from(u8::from(d < 2))),
            ("5-D", |d| f32::from(u8::from(d < 5))),
            ("10-D", |d| f32::from(u8::from(d < 10))),
            ("sd 1/k", |d| 1.0 / (d as f32 + 1.0)),
            ("sd 1/sqrt k", |d| 1.0 / (d as f32 + 1.0).sqrt()),
        ];
        for (name, sd) in spectra {
            let sils: Vec<String> = (0..10)
                .map(|seed| format!("{:.3}", splits(&shaped_class(seed, sd), seed)[0].silhouette))
                .collect();
            eprintln!("clean {name}: {}", sils.join(" "));
        }
    }

    /// The paper's shape rules on plain (unwhitened) embeddings.
    fn with(rule: Rule) -> ActivationClusteringParams {
        ActivationClusteringParams {
            rule,
            whiten: false,
            ..Default::default()
        }
    }

    /// Four classes of 150 around `6 e_c` (axis c), where 45 of class 1 are
    /// written another way (around `6 e_1 + 6 e_10`); then `per_source`
    /// poisons from each of classes 1, 2 and 3 (around their centres),
    /// labelled 0, at the end. Embeddings are the inputs (the stub model).
    fn scattered(seed: u64, per_source: usize) -> (Dataset, Vec<bool>) {
        let mut rng = stream(seed, 0, "scattered");
        let mut features = Vec::new();
        let mut labels = Vec::new();
        let point = |rng: &mut Rng, axes: &[usize]| -> Vec<f32> {
            (0..WIDTH)
                .map(|d| normal(rng) + if axes.contains(&d) { 6.0 } else { 0.0 })
                .collect()
        };
        for c in 0..4 {
            for k in 0..150 {
                let style: &[usize] = if c == 1 && k < 45 { &[1, 10] } else { &[c] };
                features.extend(point(&mut rng, style));
                labels.push(c);
            }
        }
        for source in 1..4 {
            for _ in 0..per_source {
                features.extend(point(&mut rng, &[source]));
            }
        }
        labels.resize(600 + 3 * per_source, 0);
        let n = labels.len();
        let mask = (0..n).map(|i| i >= 600).collect();
        (
            Dataset::new(features, vec![WIDTH], labels, 4, None).unwrap(),
            mask,
        )
    }

    #[test]
    fn default_flags_poison_gathered_from_other_classes_and_nothing_else() {
        // 6 per source: 18 of 168 in class 0 (11 %); 40 per source: 120 of 270 (44 %).
        for seed in 0..3 {
            for per_source in [6, 40] {
                let (data, mask) = scattered(seed, per_source);
                let v = run(ActivationClusteringParams::default(), &data, seed);
                assert_eq!(v.flags, mask, "seed {seed}, {per_source} per source");
            }
        }
    }

    /// Four classes (150 each, class c shifted 6 along axis c); then `n`
    /// poisons taken from class 2 alone, with a trigger (6 along the last
    /// axis), labelled 0: a single-source backdoor.
    fn single_source(seed: u64, n: usize) -> (Dataset, Vec<bool>) {
        let mut rng = stream(seed, 0, "single-source");
        let point = |rng: &mut Rng, axes: &[usize]| -> Vec<f32> {
            (0..WIDTH)
                .map(|d| normal(rng) + if axes.contains(&d) { 6.0 } else { 0.0 })
                .collect()
        };
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for c in 0..4 {
            for _ in 0..150 {
                features.extend(point(&mut rng, &[c]));
                labels.push(c);
            }
        }
        for _ in 0..n {
            features.extend(point(&mut rng, &[2, WIDTH - 1]));
        }
        labels.resize(600 + n, 0);
        let mask = (0..600 + n).map(|i| i >= 600).collect();
        (
            Dataset::new(features, vec![WIDTH], labels, 4, None).unwrap(),
            mask,
        )
    }

    #[test]
    fn single_source_poison_is_flagged_by_its_own_label_share() {
        for seed in 0..3 {
            let (data, mask) = single_source(seed, 40);
            let v = run(ActivationClusteringParams::default(), &data, seed);
            assert_eq!(v.flags, mask, "seed {seed}");
            // The many-classes rule alone explains it by class 2 and misses it.
            let off = ActivationClusteringParams {
                single_source_threshold: 0.0,
                ..ActivationClusteringParams::default()
            };
            assert!(!run(off, &data, seed).flags.contains(&true), "seed {seed}");
        }
    }

    #[test]
    fn a_class_written_two_ways_is_split_but_not_flagged() {
        let (data, _) = scattered(0, 6);
        let model = StubClassifier::uniform(4);
        let split = &ActivationClustering::new(ActivationClusteringParams::default())
            .unwrap()
            .split_classes(
                &DefenseInput::new(&data, &model, None),
                &mut stream(0, 0, "defense"),
            )
            .unwrap()[1];
        // The smaller cluster is the second way of writing (positions
        // 150..195), give or take a stray point.
        let smaller = split.smaller_members();
        assert!((150..195).all(|i| smaller.contains(&i)), "{smaller:?}");
        assert!(smaller.len() <= 47, "{smaller:?}");
        let v = run(ActivationClusteringParams::default(), &data, 0);
        assert!(!v.flags[150..300].contains(&true));
        // The paper's relative-size rule takes it for poison.
        let v = run(with(Rule::RelativeSize), &data, 0);
        assert!(v.flags[150..195].iter().all(|&f| f));
    }

    #[test]
    fn silhouette_flags_a_separated_cluster_of_almost_half_the_class() {
        // 96 of 200 (48 %): what a 10 % BadNets poison is of its target class.
        for seed in 0..3 {
            let (data, mask) = two_classes(seed, 96, 8.0);
            assert_eq!(run(with(Rule::Silhouette), &data, seed).flags, mask);
            // The paper's relative-size rule misses it.
            assert!(
                !run(with(Rule::RelativeSize), &data, seed)
                    .flags
                    .contains(&true)
            );
        }
    }

    #[test]
    fn no_rule_flags_a_clean_blob() {
        for seed in 0..3 {
            let (data, _) = two_classes(seed, 0, 0.0);
            for rule in [Rule::Combined, Rule::Silhouette, Rule::RelativeSize] {
                let v = run(with(rule), &data, seed);
                assert!(!v.flags.contains(&true), "{rule:?} seed {seed}");
            }
        }
    }

    #[test]
    fn relative_size_flags_a_small_separated_cluster() {
        let (data, mask) = two_classes(1, 20, 8.0);
        assert_eq!(run(with(Rule::RelativeSize), &data, 1).flags, mask);
    }

    #[test]
    fn combined_lets_a_small_cluster_pass_with_half_the_separation() {
        // 20 poisons 5 sd away: silhouette between half the threshold and the
        // threshold. Small, so combined flags it; the silhouette rule alone does not.
        let (data, mask) = two_classes(3, 20, 5.0);
        let split = &splits(&data, 3)[1];
        let t = ActivationClusteringParams::default().silhouette_threshold;
        assert!(
            split.silhouette > t / 2.0 && split.silhouette < t,
            "{}",
            split.silhouette
        );
        assert_eq!(run(with(Rule::Combined), &data, 3).flags, mask);
        assert!(!run(with(Rule::Silhouette), &data, 3).flags.contains(&true));
    }

    #[test]
    fn silhouette_threshold_is_respected() {
        let (data, mask) = two_classes(0, 20, 8.0);
        let strict = ActivationClusteringParams {
            rule: Rule::Silhouette,
            silhouette_threshold: 0.9,
            ..Default::default()
        };
        assert!(!run(strict, &data, 0).flags.contains(&true));
        assert_eq!(run(with(Rule::Silhouette), &data, 0).flags, mask);
    }

    #[test]
    fn poisons_score_above_every_clean_sample() {
        let (data, mask) = scattered(2, 10);
        let v = run(ActivationClusteringParams::default(), &data, 2);
        let lowest_poison = (0..630)
            .filter(|&i| mask[i])
            .map(|i| v.scores[i])
            .fold(f64::INFINITY, f64::min);
        let highest_clean = (0..630)
            .filter(|&i| !mask[i])
            .map(|i| v.scores[i])
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(
            lowest_poison > highest_clean,
            "{lowest_poison} <= {highest_clean}"
        );
        assert!(v.scores.iter().all(|s| (0.0..=1.0).contains(s)));
    }

    #[test]
    fn same_stream_same_verdict() {
        let (data, _) = two_classes(4, 20, 5.0);
        let a = run(ActivationClusteringParams::default(), &data, 9);
        let b = run(ActivationClusteringParams::default(), &data, 9);
        assert_eq!(a, b);
    }

    #[test]
    fn tiny_and_constant_classes_are_left_alone() {
        // Class 0 has one sample, class 1 three identical ones, class 2 none.
        let data = Dataset::new(vec![0., 1., 1., 1.], vec![1], vec![0, 1, 1, 1], 3, None).unwrap();
        let v = run(ActivationClusteringParams::default(), &data, 0);
        assert_eq!(v.flags, [false; 4]);
        assert_eq!(v.scores, [0.0; 4]);
    }

    #[test]
    fn non_finite_embeddings_are_an_error() {
        let data = Dataset::new(vec![0., 1., f32::NAN, 1.], vec![2], vec![0, 0], 1, None).unwrap();
        let model = StubClassifier::uniform(1);
        let err = ActivationClustering::new(ActivationClusteringParams::default())
            .unwrap()
            .inspect(
                DefenseInput::new(&data, &model, None),
                &mut stream(0, 0, "d"),
            );
        assert_eq!(
            err,
            Err(ActivationClusteringError::NonFiniteEmbedding { index: 1 })
        );
    }

    /// A retrain closure whose model predicts `class` for every sample it is
    /// asked about, counting how often it is called.
    fn predicting(
        class: usize,
        calls: &std::cell::Cell<usize>,
        total: usize,
    ) -> impl Fn(&Dataset) -> Result<Box<dyn Classifier>, String> + '_ {
        move |kept: &Dataset| {
            calls.set(calls.get() + 1);
            let removed = total - kept.len();
            let mut proba = vec![0.0; removed * 2];
            for row in proba.chunks_exact_mut(2) {
                row[class] = 1.0;
            }
            Ok(Box::new(StubClassifier {
                n_classes: 2,
                proba: Some(Matrix::new(removed, 2, proba)),
            }) as Box<dyn Classifier>)
        }
    }

    fn run_er(
        data: &Dataset,
        retrain: &Retrain,
    ) -> Result<FilterVerdict, ActivationClusteringError> {
        let model = StubClassifier::uniform(2);
        ActivationClustering::new(with(Rule::ExclusionaryReclassification))
            .unwrap()
            .inspect(
                DefenseInput::new(data, &model, None).with_retrain(retrain),
                &mut stream(0, 0, "defense"),
            )
    }

    #[test]
    fn exclusionary_reclassification_flags_a_cluster_that_changes_label() {
        let (data, mask) = two_classes(0, 20, 8.0);
        // The retrained model calls everything class 0: class 0's smaller
        // cluster keeps its label (clean), class 1's does not (poison).
        let calls = std::cell::Cell::new(0);
        let retrain = predicting(0, &calls, data.len());
        let v = run_er(&data, &retrain).unwrap();
        assert_eq!(v.flags, mask);
        // One retraining per class with a strictly smaller cluster.
        let expected = splits(&data, 0).iter().filter(|s| s.has_smaller()).count();
        assert_eq!(calls.get(), expected);
        assert_eq!(expected, 2);
    }

    #[test]
    fn exclusionary_reclassification_keeps_a_cluster_that_keeps_its_label() {
        let (data, _) = two_classes(0, 20, 8.0);
        // Everything predicted as class 1: class 1's cluster keeps its label;
        // class 0's does not, so class 0's smaller cluster is flagged instead.
        let calls = std::cell::Cell::new(0);
        let retrain = predicting(1, &calls, data.len());
        let v = run_er(&data, &retrain).unwrap();
        let flags = &v.flags;
        assert!(!flags[200..].contains(&true));
        let class0 = &splits(&data, 0)[0];
        for i in class0.smaller_members() {
            assert!(flags[i]);
        }
    }

    #[test]
    fn exclusionary_reclassification_needs_retrain_and_reports_its_failure() {
        let (data, _) = two_classes(0, 20, 8.0);
        let model = StubClassifier::uniform(2);
        let err = ActivationClustering::new(with(Rule::ExclusionaryReclassification))
            .unwrap()
            .inspect(
                DefenseInput::new(&data, &model, None),
                &mut stream(0, 0, "d"),
            );
        assert_eq!(err, Err(ActivationClusteringError::NoRetrain));
        let failing =
            |_: &Dataset| -> Result<Box<dyn Classifier>, String> { Err("out of memory".into()) };
        assert_eq!(
            run_er(&data, &failing),
            Err(ActivationClusteringError::RetrainFailed {
                class: 0,
                message: "out of memory".into()
            })
        );
    }

    #[test]
    fn new_and_build_check_the_parameters() {
        let bad = ActivationClusteringParams {
            dims: 0,
            clusters: 1,
            ..Default::default()
        };
        let e = ActivationClustering::new(bad.clone()).unwrap_err();
        let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["dims", "clusters"]);
        let facts = poisonlab_core::DataFacts::default();
        let ctx = BuildContext::new(std::path::Path::new("."), &facts);
        assert_eq!(ActivationClustering::build(bad, &ctx).unwrap_err(), e);
        let built =
            ActivationClustering::build(ActivationClusteringParams::default(), &ctx).unwrap();
        assert_eq!(Kind::params(&built), &ActivationClusteringParams::default());
        assert_eq!(
            built.describe(),
            "activation-clustering (whitened, PCA to 10 dimensions), k-means with 2 to 4 clusters, poison below 0.35 explained by 10-NN"
        );
        let paper = ActivationClustering::new(ActivationClusteringParams {
            reduce: Reduce::Ica,
            ..with(Rule::ExclusionaryReclassification)
        })
        .unwrap();
        assert_eq!(
            paper.describe(),
            "activation-clustering (ICA to 10 dimensions), 2-means, exclusionary reclassification below 0.5"
        );
    }
}
