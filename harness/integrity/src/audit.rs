//! The hash-chained audit log.
//!
//! A log is a file of JSON lines, one entry per line, each ending in `\n`:
//!
//! ```json
//! {"seq":0,"time":"...","event":"data-loaded","details":{"root":"..."},"prev":"000...000"}
//! ```
//!
//! - `seq` counts 0, 1, 2, ... by line;
//! - `time` and `event` are the caller's strings, `details` any JSON value;
//! - `prev` is the lowercase hex SHA-256 of the previous line's exact bytes
//!   without its newline ([`line_hash`]), and 64 zeros ([`ZERO_HASH`]) on the
//!   first line.
//!
//! A chain alone cannot show that lines were cut from the end (what is left is
//! a valid shorter log) or that the last line was edited (no line after it
//! holds its hash). So beside the log `L` lives its head file `L.head`
//! ([`head_path`]), rewritten atomically after every append, holding
//! `{"lines": <line count>, "last": "<line_hash of the last line>"}`. The head
//! guards against accidents and careless edits; against someone who can
//! rewrite both files, sign checkpoints ([`AuditLog::append_checkpoint`]) and
//! keep the public key elsewhere.
//!
//! One [`AuditLog`] at a time may append to a log; two writers break the chain.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fsutil::{Access, atomic_write};
use crate::{AuditError, LogError, LogFault};

/// `prev` of the first line: 64 zeros.
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The event name of signed checkpoints, reserved for [`AuditLog::append_checkpoint`].
pub const CHECKPOINT_EVENT: &str = "checkpoint";

/// Domain tag that starts the message a checkpoint signs ([`checkpoint_message`]).
pub const CHECKPOINT_TAG: &[u8] = b"poisonlab-audit-checkpoint-v1";

/// Lowercase hex SHA-256 of one log line's bytes, without its newline.
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// The head file of the log at `log`: the same path with `.head` appended.
pub fn head_path(log: impl AsRef<Path>) -> PathBuf {
    let mut name = log.as_ref().as_os_str().to_os_string();
    name.push(".head");
    PathBuf::from(name)
}

/// The message a checkpoint signs: [`CHECKPOINT_TAG`] followed by the 32
/// bytes (not hex) of the previous line's SHA-256.
pub fn checkpoint_message(previous_line_hash: &[u8; 32]) -> Vec<u8> {
    let mut message = CHECKPOINT_TAG.to_vec();
    message.extend_from_slice(previous_line_hash);
    message
}

/// A log entry as written (field order is the line's key order).
#[derive(Serialize)]
struct EntryOut<'a> {
    seq: u64,
    time: &'a str,
    event: &'a str,
    details: &'a Value,
    prev: &'a str,
}

/// A log entry as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    seq: u64,
    #[allow(dead_code)] // read to check its type; no check needs its value
    time: String,
    event: String,
    details: Value,
    prev: String,
}

/// The `details` of a `checkpoint` entry.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Checkpoint {
    /// Hex SHA-256 of the previous line (equal to the entry's `prev`).
    hash: String,
    /// Hex of the signer's public key.
    public_key: String,
    /// Hex ed25519 signature over [`checkpoint_message`] of `hash`.
    signature: String,
}

/// The contents of a log's head file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    lines: usize,
    last: String,
}

/// An open audit log, appending after its last line.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    lines: usize,
    prev: String,
}

