//! `idx`: the MNIST family's IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST).
//!
//! An IDX file is a big-endian header, the magic number `00 00 08 D` (`08` =
//! unsigned bytes, `D` = the number of dimensions), `D` sizes as `u32`, then
//! the values row-major, one byte each. Images have three dimensions (count,
//! rows, columns, magic `0x00000803`), labels one (count, magic `0x00000801`).
//! The files are read raw or gzip-compressed, told apart by content (the gzip
//! magic `1f 8b`), never by the file name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use poisonlab_core::Dataset;

use crate::DataError;
use crate::split::{Splits, TEST_ID_OFFSET, try_build};
use crate::stream::{Stream, file_len, to_byte, unit};

/// Magic number of an IDX file of unsigned-byte images (three dimensions).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels (one dimension).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Values reserved up front when the data size is not known from the file
/// length (gzip): larger files grow the buffer as data arrives.
const GZIP_RESERVE: usize = 1 << 26;

/// The four files of an IDX dataset (each raw or gzip-compressed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxPaths {
    /// Training images (`train-images-idx3-ubyte[.gz]` for MNIST).
    pub train_images: PathBuf,
    /// Training labels (`train-labels-idx1-ubyte[.gz]`).
    pub train_labels: PathBuf,
    /// Test images (`t10k-images-idx3-ubyte[.gz]`).
    pub test_images: PathBuf,
    /// Test labels (`t10k-labels-idx1-ubyte[.gz]`).
    pub test_labels: PathBuf,
}

impl IdxPaths {
    /// The standard MNIST file names in `dir`, as [`crate::fetch()`] leaves
    /// them: for each file the `.gz` name when that file exists, the raw name
    /// otherwise.
    pub fn in_dir(dir: &Path) -> Self {
        let pick = |stem: &str| {
            let gz = dir.join(format!("{stem}.gz"));
            if gz.exists() { gz } else { dir.join(stem) }
        };
        Self {
            train_images: pick("train-images-idx3-ubyte"),
            train_labels: pick("train-labels-idx1-ubyte"),
            test_images: pick("t10k-images-idx3-ubyte"),
            test_labels: pick("t10k-labels-idx1-ubyte"),
        }
    }
}

/// What an IDX file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdxKind {
    /// Three dimensions: count, rows, columns.
    Images,
    /// One dimension: count.
    Labels,
}

impl IdxKind {
    fn name(self) -> &'static str {
        match self {
            Self::Images => "images",
            Self::Labels => "labels",
        }
    }

    fn dims(self) -> u8 {
        match self {
            Self::Images => 3,
            Self::Labels => 1,
        }
    }

    fn magic(self) -> u32 {
        match self {
            Self::Images => IDX_IMAGES_MAGIC,
            Self::Labels => IDX_LABELS_MAGIC,
        }
    }
}

/// An IDX file whose header has been read and checked; the stream stands at
/// the first data byte.
pub(crate) struct IdxFile {
    pub(crate) stream: Stream,
    pub(crate) dims: Vec<u32>,
}

impl IdxFile {
    /// Open `path`, read its header and check it is an IDX file of `kind`
    /// whose data length matches the header (exactly, for raw files; gzip
    /// files are checked as they are read).
    pub(crate) fn open(path: &Path, kind: IdxKind) -> Result<Self, DataError> {
        let mut stream = Stream::open(path)?;
        let needed = 4 + 4 * u64::from(kind.dims());
        let short = |len: usize| DataError::IdxShortHeader {
            path: path.to_path_buf(),
            kind: kind.name(),
            len: len as u64,
            needed,
        };
        let mut magic = [0u8; 4];
        let got = stream.fill(&mut magic)?;
        if got < 4 {
            return Err(short(got));
        }
        let found = u32::from_be_bytes(magic);
        if magic[..3] != [0, 0, 0x08] {
            return Err(DataError::IdxMagic {
                path: path.to_path_buf(),
                kind: kind.name(),
                expected: kind.magic(),
                found,
            });
        }
        if magic[3] != kind.dims() {
            return Err(DataError::IdxDims {
                path: path.to_path_buf(),
                kind: kind.name(),
                expected: kind.dims(),
                found: magic[3],
            });
        }
        let mut sizes = vec![0u8; 4 * usize::from(kind.dims())];
        let got = stream.fill(&mut sizes)?;
        if got < sizes.len() {
            return Err(short(4 + got));
        }
        let dims: Vec<u32> = sizes
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let file = Self { stream, dims };
        if !file.stream.is_gzip() {
            let header = 4 + sizes.len() as u64;
            let data = file_len(path)?.saturating_sub(header);
            let expected = file.data_len();
            if data != expected {
                return Err(file.length_error(data, data < expected));
            }
        }
        Ok(file)
    }

