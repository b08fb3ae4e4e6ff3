//! Error types. Each names the file it concerns and what is wrong with it.

use std::path::PathBuf;

use thiserror::Error;

/// Errors from signing, reading or writing a [`crate::Manifest`].
#[derive(Debug, Error)]
pub enum ManifestError {
    /// Two samples of the dataset share an id, so records cannot be told apart.
    #[error("cannot sign a manifest: id {id} is used by more than one sample (ids must be unique)")]
    DuplicateId {
        /// The repeated id.
        id: u64,
    },
    /// The manifest file could not be read or written.
    #[error("manifest {}: {source}", path.display())]
    Io {
        /// The manifest file.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// The manifest file is not a manifest (bad JSON, a missing or unknown key).
    #[error("manifest {}: not a valid manifest: {source}", path.display())]
    Parse {
        /// The manifest file.
        path: PathBuf,
        /// What the JSON parser reported (with line and column).
        source: serde_json::Error,
    },
    /// The manifest's `format` is not one this version reads.
    #[error("manifest {}: format is {found:?}, expected {expected:?}", path.display())]
    Format {
        /// The manifest file.
        path: PathBuf,
        /// The `format` the file holds.
        found: String,
        /// The format this version reads, [`crate::MANIFEST_FORMAT`].
        expected: &'static str,
    },
    /// The manifest could not be turned into JSON (not expected to happen).
    #[error("cannot encode the manifest as JSON: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Errors from reading or writing a [`crate::Recipe`].
#[derive(Debug, Error)]
pub enum RecipeError {
    /// The recipe file could not be read or written.
    #[error("recipe {}: {source}", path.display())]
    Io {
        /// The recipe file.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// The recipe file is not a recipe (bad JSON, a missing or unknown key).
    #[error("recipe {}: not a valid recipe: {source}", path.display())]
    Parse {
        /// The recipe file.
        path: PathBuf,
        /// What the JSON parser reported (with line and column).
        source: serde_json::Error,
    },
    /// The recipe's `format` is not one this version reads.
    #[error("recipe {}: format is {found:?}, expected {expected:?}", path.display())]
    Format {
        /// The recipe file.
        path: PathBuf,
        /// The `format` the file holds.
        found: String,
        /// The format this version reads, [`crate::RECIPE_FORMAT`].
        expected: &'static str,
    },
    /// The recipe could not be turned into JSON (not expected to happen).
    #[error("cannot encode the recipe as JSON: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Errors from making, reading or writing ed25519 key files.
#[derive(Debug, Error)]
pub enum KeyError {
    /// The operating system could not provide random bytes for a new key.
    #[error("cannot generate a key: no OS randomness: {0}")]
    Random(String),
    /// The key file could not be read or written (missing, no permission, ...).
    #[error("key file {}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// The key file holds something other than hex digits.
    #[error("key file {}: not hex: expected 64 hex digits (a 32-byte key) and a newline", path.display())]
    NotHex {
        /// The key file.
        path: PathBuf,
    },
    /// The key file holds hex of the wrong length.
    #[error("key file {}: wrong length: expected 64 hex digits (a 32-byte key), found {found}", path.display())]
    WrongLength {
        /// The key file.
        path: PathBuf,
        /// Hex digits found.
        found: usize,
    },
    /// The public key file holds 32 bytes that are not an ed25519 public key.
    #[error("key file {}: not a valid ed25519 public key", path.display())]
    BadPublicKey {
        /// The key file.
        path: PathBuf,
    },
}

/// Errors from [`crate::AuditLog::open`].
#[derive(Debug, Error)]
pub enum AuditError {
    /// The log or its head file could not be created.
    #[error("audit log {}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// The existing log fails verification; appending to it would hide that.
    #[error("audit log is broken, not appending: {0}")]
    Broken(#[from] LogError),
}

/// Why [`crate::verify_log`] rejected a log: the file, the first bad line and why.
///
/// `line` is 1-based. It is 0 only for faults of the file as a whole (it cannot
/// be opened, its head file is missing or unreadable).
#[derive(Debug, Error)]
#[error("audit log {}: line {line}: {reason}", path.display())]
pub struct LogError {
    /// The log file.
    pub path: PathBuf,
    /// The first bad line, 1-based (0: the file as a whole).
    pub line: usize,
    /// What is wrong with it.
    pub reason: LogFault,
}

/// What is wrong with the line a [`LogError`] names.
#[derive(Debug, Error)]
pub enum LogFault {
    /// The log could not be read.
    #[error("cannot read: {0}")]
    Read(std::io::Error),
    /// The line is not a log entry: not JSON, not UTF-8, or a key missing,
    /// unknown or of the wrong type.
    #[error("not a log entry: {0}")]
    NotAnEntry(String),
    /// The line's `seq` is not its position: a line before it was deleted,
    /// inserted or moved, or this one was edited.
    #[error("seq is {found}, expected {expected} (a line was deleted, inserted or moved here)")]
    Seq {
        /// `seq` a line at this position must hold (line number − 1).
        expected: u64,
        /// `seq` it holds.
        found: u64,
    },
    /// The line's `prev` is not the SHA-256 of the line before it: that line
    /// was edited, or this one was edited, inserted or moved.
    #[error(
        "prev does not match the hash of {}",
        if *.previous == 0 { "nothing (the first line's prev is 64 zeros)".to_string() } else { format!("line {}", previous) }
    )]
    Prev {
        /// The line whose hash `prev` should hold (0 for the first line).
        previous: usize,
    },
    /// The last line has no newline: an interrupted write or an edit.
    #[error("the line has no newline at its end (an interrupted write or an edit)")]
    NoNewline,
    /// The head file (`<log>.head`) is missing or not a head record.
    #[error("head file {}: {problem}", path.display())]
    BadHead {
        /// The head file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The log has fewer lines than its head file records: lines were deleted
    /// from the end.
    #[error(
        "missing: the head file records {recorded} lines but the log has {found} (lines were deleted from the end)"
    )]
    Truncated {
        /// Lines the head file records.
        recorded: usize,
        /// Lines the log holds.
        found: usize,
    },
    /// The log has more lines than its head file records: a line was appended
    /// by something other than [`crate::AuditLog`], or a crash came between
    /// writing the line and updating the head.
    #[error(
        "not recorded in the head file, which records {recorded} lines (appended outside AuditLog, or interrupted)"
    )]
    Unrecorded {
        /// Lines the head file records.
        recorded: usize,
    },
    /// The last line's hash differs from the one its head file records: the
    /// last line was edited.
    #[error("its hash differs from the one the head file records (the last line was edited)")]
    LastLine,
    /// A `checkpoint` line's details are not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Checkpoint(String),
    /// A checkpoint's `hash` is not the hash of the line before it.
    #[error("checkpoint hash does not match the hash of the line before it")]
    CheckpointHash,
    /// A checkpoint was signed with another key than the one given.
    #[error("checkpoint was signed by another key ({found})")]
    CheckpointKey {
        /// The public key (hex) the checkpoint names.
        found: String,
    },
    /// A checkpoint's signature does not verify with the key given.
    #[error("checkpoint signature does not verify")]
    CheckpointSignature,
}
