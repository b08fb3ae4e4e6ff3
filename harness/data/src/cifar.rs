//! `cifar10`: the binary version of CIFAR-10 (Krizhevsky, 2009).

use std::path::{Path, PathBuf};

use crate::DataError;
use crate::split::{Splits, TEST_ID_OFFSET, try_build};
use crate::stream::{Stream, file_len, unit};

/// Bytes in one CIFAR-10 record: a label byte, then 3 × 32 × 32 pixel bytes.
pub const CIFAR_RECORD: usize = 1 + CIFAR_PIXELS;
/// Pixel bytes in one record (channel-first: 1024 red, 1024 green, 1024 blue,
/// each 32 rows of 32).
const CIFAR_PIXELS: usize = 3 * 32 * 32;
/// Shape of one CIFAR-10 sample.
pub const CIFAR_SHAPE: [usize; 3] = [3, 32, 32];
/// CIFAR-10's classes: airplane, automobile, bird, cat, deer, dog, frog,
/// horse, ship, truck (label 0 to 9).
pub const CIFAR_CLASSES: usize = 10;
/// The folder the CIFAR-10 binary archive unpacks to (what
/// [`crate::fetch()`] leaves under its target folder, and what
/// [`load_cifar10`] takes).
pub const CIFAR_BIN_DIR: &str = "cifar-10-batches-bin";
/// The training batches, in the order they are concatenated.
pub const CIFAR_TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch.
pub const CIFAR_TEST_FILE: &str = "test_batch.bin";

/// Load CIFAR-10 from `dir`, the folder of the binary version
/// (`cifar-10-batches-bin`): the training set is `data_batch_1.bin` to
/// `data_batch_5.bin` concatenated in that order, the test set
/// `test_batch.bin`.
///
/// Each file is a sequence of 3073-byte records: the label (0–9), then the
/// 32 × 32 image channel-first (red plane, green plane, blue plane, each row
/// by row). Samples have shape `[3, 32, 32]` with values in `[0, 1]`
/// (byte / 255) and 10 classes. Train ids are `0..n_train`, test ids
/// [`TEST_ID_OFFSET`]` + 0..n_test`. Batches of any whole number of records
/// are accepted, so a cut-down copy of the dataset loads too. The pixels are
/// decoded straight into one `f32` buffer per split (about 614 MB for the
/// 50 000 training images).
///
/// # Errors
/// [`DataError::Missing`] naming the path of a batch that is not there,
/// [`DataError::CifarLength`] for a file that is empty or not a whole number
/// of records, [`DataError::CifarLabel`] for a label byte above 9,
/// [`DataError::Io`] when a file cannot be read.
pub fn load_cifar10(dir: &Path) -> Result<Splits, DataError> {
    let train_files: Vec<PathBuf> = CIFAR_TRAIN_FILES.iter().map(|f| dir.join(f)).collect();
    let test_file = [dir.join(CIFAR_TEST_FILE)];
    // Check every file's length before decoding any, so a missing or damaged
    // batch is reported at once.
    for path in train_files.iter().chain(&test_file) {
        records(path)?;
    }
    let (train_x, train_y) = read_batches(&train_files)?;
    let (test_x, test_y) = read_batches(&test_file)?;
    let build = |x, y, first, path: &Path| {
        try_build(x, CIFAR_SHAPE.to_vec(), y, CIFAR_CLASSES, first).map_err(|e| {
            DataError::Inconsistent {
                path: path.to_path_buf(),
                cause: e.to_string(),
            }
        })
    };
    Ok(Splits {
        train: build(train_x, train_y, 0, dir)?,
        test: build(test_x, test_y, TEST_ID_OFFSET, dir)?,
    })
}

/// Records in the CIFAR-10 batch at `path`, checked to be a positive whole
/// number.
pub(crate) fn records(path: &Path) -> Result<usize, DataError> {
    let len = file_len(path)?;
    if len == 0 || len % CIFAR_RECORD as u64 != 0 {
        return Err(DataError::CifarLength {
            path: path.to_path_buf(),
            len,
        });
    }
    Ok((len / CIFAR_RECORD as u64) as usize)
}

/// The pixels and labels of `files`, concatenated.
fn read_batches(files: &[PathBuf]) -> Result<(Vec<f32>, Vec<usize>), DataError> {
    let mut total = 0usize;
    for path in files {
        total += records(path)?;
    }
    let mut pixels: Vec<f32> = Vec::new();
    pixels
        .try_reserve_exact(total.saturating_mul(CIFAR_PIXELS))
        .map_err(|e| DataError::Io {
            path: files.first().cloned().unwrap_or_default(),
            action: "allocating memory",
            cause: e.to_string(),
        })?;
    let mut labels = Vec::with_capacity(total);
    for path in files {
        for_each_record(path, |record, label, image| {
            if usize::from(label) >= CIFAR_CLASSES {
                return Err(DataError::CifarLabel {
                    path: path.clone(),
                    record,
                    label,
                });
            }
            labels.push(usize::from(label));
            pixels.extend(image.iter().map(|&b| unit(b)));
            Ok(())
        })?;
    }
    Ok((pixels, labels))
}