    /// Data bytes the header promises (saturating: an absurd header never
    /// matches the data).
    pub(crate) fn data_len(&self) -> u64 {
        self.dims
            .iter()
            .fold(1u64, |acc, &d| acc.saturating_mul(u64::from(d)))
    }

    /// Samples the header declares (the first dimension).
    pub(crate) fn count(&self) -> usize {
        self.dims.first().map_or(0, |&n| n as usize)
    }

    fn length_error(&self, found: u64, truncated: bool) -> DataError {
        DataError::IdxLength {
            path: self.stream.path().to_path_buf(),
            dims: self.dims.clone(),
            expected: self.data_len(),
            found,
            truncated,
        }
    }

    /// Stream all data bytes through `f` in chunks, then check nothing
    /// follows them.
    pub(crate) fn read_data(&mut self, f: impl FnMut(&[u8])) -> Result<(), DataError> {
        let expected = self.data_len();
        let got = self.stream.for_chunks(expected, f)?;
        if got < expected {
            return Err(self.length_error(got, true));
        }
        let extra = self.stream.count_rest()?;
        if extra > 0 {
            return Err(self.length_error(expected + extra, false));
        }
        Ok(())
    }
}

/// Read an IDX image file (raw or gzip): the pixels scaled to `[0, 1]` as one
/// `f32` buffer, row-major, and its dimensions `[n, rows, cols]`.
///
/// The bytes are decoded straight into the `f32` buffer as they stream off
/// the file (and out of the gzip decoder), so loading keeps one copy of the
/// images: about 188 MB for MNIST's 60 000 training images.
///
/// # Errors
/// [`DataError::Missing`] / [`DataError::Io`] when the file cannot be read,
/// [`DataError::Gzip`] for a damaged or cut-off gzip stream,
/// [`DataError::IdxShortHeader`] when the file ends inside the header,
/// [`DataError::IdxMagic`] when it does not start with `0x00000803`,
/// [`DataError::IdxDims`] (not three dimensions), [`DataError::IdxLength`]
/// when the data is shorter or longer than the header declares.
pub fn read_idx_images(path: &Path) -> Result<(Vec<f32>, [usize; 3]), DataError> {
    read_idx_images_first(path, None)
}

/// [`read_idx_images`] keeping only the first `keep` images (all when
/// `None`): the rest of the file is still read and its length checked, but
/// never decoded, so memory grows with what is kept. The shape's first
/// dimension is the number of images returned.
///
/// # Errors
/// As [`read_idx_images`].
pub fn read_idx_images_first(
    path: &Path,
    keep: Option<usize>,
) -> Result<(Vec<f32>, [usize; 3]), DataError> {
    let mut file = IdxFile::open(path, IdxKind::Images)?;
    let count = keep.map_or(file.count(), |k| k.min(file.count()));
    let shape = [count, file.dims[1] as usize, file.dims[2] as usize];
    let per_image = shape[1].saturating_mul(shape[2]);
    let values = usize::try_from(file.data_len())
        .unwrap_or(usize::MAX)
        .min(count.saturating_mul(per_image));
    let mut pixels: Vec<f32> = Vec::new();
    // A raw file's length was checked against the header: reserve exactly.
    // A gzip file's header is not yet confirmed: reserve a bounded amount.
    let reserve = if file.stream.is_gzip() {
        values.min(GZIP_RESERVE)
    } else {
        values
    };
    pixels
        .try_reserve_exact(reserve)
        .map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            action: "allocating memory",
            cause: e.to_string(),
        })?;
    file.read_data(|chunk| {
        let room = values - pixels.len();
        pixels.extend(chunk[..room.min(chunk.len())].iter().map(|&b| unit(b)));
    })?;
    Ok((pixels, shape))
}

