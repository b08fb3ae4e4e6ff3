//! `data export`: the poisoned training set of a scenario's first run, for
//! looking at what the attack did and for other tools.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use poisonlab_data::{contact_sheet, write_csv, write_idx_images, write_idx_labels};

use crate::exec::load_checked;
use crate::pipeline::{RunContext, poisoned_set};
use poisonlab_results::write_atomic;
use poisonlab_scenario::Scenario;

use crate::RunError;

/// Tiles of each kind on the contact sheet.
const SHEET_TILES: usize = 16;

/// What `export` wrote.
#[derive(Debug)]
pub struct Exported {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Training samples written.
    pub n: usize,
    /// Poisoned among them.
    pub n_poison: usize,
}

/// Write the poisoned training set of the first sweep point, repeat 0, to `dir`:
/// IDX files for one-channel images, CSV otherwise; `poison-mask.csv`
/// (id, is_poison, original label, new label); and `contact-sheet.png` of
/// poisoned (red border) and clean (grey border) samples for image data, a
/// poison perturbed in place (clean label) right after its unperturbed base
/// (blue border).
pub fn export(scenario: &Scenario, file: &str, dir: &Path) -> Result<Exported, RunError> {
    let data = load_checked(scenario, file)?;
    let point = scenario.points.first().ok_or_else(|| RunError::Attack {
        kind: "none",
        message: "the scenario has no sweep points".into(),
    })?;
    let ctx = RunContext {
        seed: scenario.meta.seed,
        data: &data,
        integrity: scenario.integrity.as_ref(),
        inner_threads: 1,
        clean_fpr: scenario.meta.clean_fpr,
    };
    let poisoned = poisoned_set(&ctx, point, 0)?;
    std::fs::create_dir_all(dir).map_err(RunError::io(dir))?;
    let set = &poisoned.data;
    let mut files = Vec::new();
    if set.is_image() && set.shape()[0] == 1 {
        let (images, labels) = (
            dir.join("train-images-idx3-ubyte"),
            dir.join("train-labels-idx1-ubyte"),
        );
        write_idx_images(&images, set)?;
        write_idx_labels(&labels, set.labels())?;
        files.extend([images, labels]);
    } else {
        let path = dir.join("train.csv");
        write_csv(&path, set, "label")?;
        files.push(path);
    }

    let original: std::collections::HashMap<u64, usize> = data
        .train
        .ids()
        .iter()
        .copied()
        .zip(data.train.labels().iter().copied())
        .collect();
    let mut mask = String::from("id,is_poison,original_label,new_label\n");
    for i in 0..set.len() {
        let id = set.ids()[i];
        // Samples the attack added have no original.
        let orig = original.get(&id).map_or(String::new(), |l| l.to_string());
        let _ = writeln!(
            mask,
            "{id},{},{orig},{}",
            poisoned.is_poison[i],
            set.labels()[i]
        );
    }
    let mask_path = dir.join("poison-mask.csv");
    write_atomic(&mask_path, mask.as_bytes())?;
    files.push(mask_path);

    if set.is_image() {
        let shape = [set.shape()[0], set.shape()[1], set.shape()[2]];
        let mask = &poisoned.is_poison;
        let pick = |want: bool| {
            (0..set.len())
                .filter(move |&i| mask[i] == want)
                .take(SHEET_TILES)
        };
        // A poison perturbed in place (clean-label attacks) follows its
        // unperturbed base (blue border), so the perturbation shows.
        let clean = &data.train;
        let base_of = |i: usize| {
            (i < clean.len()
                && clean.ids()[i] == set.ids()[i]
                && clean.sample(i) != set.sample(i)
                && clean.labels()[i] == set.labels()[i])
                .then(|| clean.sample(i))
        };
        let mut tiles: Vec<(&[f32], [usize; 3], [u8; 3])> = Vec::new();
        for i in pick(true) {
            if let Some(base) = base_of(i) {
                tiles.push((base, shape, [40, 110, 220]));
            }
            tiles.push((set.sample(i), shape, [220, 30, 30]));
        }
        tiles.extend(pick(false).map(|i| (set.sample(i), shape, [160, 160, 160])));
        let sheet = dir.join("contact-sheet.png");
        contact_sheet(&sheet, &tiles, 8)?;
        files.push(sheet);
    }
    Ok(Exported {
        files,
        n: set.len(),
        n_poison: poisoned.n_poison(),
    })
}
