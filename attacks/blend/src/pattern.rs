use std::path::Path;

use poisonlab_core::ParamError;
use poisonlab_core::png_image::Png8;

use crate::BlendError;

/// A pattern read from a PNG: its size and its pixels, in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PngPattern {
    pub rows: usize,
    pub cols: usize,
    pixels: Pixels,
}

#[derive(Debug, Clone, PartialEq)]
enum Pixels {
    /// One value per pixel.
    Grey(Vec<f32>),
    /// Three planes (red, green, blue), each `rows × cols`.
    Rgb(Vec<f32>),
}

impl PngPattern {
    /// Read the PNG at `path` (alpha, if any, is ignored).
    pub fn read(path: &Path) -> Result<Self, BlendError> {
        let png = Png8::read(path).map_err(|message| BlendError::Png {
            path: path.to_path_buf(),
            message,
        })?;
        let (rows, cols) = (png.rows, png.cols);
        let unit = |b: u8| f32::from(b) / 255.0;
        let pixels = match png.channels {
            // RGB(A): channels-first RGB, alpha ignored.
            3 | 4 => Pixels::Rgb(
                (0..3)
                    .flat_map(|ch| png.pixels().map(move |px| unit(px[ch])))
                    .collect(),
            ),
            _ => Pixels::Grey(png.pixels().map(|px| unit(px[0])).collect()),
        };
        Ok(Self { rows, cols, pixels })
    }

    /// The problem with blending this pattern into samples of `shape`, if any.
    pub fn fit(&self, shape: &[usize]) -> Option<ParamError> {
        let &[c, h, w] = shape else {
            return Some(ParamError::new(
                "pattern",
                format!(
                    "an image pattern needs image data [c,h,w]; this data is tabular \
                     (shape {shape:?}); use pattern = \"noise\""
                ),
            ));
        };
        if (self.rows, self.cols) != (h, w) {
            return Some(ParamError::new(
                "path",
                format!(
                    "the pattern image is {}×{} (height×width) but the data's images are {h}×{w}; \
                     it must match exactly",
                    self.rows, self.cols
                ),
            ));
        }
        if matches!(self.pixels, Pixels::Rgb(_)) && c != 1 && c != 3 {
            return Some(ParamError::new(
                "path",
                format!(
                    "a colour pattern fits 1- or 3-channel images, but the data has {c} channels; \
                     use a grey PNG"
                ),
            ));
        }
        None
    }

    /// The pattern laid out as one `[c, h, w]` sample (row-major planes).
    pub fn layout(&self, shape: &[usize]) -> Result<Vec<f32>, BlendError> {
        if let Some(e) = self.fit(shape) {
            return Err(BlendError::PatternDoesNotFit {
                key: e.key,
                message: e.message,
            });
        }
        let c = shape[0];
        let plane = self.rows * self.cols;
        Ok(match &self.pixels {
            Pixels::Grey(v) => v.repeat(c),
            Pixels::Rgb(v) if c == 3 => v.clone(),
            // One channel: Rec. 601 luminance.
            Pixels::Rgb(v) => (0..plane)
                .map(|i| {
                    (0.299 * v[i] + 0.587 * v[plane + i] + 0.114 * v[2 * plane + i]).clamp(0.0, 1.0)
                })
                .collect(),
        })
    }
}

/// Blend `pattern` into `sample` in place: `x' = (1 − alpha)·x + alpha·pattern`.
///
/// Computed in `f64` as `x + alpha·(pattern − x)`, so each result lies between
/// the sample's and the pattern's value: inputs and pattern in [0, 1] stay there.
///
/// # Panics
/// When `sample` and `pattern` differ in length (a programming error).
pub fn blend(sample: &mut [f32], pattern: &[f32], alpha: f64) {
    assert_eq!(
        sample.len(),
        pattern.len(),
        "blend: sample and pattern lengths differ"
    );
    for (x, &p) in sample.iter_mut().zip(pattern) {
        let v = f64::from(*x);
        *x = (v + alpha * (f64::from(p) - v)) as f32;
    }
}