/// Read an IDX label file (raw or gzip): one byte per sample.
///
/// # Errors
/// As [`read_idx_images`], with magic `0x00000801` and one dimension.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let mut file = IdxFile::open(path, IdxKind::Labels)?;
    let mut labels = Vec::with_capacity(file.count().min(GZIP_RESERVE));
    file.read_data(|chunk| labels.extend_from_slice(chunk))?;
    Ok(labels)
}

/// Load an IDX dataset: training and test images with their labels.
///
/// Samples have shape `[1, rows, cols]` with values in `[0, 1]` (byte / 255).
/// Train ids are `0..n_train`, test ids [`TEST_ID_OFFSET`]` + 0..n_test`, as
/// for the generated sources. Labels may be any byte: the class count is the
/// largest label in train and test plus one, but at least 2 (a split with only
/// label 0 is still a two-class problem), so EMNIST's 26 or 47 classes work
/// as well as MNIST's 10.
///
/// The label files are read first, and each image file's header is checked
/// against its label count before any pixel is decoded.
///
/// # Errors
/// Those of [`read_idx_images`] and [`read_idx_labels`], plus
/// [`DataError::CountMismatch`] when an image file and its label file declare
/// different sample counts, and [`DataError::Inconsistent`] when the test
/// images are not the size of the training images.
pub fn load_idx(paths: &IdxPaths) -> Result<Splits, DataError> {
    load_idx_first(paths, None, None)
}

/// [`load_idx`] keeping only the first `train` training and `test` test
/// samples (all when `None`), decoding no other image: the class count still
/// comes from every label, and every file's length is still checked.
///
/// # Errors
/// As [`load_idx`].
pub fn load_idx_first(
    paths: &IdxPaths,
    train: Option<usize>,
    test: Option<usize>,
) -> Result<Splits, DataError> {
    let train_labels = read_idx_labels(&paths.train_labels)?;
    let test_labels = read_idx_labels(&paths.test_labels)?;
    let max_label = train_labels
        .iter()
        .chain(&test_labels)
        .copied()
        .max()
        .unwrap_or(0);
    let n_classes = (usize::from(max_label) + 1).max(2);

    let check_count = |images: &Path, labels: &Path, n_labels: usize| {
        let file = IdxFile::open(images, IdxKind::Images)?;
        if file.count() != n_labels {
            return Err(DataError::CountMismatch {
                images: images.to_path_buf(),
                labels: labels.to_path_buf(),
                n_images: file.count(),
                n_labels,
            });
        }
        Ok(())
    };
    check_count(&paths.train_images, &paths.train_labels, train_labels.len())?;
    check_count(&paths.test_images, &paths.test_labels, test_labels.len())?;

    let (train_pixels, [n_train, rows, cols]) = read_idx_images_first(&paths.train_images, train)?;
    let (test_pixels, [n_test, test_rows, test_cols]) =
        read_idx_images_first(&paths.test_images, test)?;
    let mut train_labels = train_labels;
    train_labels.truncate(n_train);
    let mut test_labels = test_labels;
    test_labels.truncate(n_test);
    if (test_rows, test_cols) != (rows, cols) {
        return Err(DataError::Inconsistent {
            path: paths.test_images.clone(),
            cause: format!(
                "test images are {test_rows}x{test_cols} but training images are {rows}x{cols}"
            ),
        });
    }
    let shape = vec![1, rows, cols];
    let labels = |l: Vec<u8>| l.into_iter().map(usize::from).collect::<Vec<_>>();
    let train = try_build(
        train_pixels,
        shape.clone(),
        labels(train_labels),
        n_classes,
        0,
    )
    .map_err(|e| inconsistent(&paths.train_images, &e))?;
    let test = try_build(
        test_pixels,
        shape,
        labels(test_labels),
        n_classes,
        TEST_ID_OFFSET,
    )
    .map_err(|e| inconsistent(&paths.test_images, &e))?;
    Ok(Splits { train, test })
}

