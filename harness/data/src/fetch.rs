//! `fetch`: verified, resumable downloads of the public datasets.
//!
//! Each known dataset has a [`Catalogue`] of files with pinned SHA-256 sums
//! (and sizes), published by the dataset's distributors and repeated in
//! TensorFlow Datasets' checksum lists (`tensorflow_datasets/url_checksums/`
//! `mnist.txt`, `fashion_mnist.txt`, `cifar10.txt`). A file is downloaded to
//! `<name>.part`, resumed with an HTTP `Range` request when a partial file is
//! already there, verified, and only then renamed into place, so a file under
//! its final name is always a verified one.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::DataError;
use crate::inspect::{hex, sha256_file};

/// One file of a dataset, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name, relative to the catalogue's base URL and the target folder.
    pub name: &'static str,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: &'static str,
    /// Size in bytes, when known (checked before the sum).
    pub size: Option<u64>,
}

/// The files of one downloadable dataset and where they are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    /// The dataset's name (`"mnist"`, `"fashion-mnist"`, `"cifar10"`).
    pub dataset: &'static str,
    /// The folder URL the files are under (no trailing slash needed).
    pub base_url: &'static str,
    /// The files.
    pub files: &'static [RemoteFile],
}

/// The datasets [`fetch`] knows. Sums and sizes: TensorFlow Datasets'
/// `url_checksums/{mnist,fashion_mnist,cifar10}.txt`, matching the values
/// published with the datasets and used across other public loaders.
static CATALOGUES: [Catalogue; 3] = [
    Catalogue {
        dataset: "mnist",
        // PyTorch's mirror of Yann LeCun's files (the original site now
        // often refuses downloads); same bytes as the original and as
        // storage.googleapis.com/cvdf-datasets/mnist.
        base_url: "https://ossci-datasets.s3.amazonaws.com/mnist",
        files: &[
            RemoteFile {
                name: "train-images-idx3-ubyte.gz",
                sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                size: Some(9_912_422),
            },
            RemoteFile {
                name: "train-labels-idx1-ubyte.gz",
                sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                size: Some(28_881),
            },
            RemoteFile {
                name: "t10k-images-idx3-ubyte.gz",
                sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                size: Some(1_648_877),
            },
            RemoteFile {
                name: "t10k-labels-idx1-ubyte.gz",
                sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                size: Some(4_542),
            },
        ],
    },
    Catalogue {
        dataset: "fashion-mnist",
        // Zalando's own bucket; S3 website endpoints serve plain HTTP only,
        // the pinned sums are what makes the download trustworthy.
        base_url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
        files: &[
            RemoteFile {
                name: "train-images-idx3-ubyte.gz",
                sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                size: Some(26_421_880),
            },
            RemoteFile {
                name: "train-labels-idx1-ubyte.gz",
                sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                size: Some(29_515),
            },
            RemoteFile {
                name: "t10k-images-idx3-ubyte.gz",
                sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                size: Some(4_422_102),
            },
            RemoteFile {
                name: "t10k-labels-idx1-ubyte.gz",
                sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                size: Some(5_148),
            },
        ],
    },
    Catalogue {
        dataset: "cifar10",
        base_url: "https://www.cs.toronto.edu/~kriz",
        files: &[RemoteFile {
            name: "cifar-10-binary.tar.gz",
            sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
            size: Some(170_052_171),
        }],
    },
];

/// Every dataset [`fetch`] knows, for listing.
pub fn catalogues() -> &'static [Catalogue] {
    &CATALOGUES
}

/// The catalogue of `name`: `"mnist"`, `"fashion-mnist"` or `"cifar10"`.
pub fn catalogue(name: &str) -> Option<&'static Catalogue> {
    CATALOGUES.iter().find(|c| c.dataset == name)
}

/// Tries per file: a dropped connection is resumed from the partial file.
const ATTEMPTS: u32 = 4;
/// Bytes read from the network per write to the partial file.
const CHUNK: usize = 1 << 16;

