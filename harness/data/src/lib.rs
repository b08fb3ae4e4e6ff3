//! poisonlab-data: where poisonlab's datasets come from.
//!
//! Two kinds of source, both returning a [`Splits`] pair (train ids count
//! from 0, test ids from [`TEST_ID_OFFSET`], so no two samples of one load
//! share an id):
//!
//! **Generated.** A dataset is a pure function of its parameters and the
//! [`poisonlab_core::Rng`] passed in, so a scenario's seed pins its whole
//! lineage, down to every pixel, with no files to fetch, cache or verify.
//! - [`SyntheticDigitsParams`] (`synthetic-digits`): MNIST-like 28 × 28 digit
//!   images drawn from built-in pen strokes of the digits 0–9, varied like
//!   handwriting (variant, rotation, scale, slant, shift, stroke width,
//!   jitter, stray marks, pixel noise).
//! - [`BlobsParams`] (`blobs`): isotropic Gaussian clusters, one per class.
//!
//! [`Generator`] is the two as a supply chain: a generator's output as the
//! files hold it (IDX for digits, CSV for blobs), written and read back bit
//! for bit, with a version that changes whenever a seed's data would.
//!
//! Random draws go through this crate's own few routines over the ChaCha8
//! stream (`next_u64` only), so the data a seed gives does not change with
//! the `rand` crate's sampling algorithms.
//!
//! **Files.** Real datasets read from disk, every fault in a file reported as
//! a [`DataError`] naming the file (never a panic):
//! - [`load_idx`] (`idx`): MNIST, Fashion-MNIST, KMNIST, EMNIST as IDX files,
//!   raw or gzip (told apart by content); images `[1, rows, cols]` in `[0, 1]`.
//! - [`load_cifar10`] (`cifar10`): CIFAR-10's binary batches, `[3, 32, 32]`.
//! - [`load_csv`] (`csv`): tabular CSV with a header row and a label column.
//! - [`fetch()`]: downloads a known dataset ([`catalogue`]) with pinned
//!   SHA-256 sums, resuming partial downloads.
//! - [`inspect()`]: format, shape, class counts, value range and SHA-256 of
//!   a file; [`write_idx_images`], [`write_idx_labels`] and [`write_csv`] go
//!   the other way.
//!
//! **Tools.** [`stratified_holdout`] and [`limit`] carve a dataset up, ids
//! intact; [`standardize`] scales features with training statistics;
//! [`contact_sheet`] draws samples into a PNG.

mod blobs;
mod cifar;
mod csv_source;
mod digits;
mod error;
mod fetch;
mod generator;
mod idx;
mod inspect;
mod normalize;
mod png;
mod sampling;
mod split;
mod stream;
#[cfg(test)]
mod test_util;

pub use blobs::BlobsParams;
pub use cifar::{
    CIFAR_BIN_DIR, CIFAR_CLASSES, CIFAR_RECORD, CIFAR_SHAPE, CIFAR_TEST_FILE, CIFAR_TRAIN_FILES,
    load_cifar10,
};
pub use csv_source::{CsvData, CsvPaths, DEFAULT_LABEL_COLUMN, load_csv, write_csv};
pub use digits::SyntheticDigitsParams;
pub use error::DataError;
pub use fetch::{Catalogue, RemoteFile, catalogue, catalogues, fetch, sha256_hex};
pub use generator::{BLOBS_FILES, DIGITS_FILES, GENERATOR_STREAM, Generator};
pub use idx::{
    IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxPaths, load_idx, load_idx_first, read_idx_images,
    read_idx_images_first, read_idx_labels, write_idx_images, write_idx_labels,
};
pub use inspect::{Inspection, inspect};
pub use normalize::standardize;
pub use png::{SHEET_BORDER, SHEET_GAP, contact_sheet};
pub use split::{Splits, TEST_ID_OFFSET, limit, stratified_holdout};
