use std::path::PathBuf;

use thiserror::Error;

/// Errors from splitting a dataset, reading or writing dataset files, and
/// downloading them.
///
/// Every variant about a file names the file (its path as given) and the
/// fault, so the message alone tells a user what to fix. Causes from the
/// operating system or a library are kept as text (`cause`), which keeps the
/// type `Clone` and comparable in tests.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum DataError {
    /// A holdout must leave at least one sample behind.
    #[error(
        "holdout size must be less than the sample count {len} so some samples remain, got {n}"
    )]
    HoldoutTooLarge {
        /// Samples asked for.
        n: usize,
        /// Samples in the dataset.
        len: usize,
    },

    // ----- any file -----
    /// A file that should be there is not.
    #[error("{}: no such file", path.display())]
    Missing {
        /// The file looked for.
        path: PathBuf,
    },
    /// Reading, writing or renaming a file failed at the operating-system level.
    #[error("{}: {action} failed: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done ("reading", "writing", "creating", ...).
        action: &'static str,
        /// The operating system's message.
        cause: String,
    },
    /// A gzip file whose compressed stream is cut short or damaged.
    #[error(
        "{}: the gzip stream is truncated or corrupt ({cause}); download the file again",
        path.display()
    )]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        cause: String,
    },
    /// The values read from a file do not form a consistent dataset.
    #[error("{}: the data does not form a dataset: {cause}", path.display())]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What did not fit.
        cause: String,
    },

    // ----- IDX -----
    /// An IDX file does not start with the magic number of its kind.
    #[error(
        "{}: not an IDX {kind} file: magic number is 0x{found:08x}, expected 0x{expected:08x} (00 00 08 = unsigned bytes, then the dimension count)",
        path.display()
    )]
    IdxMagic {
        /// The file.
        path: PathBuf,
        /// "images" or "labels".
        kind: &'static str,
        /// The magic number this kind needs.
        expected: u32,
        /// The first four bytes of the (decompressed) file, big-endian.
        found: u32,
    },
    /// A file too short to hold an IDX header (magic number and sizes).
    #[error(
        "{}: only {len} bytes, too short for the IDX {kind} header ({needed} bytes); truncated or empty file",
        path.display()
    )]
    IdxShortHeader {
        /// The file.
        path: PathBuf,
        /// "images" or "labels".
        kind: &'static str,
        /// Bytes in the (decompressed) file.
        len: u64,
        /// Bytes the header takes.
        needed: u64,
    },
    /// An IDX file of unsigned bytes with the wrong number of dimensions.
    #[error(
        "{}: IDX {kind} file has {found} dimensions, expected {expected}",
        path.display()
    )]
    IdxDims {
        /// The file.
        path: PathBuf,
        /// "images" or "labels".
        kind: &'static str,
        /// Dimensions this kind needs (3 for images, 1 for labels).
        expected: u8,
        /// Dimensions the header declares.
        found: u8,
    },
    /// The data after an IDX header is shorter or longer than the header says.
    #[error(
        "{}: the header declares dimensions {dims:?} = {expected} data bytes, but the file holds {} (truncated file, or trailing bytes)",
        path.display(),
        if *truncated { format!("only {found}") } else { format!("more ({found} or more)") }
    )]
    IdxLength {
        /// The file.
        path: PathBuf,
        /// The dimensions from the header.
        dims: Vec<u32>,
        /// Data bytes the header promises.
        expected: u64,
        /// Data bytes found (when `truncated`), or a lower bound on them.
        found: u64,
        /// True when the data ends early, false when bytes follow it.
        truncated: bool,
    },
    /// The image file and the label file of a split disagree on the sample count.
    #[error(
        "{} holds {n_images} images but {} holds {n_labels} labels",
        images.display(),
        labels.display()
    )]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Images declared.
        n_images: usize,
        /// Labels declared.
        n_labels: usize,
    },
    /// Data that cannot be written as an IDX file.
    #[error("{}: cannot write as IDX: {reason}", path.display())]
    IdxWrite {
        /// The file to be written.
        path: PathBuf,
        /// Why not.
        reason: String,
    },

    // ----- CIFAR-10 -----
    /// A CIFAR-10 batch whose length is not a whole number of records.
    #[error(
        "{}: {len} bytes is not a whole number of CIFAR-10 records of 3073 bytes (1 label + 3072 pixels)",
        path.display()
    )]
    CifarLength {
        /// The file.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
    },
    /// A CIFAR-10 record whose label byte is not a class 0–9.
    #[error(
        "{}: record {record} has label {label}, expected a CIFAR-10 class 0-9",
        path.display()
    )]
    CifarLabel {
        /// The file.
        path: PathBuf,
        /// Record index in the file, from 0.
        record: usize,
        /// The label byte.
        label: u8,
    },

    // ----- CSV -----
    /// A CSV file with no header row or no data rows.
    #[error("{}: {what}; a CSV source needs a header row and at least one data row", path.display())]
    CsvEmpty {
        /// The file.
        path: PathBuf,
        /// "the file is empty" or "no data rows after the header".
        what: &'static str,
    },
    /// The label column is not in the header.
    #[error(
        "{}: no label column {column:?}; the header has columns {found:?} (set label-column)",
        path.display()
    )]
    CsvNoLabelColumn {
        /// The file.
        path: PathBuf,
        /// The label column asked for.
        column: String,
        /// The columns the header names.
        found: Vec<String>,
    },
    /// A CSV file with a label column but no feature column.
    #[error("{}: no feature columns besides the label column {column:?}", path.display())]
    CsvNoFeatures {
        /// The file.
        path: PathBuf,
        /// The label column.
        column: String,
    },
    /// A row with more or fewer cells than the header.
    #[error(
        "{}: row {row} has {found} cells, but the header has {expected} columns",
        path.display()
    )]
    CsvRagged {
        /// The file.
        path: PathBuf,
        /// Row number, counting the header as row 1.
        row: u64,
        /// Columns in the header.
        expected: usize,
        /// Cells in this row.
        found: usize,
    },
    /// A feature cell that is not a finite number.
    #[error(
        "{}: row {row}, column {column:?}: {value:?} is not a finite number (every column but the label must be numeric)",
        path.display()
    )]
    CsvCell {
        /// The file.
        path: PathBuf,
        /// Row number, counting the header as row 1.
        row: u64,
        /// The column's name.
        column: String,
        /// The cell as written.
        value: String,
    },
    /// Integer labels that are not exactly the classes `0..k-1`.
    #[error(
        "{}: labels must be integers 0..k-1 or strings: {problem}",
        path.display()
    )]
    CsvLabels {
        /// The file the offending label was found in (or the train file).
        path: PathBuf,
        /// What is wrong (a negative label with its row, or the missing classes).
        problem: String,
    },
    /// The labels of train and test together name fewer than two classes.
    #[error(
        "{}: the label column holds a single class {name:?} in train and test; a classifier needs at least 2",
        path.display()
    )]
    CsvOneClass {
        /// The train file.
        path: PathBuf,
        /// The only label.
        name: String,
    },
    /// The test file's header differs from the train file's.
    #[error(
        "{}: columns {found:?} differ from the train file's {expected:?}; both files need the same columns in the same order",
        path.display()
    )]
    CsvColumns {
        /// The test file.
        path: PathBuf,
        /// The train file's columns.
        expected: Vec<String>,
        /// The test file's columns.
        found: Vec<String>,
    },
    /// The CSV reader failed (bad UTF-8, bad quoting).
    #[error("{}: row {row}: {cause}", path.display())]
    CsvParse {
        /// The file.
        path: PathBuf,
        /// Row number, counting the header as row 1 (0 when unknown).
        row: u64,
        /// The reader's message.
        cause: String,
    },

    // ----- inspect, PNG -----
    /// A file whose content matches no known dataset format.
    #[error(
        "{}: unknown format ({reason}); known: IDX images/labels (raw or gzip), CIFAR-10 .bin batches, CSV",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What the content looked like.
        reason: String,
    },
    /// Samples that cannot be drawn on a contact sheet.
    #[error("{}: cannot draw the contact sheet: {reason}", path.display())]
    ContactSheet {
        /// The PNG to be written.
        path: PathBuf,
        /// Why not.
        reason: String,
    },

    // ----- fetch -----
    /// A download failed (connection, TLS, protocol, or a cut-off body).
    #[error("downloading {url}: {cause}")]
    Download {
        /// The URL.
        url: String,
        /// The client's message.
        cause: String,
    },
    /// The server answered with an HTTP error status.
    #[error("downloading {url}: the server answered HTTP {status}")]
    HttpStatus {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// A downloaded file's SHA-256 differs from the pinned one.
    #[error(
        "{}: SHA-256 mismatch: expected {expected}, got {actual}; the partial file was deleted",
        path.display()
    )]
    Checksum {
        /// The file (its final name).
        path: PathBuf,
        /// The pinned sum.
        expected: String,
        /// The sum of the bytes received.
        actual: String,
    },
    /// A downloaded file's size differs from the pinned one.
    #[error(
        "{}: size mismatch: expected {expected} bytes, got {actual}; the partial file was deleted",
        path.display()
    )]
    Size {
        /// The file (its final name).
        path: PathBuf,
        /// The pinned size.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// A downloaded archive could not be unpacked.
    #[error("{}: extracting the archive failed: {cause}", path.display())]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        cause: String,
    },
}

impl DataError {
    /// A [`DataError::Io`] for `path`, or [`DataError::Missing`] when opening
    /// failed because the file does not exist.
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, e: &std::io::Error) -> Self {
        let path = path.into();
        if e.kind() == std::io::ErrorKind::NotFound && action == "opening" {
            Self::Missing { path }
        } else {
            Self::Io {
                path,
                action,
                cause: e.to_string(),
            }
        }
    }
}