/// Download the files of `cat` into the folder `to` (created if missing) and
/// verify them; returns the paths a loader reads, in catalogue order.
///
/// For each file, from `base_url` when given (a mirror, or a test server)
/// or the catalogue's own:
/// - a file already at `to/<name>` with the pinned SHA-256 is kept as is
///   (one with another sum is downloaded again and replaced);
/// - otherwise it is downloaded to `to/<name>.part`; an existing `.part` is
///   resumed with `Range: bytes=<len>-` and appended to when the server
///   answers `206`, or restarted from zero when it answers `200`. A dropped
///   connection is resumed the same way, up to 4 tries per file, and a later
///   call resumes from the `.part` too;
/// - when complete, the size (if pinned) and the SHA-256 are checked; on a
///   mismatch the `.part` is deleted and the call fails, otherwise it is
///   renamed to `to/<name>`;
/// - a `.tar.gz` file (CIFAR-10) is then unpacked: its `.bin` entries are
///   written under `to` with their path in the archive (CIFAR-10's land in
///   `to/cifar-10-batches-bin/`, the folder [`crate::load_cifar10`] reads),
///   and those paths are returned in place of the archive's.
///
/// `progress(name, bytes_so_far, total)` is called as data arrives (and once
/// per file that is already there); `total` is the pinned size, or the size
/// the server announces.
///
/// # Errors
/// [`DataError::Download`] when the connection fails on every try,
/// [`DataError::HttpStatus`] for an HTTP error status,
/// [`DataError::Size`] / [`DataError::Checksum`] when the completed file does
/// not match its pin (naming the file, expected and actual values; the
/// partial file is deleted), [`DataError::Io`] when a file cannot be written,
/// [`DataError::Archive`] when an archive cannot be unpacked.
pub fn fetch(
    cat: &Catalogue,
    to: &Path,
    base_url: Option<&str>,
    progress: &mut dyn FnMut(&str, u64, Option<u64>),
) -> Result<Vec<PathBuf>, DataError> {
    fs::create_dir_all(to).map_err(|e| DataError::io(to, "creating the folder", &e))?;
    let base = base_url.unwrap_or(cat.base_url).trim_end_matches('/');
    let agent = agent(base);
    let mut out = Vec::new();
    for file in cat.files {
        let url = format!("{base}/{}", file.name);
        let dest = to.join(file.name);
        if already_there(&dest, file)? {
            let len = fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
            progress(file.name, len, Some(len));
        } else {
            download(&agent, &url, &dest, file, progress)?;
        }
        if file.name.ends_with(".tar.gz") || file.name.ends_with(".tgz") {
            out.extend(extract_bins(&dest, to)?);
        } else {
            out.push(dest);
        }
    }
    Ok(out)
}

