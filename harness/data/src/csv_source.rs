//! `csv`: tabular data from CSV files with a header row.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use poisonlab_core::Dataset;

use crate::DataError;
use crate::split::{Splits, TEST_ID_OFFSET, try_build};

/// The label column's name when none is given.
pub const DEFAULT_LABEL_COLUMN: &str = "label";

/// The two files of a CSV dataset and which column holds the label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvPaths {
    /// The training samples.
    pub train: PathBuf,
    /// The test samples (same columns, same order, as `train`).
    pub test: PathBuf,
    /// Name of the label column. Default [`DEFAULT_LABEL_COLUMN`] (`"label"`).
    pub label_column: String,
}

impl CsvPaths {
    /// `train` and `test` with the default label column `"label"`.
    pub fn new(train: impl Into<PathBuf>, test: impl Into<PathBuf>) -> Self {
        Self {
            train: train.into(),
            test: test.into(),
            label_column: DEFAULT_LABEL_COLUMN.to_string(),
        }
    }
}

/// A loaded CSV dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvData {
    /// The train and test samples.
    pub splits: Splits,
    /// The class names when the labels were strings: class `i` is the `i`-th
    /// distinct label of train and test together, in sorted (byte) order.
    /// `None` when the labels were the integers `0..k-1`.
    pub class_names: Option<Vec<String>>,
}

/// Load a CSV dataset: a header row, then one sample per row.
///
/// The label column is found by name ([`CsvPaths::label_column`]); every
/// other column, in file order, is a numeric feature (any `f32` syntax, cells
/// trimmed of spaces; NaN and infinities are refused), so samples have shape
/// `[d]` with `d` the column count less one. The test file must have the same
/// columns in the same order.
///
/// Labels are either the integers `0..k-1` (every one of them occurring in
/// train or test) or strings. When every label of both files reads as an
/// integer they are used as class indices and `k` is the largest plus one;
/// otherwise the distinct labels of both files, sorted, are the classes and
/// [`CsvData::class_names`] lists them. Train ids are `0..n_train`, test ids
/// [`TEST_ID_OFFSET`]` + 0..n_test`.
///
/// # Errors
/// Each names the file and, where it applies, the row (the header is row 1)
/// and the column: [`DataError::Missing`] / [`DataError::Io`],
/// [`DataError::CsvEmpty`] (no header, or no data rows),
/// [`DataError::CsvNoLabelColumn`] (listing the columns found),
/// [`DataError::CsvNoFeatures`], [`DataError::CsvRagged`],
/// [`DataError::CsvCell`] (a feature cell that is not a finite number),
/// [`DataError::CsvParse`] (invalid UTF-8 or quoting),
/// [`DataError::CsvColumns`] (test columns differ from train's),
/// [`DataError::CsvLabels`] (negative integer labels, or integers with gaps,
/// or an empty label), [`DataError::CsvOneClass`].
pub fn load_csv(paths: &CsvPaths) -> Result<CsvData, DataError> {
    let train = RawCsv::read(&paths.train, &paths.label_column)?;
    let test = RawCsv::read(&paths.test, &paths.label_column)?;
    if test.columns != train.columns {
        return Err(DataError::CsvColumns {
            path: paths.test.clone(),
            expected: train.columns,
            found: test.columns,
        });
    }
    let classes = resolve_labels(&[(&paths.train, &train.labels), (&paths.test, &test.labels)])?;
    let mut per_file = classes.labels;
    // One vector per input, in order (a short one would fail `try_build`).
    let test_labels = per_file.pop().unwrap_or_default();
    let train_labels = per_file.pop().unwrap_or_default();
    let dim = train.dim();
    let build = |features, labels, first, path: &Path| {
        try_build(features, vec![dim], labels, classes.n_classes, first).map_err(|e| {
            DataError::Inconsistent {
                path: path.to_path_buf(),
                cause: e.to_string(),
            }
        })
    };
    let splits = Splits {
        train: build(train.features, train_labels, 0, &paths.train)?,
        test: build(test.features, test_labels, TEST_ID_OFFSET, &paths.test)?,
    };
    Ok(CsvData {
        splits,
        class_names: classes.names,
    })
}

