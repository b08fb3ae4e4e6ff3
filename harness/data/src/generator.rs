//! The generators as a supply chain: a generated dataset written to files
//! that anyone holding its recipe (generator, version, parameters, seed) can
//! make again, byte for byte.

use std::path::{Path, PathBuf};

use poisonlab_core::seed::stream;
use poisonlab_core::{Dataset, ParamError};

use crate::csv_source::{CsvPaths, DEFAULT_LABEL_COLUMN, load_csv, write_csv};
use crate::idx::{IdxPaths, load_idx, write_idx_images, write_idx_labels};
use crate::stream::{to_byte, unit};
use crate::{BlobsParams, DataError, Splits, SyntheticDigitsParams};

/// The name of the random stream a generator draws from: a generator run
/// with seed `s` draws from `stream(s, 0, "data")`, the stream a scenario
/// with `[scenario] seed = s` generates its data from.
pub const GENERATOR_STREAM: &str = "data";

/// The file names a `synthetic-digits` generator writes: MNIST's own raw
/// (not gzip) IDX names, so that `source = "idx"` with `dir` reads them too.
pub const DIGITS_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The file names a `blobs` generator writes (label column `label`).
pub const BLOBS_FILES: [&str; 2] = ["train.csv", "test.csv"];

/// A data generator with its checked parameters: what a recipe names.
#[derive(Debug, Clone, PartialEq)]
pub enum Generator {
    /// `synthetic-digits`, written as IDX images and labels.
    SyntheticDigits(SyntheticDigitsParams),
    /// `blobs`, written as CSV.
    Blobs(BlobsParams),
}

impl Generator {
    /// The generators' names, for messages.
    pub const NAMES: [&'static str; 2] = ["synthetic-digits", "blobs"];

    /// The generator's name.
    pub fn name(&self) -> &'static str {
        match self {
            Generator::SyntheticDigits(_) => "synthetic-digits",
            Generator::Blobs(_) => "blobs",
        }
    }

    /// The generator's version in this build: it changes whenever the same
    /// parameters and seed give different data (each generator's pinned
    /// output test guards it).
    pub fn version(&self) -> u32 {
        Generator::version_of(self.name()).unwrap_or(0)
    }

    /// The version of the generator named `name` in this build, if there is one.
    pub fn version_of(name: &str) -> Option<u32> {
        match name {
            "synthetic-digits" => Some(SyntheticDigitsParams::VERSION),
            "blobs" => Some(BlobsParams::VERSION),
            _ => None,
        }
    }

    /// Every problem with the parameters, each naming its key.
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        match self {
            Generator::SyntheticDigits(p) => p.check(),
            Generator::Blobs(p) => p.check(),
        }
    }

    /// The files this generator writes, in the order [`Generator::write`] writes them.
    pub fn file_names(&self) -> &'static [&'static str] {
        match self {
            Generator::SyntheticDigits(_) => &DIGITS_FILES,
            Generator::Blobs(_) => &BLOBS_FILES,
        }
    }

    /// The data of seed `seed` as the files hold it: drawn from
    /// `stream(seed, 0, "data")` ([`GENERATOR_STREAM`]), then, for images,
    /// every pixel rounded to the byte an IDX file stores (`round(v · 255) /
    /// 255`). CSV keeps every `f32` exactly. So [`Generator::read`] of the
    /// written files gives the same records, bit for bit.
    ///
    /// # Errors
    /// The parameter problems of [`Generator::check`].
    pub fn output(&self, seed: u64) -> Result<Splits, Vec<ParamError>> {
        self.check()?;
        let mut rng = stream(seed, 0, GENERATOR_STREAM);
        Ok(match self {
            Generator::SyntheticDigits(p) => {
                let s = p.generate(&mut rng);
                Splits {
                    train: as_bytes(s.train),
                    test: as_bytes(s.test),
                }
            }
            Generator::Blobs(p) => p.generate(&mut rng),
        })
    }

    /// Write `splits` into `dir` (which must exist) as this generator's files
    /// ([`Generator::file_names`]); with `threads` ≥ 2 the train and test
    /// files are written at the same time (the bytes do not change). Returns
    /// the paths written.
    ///
    /// # Errors
    /// [`DataError::Io`] when a file cannot be written, [`DataError::IdxWrite`]
    /// when the data does not fit the format.
    pub fn write(
        &self,
        splits: &Splits,
        dir: &Path,
        threads: usize,
    ) -> Result<Vec<PathBuf>, DataError> {
        let paths: Vec<PathBuf> = self.file_names().iter().map(|n| dir.join(n)).collect();
        let write_split = |data: &Dataset, files: &[PathBuf]| -> Result<(), DataError> {
            match self {
                Generator::SyntheticDigits(_) => {
                    write_idx_images(&files[0], data)?;
                    write_idx_labels(&files[1], data.labels())
                }
                Generator::Blobs(_) => write_csv(&files[0], data, DEFAULT_LABEL_COLUMN),
            }
        };
        let half = paths.len() / 2;
        let (train_files, test_files) = paths.split_at(half);
        if threads >= 2 {
            let (a, b) = std::thread::scope(|s| {
                let test = s.spawn(|| write_split(&splits.test, test_files));
                let train = write_split(&splits.train, train_files);
                (train, test.join())
            });
            a?;
            b.map_err(|_| DataError::Io {
                path: dir.to_path_buf(),
                action: "writing",
                cause: "the thread writing the test files panicked".into(),
            })??;
        } else {
            write_split(&splits.train, train_files)?;
            write_split(&splits.test, test_files)?;
        }
        Ok(paths)
    }

    /// Read this generator's files from `dir`.
    ///
    /// # Errors
    /// Those of [`crate::load_idx`] or [`crate::load_csv`], naming the file.
    pub fn read(&self, dir: &Path) -> Result<Splits, DataError> {
        let f = |i: usize| dir.join(self.file_names()[i]);
        match self {
            Generator::SyntheticDigits(_) => load_idx(&IdxPaths {
                train_images: f(0),
                train_labels: f(1),
                test_images: f(2),
                test_labels: f(3),
            }),
            Generator::Blobs(_) => load_csv(&CsvPaths::new(f(0), f(1))).map(|d| d.splits),
        }
    }
}

