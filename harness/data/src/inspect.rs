//! `inspect`: what a dataset file holds, told by its content.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::DataError;
use crate::cifar::{CIFAR_CLASSES, CIFAR_SHAPE, for_each_record, records};
use crate::csv_source::{DEFAULT_LABEL_COLUMN, RawCsv};
use crate::idx::{IdxFile, IdxKind};
use crate::stream::{GZIP_MAGIC, Stream, file_len, unit};

/// A summary of one dataset file.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The file, as given.
    pub path: PathBuf,
    /// What it is: `"idx images (gzip)"`, `"idx images (raw)"`,
    /// `"idx labels (gzip)"`, `"idx labels (raw)"`, `"cifar10 batch"`,
    /// `"csv"` or `"tar archive (gzip)"`.
    pub format: String,
    /// The data's shape, samples first: `[n, rows, cols]` for IDX images,
    /// `[n]` for IDX labels, `[n, 3, 32, 32]` for a CIFAR-10 batch, `[n, d]`
    /// for CSV (`d` features, the label column not counted), `[entries]` for
    /// a tar archive.
    pub shape: Vec<usize>,
    /// Samples per class (index = class) for files with labels: IDX labels
    /// (classes `0..=max`), CIFAR-10 batches (10 classes), CSV files with a
    /// `label` column (integer labels `0..=max`, or string labels in sorted
    /// order; `None` if integer labels are negative).
    pub class_counts: Option<Vec<usize>>,
    /// Smallest and largest feature value, for files with features (IDX and
    /// CIFAR-10 pixels as loaded, in `[0, 1]`; CSV features as written).
    pub value_range: Option<(f32, f32)>,
    /// SHA-256 of the file's bytes as stored (before any decompression),
    /// lowercase hex.
    pub sha256: String,
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.path.display())?;
        writeln!(f, "  format:  {}", self.format)?;
        writeln!(f, "  shape:   {:?}", self.shape)?;
        if let Some(counts) = &self.class_counts {
            writeln!(f, "  classes: {} {:?}", counts.len(), counts)?;
        }
        if let Some((lo, hi)) = self.value_range {
            writeln!(f, "  values:  {lo} to {hi}")?;
        }
        write!(f, "  sha256:  {}", self.sha256)
    }
}

/// Describe the dataset file at `path`, detecting its format by content.
///
/// An IDX file is recognised by its magic number (`00 00 08 03` images,
/// `00 00 08 01` labels), raw or inside gzip (`1f 8b`); a gzip file holding a
/// tar archive (the CIFAR-10 download) is listed by entry count; a CIFAR-10
/// batch is a `.bin` file whose length is a whole number of 3073-byte
/// records; a CSV file is a `.csv` file or any other text (its `label`
/// column, when present, gives the class counts). The whole file is read
/// and checked as its loader would, so an error here is the error loading
/// would give.
///
/// # Errors
/// [`DataError::UnknownFormat`] when the content fits none of these, and the
/// reading and format errors of the matching loader.
pub fn inspect(path: &Path) -> Result<Inspection, DataError> {
    let sha256 = sha256_file(path)?;
    let mut head = [0u8; 512];
    let got = Stream::open_raw(path)?.fill(&mut head)?;
    let head = &head[..got];
    let gzip = head.starts_with(&GZIP_MAGIC);
    let content = if gzip {
        let mut inner = [0u8; 512];
        let n = Stream::open(path)?.fill(&mut inner)?;
        inner[..n].to_vec()
    } else {
        head.to_vec()
    };
    let packing = if gzip { "gzip" } else { "raw" };
    let (format, shape, class_counts, value_range) = if content.starts_with(&[0, 0, 0x08]) {
        let kind = if content.get(3) == Some(&1) {
            IdxKind::Labels
        } else {
            IdxKind::Images
        };
        let (shape, counts, range) = inspect_idx(path, kind)?;
        let what = if kind == IdxKind::Labels {
            "labels"
        } else {
            "images"
        };
        (format!("idx {what} ({packing})"), shape, counts, range)
    } else if gzip {
        if content.get(257..262) == Some(b"ustar") {
            let entries = count_tar_entries(path)?;
            ("tar archive (gzip)".to_string(), vec![entries], None, None)
        } else {
            return Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
                reason: "gzip data that is neither an IDX file nor a tar archive".into(),
            });
        }
    } else if has_extension(path, "bin") && records(path).is_ok() {
        let (shape, counts, range) = inspect_cifar(path)?;
        ("cifar10 batch".to_string(), shape, counts, range)
    } else if has_extension(path, "csv") || looks_like_text(head) {
        let (shape, counts, range) = inspect_csv(path)?;
        ("csv".to_string(), shape, counts, range)
    } else {
        let len = file_len(path)?;
        return Err(DataError::UnknownFormat {
            path: path.to_path_buf(),
            reason: format!("{len} bytes of binary data without a known header"),
        });
    };
    Ok(Inspection {
        path: path.to_path_buf(),
        format,
        shape,
        class_counts,
        value_range,
        sha256,
    })
}

