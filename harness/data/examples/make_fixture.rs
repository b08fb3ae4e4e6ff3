//! Writes the checked-in IDX fixture `tests/fixtures/tiny-idx/`: 300 training
//! and 100 test images of `synthetic-digits` (seed 0, stream "fixture"), the
//! training files gzip-compressed and the test files raw, so tests and
//! end-to-end runs exercise both kinds of IDX file without a download.
//!
//! Run with `cargo run -p poisonlab-data --example make_fixture [DIR]`
//! (default: this crate's `tests/fixtures/tiny-idx`). The output is a pure
//! function of the generator, so rerunning it reproduces the same bytes
//! unless the generator changes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use poisonlab_data::{SyntheticDigitsParams, write_idx_images, write_idx_labels};

fn main() -> ExitCode {
    let dir = std::env::args_os().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-idx"),
        PathBuf::from,
    );
    match run(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let splits = SyntheticDigitsParams {
        train: 300,
        test: 100,
    }
    .generate(&mut poisonlab_core::stream(0, 0, "fixture"));

    let train_images = dir.join("train-images-idx3-ubyte");
    let train_labels = dir.join("train-labels-idx1-ubyte");
    write_idx_images(&train_images, &splits.train)?;
    write_idx_labels(&train_labels, splits.train.labels())?;
    for raw in [train_images, train_labels] {
        gzip_in_place(&raw)?;
    }
    write_idx_images(&dir.join("t10k-images-idx3-ubyte"), &splits.test)?;
    write_idx_labels(&dir.join("t10k-labels-idx1-ubyte"), splits.test.labels())?;

    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let len = entry.metadata()?.len();
        total += len;
        println!("{:>8}  {}", len, entry.path().display());
    }
    println!("{total:>8}  bytes in all");
    Ok(())
}

/// Replace `raw` by `raw.gz` (best compression, no file name or time in the
/// gzip header, so the bytes are reproducible).
fn gzip_in_place(raw: &Path) -> std::io::Result<()> {
    let bytes = std::fs::read(raw)?;
    let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)?;
    let mut name = raw.as_os_str().to_owned();
    name.push(".gz");
    std::fs::write(PathBuf::from(name), gz.finish()?)?;
    std::fs::remove_file(raw)
}
