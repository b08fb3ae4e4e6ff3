//! Reading PNG images that users point scenarios at (trigger masks, blend patterns).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// A decoded 8-bit PNG: `rows × cols` pixels of `channels` samples each
/// (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA), row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Png8 {
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Samples per pixel.
    pub channels: usize,
    /// `rows × cols × channels` bytes.
    pub bytes: Vec<u8>,
}

impl Png8 {
    /// Read and decode `path`, expanding palettes and bit depths to 8-bit
    /// samples. The error is a message to put next to the file name.
    pub fn read(path: &Path) -> Result<Png8, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let mut decoder = png::Decoder::new(BufReader::new(file));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| "the image is too large to decode".to_string())?;
        let mut buf = vec![0; size];
        let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
        let (rows, cols) = (info.height as usize, info.width as usize);
        let channels = info.color_type.samples();
        buf.truncate(info.buffer_size());
        if rows * cols * channels != buf.len() || info.bit_depth != png::BitDepth::Eight {
            return Err(format!(
                "unexpected decoded layout: {:?} {:?} {cols}×{rows}",
                info.color_type, info.bit_depth
            ));
        }
        Ok(Png8 {
            rows,
            cols,
            channels,
            bytes: buf,
        })
    }

    /// The samples of each pixel.
    pub fn pixels(&self) -> std::slice::ChunksExact<'_, u8> {
        self.bytes.chunks_exact(self.channels)
    }
}
