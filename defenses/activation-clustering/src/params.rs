use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// How the per-class embeddings are reduced before clustering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reduce {
    /// Principal component analysis: centre the class, project on the top
    /// `dims` eigenvectors of its covariance.
    #[default]
    Pca,
    /// Independent component analysis (FastICA on the whitened class, the
    /// paper's choice); components ordered by how non-Gaussian they are.
    Ica,
}

/// How a class's 2-means split is judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The smaller cluster is poison when its share of the class is below
    /// `size-threshold` (the paper's relative-size rule). Misses poison that
    /// makes up close to half of its target class.
    RelativeSize,
    /// The smaller cluster is poison when the mean silhouette of the split is
    /// above `silhouette-threshold`: the class is two separated groups, whatever
    /// their sizes.
    Silhouette,
    /// The paper's exclusionary reclassification: retrain without the smaller
    /// cluster and predict it; the cluster is poison when less than
    /// `er-threshold` of it is predicted as its own training label. Needs the
    /// runner's `retrain` and costs one retraining per class that has a
    /// strictly smaller cluster.
    ExclusionaryReclassification,
    /// Neighbour reclassification (default): the smaller cluster is poison
    /// when its samples' `k` nearest neighbours outside it, in input space,
    /// call less than `explained-threshold` of it by its own label or by its
    /// single most common other label: it is assembled from many classes.
    /// Needs no retraining. See the crate documentation for why.
    #[default]
    Reclassification,
    /// Silhouette or relative size: the smaller cluster is poison when
    /// the silhouette is above `silhouette-threshold`, or when its share is
    /// below `size-threshold` and the silhouette is above half of
    /// `silhouette-threshold`. See the crate documentation for why.
    Combined,
}

/// The `[[defense]]` table for `kind = "activation-clustering"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ActivationClusteringParams {
    /// Dimensions the embeddings of each class are reduced to, at least 1
    /// (capped at the embedding width). Default 10 (the paper's).
    pub dims: usize,
    /// `pca` (default) or `ica`; see [`Reduce`].
    pub reduce: Reduce,
    /// Whiten each class against the other classes before reducing it
    /// (default true; see `poisonlab_core::whiten`); false is the paper's
    /// plain activations.
    pub whiten: bool,
    /// Relative diagonal load of the whitening covariance, ≥ 0. Default 0.01.
    pub ridge: f64,
    /// `reclassification` (default), `relative-size`, `silhouette`,
    /// `exclusionary-reclassification` or `combined`; see [`Rule`].
    pub rule: Rule,
    /// Largest share of its class, exclusive, at which the smaller cluster
    /// counts as suspiciously small, in (0, 0.5]. Default 0.35 (the paper's).
    pub size_threshold: f64,
    /// Mean silhouette of the 2-means split above which a class counts as two
    /// separated groups, in [0, 1). Default 0.35: on synthetic embeddings a
    /// clean class split in two scores 0.07 to 0.34 (higher the fewer
    /// directions carry its variance), a class with a cluster 8 sd away 0.42 to
    /// 0.47 whatever the cluster's share (table in the crate documentation).
    pub silhouette_threshold: f64,
    /// Share of the removed cluster that the retrained model must predict as
    /// its own label for the cluster to count as clean, in (0, 1]. Default 0.5
    /// (the paper's: clean when most of it keeps its label).
    pub er_threshold: f64,
    /// Reclassification rule: the most clusters per class; k-means runs for
    /// every k from 2 to this, at least 2. Default 4: digit classes are
    /// written several ways, and two clusters often split the ways of
    /// writing instead of poison from clean.
    pub clusters: usize,
    /// Reclassification rule: neighbours that vote, at least 1. Default 10.
    pub k: usize,
    /// Reclassification rule: the smaller cluster is poison when less than
    /// this share of it is called its own label or its most common other
    /// label, in (0, 1]. Default 0.35.
    pub explained_threshold: f64,
    /// Reclassification rule, single-source evidence: a cluster is also
    /// poison when the share of it called its own label is below this times
    /// the share of the rest of its class called so, judged across classes
    /// most suspicious first with accepted clusters left out of the
    /// neighbours ([`poisonlab_core::reclassify::resolve_single_source`]);
    /// in [0, 1], 0 turns it off. Default 0.1.
    pub single_source_threshold: f64,
    /// Reclassification rule: most samples outside the cluster that serve as
    /// neighbours (every n-th beyond this), at least 1. Default 5000.
    pub max_reference: usize,
    /// k-means runs from independent k-means++ starts per class; the one with
    /// the lowest inertia is kept. At least 1. Default 5.
    pub restarts: usize,
}

impl Default for ActivationClusteringParams {
    fn default() -> Self {
        Self {
            dims: 10,
            reduce: Reduce::Pca,
            whiten: true,
            ridge: 0.01,
            rule: Rule::Reclassification,
            size_threshold: 0.35,
            silhouette_threshold: 0.35,
            er_threshold: 0.5,
            clusters: 4,
            k: 10,
            explained_threshold: 0.35,
            single_source_threshold: 0.1,
            max_reference: 5000,
            restarts: 5,
        }
    }
}