impl AuditLog {
    /// Open the log at `path` to append to it, creating it (and its head
    /// file) when neither exists.
    ///
    /// An existing log is verified in full first ([`verify_log`]); a broken
    /// one is an error ([`AuditError::Broken`]), so nothing is ever chained
    /// onto a tampered log.
    pub fn open(path: impl AsRef<Path>) -> Result<AuditLog, AuditError> {
        let path = path.as_ref().to_path_buf();
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| AuditError::Io { path, source }
        };
        let head = head_path(&path);
        let log_empty = match std::fs::metadata(&path) {
            Ok(meta) => meta.len() == 0,
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => return Err(io_error(&path)(e)),
        };
        let head_exists = head.try_exists().map_err(io_error(&head))?;
        let (lines, prev) = if log_empty && !head_exists {
            write_head(&path, 0, ZERO_HASH).map_err(io_error(&head))?;
            (0, ZERO_HASH.to_string())
        } else {
            let scan = scan(&path, |_, _, _| Ok(()))?;
            (scan.lines, scan.last)
        };
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_error(&path))?;
        Ok(AuditLog {
            path,
            file,
            lines,
            prev,
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines in the log.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Append one entry. `time` is the caller's timestamp (never read from
    /// the clock here), `event` a short name, `details` any JSON.
    ///
    /// The line and its newline go out in a single write, then the head file
    /// is rewritten. The event name `checkpoint` is reserved
    /// ([`AuditLog::append_checkpoint`]) and refused with `InvalidInput`.
    pub fn append(&mut self, time: &str, event: &str, details: Value) -> io::Result<()> {
        if event == CHECKPOINT_EVENT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the event name \"checkpoint\" is reserved for append_checkpoint",
            ));
        }
        self.write_entry(time, event, &details)
    }

    /// Append several entries (`(time, event, details)`, in order) with one
    /// write of their lines and one rewrite of the head file: the same log,
    /// byte for byte, as appending them one by one, without a head rewrite
    /// (and its sync to disk) per line. The event name `checkpoint` is
    /// refused with `InvalidInput`, before anything is written.
    pub fn append_all<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (String, &'a str, Value)>,
    ) -> io::Result<()> {
        let mut lines = Vec::new();
        let (mut seq, mut prev) = (self.lines, self.prev.clone());
        for (time, event, details) in entries {
            if event == CHECKPOINT_EVENT {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the event name \"checkpoint\" is reserved for append_checkpoint",
                ));
            }
            let entry = EntryOut {
                seq: seq as u64,
                time: &time,
                event,
                details: &details,
                prev: &prev,
            };
            let line = serde_json::to_vec(&entry).map_err(io::Error::other)?;
            prev = line_hash(&line);
            lines.extend_from_slice(&line);
            lines.push(b'\n');
            seq += 1;
        }
        if seq == self.lines {
            return Ok(());
        }
        self.file.write_all(&lines)?;
        self.file.flush()?;
        self.lines = seq;
        self.prev = prev;
        write_head(&self.path, self.lines, &self.prev)
    }

    /// Append a signed checkpoint: an entry with event `checkpoint` whose
    /// details are `{"hash": <hex SHA-256 of the previous line>, "public-key":
    /// <hex>, "signature": <hex ed25519 signature over
    /// checkpoint_message(hash)>}`. [`verify_log_signed`] checks it, and
    /// through the chain every line before it.
    pub fn append_checkpoint(&mut self, time: &str, key: &SigningKey) -> io::Result<()> {
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&self.prev, &mut hash)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let signature = key.sign(&checkpoint_message(&hash));
        let checkpoint = Checkpoint {
            hash: self.prev.clone(),
            public_key: hex::encode(key.verifying_key().to_bytes()),
            signature: hex::encode(signature.to_bytes()),
        };
        let details = serde_json::to_value(checkpoint).map_err(io::Error::other)?;
        self.write_entry(time, CHECKPOINT_EVENT, &details)
    }

    /// Write one line (single write), then the head file.
    fn write_entry(&mut self, time: &str, event: &str, details: &Value) -> io::Result<()> {
        let entry = EntryOut {
            seq: self.lines as u64,
            time,
            event,
            details,
            prev: &self.prev,
        };
        let mut line = serde_json::to_vec(&entry).map_err(io::Error::other)?;
        let hash = line_hash(&line);
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.flush()?;
        // The line is in the file: move on even if the head write fails, so
        // the next append rewrites a correct head.
        self.lines += 1;
        self.prev = hash;
        write_head(&self.path, self.lines, &self.prev)
    }
}

/// Rewrite the head file of the log at `log` atomically.
fn write_head(log: &Path, lines: usize, last: &str) -> io::Result<()> {
    let head = Head {
        lines,
        last: last.to_string(),
    };
    let mut bytes = serde_json::to_vec(&head).map_err(io::Error::other)?;
    bytes.push(b'\n');
    atomic_write(&head_path(log), &bytes, Access::Default)
}

/// What a successful scan of a log found.
struct Scan {
    /// Lines in the log.
    lines: usize,
    /// Hash of the last line ([`ZERO_HASH`] for an empty log).
    last: String,
    /// Checkpoint lines (1-based).
    checkpoints: Vec<usize>,
}

