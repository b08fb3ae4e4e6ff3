//! poisonlab-data: where poisonlab's datasets come from.
//!
//! Every source here is generated, not downloaded: a dataset is a pure
//! function of its parameters and the [`poisonlab_core::Rng`] passed in, so a
//! scenario's seed pins its whole lineage, down to every pixel, with no files
//! to fetch, cache or verify.
//!
//! - [`SyntheticDigitsParams`] (`synthetic-digits`): MNIST-like 28 × 28 digit
//!   images drawn from built-in pen strokes of the digits 0–9, varied like
//!   handwriting (variant, rotation, scale, slant, shift, stroke width,
//!   jitter, stray marks, pixel noise).
//! - [`BlobsParams`] (`blobs`): isotropic Gaussian clusters, one per class.
//! - [`stratified_holdout`] and [`limit`]: carve a dataset up, ids intact.
//!
//! Generators return a [`Splits`] pair: train ids count from 0 and test ids
//! from [`TEST_ID_OFFSET`], so no two samples of one call share an id.
//! Random draws go through this crate's own few routines over the ChaCha8
//! stream (`next_u64` only), so the data a seed gives does not change with
//! the `rand` crate's sampling algorithms.

mod blobs;
mod digits;
mod error;
mod sampling;
mod split;

pub use blobs::BlobsParams;
pub use digits::SyntheticDigitsParams;
pub use error::DataError;
pub use split::{Splits, TEST_ID_OFFSET, limit, stratified_holdout};