/// Every feature rounded to the byte an IDX file stores and back.
fn as_bytes(mut data: Dataset) -> Dataset {
    data.features_mut()
        .iter_mut()
        .for_each(|v| *v = unit(to_byte(*v)));
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits() -> Generator {
        Generator::SyntheticDigits(SyntheticDigitsParams {
            train: 40,
            test: 12,
        })
    }

    fn blobs() -> Generator {
        Generator::Blobs(BlobsParams {
            train: 30,
            test: 9,
            classes: 3,
            dim: 4,
            ..BlobsParams::default()
        })
    }

    #[test]
    fn written_files_read_back_to_the_output_bit_for_bit() {
        for g in [digits(), blobs()] {
            let dir = tempfile::tempdir().unwrap();
            let out = g.output(5).unwrap();
            let written = g.write(&out, dir.path(), 1).unwrap();
            assert_eq!(written.len(), g.file_names().len());
            let back = g.read(dir.path()).unwrap();
            for (a, b) in [(&out.train, &back.train), (&out.test, &back.test)] {
                let bits =
                    |d: &Dataset| d.rows().flatten().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(a), bits(b), "{}", g.name());
                assert_eq!(a.labels(), b.labels());
                assert_eq!(a.ids(), b.ids());
            }
        }
    }

    #[test]
    fn the_bytes_do_not_depend_on_threads() {
        for g in [digits(), blobs()] {
            let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let out = g.output(9).unwrap();
            g.write(&out, one.path(), 1).unwrap();
            g.write(&g.output(9).unwrap(), two.path(), 2).unwrap();
            for name in g.file_names() {
                let a = std::fs::read(one.path().join(name)).unwrap();
                let b = std::fs::read(two.path().join(name)).unwrap();
                assert_eq!(a, b, "{name}");
            }
        }
    }

    #[test]
    fn the_output_is_the_scenario_stream_and_images_are_rounded_to_bytes() {
        let g = digits();
        let out = g.output(3).unwrap();
        let raw = SyntheticDigitsParams {
            train: 40,
            test: 12,
        }
        .generate(&mut stream(3, 0, "data"));
        assert_eq!(out.train.labels(), raw.train.labels());
        assert_ne!(out.train.to_features(), raw.train.to_features());
        for (&a, &b) in out.train.rows().flatten().zip(raw.train.rows().flatten()) {
            assert!((a - b).abs() <= 0.5 / 255.0 + 1e-6);
            assert_eq!(a, f32::from(to_byte(a)) / 255.0);
        }
        let b = blobs();
        let Generator::Blobs(p) = &b else {
            unreachable!()
        };
        assert_eq!(b.output(3).unwrap(), p.generate(&mut stream(3, 0, "data")));
    }

    #[test]
    fn blobs_output_is_pinned() {
        // A change to the blobs generator changes the data of every recipe
        // of it: bump `BlobsParams::VERSION` with it (synthetic-digits is
        // pinned by `generator_output_is_pinned`).
        let g = Generator::Blobs(BlobsParams {
            train: 6,
            test: 1,
            ..BlobsParams::default()
        });
        let out = g.output(0).unwrap();
        assert_eq!(out.train.labels(), [1, 0, 2, 2, 0, 1]);
        let bits: Vec<u32> = out.train.to_features()[..4]
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let pinned: Vec<u32> = [-3.593_151_8_f32, -4.300_934_3, 1.013_832_4, 1.467_531_1]
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(bits, pinned);
    }

    #[test]
    fn versions_and_bad_params() {
        assert_eq!(Generator::version_of("synthetic-digits"), Some(1));
        assert_eq!(Generator::version_of("blobs"), Some(1));
        assert_eq!(Generator::version_of("nope"), None);
        let bad = Generator::SyntheticDigits(SyntheticDigitsParams { train: 0, test: 1 });
        let e = bad.output(0).unwrap_err();
        assert_eq!(e[0].key, "train");
    }
}