/// An HTTP client for `base`: status codes returned, not raised; no
/// transparent decompression (byte ranges must index the file as stored);
/// no proxy for loopback addresses.
fn agent(base: &str) -> ureq::Agent {
    let host = base
        .split_once("://")
        .map_or(base, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    let loopback = matches!(host, "127.0.0.1" | "localhost") || base.contains("://[::1]");
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .accept_encoding("identity")
        .user_agent(concat!("poisonlab/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)));
    if loopback {
        config = config.proxy(None);
    }
    config.build().into()
}

/// True when `dest` exists with the pinned size and sum.
fn already_there(dest: &Path, file: &RemoteFile) -> Result<bool, DataError> {
    let Ok(meta) = fs::metadata(dest) else {
        return Ok(false);
    };
    if file.size.is_some_and(|s| s != meta.len()) {
        return Ok(false);
    }
    Ok(sha256_file(dest)? == file.sha256)
}

/// The `.part` path next to `dest`.
fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Download `url` to `dest` via its `.part` file, retrying dropped
/// connections, then verify and rename.
fn download(
    agent: &ureq::Agent,
    url: &str,
    dest: &Path,
    file: &RemoteFile,
    progress: &mut dyn FnMut(&str, u64, Option<u64>),
) -> Result<(), DataError> {
    let part = part_path(dest);
    let mut last = None;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
        }
        match attempt_once(agent, url, &part, file, progress) {
            Ok(()) => {
                last = None;
                break;
            }
            Err(Attempt::Retry(e)) => last = Some(e),
            Err(Attempt::Fatal(e)) => return Err(e),
        }
    }
    if let Some(e) = last {
        return Err(e);
    }
    verify(&part, dest, file)?;
    fs::rename(&part, dest).map_err(|e| DataError::io(dest, "renaming the finished .part file", &e))
}

/// Check the completed `.part` against the pins; delete it on a mismatch.
fn verify(part: &Path, dest: &Path, file: &RemoteFile) -> Result<(), DataError> {
    let len = fs::metadata(part)
        .map(|m| m.len())
        .map_err(|e| DataError::io(part, "opening", &e))?;
    if let Some(size) = file.size
        && size != len
    {
        let _ = fs::remove_file(part);
        return Err(DataError::Size {
            path: dest.to_path_buf(),
            expected: size,
            actual: len,
        });
    }
    let actual = sha256_file(part)?;
    if actual != file.sha256 {
        let _ = fs::remove_file(part);
        return Err(DataError::Checksum {
            path: dest.to_path_buf(),
            expected: file.sha256.to_string(),
            actual,
        });
    }
    Ok(())
}

/// How one try ended when it did not complete the file.
enum Attempt {
    /// The connection failed or was cut: try again from the `.part`.
    Retry(DataError),
    /// Nothing a retry would fix.
    Fatal(DataError),
}

/// One request: resume or restart the `.part` and append the body to it.
fn attempt_once(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    file: &RemoteFile,
    progress: &mut dyn FnMut(&str, u64, Option<u64>),
) -> Result<(), Attempt> {
    let fatal_io = |action, e: &std::io::Error| Attempt::Fatal(DataError::io(part, action, e));
    let mut have = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if file.size.is_some_and(|size| have > size) {
        have = 0; // longer than the file can be: start over
    }
    if have > 0 && file.size == Some(have) {
        return Ok(()); // complete; verified by the caller
    }
    let mut request = agent.get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = request.call().map_err(|e| {
        Attempt::Retry(DataError::Download {
            url: url.to_string(),
            cause: e.to_string(),
        })
    })?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let start = match status {
        200 => 0,
        206 => {
            let resumed_at = header("content-range").and_then(|v| range_start(&v));
            if resumed_at != Some(have) {
                // A range we did not ask for: drop the partial file, restart.
                let _ = fs::remove_file(part);
                return Err(Attempt::Retry(DataError::Download {
                    url: url.to_string(),
                    cause: format!(
                        "asked to resume at byte {have}, the server sent content-range {:?}; restarting",
                        header("content-range").unwrap_or_default()
                    ),
                }));
            }
            have
        }
        416 => {
            let _ = fs::remove_file(part);
            return Err(Attempt::Retry(DataError::Download {
                url: url.to_string(),
                cause: format!("the server cannot resume at byte {have}; restarting"),
            }));
        }
        _ => {
            return Err(Attempt::Fatal(DataError::HttpStatus {
                url: url.to_string(),
                status,
            }));
        }
    };
    let total = file.size.or(content_length.map(|n| n + start));
    let mut out = if start == 0 {
        File::create(part).map_err(|e| fatal_io("creating", &e))?
    } else {
        OpenOptions::new()
            .append(true)
            .open(part)
            .map_err(|e| fatal_io("opening", &e))?
    };
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; CHUNK];
    let mut done = start;
    let mut received = 0u64;
    progress(file.name, done, total);
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Attempt::Retry(DataError::Download {
                    url: url.to_string(),
                    cause: format!("connection lost after {done} bytes: {e}"),
                }));
            }
        };
        out.write_all(&buf[..n])
            .map_err(|e| fatal_io("writing", &e))?;
        done += n as u64;
        received += n as u64;
        progress(file.name, done, total);
    }
    out.flush().map_err(|e| fatal_io("writing", &e))?;
    if let Some(expected) = content_length
        && received < expected
    {
        return Err(Attempt::Retry(DataError::Download {
            url: url.to_string(),
            cause: format!(
                "connection closed after {done} bytes of {}",
                start + expected
            ),
        }));
    }
    Ok(())
}

/// The first byte of a `Content-Range: bytes N-M/T` value.
fn range_start(value: &str) -> Option<u64> {
    let spec = value.trim().strip_prefix("bytes")?.trim_start();
    spec.split('-').next()?.trim().parse().ok()
}