/// Write `data` as CSV: a header `f0,f1,…,f{d-1},<label_column>`, then one row
/// per sample with its features (flattened, shortest exact decimal form, so
/// [`load_csv`] reads back the same `f32`s) and its integer label last.
///
/// # Errors
/// [`DataError::Inconsistent`] when `label_column` is empty or is one of the
/// feature names `f0…`; [`DataError::Io`] when the file cannot be written.
pub fn write_csv(path: &Path, data: &Dataset, label_column: &str) -> Result<(), DataError> {
    let dim = data.dim();
    let clashes = label_column
        .strip_prefix('f')
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n < dim && label_column == format!("f{n}"));
    if label_column.is_empty() || clashes {
        return Err(DataError::Inconsistent {
            path: path.to_path_buf(),
            cause: format!(
                "label column name {label_column:?} is empty or is the name of a feature column"
            ),
        });
    }
    let io = |e: std::io::Error| DataError::io(path, "writing", &e);
    let file = File::create(path).map_err(|e| DataError::io(path, "creating", &e))?;
    let mut out = csv::Writer::from_writer(BufWriter::new(file));
    let csv_err = |e: csv::Error| DataError::Io {
        path: path.to_path_buf(),
        action: "writing",
        cause: e.to_string(),
    };
    let mut header: Vec<String> = (0..dim).map(|i| format!("f{i}")).collect();
    header.push(label_column.to_string());
    out.write_record(&header).map_err(csv_err)?;
    let mut row: Vec<String> = Vec::with_capacity(dim + 1);
    for i in 0..data.len() {
        row.clear();
        row.extend(data.sample(i).iter().map(|v| v.to_string()));
        row.push(data.labels()[i].to_string());
        out.write_record(&row).map_err(csv_err)?;
    }
    let mut inner = out.into_inner().map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        action: "writing",
        cause: e.to_string(),
    })?;
    inner.flush().map_err(io)
}

/// One CSV file as read: the header, features row-major, labels as written.
pub(crate) struct RawCsv {
    /// The header's column names, in order.
    pub(crate) columns: Vec<String>,
    /// Feature values, row-major, every column but the label's.
    pub(crate) features: Vec<f32>,
    /// Each row's label cell, as written (trimmed); empty without a label column.
    pub(crate) labels: Vec<String>,
    /// Features per row.
    dim: usize,
}

impl RawCsv {
    /// Read and check `path` with the label in column `label_column`.
    pub(crate) fn read(path: &Path, label_column: &str) -> Result<Self, DataError> {
        Self::read_with(path, Some(label_column))
    }

    /// Read and check `path`; with no label column every column is a feature
    /// and `labels` stays empty.
    pub(crate) fn read_with(path: &Path, label_column: Option<&str>) -> Result<Self, DataError> {
        let file = File::open(path).map_err(|e| DataError::io(path, "opening", &e))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(std::io::BufReader::new(file));
        let parse_err = |row: u64, e: csv::Error| DataError::CsvParse {
            path: path.to_path_buf(),
            row,
            cause: e.to_string(),
        };
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| parse_err(1, e))?
            .iter()
            .map(str::to_string)
            .collect();
        if columns.is_empty() || columns.iter().all(String::is_empty) {
            return Err(DataError::CsvEmpty {
                path: path.to_path_buf(),
                what: "the file is empty",
            });
        }
        let label_index = match label_column {
            Some(name) => {
                let Some(at) = columns.iter().position(|c| c == name) else {
                    return Err(DataError::CsvNoLabelColumn {
                        path: path.to_path_buf(),
                        column: name.to_string(),
                        found: columns,
                    });
                };
                if columns.len() < 2 {
                    return Err(DataError::CsvNoFeatures {
                        path: path.to_path_buf(),
                        column: name.to_string(),
                    });
                }
                Some(at)
            }
            None => None,
        };
        let mut features = Vec::new();
        let mut labels = Vec::new();
        let mut record = csv::StringRecord::new();
        let mut row: u64 = 1;
        loop {
            row += 1;
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(parse_err(row, e)),
            }
            if record.len() != columns.len() {
                return Err(DataError::CsvRagged {
                    path: path.to_path_buf(),
                    row,
                    expected: columns.len(),
                    found: record.len(),
                });
            }
            for (j, cell) in record.iter().enumerate() {
                if Some(j) == label_index {
                    labels.push(cell.to_string());
                    continue;
                }
                match cell.parse::<f32>() {
                    Ok(v) if v.is_finite() => features.push(v),
                    _ => {
                        return Err(DataError::CsvCell {
                            path: path.to_path_buf(),
                            row,
                            column: columns[j].clone(),
                            value: cell.to_string(),
                        });
                    }
                }
            }
        }
        if features.is_empty() && labels.is_empty() {
            return Err(DataError::CsvEmpty {
                path: path.to_path_buf(),
                what: "no data rows after the header",
            });
        }
        let dim = columns.len() - usize::from(label_index.is_some());
        Ok(Self {
            columns,
            features,
            labels,
            dim,
        })
    }

    /// Features per row.
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// Data rows.
    pub(crate) fn rows(&self) -> usize {
        self.features.len().checked_div(self.dim).unwrap_or(0)
    }
}

