//! Contact sheets: a grid of sample images in one PNG, each in a coloured frame.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::DataError;
use crate::stream::to_byte;

/// Width in pixels of the coloured frame drawn around every tile.
pub const SHEET_BORDER: usize = 2;
/// Pixels of background between tiles and around the grid.
pub const SHEET_GAP: usize = 2;
/// The background colour (white).
const BACKGROUND: [u8; 3] = [255, 255, 255];

/// Draw `samples` as a grid of `columns` tiles per row and save it as an 8-bit
/// RGB PNG at `path`.
///
/// Each sample is `(values, [channels, height, width], frame colour)`: one
/// channel (grayscale, drawn grey) or three (RGB, channel-first as in the
/// datasets), values in `[0, 1]` (clamped; byte = `round(v · 255)`). Every
/// tile is the largest sample's size with the image centred in it, framed by
/// a [`SHEET_BORDER`]-pixel border in the sample's colour (the runner uses
/// red for poisoned samples and grey for clean ones); tiles sit
/// [`SHEET_GAP`] pixels apart on a white background, filling rows left to
/// right. With `c = min(columns, n)` tiles per row and `r = ceil(n / c)`
/// rows, the image is `c · (W + 2·SHEET_BORDER) + (c + 1) · SHEET_GAP`
/// pixels wide and `r · (H + 2·SHEET_BORDER) + (r + 1) · SHEET_GAP` high,
/// where `W × H` is the largest sample size.
///
/// # Errors
/// [`DataError::ContactSheet`] when there are no samples, `columns` is 0, a
/// sample has other than 1 or 3 channels, a zero side, or a value count that
/// is not `channels · height · width`, or the sheet would be too large for a
/// PNG; [`DataError::Io`] when the file cannot be written.
pub fn contact_sheet(
    path: &Path,
    samples: &[(&[f32], [usize; 3], [u8; 3])],
    columns: usize,
) -> Result<(), DataError> {
    let refuse = |reason: String| DataError::ContactSheet {
        path: path.to_path_buf(),
        reason,
    };
    if samples.is_empty() {
        return Err(refuse("no samples to draw".into()));
    }
    if columns == 0 {
        return Err(refuse("columns must be at least 1".into()));
    }
    for (i, (values, [c, h, w], _)) in samples.iter().enumerate() {
        if !matches!(c, 1 | 3) || *h == 0 || *w == 0 {
            return Err(refuse(format!(
                "sample {i} has shape [{c}, {h}, {w}]; expected 1 or 3 channels and non-zero sides"
            )));
        }
        if values.len() != c * h * w {
            return Err(refuse(format!(
                "sample {i} has {} values, but shape [{c}, {h}, {w}] needs {}",
                values.len(),
                c * h * w
            )));
        }
    }
    let tile_h = samples.iter().map(|s| s.1[1]).max().unwrap_or(1) + 2 * SHEET_BORDER;
    let tile_w = samples.iter().map(|s| s.1[2]).max().unwrap_or(1) + 2 * SHEET_BORDER;
    let cols = columns.min(samples.len());
    let rows = samples.len().div_ceil(cols);
    let width = cols * tile_w + (cols + 1) * SHEET_GAP;
    let height = rows * tile_h + (rows + 1) * SHEET_GAP;
    let too_big = || refuse(format!("a {width} x {height} sheet is too large"));
    let (Ok(png_w), Ok(png_h)) = (u32::try_from(width), u32::try_from(height)) else {
        return Err(too_big());
    };
    let bytes = width
        .checked_mul(height)
        .and_then(|p| p.checked_mul(3))
        .ok_or_else(too_big)?;

    let mut pixels = Vec::new();
    pixels.try_reserve_exact(bytes).map_err(|_| too_big())?;
    pixels.resize(bytes, 0);
    for px in pixels.chunks_exact_mut(3) {
        px.copy_from_slice(&BACKGROUND);
    }
    let mut put = |x: usize, y: usize, rgb: [u8; 3]| {
        let at = 3 * (y * width + x);
        pixels[at..at + 3].copy_from_slice(&rgb);
    };
    for (k, (values, [c, h, w], colour)) in samples.iter().enumerate() {
        let x0 = SHEET_GAP + (k % cols) * (tile_w + SHEET_GAP);
        let y0 = SHEET_GAP + (k / cols) * (tile_h + SHEET_GAP);
        // The frame: the whole tile in the frame colour, the image on top.
        for y in 0..tile_h {
            for x in 0..tile_w {
                put(x0 + x, y0 + y, *colour);
            }
        }
        // Centre the image in the tile's interior; the interior around a
        // smaller image stays black.
        let inner_h = tile_h - 2 * SHEET_BORDER;
        let inner_w = tile_w - 2 * SHEET_BORDER;
        for y in 0..inner_h {
            for x in 0..inner_w {
                put(x0 + SHEET_BORDER + x, y0 + SHEET_BORDER + y, [0, 0, 0]);
            }
        }
        let ix = x0 + SHEET_BORDER + (inner_w - w) / 2;
        let iy = y0 + SHEET_BORDER + (inner_h - h) / 2;
        let plane = h * w;
        for y in 0..*h {
            for x in 0..*w {
                let at = y * w + x;
                let rgb = if *c == 1 {
                    [to_byte(values[at]); 3]
                } else {
                    [
                        to_byte(values[at]),
                        to_byte(values[plane + at]),
                        to_byte(values[2 * plane + at]),
                    ]
                };
                put(ix + x, iy + y, rgb);
            }
        }
    }

    let png_err = |e: png::EncodingError| DataError::Io {
        path: path.to_path_buf(),
        action: "writing",
        cause: e.to_string(),
    };
    let file = File::create(path).map_err(|e| DataError::io(path, "creating", &e))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), png_w, png_h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&pixels).map_err(png_err)?;
    writer.finish().map_err(png_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::temp;
    use std::io::BufReader;

    /// Decode the PNG at `path`: width, height and RGB bytes.
    fn decode(path: &Path) -> (usize, usize, Vec<u8>) {
        let file = BufReader::new(File::open(path).unwrap());
        let mut reader = png::Decoder::new(file).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width as usize, info.height as usize, buf)
    }

    #[test]
    fn grid_of_framed_tiles_with_expected_size() {
        let dir = temp();
        let path = dir.path().join("sheet.png");
        let gray = vec![1.0f32; 4 * 4];
        let mut rgb = vec![0.0f32; 3 * 4 * 4];
        rgb[..16].fill(1.0); // red plane
        let red = [255, 0, 0];
        let grey = [128, 128, 128];
        let samples: Vec<(&[f32], [usize; 3], [u8; 3])> = vec![
            (&gray, [1, 4, 4], grey),
            (&rgb, [3, 4, 4], red),
            (&gray, [1, 4, 4], grey),
        ];
        contact_sheet(&path, &samples, 2).unwrap();
        let (w, h, px) = decode(&path);
        let tile = 4 + 2 * SHEET_BORDER;
        assert_eq!(w, 2 * tile + 3 * SHEET_GAP);
        assert_eq!(h, 2 * tile + 3 * SHEET_GAP);
        let at = |x: usize, y: usize| {
            [
                px[3 * (y * w + x)],
                px[3 * (y * w + x) + 1],
                px[3 * (y * w + x) + 2],
            ]
        };
        assert_eq!(at(0, 0), BACKGROUND);
        // Tile 0: grey frame, white image.
        assert_eq!(at(SHEET_GAP, SHEET_GAP), grey);
        let inside0 = SHEET_GAP + SHEET_BORDER;
        assert_eq!(at(inside0, inside0), [255, 255, 255]);
        // Tile 1 (top right): red frame, red image.
        let x1 = SHEET_GAP + tile + SHEET_GAP;
        assert_eq!(at(x1, SHEET_GAP + 1), red);
        assert_eq!(at(x1 + SHEET_BORDER + 1, inside0 + 1), [255, 0, 0]);
        // Bottom right: no tile.
        assert_eq!(at(x1 + 3, SHEET_GAP + tile + SHEET_GAP + 3), BACKGROUND);
    }

    #[test]
    fn smaller_images_are_centred_in_black() {
        let dir = temp();
        let path = dir.path().join("sheet.png");
        let big = vec![1.0f32; 6 * 6];
        let small = vec![1.0f32; 2 * 2];
        let c = [0, 0, 255];
        contact_sheet(&path, &[(&big, [1, 6, 6], c), (&small, [1, 2, 2], c)], 5).unwrap();
        let (w, h, px) = decode(&path);
        let tile = 6 + 2 * SHEET_BORDER;
        assert_eq!((w, h), (2 * tile + 3 * SHEET_GAP, tile + 2 * SHEET_GAP));
        let x0 = 2 * SHEET_GAP + tile + SHEET_BORDER;
        let y0 = SHEET_GAP + SHEET_BORDER;
        let at = |x: usize, y: usize| px[3 * (y * w + x)];
        assert_eq!(at(x0, y0), 0);
        assert_eq!(at(x0 + 2, y0 + 2), 255);
    }

    #[test]
    fn bad_samples_are_refused() {
        let dir = temp();
        let path = dir.path().join("sheet.png");
        let v = vec![0.5f32; 8];
        let c = [0, 0, 0];
        assert!(contact_sheet(&path, &[], 3).is_err());
        assert!(contact_sheet(&path, &[(&v, [2, 2, 2], c)], 3).is_err());
        let e = contact_sheet(&path, &[(&v, [1, 3, 3], c)], 3).unwrap_err();
        assert!(e.to_string().contains("8 values"), "{e}");
        assert!(contact_sheet(&path, &[(&v, [1, 2, 4], c)], 0).is_err());
        assert!(!path.exists());
    }
}
