use std::path::PathBuf;

use thiserror::Error;

/// Errors while reading or writing a results folder.
#[derive(Debug, Error)]
pub enum ResultsError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The folder's scenario.toml does not read back as a scenario.
    #[error("{0}")]
    Invalid(poisonlab_scenario::Problems),
}

impl ResultsError {
    /// A closure turning an I/O error on `path` into this error.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ResultsError {
        let path = path.into();
        move |source| ResultsError::Io { path, source }
    }
}