fn inconsistent(path: &Path, e: &poisonlab_core::CoreError) -> DataError {
    DataError::Inconsistent {
        path: path.to_path_buf(),
        cause: e.to_string(),
    }
}

/// Write the images of `data` as a raw (not gzip) IDX image file: each value
/// becomes `round(v · 255)` clamped to `0..=255`, so values in `[0, 1]` come
/// back within 1/510 when read.
///
/// # Errors
/// [`DataError::IdxWrite`] unless `data` holds one-channel images (shape
/// `[1, rows, cols]`) with counts and sides that fit an IDX `u32`;
/// [`DataError::Io`] when the file cannot be written.
pub fn write_idx_images(path: &Path, data: &Dataset) -> Result<(), DataError> {
    let &[1, rows, cols] = data.shape() else {
        return Err(DataError::IdxWrite {
            path: path.to_path_buf(),
            reason: format!(
                "IDX images need one-channel image data of shape [1, rows, cols], got {:?}",
                data.shape()
            ),
        });
    };
    let dims = [data.len(), rows, cols].map(|d| u32::try_from(d).map_err(|_| too_big(path, d)));
    let mut header = IDX_IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in dims {
        header.extend_from_slice(&d?.to_be_bytes());
    }
    write_file(path, &header, data.rows().flatten().map(|&v| to_byte(v)))
}

/// Write `labels` as a raw (not gzip) IDX label file.
///
/// # Errors
/// [`DataError::IdxWrite`] when a label is above 255 or there are more than
/// `u32::MAX` labels; [`DataError::Io`] when the file cannot be written.
pub fn write_idx_labels(path: &Path, labels: &[usize]) -> Result<(), DataError> {
    let n = u32::try_from(labels.len()).map_err(|_| too_big(path, labels.len()))?;
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, l)| **l > 255) {
        return Err(DataError::IdxWrite {
            path: path.to_path_buf(),
            reason: format!("label {l} of sample {i} does not fit a byte (0-255)"),
        });
    }
    let mut header = IDX_LABELS_MAGIC.to_be_bytes().to_vec();
    header.extend_from_slice(&n.to_be_bytes());
    write_file(path, &header, labels.iter().map(|&l| l as u8))
}

fn too_big(path: &Path, d: usize) -> DataError {
    DataError::IdxWrite {
        path: path.to_path_buf(),
        reason: format!("size {d} does not fit an IDX u32"),
    }
}