/// Shape, class counts and value range of one file.
type Summary = (Vec<usize>, Option<Vec<usize>>, Option<(f32, f32)>);

fn inspect_idx(path: &Path, kind: IdxKind) -> Result<Summary, DataError> {
    let mut file = IdxFile::open(path, kind)?;
    let shape: Vec<usize> = file.dims.iter().map(|&d| d as usize).collect();
    match kind {
        IdxKind::Labels => {
            let mut counts = vec![0usize; 256];
            file.read_data(|chunk| {
                for &b in chunk {
                    counts[usize::from(b)] += 1;
                }
            })?;
            let classes = counts.iter().rposition(|&c| c > 0).map_or(0, |m| m + 1);
            counts.truncate(classes);
            Ok((shape, Some(counts), None))
        }
        IdxKind::Images => {
            let mut range = ByteRange::default();
            file.read_data(|chunk| range.add(chunk))?;
            Ok((shape, None, range.get()))
        }
    }
}

fn inspect_cifar(path: &Path) -> Result<Summary, DataError> {
    let mut counts = vec![0usize; CIFAR_CLASSES];
    let mut range = ByteRange::default();
    let n = for_each_record(path, |record, label, image| {
        let Some(count) = counts.get_mut(usize::from(label)) else {
            return Err(DataError::CifarLabel {
                path: path.to_path_buf(),
                record,
                label,
            });
        };
        *count += 1;
        range.add(image);
        Ok(())
    })?;
    let mut shape = vec![n];
    shape.extend(CIFAR_SHAPE);
    Ok((shape, Some(counts), range.get()))
}

fn inspect_csv(path: &Path) -> Result<Summary, DataError> {
    let raw = match RawCsv::read(path, DEFAULT_LABEL_COLUMN) {
        Err(DataError::CsvNoLabelColumn { .. }) => RawCsv::read_with(path, None)?,
        other => other?,
    };
    let range = raw
        .features
        .iter()
        .fold(None, |acc: Option<(f32, f32)>, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        });
    let counts = if raw.labels.is_empty() {
        None
    } else if let Some(ints) = raw
        .labels
        .iter()
        .map(|l| l.parse::<usize>().ok())
        .collect::<Option<Vec<usize>>>()
    {
        // Integer labels: counts for 0..=max (a huge label gives no counts).
        let max = ints.iter().copied().max().unwrap_or(0);
        (max < 1 << 20).then(|| {
            let mut counts = vec![0usize; max + 1];
            for l in ints {
                counts[l] += 1;
            }
            counts
        })
    } else if raw.labels.iter().all(|l| l.parse::<i64>().is_ok()) {
        None // negative integers
    } else {
        let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
        for l in &raw.labels {
            *by_name.entry(l).or_default() += 1;
        }
        Some(by_name.into_values().collect())
    };
    Ok((vec![raw.rows(), raw.dim()], counts, range))
}

/// Smallest and largest byte seen, reported scaled to `[0, 1]`.
#[derive(Default)]
struct ByteRange(Option<(u8, u8)>);

impl ByteRange {
    fn add(&mut self, bytes: &[u8]) {
        let (lo, hi) = bytes
            .iter()
            .fold(self.0.unwrap_or((255, 0)), |(lo, hi), &b| {
                (lo.min(b), hi.max(b))
            });
        if !bytes.is_empty() {
            self.0 = Some((lo, hi));
        }
    }

    fn get(&self) -> Option<(f32, f32)> {
        self.0.map(|(lo, hi)| (unit(lo), unit(hi)))
    }
}

fn count_tar_entries(path: &Path) -> Result<usize, DataError> {
    let stream = Stream::open(path)?;
    let archive_err = |e: std::io::Error| DataError::Archive {
        path: path.to_path_buf(),
        cause: e.to_string(),
    };
    let mut archive = tar::Archive::new(StreamRead(stream));
    let mut n = 0;
    for entry in archive.entries().map_err(archive_err)? {
        entry.map_err(archive_err)?;
        n += 1;
    }
    Ok(n)
}

/// A [`Stream`] as [`Read`] (errors already name the file).
struct StreamRead(Stream);

