//! Helpers shared by this crate's unit tests.

use std::fs;
use std::io::Write;
use std::path::Path;

use poisonlab_core::Dataset;

/// A fresh temporary folder, removed when dropped.
pub(crate) fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary folder")
}

/// Gzip the file at `from` into `to` (which may be the same path).
pub(crate) fn gzip(from: &Path, to: &Path) {
    let raw = fs::read(from).expect("read");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&raw).expect("compress");
    fs::write(to, enc.finish().expect("compress")).expect("write");
}

/// `n` one-channel `rows × cols` images with pixel values on the byte grid
/// (`k / 255`) varying by sample and `seed`, labels `i % classes`.
pub(crate) fn images(n: usize, rows: usize, cols: usize, classes: usize, seed: u64) -> Dataset {
    let dim = rows * cols;
    let features = (0..n * dim)
        .map(|i| ((i as u64 * 37 + seed * 101) % 256) as f32 / 255.0)
        .collect();
    let labels = (0..n).map(|i| i % classes).collect();
    Dataset::new(features, vec![1, rows, cols], labels, classes, None).expect("consistent")
}
