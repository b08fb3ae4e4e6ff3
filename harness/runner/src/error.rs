use std::path::PathBuf;

use thiserror::Error;

/// Errors while running a scenario.
#[derive(Debug, Error)]
pub enum RunError {
    /// The data could not be prepared.
    #[error("data: {0}")]
    Data(#[from] poisonlab_data::DataError),
    /// The attack failed.
    #[error("attack {kind}: {message}")]
    Attack {
        /// Attack kind.
        kind: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A model could not be trained.
    #[error("training the {what} model: {source}")]
    Train {
        /// Which model (clean, poisoned, ...).
        what: String,
        /// The cause.
        source: poisonlab_model::ModelError,
    },
    /// Reading or writing results failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another writer holds the results folder's lock.
    #[error("{0}")]
    Locked(crate::LockError),
    /// The results folder holds another scenario's results.
    #[error(
        "{} holds results of a different scenario (its scenario.toml and fingerprint differ); rerun with --fresh to replace them or choose another --out",
        .0.display()
    )]
    OtherScenario(PathBuf),
    /// The results folder holds another shard of the sweep.
    #[error(
        "{} holds shard {was} of this sweep; give each shard its own --out (or --fresh to replace it)",
        dir.display()
    )]
    OtherShard {
        /// The results folder.
        dir: PathBuf,
        /// The shard it holds.
        was: crate::Shard,
    },
    /// The scenario pins a kernel set this machine does not compute with.
    #[error(
        "the scenario pins [scenario] kernels = {pinned:?}, but this machine computes with {here:?}; run it where the kernel sets match (for Slurm: sbatch --constraint), or change the pin"
    )]
    Kernels {
        /// The pinned set.
        pinned: String,
        /// This machine's.
        here: String,
    },
    /// The scenario does not fit the data it loaded (checks that need the data).
    #[error("{0}")]
    Invalid(poisonlab_scenario::Problems),
    /// Reading or writing the results folder failed.
    #[error(transparent)]
    Results(#[from] poisonlab_results::ResultsError),
    /// The training set could not be signed (a duplicate id).
    #[error("signing the training set: {0}")]
    Integrity(String),
    /// A generator recipe could not be used: unreadable, a bad signature,
    /// another generator version, or data that differs from what it makes.
    #[error("{0}")]
    Recipe(String),
    /// A federation could not go on (its clean or undefended play failed).
    #[error("federated training: {0}")]
    Federation(String),
    /// A transfer run could not be set up.
    #[error("transfer: {0}")]
    Transfer(String),
    /// `poisonlab bench` could not measure.
    #[error("bench: {0}")]
    Bench(String),
    /// A worker thread panicked (a bug).
    #[error("a worker thread panicked: {0}")]
    Panic(String),
}

impl RunError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RunError {
        let path = path.into();
        move |source| RunError::Io { path, source }
    }
}
