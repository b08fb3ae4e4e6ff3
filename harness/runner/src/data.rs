//! The scenario's data, loaded once and shared by every run.

use std::time::Instant;

use poisonlab_core::seed::stream;
use poisonlab_core::{DataFacts, Dataset};
use poisonlab_data::{limit, stratified_holdout};
use poisonlab_integrity::dataset_root;
use poisonlab_scenario::{DataSpec, Loaded, Normalize, Source};

use crate::RunError;

/// The scenario's data, loaded once and shared by every run.
#[derive(Debug, Clone)]
pub struct LoadedData {
    /// Training samples (trusted ones removed).
    pub train: Dataset,
    /// Test samples.
    pub test: Dataset,
    /// Clean held-out samples for defenses that need them.
    pub trusted: Option<Dataset>,
    /// Names of the classes when a CSV file labelled them with strings.
    pub class_names: Option<Vec<String>>,
    /// Merkle root (hex) of the training samples, as a manifest would carry.
    pub train_root: String,
    /// The generator recipe the data was loaded through and verified
    /// against (`[data] recipe`); `None` for every other source.
    pub recipe: Option<poisonlab_results::RecipeRecord>,
    /// Seconds it took.
    pub seconds: f64,
}

impl LoadedData {
    /// Generate or read the data (through its recipe, checked, for `[data]
    /// recipe`): stream `data` of (seed, 0) for generation,
    /// stream `trusted` for the held-out split; limits apply before the split.
    pub fn load(spec: &DataSpec, seed: u64) -> Result<Self, RunError> {
        let start = Instant::now();
        let mut rng = stream(seed, 0, "data");
        let mut class_names = None;
        let mut recipe = None;
        let splits = match &spec.source {
            Source::SyntheticDigits(p) => p.generate(&mut rng),
            Source::Blobs(p) => p.generate(&mut rng),
            Source::Idx(paths) => poisonlab_data::load_idx_first(
                paths,
                spec.common.limit_train,
                spec.common.limit_test,
            )?,
            Source::Cifar10(dir) => poisonlab_data::load_cifar10(dir)?,
            Source::Recipe(r) => {
                let (splits, record) =
                    crate::recipe::load_through_recipe(&r.recipe, r.public_key.as_deref())?;
                recipe = Some(record);
                splits
            }
            Source::Csv(paths) => {
                let csv = poisonlab_data::load_csv(paths)?;
                class_names = csv.class_names;
                csv.splits
            }
        };
        // Move, don't copy: a 60 000-image set is held once.
        let mut train = first(splits.train, spec.common.limit_train);
        let mut test = first(splits.test, spec.common.limit_test);
        if spec.common.normalize == Normalize::Standardize {
            poisonlab_data::standardize(&mut train, &mut [&mut test]);
        }
        let (train, trusted) = if spec.common.trusted > 0 {
            let (rest, held) =
                stratified_holdout(&train, spec.common.trusted, &mut stream(seed, 0, "trusted"))?;
            (rest, Some(held))
        } else {
            (train, None)
        };
        Ok(Self {
            train_root: dataset_root(&train),
            train,
            test,
            trusted,
            class_names,
            recipe,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// What loading found, for the resolved scenario's `[loaded]` table.
    pub fn loaded(&self) -> Loaded {
        Loaded {
            n_train: self.train.len(),
            n_test: self.test.len(),
            n_trusted: self.trusted.as_ref().map_or(0, Dataset::len),
            shape: self.train.shape().to_vec(),
            classes: self.train.n_classes(),
            class_names: self.class_names.clone(),
        }
    }

    /// What the data turned out to be, for checks that need it.
    pub fn facts(&self) -> DataFacts {
        DataFacts {
            n_classes: Some(self.train.n_classes()),
            shape: Some(self.train.shape().to_vec()),
        }
    }
}

/// The first `n` samples (all when `n` is `None` or beyond the data), moving the data.
fn first(data: Dataset, n: Option<usize>) -> Dataset {
    match n {
        Some(n) if n < data.len() => limit(&data, Some(n)),
        _ => data,
    }
}
