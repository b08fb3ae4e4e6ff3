use std::path::Path;

use poisonlab_core::png_image::Png8;

use crate::{Apply, BadNetsError, TriggerParams, TriggerShape};

/// A trigger patch before placement: per cell, how much it covers the pixel
/// (`mask`, in [0, 1]) and the value it writes (`ink`, in [0, 1]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Patch {
    pub rows: usize,
    pub cols: usize,
    mask: Vec<f32>,
    ink: Vec<f32>,
    apply: Apply,
}

impl Patch {
    /// The patch a pixel, pattern or square trigger describes, or the one the
    /// PNG at `base_dir`/`path` describes for an image trigger.
    pub fn build(p: &TriggerParams, base_dir: &Path) -> Result<Self, BadNetsError> {
        let value = p.value as f32;
        let solid = |side: usize| Self {
            rows: side,
            cols: side,
            mask: vec![1.0; side * side],
            ink: vec![value; side * side],
            apply: p.apply,
        };
        Ok(match p.shape {
            TriggerShape::Pixel => solid(1),
            TriggerShape::Square => solid(p.size),
            TriggerShape::Pattern => Self {
                ink: (0..p.size * p.size)
                    .map(|i| {
                        if (i / p.size + i % p.size).is_multiple_of(2) {
                            value
                        } else {
                            0.0
                        }
                    })
                    .collect(),
                ..solid(p.size)
            },
            TriggerShape::Image => {
                let rel = p.path.as_deref().ok_or(BadNetsError::MissingPath)?;
                let (rows, cols, mask) = read_mask(&base_dir.join(rel))?;
                Self {
                    rows,
                    cols,
                    ink: vec![value; mask.len()],
                    mask,
                    apply: p.apply,
                }
            }
        })
    }

    /// Write the patch with its top-left pixel at (`top`, `left`) into every
    /// channel of a `[c, h, w]` sample; cells that fall outside the image are skipped.
    pub fn apply(&self, sample: &mut [f32], [c, h, w]: [usize; 3], (top, left): (usize, usize)) {
        for ch in 0..c {
            for r in 0..self.rows {
                let y = top + r;
                if y >= h {
                    break;
                }
                for col in 0..self.cols {
                    let x = left + col;
                    if x >= w {
                        break;
                    }
                    let cell = r * self.cols + col;
                    let (m, ink) = (self.mask[cell], self.ink[cell]);
                    if m <= 0.0 {
                        continue;
                    }
                    let px = &mut sample[(ch * h + y) * w + x];
                    *px = match self.apply {
                        Apply::Stamp if m >= 1.0 => ink,
                        // Computed in f64 so the f32 result stays between the
                        // pixel and the ink.
                        Apply::Stamp => {
                            let (p, m, ink) = (f64::from(*px), f64::from(m), f64::from(ink));
                            (p + m * (ink - p)) as f32
                        }
                        Apply::Add => (*px + m * ink).clamp(0.0, 1.0),
                    };
                }
            }
        }
    }
}

/// The mask in a PNG file: rows, columns, and one value in [0, 1] per pixel
/// (the alpha channel when there is one, otherwise the grey level or luminance).
fn read_mask(path: &Path) -> Result<(usize, usize, Vec<f32>), BadNetsError> {
    let png = Png8::read(path).map_err(|message| BadNetsError::Png {
        path: path.to_path_buf(),
        message,
    })?;
    let mask = png
        .pixels()
        .map(|px| {
            let v = match px.len() {
                2 => px[1],                          // grey + alpha: the alpha
                4 => px[3],                          // RGBA: the alpha
                3 => luminance(px[0], px[1], px[2]), // RGB: the brightness
                _ => px[0],                          // grey
            };
            f32::from(v) / 255.0
        })
        .collect();
    Ok((png.rows, png.cols, mask))
}

/// Rec. 601 luma of an 8-bit RGB pixel, rounded back to 8 bits.
fn luminance(r: u8, g: u8, b: u8) -> u8 {
    let y = 0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b);
    y.round().clamp(0.0, 255.0) as u8
}