/// Unpack the `.bin` entries of the gzip tar archive at `archive` under
/// `to`, keeping their paths in the archive; an entry already there with its
/// size is not rewritten. Returns their paths, sorted.
fn extract_bins(archive: &Path, to: &Path) -> Result<Vec<PathBuf>, DataError> {
    let fail = |cause: String| DataError::Archive {
        path: archive.to_path_buf(),
        cause,
    };
    let reader = File::open(archive).map_err(|e| DataError::io(archive, "opening", &e))?;
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(reader));
    let mut tar = tar::Archive::new(gz);
    let mut out = Vec::new();
    for entry in tar.entries().map_err(|e| fail(e.to_string()))? {
        let mut entry = entry.map_err(|e| fail(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let inner = entry.path().map_err(|e| fail(e.to_string()))?.into_owned();
        if inner.extension().is_none_or(|e| e != "bin") {
            continue;
        }
        // Only plain names: no absolute paths, no `..`.
        let mut rel = PathBuf::new();
        for part in inner.components() {
            match part {
                Component::Normal(p) => rel.push(p),
                Component::CurDir => {}
                _ => return Err(fail(format!("unsafe entry path {}", inner.display()))),
            }
        }
        let dest = to.join(&rel);
        let size = entry.size();
        if fs::metadata(&dest).is_ok_and(|m| m.len() == size) {
            out.push(dest);
            continue;
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| DataError::io(parent, "creating the folder", &e))?;
        }
        let tmp = part_path(&dest);
        let mut file = File::create(&tmp).map_err(|e| DataError::io(&tmp, "creating", &e))?;
        std::io::copy(&mut entry, &mut file).map_err(|e| fail(e.to_string()))?;
        file.flush()
            .map_err(|e| DataError::io(&tmp, "writing", &e))?;
        fs::rename(&tmp, &dest)
            .map_err(|e| DataError::io(&dest, "renaming the extracted .part file", &e))?;
        out.push(dest);
    }
    if out.is_empty() {
        return Err(fail("it holds no .bin files".into()));
    }
    out.sort();
    Ok(out)
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::temp;
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    /// How the test server answers.
    #[derive(Clone, Copy)]
    enum Mode {
        /// Honour `Range` with 206.
        Normal,
        /// Answer every request with the whole file and 200.
        IgnoreRange,
        /// Send the headers of the full answer, then only this many body
        /// bytes, then close the connection; the next requests are normal.
        DropFirstAfter(usize),
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1 serving `body` at `/<name>` (404
    /// for anything else), one request per connection. Records the start of
    /// every `Range` asked for (`None` for a request without one).
    struct Server {
        base: String,
        ranges: Arc<Mutex<Vec<Option<u64>>>>,
    }

    impl Server {
        fn start(name: &'static str, body: Vec<u8>, mode: Mode) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let ranges = Arc::new(Mutex::new(Vec::new()));
            let seen = Arc::clone(&ranges);
            std::thread::spawn(move || {
                let mut first = true;
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    let mode = match (mode, first) {
                        (Mode::DropFirstAfter(n), true) => Mode::DropFirstAfter(n),
                        (Mode::DropFirstAfter(_), false) => Mode::Normal,
                        (m, _) => m,
                    };
                    first = false;
                    let _ = answer(conn, name, &body, mode, &seen);
                }
            });
            Self { base, ranges }
        }

        fn ranges(&self) -> Vec<Option<u64>> {
            self.ranges.lock().unwrap().clone()
        }
    }

    fn answer(
        mut conn: TcpStream,
        name: &str,
        body: &[u8],
        mode: Mode,
        seen: &Mutex<Vec<Option<u64>>>,
    ) -> std::io::Result<()> {
        let mut reader = BufReader::new(conn.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut range = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("range: bytes=") {
                range = v.trim().trim_end_matches('-').parse::<u64>().ok();
            }
        }
        seen.lock().unwrap().push(range);
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        if path != format!("/{name}") {
            conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
        let (status, start) = match (mode, range) {
            (Mode::IgnoreRange, _) | (_, None) => ("200 OK", 0),
            (_, Some(s)) => ("206 Partial Content", s as usize),
        };
        let rest = &body[start.min(body.len())..];
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n",
            rest.len()
        );
        if status.starts_with("206") {
            head += &format!(
                "Content-Range: bytes {start}-{}/{}\r\n",
                body.len() - 1,
                body.len()
            );
        }
        head += "\r\n";
        conn.write_all(head.as_bytes())?;
        match mode {
            Mode::DropFirstAfter(n) => {
                conn.write_all(&rest[..n.min(rest.len())])?;
                conn.flush()?;
                conn.shutdown(std::net::Shutdown::Both)?;
            }
            _ => conn.write_all(rest)?,
        }
        Ok(())
    }

    /// Deterministic test bytes.
    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// A one-file catalogue for `name` pinned to `sha256` and `size`.
    fn catalogue_of(name: &'static str, sha256: String, size: Option<u64>) -> &'static Catalogue {
        let files = Box::leak(Box::new([RemoteFile {
            name,
            sha256: Box::leak(sha256.into_boxed_str()),
            size,
        }]));
        Box::leak(Box::new(Catalogue {
            dataset: "test",
            base_url: "http://127.0.0.1:9/unused",
            files,
        }))
    }

    fn no_progress() -> impl FnMut(&str, u64, Option<u64>) {
        |_, _, _| {}
    }

    #[test]
    fn good_sum_downloads_then_skips() {
        let body = payload(200_000);
        let server = Server::start("data.bin", body.clone(), Mode::Normal);
        let cat = catalogue_of("data.bin", sha256_hex(&body), Some(body.len() as u64));
        let dir = temp();
        let mut calls = Vec::new();
        let got = fetch(
            cat,
            dir.path(),
            Some(&server.base),
            &mut |n, done, total| {
                calls.push((n.to_string(), done, total));
            },
        )
        .unwrap();
        assert_eq!(got, vec![dir.path().join("data.bin")]);
        assert_eq!(fs::read(&got[0]).unwrap(), body);
        assert!(!dir.path().join("data.bin.part").exists());
        let last = calls.last().unwrap();
        assert_eq!((last.1, last.2), (200_000, Some(200_000)));
        // Present with the right sum: no second request.
        fetch(cat, dir.path(), Some(&server.base), &mut no_progress()).unwrap();
        assert_eq!(server.ranges(), vec![None]);
    }

    #[test]
    fn bad_sum_is_rejected_and_nothing_is_left() {
        let body = payload(5_000);
        let server = Server::start("data.bin", body.clone(), Mode::Normal);
        let wrong = "0".repeat(64);
        let cat = catalogue_of("data.bin", wrong.clone(), None);
        let dir = temp();
        let e = fetch(cat, dir.path(), Some(&server.base), &mut no_progress()).unwrap_err();
        assert_eq!(
            e,
            DataError::Checksum {
                path: dir.path().join("data.bin"),
                expected: wrong,
                actual: sha256_hex(&body),
            }
        );
        let m = e.to_string();
        assert!(
            m.contains("data.bin") && m.contains(&sha256_hex(&body)),
            "{m}"
        );
        assert!(!dir.path().join("data.bin").exists());
        assert!(!dir.path().join("data.bin.part").exists());
    }

    #[test]
    fn wrong_size_is_rejected() {
        let body = payload(5_000);
        let server = Server::start("data.bin", body.clone(), Mode::Normal);
        let cat = catalogue_of("data.bin", sha256_hex(&body), Some(4_000));
        let dir = temp();
        let e = fetch(cat, dir.path(), Some(&server.base), &mut no_progress()).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::Size {
                    expected: 4_000,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!dir.path().join("data.bin").exists());
    }

    #[test]
    fn a_truncated_part_file_is_resumed() {
        let body = payload(100_000);
        let server = Server::start("data.bin", body.clone(), Mode::Normal);
        let cat = catalogue_of("data.bin", sha256_hex(&body), Some(body.len() as u64));
        let dir = temp();
        fs::write(dir.path().join("data.bin.part"), &body[..30_000]).unwrap();
        fetch(cat, dir.path(), Some(&server.base), &mut no_progress()).unwrap();
        assert_eq!(server.ranges(), vec![Some(30_000)]);
        assert_eq!(fs::read(dir.path().join("data.bin")).unwrap(), body);
        assert!(!dir.path().join("data.bin.part").exists());
    }

    #[test]
    fn a_server_ignoring_range_restarts_from_zero() {
        let body = payload(50_000);
        let server = Server::start("data.bin", body.clone(), Mode::IgnoreRange);
        let cat = catalogue_of("data.bin", sha256_hex(&body), None);
        let dir = temp();
        // A partial file that does not even match: a 200 replaces it.
        fs::write(dir.path().join("data.bin.part"), vec![7u8; 10_000]).unwrap();
        fetch(cat, dir.path(), Some(&server.base), &mut no_progress()).unwrap();
        assert_eq!(server.ranges(), vec![Some(10_000)]);
        assert_eq!(fs::read(dir.path().join("data.bin")).unwrap(), body);
    }

    #[test]
    fn a_dropped_connection_is_resumed_on_retry() {
        let body = payload(300_000);
        let server = Server::start("data.bin", body.clone(), Mode::DropFirstAfter(120_000));
        let cat = catalogue_of("data.bin", sha256_hex(&body), Some(body.len() as u64));
        let dir = temp();
        fetch(cat, dir.path(), Some(&server.base), &mut no_progress()).unwrap();
        let ranges = server.ranges();
        assert_eq!(ranges.len(), 2, "{ranges:?}");
        assert_eq!(ranges[0], None);
        // Resumed where the first connection stopped (all it delivered was kept).
        assert_eq!(ranges[1], Some(120_000));
        assert_eq!(fs::read(dir.path().join("data.bin")).unwrap(), body);
    }

    #[test]
    fn http_errors_are_reported_with_the_status() {
        let server = Server::start("other.bin", vec![1], Mode::Normal);
        let cat = catalogue_of("data.bin", "0".repeat(64), None);
        let dir = temp();
        let e = fetch(cat, dir.path(), Some(&server.base), &mut no_progress()).unwrap_err();
        assert_eq!(
            e,
            DataError::HttpStatus {
                url: format!("{}/data.bin", server.base),
                status: 404,
            }
        );
    }

    #[test]
    fn archives_are_unpacked_to_their_bin_files() {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data) in [
            ("cifar-10-batches-bin/data_batch_1.bin", vec![1u8; 3073]),
            ("cifar-10-batches-bin/readme.html", b"hi".to_vec()),
            ("cifar-10-batches-bin/test_batch.bin", vec![2u8; 3073]),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, path, data.as_slice()).unwrap();
        }
        let raw = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let body = gz.finish().unwrap();
        let server = Server::start("x.tar.gz", body.clone(), Mode::Normal);
        let cat = catalogue_of("x.tar.gz", sha256_hex(&body), None);
        let dir = temp();
        let got = fetch(cat, dir.path(), Some(&server.base), &mut no_progress()).unwrap();
        let bins = dir.path().join("cifar-10-batches-bin");
        assert_eq!(
            got,
            vec![bins.join("data_batch_1.bin"), bins.join("test_batch.bin")]
        );
        assert_eq!(fs::read(&got[1]).unwrap(), vec![2u8; 3073]);
        assert!(!bins.join("readme.html").exists());
    }

    #[test]
    fn catalogues_are_pinned() {
        for name in ["mnist", "fashion-mnist", "cifar10"] {
            let cat = catalogue(name).unwrap();
            assert_eq!(cat.dataset, name);
            for f in cat.files {
                assert_eq!(f.sha256.len(), 64, "{}", f.name);
                assert!(
                    f.sha256
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                );
                assert!(f.size.is_some());
            }
        }
        assert_eq!(catalogue("mnist").unwrap().files.len(), 4);
        assert!(catalogue("imagenet").is_none());
        assert_eq!(catalogues().len(), 3);
    }

    #[test]
    fn content_range_start_is_parsed() {
        assert_eq!(range_start("bytes 100-199/200"), Some(100));
        assert_eq!(range_start("bytes */200"), None);
    }
}