/// Labels turned into class indices.
pub(crate) struct Classes {
    /// One vector of class indices per input, in order.
    pub(crate) labels: Vec<Vec<usize>>,
    /// The class count.
    pub(crate) n_classes: usize,
    /// The class names when the labels were strings.
    pub(crate) names: Option<Vec<String>>,
}

/// Turn the label cells of several files (train first) into class indices
/// shared by all of them (see [`load_csv`]).
pub(crate) fn resolve_labels(files: &[(&Path, &[String])]) -> Result<Classes, DataError> {
    let first_path = files
        .first()
        .map(|(p, _)| p.to_path_buf())
        .unwrap_or_default();
    for (path, labels) in files {
        if let Some(i) = labels.iter().position(String::is_empty) {
            return Err(DataError::CsvLabels {
                path: path.to_path_buf(),
                problem: format!("row {} has an empty label", i + 2),
            });
        }
    }
    let all_integers = files
        .iter()
        .all(|(_, labels)| labels.iter().all(|l| l.parse::<i64>().is_ok()));
    let one_class = |name: &str| DataError::CsvOneClass {
        path: first_path.clone(),
        name: name.to_string(),
    };
    if all_integers {
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(files.len());
        for (path, labels) in files {
            let mut indices = Vec::with_capacity(labels.len());
            for (i, l) in labels.iter().enumerate() {
                let v = l.parse::<i64>().unwrap_or(-1);
                let Ok(class) = usize::try_from(v) else {
                    return Err(DataError::CsvLabels {
                        path: path.to_path_buf(),
                        problem: format!("row {} has the negative label {l}", i + 2),
                    });
                };
                seen.insert(class);
                indices.push(class);
            }
            out.push(indices);
        }
        let k = seen.last().map_or(0, |&max| max + 1);
        if seen.len() != k {
            let missing: Vec<String> = (0..k)
                .filter(|c| !seen.contains(c))
                .take(5)
                .map(|c| c.to_string())
                .collect();
            let more = if k - seen.len() > missing.len() {
                ", ..."
            } else {
                ""
            };
            return Err(DataError::CsvLabels {
                path: first_path,
                problem: format!(
                    "the largest label is {} but label{} {}{more} never occur{} in train or test",
                    k - 1,
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", "),
                    if missing.len() == 1 { "s" } else { "" },
                ),
            });
        }
        if k < 2 {
            return Err(one_class("0"));
        }
        Ok(Classes {
            labels: out,
            n_classes: k,
            names: None,
        })
    } else {
        let names: Vec<String> = files
            .iter()
            .flat_map(|(_, labels)| labels.iter())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .cloned()
            .collect();
        if names.len() < 2 {
            return Err(one_class(names.first().map_or("", String::as_str)));
        }
        let labels = files
            .iter()
            .map(|(_, labels)| {
                labels
                    .iter()
                    .map(|l| names.binary_search(l).unwrap_or_default())
                    .collect()
            })
            .collect();
        Ok(Classes {
            labels,
            n_classes: names.len(),
            names: Some(names),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlobsParams;
    use crate::test_util::temp;
    use poisonlab_core::Rng;
    use rand::SeedableRng;
    use std::fs;

    /// Train and test files with the given contents, in a fresh folder.
    fn files(train: &str, test: &str) -> (tempfile::TempDir, CsvPaths) {
        let dir = temp();
        let p = CsvPaths::new(dir.path().join("train.csv"), dir.path().join("test.csv"));
        fs::write(&p.train, train).unwrap();
        fs::write(&p.test, test).unwrap();
        (dir, p)
    }

    fn error(train: &str, test: &str) -> (DataError, CsvPaths, tempfile::TempDir) {
        let (dir, p) = files(train, test);
        let e = load_csv(&p).expect_err("load should fail");
        (e, p, dir)
    }

    #[test]
    fn write_then_load_is_identical() {
        let s = BlobsParams {
            train: 40,
            test: 15,
            classes: 4,
            dim: 3,
            ..BlobsParams::default()
        }
        .generate(&mut Rng::seed_from_u64(1));
        let dir = temp();
        let p = CsvPaths::new(dir.path().join("a.csv"), dir.path().join("b.csv"));
        write_csv(&p.train, &s.train, "label").unwrap();
        write_csv(&p.test, &s.test, "label").unwrap();
        let header = fs::read_to_string(&p.train).unwrap();
        assert!(header.starts_with("f0,f1,f2,label\n"), "{header}");
        let back = load_csv(&p).unwrap();
        assert_eq!(back.splits, s);
        assert_eq!(back.class_names, None);
    }

    #[test]
    fn label_column_by_name_anywhere_features_in_file_order() {
        let (_dir, mut p) = files("a, y ,b\n1,1,2\n3,0,4\n", "a,y,b\n5,1,6\n");
        p.label_column = "y".into();
        let d = load_csv(&p).unwrap();
        assert_eq!(d.splits.train.shape(), &[2]);
        assert_eq!(d.splits.train.to_features(), [1., 2., 3., 4.]);
        assert_eq!(d.splits.train.labels(), &[1, 0]);
        assert_eq!(d.splits.test.to_features(), [5., 6.]);
        assert_eq!(d.splits.test.ids(), &[TEST_ID_OFFSET]);
    }

    #[test]
    fn string_labels_become_sorted_classes_over_train_and_test() {
        let (_dir, p) = files("x,label\n1,dog\n2,cat\n3,dog\n", "x,label\n4,emu\n5,cat\n");
        let d = load_csv(&p).unwrap();
        assert_eq!(
            d.class_names,
            Some(vec!["cat".into(), "dog".into(), "emu".into()])
        );
        assert_eq!(d.splits.train.labels(), &[1, 0, 1]);
        assert_eq!(d.splits.test.labels(), &[2, 0]);
        assert_eq!(d.splits.train.n_classes(), 3);
    }

    #[test]
    fn integer_labels_may_be_split_across_train_and_test() {
        let (_dir, p) = files("x,label\n1,0\n2,2\n", "x,label\n3,1\n");
        let d = load_csv(&p).unwrap();
        assert_eq!(d.splits.train.n_classes(), 3);
        assert_eq!(d.class_names, None);
    }

    #[test]
    fn a_text_cell_names_file_row_and_column() {
        let (e, p, _dir) = error("x,y,label\n1,2,0\n3,abc,1\n", "x,y,label\n1,2,0\n");
        assert_eq!(
            e,
            DataError::CsvCell {
                path: p.train.clone(),
                row: 3,
                column: "y".into(),
                value: "abc".into(),
            }
        );
        let m = e.to_string();
        assert!(
            m.contains("train.csv") && m.contains("row 3") && m.contains("\"y\""),
            "{m}"
        );
        // NaN and empty cells are not numbers either.
        let (e, ..) = error("x,label\nNaN,0\n", "x,label\n1,0\n");
        assert!(matches!(e, DataError::CsvCell { row: 2, .. }));
        let (e, ..) = error("x,label\n1,0\n", "x,label\n,1\n");
        assert!(matches!(e, DataError::CsvCell { ref path, .. } if path.ends_with("test.csv")));
    }

    #[test]
    fn a_ragged_row_is_refused() {
        let (e, p, _dir) = error("x,y,label\n1,2,0\n1,2,3,1\n", "x,y,label\n1,2,0\n");
        assert_eq!(
            e,
            DataError::CsvRagged {
                path: p.train.clone(),
                row: 3,
                expected: 3,
                found: 4,
            }
        );
        let (e, ..) = error("x,y,label\n1,2,0\n", "x,y,label\n1,0\n");
        assert!(matches!(
            e,
            DataError::CsvRagged {
                row: 2,
                found: 2,
                ..
            }
        ));
    }

    #[test]
    fn a_missing_label_column_lists_the_columns() {
        let (e, p, _dir) = error("x,y,class\n1,2,0\n", "x,y,class\n1,2,0\n");
        assert_eq!(
            e,
            DataError::CsvNoLabelColumn {
                path: p.train.clone(),
                column: "label".into(),
                found: vec!["x".into(), "y".into(), "class".into()],
            }
        );
        assert!(e.to_string().contains("[\"x\", \"y\", \"class\"]"), "{e}");
    }

    #[test]
    fn integer_labels_must_be_zero_to_k_minus_one() {
        let (e, p, _dir) = error("x,label\n1,0\n2,-1\n", "x,label\n1,0\n");
        assert!(matches!(e, DataError::CsvLabels { ref path, .. } if *path == p.train));
        let m = e.to_string();
        assert!(
            m.contains("labels must be integers 0..k-1 or strings"),
            "{m}"
        );
        assert!(m.contains("row 3") && m.contains("-1"), "{m}");
        let (e, ..) = error("x,label\n1,0\n2,3\n", "x,label\n1,1\n");
        let m = e.to_string();
        assert!(
            m.contains("largest label is 3 but label 2 never occurs"),
            "{m}"
        );
        let (e, ..) = error("x,label\n1,1\n2,4\n", "x,label\n1,1\n");
        assert!(e.to_string().contains("labels 0, 2, 3 never occur"), "{e}");
    }

    #[test]
    fn empty_files_are_refused() {
        let (e, p, _dir) = error("", "x,label\n1,0\n");
        assert_eq!(
            e,
            DataError::CsvEmpty {
                path: p.train.clone(),
                what: "the file is empty",
            }
        );
        let (e, ..) = error("x,label\n1,0\n2,1\n", "x,label\n");
        assert!(
            matches!(e, DataError::CsvEmpty { what: "no data rows after the header", ref path } if path.ends_with("test.csv"))
        );
    }

    #[test]
    fn test_columns_must_match_train() {
        let (e, p, _dir) = error("x,y,label\n1,2,0\n3,4,1\n", "y,x,label\n1,2,0\n");
        assert!(matches!(e, DataError::CsvColumns { ref path, .. } if *path == p.test));
    }

    #[test]
    fn one_class_and_no_features_are_refused() {
        let (e, ..) = error("x,label\n1,a\n", "x,label\n2,a\n");
        assert!(matches!(e, DataError::CsvOneClass { ref name, .. } if name == "a"));
        let (e, ..) = error("label\n1\n", "label\n0\n");
        assert!(matches!(e, DataError::CsvNoFeatures { .. }));
        let (e, ..) = error("x,label\n1,\n", "x,label\n2,a\n");
        assert!(e.to_string().contains("row 2 has an empty label"), "{e}");
    }

    #[test]
    fn write_refuses_a_label_column_named_like_a_feature() {
        let d = Dataset::new(vec![1.0, 2.0], vec![2], vec![0], 2, None).unwrap();
        let dir = temp();
        assert!(write_csv(&dir.path().join("x.csv"), &d, "f1").is_err());
        assert!(write_csv(&dir.path().join("x.csv"), &d, "f2").is_ok());
    }
}
