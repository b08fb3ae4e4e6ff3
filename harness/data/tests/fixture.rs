//! The checked-in `tests/fixtures/tiny-idx/` (written by
//! `examples/make_fixture.rs`) loads through the public IDX path.

use std::path::{Path, PathBuf};

use poisonlab_data::{IdxPaths, SyntheticDigitsParams, TEST_ID_OFFSET, inspect, load_idx};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-idx")
}

#[test]
fn tiny_idx_fixture_loads() {
    let paths = IdxPaths::in_dir(&fixture());
    // The training files are gzip, the test files raw.
    assert!(paths.train_images.ends_with("train-images-idx3-ubyte.gz"));
    assert!(paths.test_images.ends_with("t10k-images-idx3-ubyte"));
    let s = load_idx(&paths).expect("fixture loads");
    assert_eq!(s.train.shape(), &[1, 28, 28]);
    assert_eq!((s.train.len(), s.test.len()), (300, 100));
    assert_eq!((s.train.n_classes(), s.test.n_classes()), (10, 10));
    assert_eq!(s.train.class_counts(), vec![30; 10]);
    assert_eq!(s.test.class_counts(), vec![10; 10]);
    assert_eq!(s.test.ids()[0], TEST_ID_OFFSET);
    assert!(s.train.rows().flatten().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn fixture_is_the_generator_output_within_a_byte_step() {
    let generated = SyntheticDigitsParams {
        train: 300,
        test: 100,
    }
    .generate(&mut poisonlab_core::stream(0, 0, "fixture"));
    let loaded = load_idx(&IdxPaths::in_dir(&fixture())).expect("fixture loads");
    assert_eq!(loaded.train.labels(), generated.train.labels());
    assert_eq!(loaded.test.labels(), generated.test.labels());
    for (a, b) in loaded
        .train
        .rows()
        .flatten()
        .zip(generated.train.rows().flatten())
    {
        assert!((a - b).abs() <= 0.5 / 255.0 + 1e-6, "{a} vs {b}");
    }
}

#[test]
fn fixture_inspects() {
    let i = inspect(&fixture().join("train-images-idx3-ubyte.gz")).expect("inspect");
    assert_eq!(i.format, "idx images (gzip)");
    assert_eq!(i.shape, vec![300, 28, 28]);
    let i = inspect(&fixture().join("t10k-labels-idx1-ubyte")).expect("inspect");
    assert_eq!(i.format, "idx labels (raw)");
    assert_eq!(i.class_counts, Some(vec![10; 10]));
}

/// Keeping the first N samples decodes exactly the full load's first N
/// (values, labels, ids, class count), for the gzip and the raw file, and a
/// limit beyond the file keeps everything.
#[test]
fn loading_the_first_samples_equals_cutting_the_full_load() {
    let paths = IdxPaths::in_dir(&fixture());
    let full = load_idx(&paths).expect("fixture loads");
    for (train, test) in [(1, 1), (37, 10), (300, 100), (1000, 1000)] {
        let part = poisonlab_data::load_idx_first(&paths, Some(train), Some(test)).expect("loads");
        let (nt, ne) = (train.min(300), test.min(100));
        assert_eq!((part.train.len(), part.test.len()), (nt, ne));
        assert_eq!(part.train.n_classes(), full.train.n_classes());
        let dim = 28 * 28;
        assert_eq!(
            part.train.to_features(),
            &full.train.to_features()[..nt * dim]
        );
        assert_eq!(
            part.test.to_features(),
            &full.test.to_features()[..ne * dim]
        );
        assert_eq!(part.train.labels(), &full.train.labels()[..nt]);
        assert_eq!(part.test.ids(), &full.test.ids()[..ne]);
    }
}