impl Read for StreamRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .fill(buf)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// True for bytes that read as text: no NUL and valid UTF-8 (allowing a
/// character cut at the end of the sample).
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// SHA-256 of the file's bytes, lowercase hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String, DataError> {
    let mut stream = Stream::open_raw(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = stream.fill(&mut buf)?;
        hasher.update(&buf[..n]);
        if n < buf.len() {
            break;
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{gzip, images, temp};
    use crate::{write_csv, write_idx_images, write_idx_labels};
    use poisonlab_core::Dataset;
    use std::fs;

    #[test]
    fn sha256_matches_a_sum_worked_out_elsewhere() {
        // `printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x01' | sha256sum`
        let dir = temp();
        let path = dir.path().join("labels");
        fs::write(&path, [0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 1]).unwrap();
        let i = inspect(&path).unwrap();
        assert_eq!(
            i.sha256,
            "2c3e790344a10f73d6eeb7d28548fca47cb14dd05eb979d0611d62ea5ab3ef43"
        );
        assert_eq!(i.format, "idx labels (raw)");
        assert_eq!(i.shape, vec![3]);
        assert_eq!(i.class_counts, Some(vec![1, 2]));
        assert_eq!(i.value_range, None);
        // The classic "abc" test vector (FIPS 180-2).
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn gzip_idx_images_by_content() {
        let dir = temp();
        let path = dir.path().join("imgs"); // no extension: content decides
        write_idx_images(&path, &images(5, 3, 4, 2, 0)).unwrap();
        let raw_sum = inspect(&path).unwrap().sha256;
        gzip(&path, &path);
        let i = inspect(&path).unwrap();
        assert_eq!(i.format, "idx images (gzip)");
        assert_eq!(i.shape, vec![5, 3, 4]);
        assert_eq!(i.class_counts, None);
        let (lo, hi) = i.value_range.unwrap();
        assert!(lo >= 0.0 && hi <= 1.0 && lo < hi);
        // The sum is of the bytes as stored.
        assert_ne!(i.sha256, raw_sum);
        assert_eq!(i.sha256, hex(&Sha256::digest(fs::read(&path).unwrap())));
    }

    #[test]
    fn cifar_batch() {
        let dir = temp();
        let path = dir.path().join("test_batch.bin");
        let mut bytes = Vec::new();
        for (label, px) in [(3u8, 10u8), (3, 20), (7, 250)] {
            bytes.push(label);
            bytes.extend(std::iter::repeat_n(px, 3072));
        }
        fs::write(&path, &bytes).unwrap();
        let i = inspect(&path).unwrap();
        assert_eq!(i.format, "cifar10 batch");
        assert_eq!(i.shape, vec![3, 3, 32, 32]);
        assert_eq!(i.class_counts, Some(vec![0, 0, 0, 2, 0, 0, 0, 1, 0, 0]));
        assert_eq!(i.value_range, Some((10.0 / 255.0, 250.0 / 255.0)));
    }

    #[test]
    fn csv_with_and_without_label_column() {
        let dir = temp();
        let path = dir.path().join("t.csv");
        let d = Dataset::new(vec![1.0, -2.0, 3.0, 4.5], vec![2], vec![1, 1], 3, None).unwrap();
        write_csv(&path, &d, "label").unwrap();
        let i = inspect(&path).unwrap();
        assert_eq!(i.format, "csv");
        assert_eq!(i.shape, vec![2, 2]);
        assert_eq!(i.class_counts, Some(vec![0, 2]));
        assert_eq!(i.value_range, Some((-2.0, 4.5)));
        let path = dir.path().join("plain.txt");
        fs::write(&path, "a,b,c\n1,2,3\n").unwrap();
        let i = inspect(&path).unwrap();
        assert_eq!(
            (i.format.as_str(), i.shape.clone(), i.class_counts),
            ("csv", vec![1, 3], None)
        );
        let path = dir.path().join("names.csv");
        fs::write(&path, "x,label\n1,b\n2,a\n3,b\n").unwrap();
        assert_eq!(inspect(&path).unwrap().class_counts, Some(vec![1, 2]));
    }

    #[test]
    fn unknown_and_broken_files() {
        let dir = temp();
        let path = dir.path().join("blob.dat");
        fs::write(&path, [0xff, 0x00, 0x12, 0x34]).unwrap();
        let e = inspect(&path).unwrap_err();
        assert!(matches!(e, DataError::UnknownFormat { .. }), "{e:?}");
        assert!(e.to_string().contains("blob.dat"));
        // A damaged IDX file gives the loader's error.
        let path = dir.path().join("labels");
        write_idx_labels(&path, &[1, 2]).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes.pop();
        fs::write(&path, bytes).unwrap();
        assert!(matches!(inspect(&path), Err(DataError::IdxLength { .. })));
        assert!(matches!(
            inspect(&dir.path().join("gone")),
            Err(DataError::Missing { .. })
        ));
    }

    #[test]
    fn display_lists_every_field() {
        let dir = temp();
        let path = dir.path().join("labels");
        write_idx_labels(&path, &[0, 1, 1]).unwrap();
        let text = inspect(&path).unwrap().to_string();
        assert!(
            text.contains("idx labels (raw)") && text.contains("[3]") && text.contains("sha256")
        );
    }
}
