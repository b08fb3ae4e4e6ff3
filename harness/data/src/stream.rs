//! Reading a dataset file as a byte stream, gzip detected by content.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use crate::DataError;

/// The two bytes every gzip stream starts with.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Buffer size for file reads.
const BUF: usize = 1 << 16;

/// A file opened for reading, decompressed on the fly when its content is
/// gzip (whatever its name), with errors that name the file.
pub(crate) struct Stream {
    path: PathBuf,
    gzip: bool,
    reader: Box<dyn Read>,
}

impl Stream {
    /// Open `path`; gzip is detected by its first two bytes (`1f 8b`).
    pub(crate) fn open(path: &Path) -> Result<Self, DataError> {
        Self::open_with(path, true)
    }

    /// Open `path` and read its bytes as stored, never decompressed.
    pub(crate) fn open_raw(path: &Path) -> Result<Self, DataError> {
        Self::open_with(path, false)
    }

    fn open_with(path: &Path, detect_gzip: bool) -> Result<Self, DataError> {
        let file = File::open(path).map_err(|e| DataError::io(path, "opening", &e))?;
        let mut buffered = BufReader::with_capacity(BUF, file);
        let head = buffered
            .fill_buf()
            .map_err(|e| DataError::io(path, "reading", &e))?;
        let gzip = detect_gzip && head.starts_with(&GZIP_MAGIC);
        let reader: Box<dyn Read> = if gzip {
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        Ok(Self {
            path: path.to_path_buf(),
            gzip,
            reader,
        })
    }

    /// True when the file is gzip-compressed.
    pub(crate) fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Read until `buf` is full or the (decompressed) data ends cleanly;
    /// returns the bytes read. A damaged or cut-off gzip stream is an error
    /// ([`DataError::Gzip`]), not a short read.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> Result<usize, DataError> {
        let mut got = 0;
        while got < buf.len() {
            match self.reader.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(&e)),
            }
        }
        Ok(got)
    }

    /// Bytes left until the end of the (decompressed) data.
    pub(crate) fn count_rest(&mut self) -> Result<u64, DataError> {
        let mut buf = vec![0u8; BUF];
        let mut total = 0u64;
        loop {
            let n = self.fill(&mut buf)?;
            total += n as u64;
            if n < buf.len() {
                return Ok(total);
            }
        }
    }

    /// Call `f` on successive chunks of exactly `want` bytes in total (the
    /// last chunk may be shorter than the others); returns the bytes
    /// delivered, less than `want` when the data ends early.
    pub(crate) fn for_chunks(
        &mut self,
        want: u64,
        mut f: impl FnMut(&[u8]),
    ) -> Result<u64, DataError> {
        let mut buf = vec![0u8; BUF];
        let mut done = 0u64;
        while done < want {
            let take = (want - done).min(BUF as u64) as usize;
            let n = self.fill(&mut buf[..take])?;
            f(&buf[..n]);
            done += n as u64;
            if n < take {
                break;
            }
        }
        Ok(done)
    }

    fn error(&self, e: &std::io::Error) -> DataError {
        if self.gzip {
            DataError::Gzip {
                path: self.path.clone(),
                cause: e.to_string(),
            }
        } else {
            DataError::io(&self.path, "reading", e)
        }
    }
}

/// The length of `path` in bytes.
pub(crate) fn file_len(path: &Path) -> Result<u64, DataError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| DataError::io(path, "opening", &e))
}

/// Scale a byte to `[0, 1]`.
pub(crate) fn unit(b: u8) -> f32 {
    f32::from(b) / 255.0
}

/// A value in `[0, 1]` as a byte: `v · 255` rounded, clamped to `0..=255`
/// (NaN becomes 0).
pub(crate) fn to_byte(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}