/// Call `f(index, label, pixel bytes)` on every record of the batch at `path`.
pub(crate) fn for_each_record(
    path: &Path,
    mut f: impl FnMut(usize, u8, &[u8]) -> Result<(), DataError>,
) -> Result<usize, DataError> {
    let n = records(path)?;
    let mut stream = Stream::open_raw(path)?;
    let mut record = vec![0u8; CIFAR_RECORD];
    for i in 0..n {
        let got = stream.fill(&mut record)?;
        if got < CIFAR_RECORD {
            // The file shrank while being read.
            return Err(DataError::CifarLength {
                path: path.to_path_buf(),
                len: (i * CIFAR_RECORD + got) as u64,
            });
        }
        f(i, record[0], &record[1..])?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::temp;
    use std::fs;

    /// A record with label `label` whose pixel `k` is `(k + seed) % 256`.
    fn record(label: u8, seed: usize) -> Vec<u8> {
        let mut r = vec![label];
        r.extend((0..CIFAR_PIXELS).map(|k| ((k + seed) % 256) as u8));
        r
    }

    /// A CIFAR folder: `per_file` records in each batch, labels cycling.
    fn folder(per_file: usize) -> tempfile::TempDir {
        let dir = temp();
        for (f, name) in CIFAR_TRAIN_FILES
            .iter()
            .chain([&CIFAR_TEST_FILE])
            .enumerate()
        {
            let bytes: Vec<u8> = (0..per_file)
                .flat_map(|i| record(((f * per_file + i) % 10) as u8, f * 100 + i))
                .collect();
            fs::write(dir.path().join(name), bytes).unwrap();
        }
        dir
    }

    #[test]
    fn loads_batches_in_order_channel_first() {
        let dir = folder(3);
        let s = load_cifar10(dir.path()).unwrap();
        assert_eq!(s.train.shape(), &[3, 32, 32]);
        assert_eq!((s.train.len(), s.test.len()), (15, 3));
        assert_eq!(s.train.n_classes(), 10);
        assert_eq!(
            s.train.labels(),
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4]
        );
        assert_eq!(s.test.labels(), &[5, 6, 7]);
        assert_eq!(
            s.test.ids(),
            &[TEST_ID_OFFSET, TEST_ID_OFFSET + 1, TEST_ID_OFFSET + 2]
        );
        // Sample 4 is record 1 of data_batch_2 (seed 101): green plane,
        // row 2, column 5 is pixel 1024 + 2 * 32 + 5.
        let k = 1024 + 2 * 32 + 5;
        assert_eq!(s.train.sample(4)[k], ((k + 101) % 256) as f32 / 255.0);
    }

    #[test]
    fn a_batch_of_partial_records_is_refused() {
        let dir = folder(2);
        let path = dir.path().join("data_batch_3.bin");
        let mut bytes = fs::read(&path).unwrap();
        bytes.pop();
        fs::write(&path, &bytes).unwrap();
        let e = load_cifar10(dir.path()).unwrap_err();
        assert_eq!(
            e,
            DataError::CifarLength {
                path: path.clone(),
                len: 2 * 3073 - 1
            }
        );
        assert!(e.to_string().contains("data_batch_3.bin"), "{e}");
        fs::write(&path, b"").unwrap();
        assert!(matches!(
            load_cifar10(dir.path()),
            Err(DataError::CifarLength { len: 0, .. })
        ));
    }

    #[test]
    fn a_missing_batch_is_named() {
        let dir = folder(1);
        let path = dir.path().join(CIFAR_TEST_FILE);
        fs::remove_file(&path).unwrap();
        let e = load_cifar10(dir.path()).unwrap_err();
        assert_eq!(e, DataError::Missing { path: path.clone() });
        assert!(e.to_string().contains("test_batch.bin"), "{e}");
    }

    #[test]
    fn a_label_above_nine_is_refused() {
        let dir = folder(2);
        let path = dir.path().join("data_batch_1.bin");
        let mut bytes = fs::read(&path).unwrap();
        bytes[CIFAR_RECORD] = 10;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(
            load_cifar10(dir.path()).unwrap_err(),
            DataError::CifarLabel {
                path,
                record: 1,
                label: 10
            }
        );
    }
}