impl ActivationClusteringParams {
    /// Check every value; returns every problem found.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        checks
            .at_least("dims", self.dims, 1)
            .non_negative("ridge", self.ridge)
            .in_range_left_open("size-threshold", self.size_threshold, 0.0, 0.5);
        if !(0.0..1.0).contains(&self.silhouette_threshold) {
            checks.push(ParamError::new(
                "silhouette-threshold",
                format!("must be in [0, 1), got {}", self.silhouette_threshold),
            ));
        }
        checks
            .in_range_left_open("er-threshold", self.er_threshold, 0.0, 1.0)
            .at_least("clusters", self.clusters, 2)
            .at_least("k", self.k, 1)
            .in_range_left_open("explained-threshold", self.explained_threshold, 0.0, 1.0)
            .in_unit_interval("single-source-threshold", self.single_source_threshold)
            .at_least("max-reference", self.max_reference, 1)
            .at_least("restarts", self.restarts, 1)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected_key(p: ActivationClusteringParams) -> Vec<String> {
        p.check().unwrap_err().into_iter().map(|e| e.key).collect()
    }

    #[test]
    fn defaults_pass() {
        assert!(ActivationClusteringParams::default().check().is_ok());
    }

    #[test]
    fn dims_must_be_positive() {
        let p = ActivationClusteringParams {
            dims: 0,
            ..Default::default()
        };
        assert_eq!(rejected_key(p), ["dims"]);
    }

    #[test]
    fn ridge_must_be_non_negative() {
        for bad in [-0.1, f64::NAN, f64::INFINITY] {
            let p = ActivationClusteringParams {
                ridge: bad,
                ..Default::default()
            };
            assert_eq!(rejected_key(p), ["ridge"], "{bad}");
        }
    }

    #[test]
    fn size_threshold_must_be_at_most_half() {
        for bad in [0.0, -0.1, 0.51, f64::NAN] {
            let p = ActivationClusteringParams {
                size_threshold: bad,
                ..Default::default()
            };
            assert_eq!(rejected_key(p), ["size-threshold"], "{bad}");
        }
        let p = ActivationClusteringParams {
            size_threshold: 0.5,
            ..Default::default()
        };
        assert!(p.check().is_ok());
    }

    #[test]
    fn silhouette_threshold_must_be_in_unit_interval() {
        for bad in [-0.01, 1.0, f64::NAN] {
            let p = ActivationClusteringParams {
                silhouette_threshold: bad,
                ..Default::default()
            };
            assert_eq!(rejected_key(p), ["silhouette-threshold"], "{bad}");
        }
    }

    #[test]
    fn er_threshold_must_be_a_proper_share() {
        for bad in [0.0, 1.01, f64::NAN] {
            let p = ActivationClusteringParams {
                er_threshold: bad,
                ..Default::default()
            };
            assert_eq!(rejected_key(p), ["er-threshold"], "{bad}");
        }
    }

    #[test]
    fn clusters_must_be_at_least_two() {
        let p = ActivationClusteringParams {
            clusters: 1,
            ..Default::default()
        };
        assert_eq!(rejected_key(p), ["clusters"]);
    }

    #[test]
    fn k_must_be_positive() {
        let p = ActivationClusteringParams {
            k: 0,
            ..Default::default()
        };
        assert_eq!(rejected_key(p), ["k"]);
    }

    #[test]
    fn explained_threshold_must_be_a_proper_share() {
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            let p = ActivationClusteringParams {
                explained_threshold: bad,
                ..Default::default()
            };
            assert_eq!(rejected_key(p), ["explained-threshold"], "{bad}");
        }
    }

    #[test]
    fn single_source_threshold_must_be_a_share() {
        for bad in [-0.1, 1.5, f64::NAN] {
            let p = ActivationClusteringParams {
                single_source_threshold: bad,
                ..Default::default()
            };
            assert_eq!(rejected_key(p), ["single-source-threshold"], "{bad}");
        }
    }

    #[test]
    fn max_reference_must_be_positive() {
        let p = ActivationClusteringParams {
            max_reference: 0,
            ..Default::default()
        };
        assert_eq!(rejected_key(p), ["max-reference"]);
    }

    #[test]
    fn restarts_must_be_positive() {
        let p = ActivationClusteringParams {
            restarts: 0,
            ..Default::default()
        };
        assert_eq!(rejected_key(p), ["restarts"]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = ActivationClusteringParams {
            dims: 0,
            restarts: 0,
            er_threshold: 2.0,
            ..Default::default()
        };
        assert_eq!(rejected_key(p), ["dims", "er-threshold", "restarts"]);
    }

    #[test]
    fn toml_keys_are_kebab_case_and_unknown_keys_are_rejected() {
        let p: ActivationClusteringParams = toml::from_str(
            "dims = 4\nrule = \"exclusionary-reclassification\"\nsize-threshold = 0.3\n\
             silhouette-threshold = 0.2\ner-threshold = 0.6\nrestarts = 2\nreduce = \"ica\"\nwhiten = false",
        )
        .unwrap();
        assert_eq!(p.dims, 4);
        assert_eq!(p.rule, Rule::ExclusionaryReclassification);
        assert_eq!(p.size_threshold, 0.3);
        assert_eq!(p.reduce, Reduce::Ica);
        assert!(!p.whiten);
        let empty: ActivationClusteringParams = toml::from_str("").unwrap();
        assert_eq!(empty, ActivationClusteringParams::default());
        assert!(toml::from_str::<ActivationClusteringParams>("size_threshold = 0.3").is_err());
        assert!(toml::from_str::<ActivationClusteringParams>("rule = \"size\"").is_err());
    }
}