/// Read the log once, checking each line's form, `seq` and `prev`, then its
/// head file; `check` sees each entry (line number, entry, `prev` it must
/// hold) after the chain checks pass.
fn scan(
    path: &Path,
    mut check: impl FnMut(usize, &Entry, &str) -> Result<(), LogFault>,
) -> Result<Scan, LogError> {
    let fail = |line: usize, reason: LogFault| LogError {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let file = File::open(path).map_err(|e| fail(0, LogFault::Read(e)))?;
    let mut reader = BufReader::new(file);
    let mut buffer = Vec::new();
    let mut prev = ZERO_HASH.to_string();
    let mut lines = 0usize;
    let mut checkpoints = Vec::new();
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .map_err(|e| fail(lines + 1, LogFault::Read(e)))?;
        if read == 0 {
            break;
        }
        lines += 1;
        let has_newline = buffer.last() == Some(&b'\n');
        let content = if has_newline {
            &buffer[..buffer.len() - 1]
        } else {
            &buffer[..]
        };
        let entry: Entry = serde_json::from_slice(content)
            .map_err(|e| fail(lines, LogFault::NotAnEntry(e.to_string())))?;
        let expected = (lines - 1) as u64;
        if entry.seq != expected {
            return Err(fail(
                lines,
                LogFault::Seq {
                    expected,
                    found: entry.seq,
                },
            ));
        }
        if entry.prev != prev {
            return Err(fail(
                lines,
                LogFault::Prev {
                    previous: lines - 1,
                },
            ));
        }
        if !has_newline {
            return Err(fail(lines, LogFault::NoNewline));
        }
        check(lines, &entry, &prev).map_err(|reason| fail(lines, reason))?;
        if entry.event == CHECKPOINT_EVENT {
            checkpoints.push(lines);
        }
        prev = line_hash(content);
    }
    check_head(path, lines, &prev).map_err(|(line, reason)| fail(line, reason))?;
    Ok(Scan {
        lines,
        last: prev,
        checkpoints,
    })
}

/// Compare the head file with what the scan found: `lines` lines, the last
/// hashing to `last`.
fn check_head(log: &Path, lines: usize, last: &str) -> Result<(), (usize, LogFault)> {
    let path = head_path(log);
    let bad = |problem: String| {
        (
            0,
            LogFault::BadHead {
                path: path.clone(),
                problem,
            },
        )
    };
    let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
    let head: Head =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a head record: {e}")))?;
    if head.lines > lines {
        return Err((
            lines + 1,
            LogFault::Truncated {
                recorded: head.lines,
                found: lines,
            },
        ));
    }
    if head.lines < lines {
        return Err((
            head.lines + 1,
            LogFault::Unrecorded {
                recorded: head.lines,
            },
        ));
    }
    if head.last != last {
        return Err(if lines == 0 {
            bad("an empty log's head must record 64 zeros as the last hash".to_string())
        } else {
            (lines, LogFault::LastLine)
        });
    }
    Ok(())
}

/// Verify the log at `path` and its head file: every line is an entry, `seq`
/// runs 0, 1, 2, ..., each `prev` is the hash of the line before, every line
/// ends in a newline, and the head file records the line count and the last
/// line's hash. Returns the number of lines.
///
/// The error names the first line at which a check fails. A line whose edit
/// leaves it a well-formed entry with the right `seq` and `prev` fails at the
/// next line (whose `prev` no longer matches), or at the head check when it
/// is the last line. Checkpoint signatures are not checked here
/// ([`verify_log_signed`]).
pub fn verify_log(path: impl AsRef<Path>) -> Result<usize, LogError> {
    scan(path.as_ref(), |_, _, _| Ok(())).map(|scan| scan.lines)
}

/// What [`verify_log_signed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedLog {
    /// Lines in the log.
    pub lines: usize,
    /// Checkpoints in it, each verified.
    pub checkpoints: usize,
    /// Lines covered by the last checkpoint's signature (those before it);
    /// lines after it rest on the hash chain and head file alone. 0 when
    /// there is no checkpoint.
    pub signed_through: usize,
}

/// [`verify_log`], and also check every `checkpoint` entry: its `hash` is
/// the previous line's hash, its `public-key` is `public`, and its signature
/// over [`checkpoint_message`] verifies (strictly) with `public`.
pub fn verify_log_signed(
    path: impl AsRef<Path>,
    public: &VerifyingKey,
) -> Result<SignedLog, LogError> {
    let public_hex = hex::encode(public.to_bytes());
    let scan = scan(path.as_ref(), |_, entry, prev| {
        if entry.event != CHECKPOINT_EVENT {
            return Ok(());
        }
        let checkpoint: Checkpoint = serde_json::from_value(entry.details.clone())
            .map_err(|e| LogFault::Checkpoint(e.to_string()))?;
        if checkpoint.hash != prev {
            return Err(LogFault::CheckpointHash);
        }
        if checkpoint.public_key != public_hex {
            return Err(LogFault::CheckpointKey {
                found: checkpoint.public_key,
            });
        }
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&checkpoint.hash, &mut hash)
            .map_err(|e| LogFault::Checkpoint(format!("hash: {e}")))?;
        let mut signature = [0u8; 64];
        hex::decode_to_slice(&checkpoint.signature, &mut signature)
            .map_err(|e| LogFault::Checkpoint(format!("signature: {e}")))?;
        public
            .verify_strict(
                &checkpoint_message(&hash),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| LogFault::CheckpointSignature)
    })?;
    Ok(SignedLog {
        lines: scan.lines,
        checkpoints: scan.checkpoints.len(),
        signed_through: scan.checkpoints.last().map_or(0, |line| line - 1),
    })
}