/// Write `header` then `bytes` to `path`.
fn write_file(
    path: &Path,
    header: &[u8],
    bytes: impl Iterator<Item = u8>,
) -> Result<(), DataError> {
    let io = |e: std::io::Error| DataError::io(path, "writing", &e);
    let file = File::create(path).map_err(|e| DataError::io(path, "creating", &e))?;
    let mut out = BufWriter::new(file);
    out.write_all(header).map_err(io)?;
    let mut chunk = Vec::with_capacity(1 << 16);
    for b in bytes {
        chunk.push(b);
        if chunk.len() == chunk.capacity() {
            out.write_all(&chunk).map_err(io)?;
            chunk.clear();
        }
    }
    out.write_all(&chunk).map_err(io)?;
    out.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{gzip, images, temp};
    use std::fs;

    /// Write `data` and its labels as raw IDX files named `stem-images` /
    /// `stem-labels` in `dir`.
    fn write_pair(dir: &Path, stem: &str, data: &Dataset) -> (PathBuf, PathBuf) {
        let img = dir.join(format!("{stem}-images"));
        let lab = dir.join(format!("{stem}-labels"));
        write_idx_images(&img, data).unwrap();
        write_idx_labels(&lab, data.labels()).unwrap();
        (img, lab)
    }

    fn paths(dir: &Path) -> IdxPaths {
        IdxPaths {
            train_images: dir.join("train-images"),
            train_labels: dir.join("train-labels"),
            test_images: dir.join("test-images"),
            test_labels: dir.join("test-labels"),
        }
    }

    /// A dataset written as raw IDX train/test files in a fresh folder.
    fn written(train: &Dataset, test: &Dataset) -> (tempfile::TempDir, IdxPaths) {
        let dir = temp();
        write_pair(dir.path(), "train", train);
        write_pair(dir.path(), "test", test);
        let p = paths(dir.path());
        (dir, p)
    }

    fn message(e: &DataError) -> String {
        e.to_string()
    }

    #[test]
    fn round_trip_through_raw_and_gzip_files() {
        let train = images(12, 5, 7, 10, 1);
        let test = images(4, 5, 7, 10, 2);
        let (dir, p) = written(&train, &test);
        // Gzip one file, keep its name: detection is by content.
        gzip(&p.train_images, &p.train_images);
        let s = load_idx(&p).unwrap();
        assert_eq!(s.train.shape(), &[1, 5, 7]);
        assert_eq!(s.train.len(), 12);
        assert_eq!(s.test.len(), 4);
        assert_eq!(s.train.n_classes(), 10);
        assert_eq!(s.train.labels(), train.labels());
        assert_eq!(s.test.labels(), test.labels());
        assert_eq!(s.train.ids(), (0..12).collect::<Vec<u64>>().as_slice());
        assert_eq!(s.test.ids()[3], TEST_ID_OFFSET + 3);
        for (a, b) in s
            .train
            .rows()
            .flatten()
            .zip(train.rows().flatten())
            .chain(s.test.rows().flatten().zip(test.rows().flatten()))
        {
            assert!((a - b).abs() <= 1.0 / 255.0, "{a} vs {b}");
        }
        drop(dir);
    }

    #[test]
    fn bytes_map_to_unit_interval_exactly() {
        let dir = temp();
        let path = dir.path().join("x");
        let mut bytes = IDX_IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [1u32, 1, 3] {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend([0u8, 51, 255]);
        fs::write(&path, &bytes).unwrap();
        let (pixels, shape) = read_idx_images(&path).unwrap();
        assert_eq!(shape, [1, 1, 3]);
        assert_eq!(pixels, vec![0.0, 0.2, 1.0]);
    }

    #[test]
    fn a_gz_name_with_raw_content_reads_as_raw() {
        let dir = temp();
        let path = dir.path().join("labels.gz");
        write_idx_labels(&path, &[3, 1, 4]).unwrap();
        assert_eq!(read_idx_labels(&path).unwrap(), vec![3, 1, 4]);
    }

    #[test]
    fn truncated_gzip_is_an_error_naming_the_file() {
        let dir = temp();
        let path = dir.path().join("train-images.gz");
        write_idx_images(&path, &images(20, 8, 8, 10, 3)).unwrap();
        gzip(&path, &path);
        let bytes = fs::read(&path).unwrap();
        for cut in [bytes.len() - 4, bytes.len() / 2, 12] {
            fs::write(&path, &bytes[..cut]).unwrap();
            let e = read_idx_images(&path).unwrap_err();
            assert!(
                matches!(e, DataError::Gzip { ref path, .. } if path.ends_with("train-images.gz")),
                "cut at {cut}: {e:?}"
            );
            assert!(message(&e).contains("train-images.gz"), "{e}");
            assert!(message(&e).contains("truncated"), "{e}");
        }
    }

    #[test]
    fn wrong_magic_is_refused() {
        let dir = temp();
        let path = dir.path().join("labels");
        write_idx_labels(&path, &[0, 1]).unwrap();
        // A label file where images are expected: 0x801 has one dimension.
        let e = read_idx_images(&path).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::IdxDims {
                    expected: 3,
                    found: 1,
                    ..
                }
            ),
            "{e:?}"
        );
        // Not IDX at all.
        fs::write(&path, b"P5\n28 28\n255\n....").unwrap();
        let e = read_idx_labels(&path).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::IdxMagic {
                    expected: IDX_LABELS_MAGIC,
                    found: 0x5035_0a32,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(message(&e).contains(&path.display().to_string()));
        assert!(message(&e).contains("0x00000801"), "{e}");
        // An IDX file of another element type (0x0d = f32).
        fs::write(&path, [0, 0, 0x0d, 1, 0, 0, 0, 0]).unwrap();
        assert!(matches!(
            read_idx_labels(&path),
            Err(DataError::IdxMagic { .. })
        ));
    }

    #[test]
    fn wrong_dimension_count_is_refused() {
        let dir = temp();
        let path = dir.path().join("images");
        write_idx_images(&path, &images(2, 3, 3, 2, 0)).unwrap();
        let e = read_idx_labels(&path).unwrap_err();
        assert!(matches!(
            e,
            DataError::IdxDims {
                expected: 1,
                found: 3,
                kind: "labels",
                ..
            }
        ));
        assert!(message(&e).contains("3 dimensions, expected 1"), "{e}");
    }

    #[test]
    fn raw_length_must_match_the_header() {
        let dir = temp();
        let path = dir.path().join("images");
        write_idx_images(&path, &images(3, 4, 4, 2, 0)).unwrap();
        let bytes = fs::read(&path).unwrap();
        // Truncated.
        fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let e = read_idx_images(&path).unwrap_err();
        assert_eq!(
            e,
            DataError::IdxLength {
                path: path.clone(),
                dims: vec![3, 4, 4],
                expected: 48,
                found: 43,
                truncated: true,
            }
        );
        assert!(message(&e).contains("only 43"), "{e}");
        // Trailing bytes.
        let mut longer = bytes.clone();
        longer.extend([1, 2]);
        fs::write(&path, &longer).unwrap();
        let e = read_idx_images(&path).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::IdxLength {
                    found: 50,
                    truncated: false,
                    ..
                }
            ),
            "{e:?}"
        );
        // A header cut short, an empty file.
        fs::write(&path, &bytes[..9]).unwrap();
        assert_eq!(
            read_idx_images(&path).unwrap_err(),
            DataError::IdxShortHeader {
                path: path.clone(),
                kind: "images",
                len: 9,
                needed: 16,
            }
        );
        fs::write(&path, b"").unwrap();
        let e = read_idx_images(&path).unwrap_err();
        assert!(matches!(e, DataError::IdxShortHeader { len: 0, .. }));
        assert!(message(&e).contains("empty"), "{e}");
    }

    #[test]
    fn gzip_content_length_must_match_the_header() {
        let dir = temp();
        let path = dir.path().join("labels");
        write_idx_labels(&path, &[1, 2, 3, 4]).unwrap();
        let bytes = fs::read(&path).unwrap();
        // A complete gzip stream whose content is short: a length error, not
        // a gzip error.
        fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        gzip(&path, &path);
        let e = read_idx_labels(&path).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::IdxLength {
                    expected: 4,
                    found: 3,
                    truncated: true,
                    ..
                }
            ),
            "{e:?}"
        );
        let mut longer = bytes.clone();
        longer.push(9);
        fs::write(&path, &longer).unwrap();
        gzip(&path, &path);
        assert!(matches!(
            read_idx_labels(&path),
            Err(DataError::IdxLength {
                truncated: false,
                ..
            })
        ));
    }

    #[test]
    fn image_and_label_counts_must_agree() {
        let train = images(6, 4, 4, 3, 1);
        let test = images(2, 4, 4, 3, 2);
        let (_dir, p) = written(&train, &test);
        write_idx_labels(&p.train_labels, &train.labels()[..5]).unwrap();
        let e = load_idx(&p).unwrap_err();
        assert_eq!(
            e,
            DataError::CountMismatch {
                images: p.train_images.clone(),
                labels: p.train_labels.clone(),
                n_images: 6,
                n_labels: 5,
            }
        );
        let m = message(&e);
        assert!(m.contains("6 images") && m.contains("5 labels"), "{m}");
    }

    #[test]
    fn test_images_must_match_the_training_size() {
        let (_dir, p) = written(&images(3, 4, 4, 2, 1), &images(2, 5, 4, 2, 2));
        let e = load_idx(&p).unwrap_err();
        assert!(matches!(e, DataError::Inconsistent { ref path, .. } if *path == p.test_images));
    }

    #[test]
    fn class_count_is_max_label_plus_one_but_at_least_two() {
        let train = images(4, 2, 2, 2, 1);
        let test = images(2, 2, 2, 2, 2);
        let (_dir, p) = written(&train, &test);
        write_idx_labels(&p.train_labels, &[0, 25, 3, 3]).unwrap();
        assert_eq!(load_idx(&p).unwrap().train.n_classes(), 26);
        write_idx_labels(&p.train_labels, &[0; 4]).unwrap();
        write_idx_labels(&p.test_labels, &[0; 2]).unwrap();
        let s = load_idx(&p).unwrap();
        assert_eq!((s.train.n_classes(), s.test.n_classes()), (2, 2));
    }

    #[test]
    fn a_missing_file_is_named() {
        let (dir, mut p) = written(&images(2, 2, 2, 2, 1), &images(2, 2, 2, 2, 2));
        p.test_labels = dir.path().join("nope");
        let e = load_idx(&p).unwrap_err();
        assert_eq!(
            e,
            DataError::Missing {
                path: p.test_labels.clone()
            }
        );
        assert!(message(&e).contains("nope"));
    }

    #[test]
    fn in_dir_prefers_gz_names_that_exist() {
        let dir = temp();
        fs::write(dir.path().join("train-images-idx3-ubyte.gz"), b"").unwrap();
        let p = IdxPaths::in_dir(dir.path());
        assert_eq!(
            p.train_images,
            dir.path().join("train-images-idx3-ubyte.gz")
        );
        assert_eq!(p.test_labels, dir.path().join("t10k-labels-idx1-ubyte"));
    }

    #[test]
    fn writers_refuse_what_idx_cannot_hold() {
        let dir = temp();
        let rgb = Dataset::new(vec![0.5; 12], vec![3, 2, 2], vec![0], 2, None).unwrap();
        let e = write_idx_images(&dir.path().join("x"), &rgb).unwrap_err();
        assert!(matches!(e, DataError::IdxWrite { .. }));
        assert!(message(&e).contains("[3, 2, 2]"), "{e}");
        let e = write_idx_labels(&dir.path().join("y"), &[1, 256]).unwrap_err();
        assert!(message(&e).contains("label 256 of sample 1"), "{e}");
    }

    #[test]
    fn writing_rounds_and_clamps() {
        let dir = temp();
        let path = dir.path().join("x");
        let d = Dataset::new(
            vec![-0.5, 0.5, 1.5, f32::NAN],
            vec![1, 2, 2],
            vec![0],
            2,
            None,
        )
        .unwrap();
        write_idx_images(&path, &d).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(&bytes[16..], &[0, 128, 255, 0]);
    }
}
