//! The audit log: every edit, deletion, insertion and swap is found at the
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing
//! first bad line; checkpoints verify with the right key only.

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use poisonlab_integrity::{
    AuditError, AuditLog, LogError, LogFault, SignedLog, ZERO_HASH, head_path, line_hash,
    verify_log, verify_log_signed,
};
use serde_json::{Value, json};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A six-line log written by AuditLog, with numbers and strings in its
/// details so that some single-byte edits still parse.
fn six_line_log(dir: &Path) -> PathBuf {
    let path = dir.join("audit.jsonl");
    let mut log = AuditLog::open(&path).unwrap();
    log.append(
        "2024-01-01T00:00:00Z",
        "data-loaded",
        json!({"root": "ab12", "n": 1000}),
    )
    .unwrap();
    log.append(
        "2024-01-01T00:00:01Z",
        "attack",
        json!({"kind": "badnets", "changed": 50, "rate": 0.05}),
    )
    .unwrap();
    log.append(
        "2024-01-01T00:00:02Z",
        "defense",
        json!({"removed": [3, 7, 9]}),
    )
    .unwrap();
    log.append(
        "2024-01-01T00:00:03Z",
        "trained",
        json!({"epochs": 4, "ok": true}),
    )
    .unwrap();
    log.append(
        "2024-01-01T00:00:04Z",
        "metrics",
        json!({"asr": 0.125, "acc": 0.9}),
    )
    .unwrap();
    log.append("2024-01-01T00:00:05Z", "done", json!(null))
        .unwrap();
    assert_eq!(log.lines(), 6);
    path
}

/// The log's lines, each without its newline.
fn lines_of(path: &Path) -> Vec<Vec<u8>> {
    let bytes = fs::read(path).unwrap();
    assert_eq!(bytes.last(), Some(&b'\n'));
    bytes[..bytes.len() - 1]
        .split(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// Write lines (each given without its newline) over the log; the head file is left as it is.
fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    fs::write(path, bytes).unwrap();
}

fn first_bad(path: &Path) -> LogError {
    match verify_log(path) {
        Ok(n) => panic!("the log verified with {n} lines"),
        Err(e) => e,
    }
}

#[test]
fn a_written_log_verifies_and_has_the_documented_form() {
    let dir = tempfile::tempdir().unwrap();
    let path = six_line_log(dir.path());
    assert_eq!(verify_log(&path).unwrap(), 6);
    let lines = lines_of(&path);
    let first: Value = serde_json::from_slice(&lines[0]).unwrap();
    assert_eq!(
        String::from_utf8(lines[0].clone()).unwrap(),
        format!(
            r#"{{"seq":0,"time":"2024-01-01T00:00:00Z","event":"data-loaded","details":{{"root":"ab12","n":1000}},"prev":"{ZERO_HASH}"}}"#
        )
    );
    assert_eq!(first["prev"], ZERO_HASH);
    for (k, pair) in lines.windows(2).enumerate() {
        let next: Value = serde_json::from_slice(&pair[1]).unwrap();
        assert_eq!(next["seq"], k as u64 + 1);
        assert_eq!(next["prev"], line_hash(&pair[0]));
    }
    let head: Value = serde_json::from_slice(&fs::read(head_path(&path)).unwrap()).unwrap();
    assert_eq!(head, json!({"lines": 6, "last": line_hash(&lines[5])}));
}

#[test]
fn reopening_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = six_line_log(dir.path());
    let mut log = AuditLog::open(&path).unwrap();
    assert_eq!(log.lines(), 6);
    log.append("t", "more", json!({"a": 1})).unwrap();
    drop(log);
    let mut log = AuditLog::open(&path).unwrap();
    log.append("t", "more", json!([])).unwrap();
    assert_eq!(verify_log(&path).unwrap(), 8);
    let lines = lines_of(&path);
    let last: Value = serde_json::from_slice(&lines[7]).unwrap();
    assert_eq!(last["seq"], 7);
    assert_eq!(last["prev"], line_hash(&lines[6]));
}

#[test]
fn appending_all_at_once_writes_the_log_one_by_one_appends_write() {
    let dir = tempfile::tempdir().unwrap();
    let (one, all) = (dir.path().join("one.jsonl"), dir.path().join("all.jsonl"));
    let entries = |n: usize| {
        (0..n)
            .map(|i| (format!("t{i}"), "step", json!({"i": i})))
            .collect::<Vec<_>>()
    };
    let mut log = AuditLog::open(&one).unwrap();
    for (time, event, details) in entries(5) {
        log.append(&time, event, details).unwrap();
    }
    let mut log = AuditLog::open(&all).unwrap();
    log.append_all(entries(2)).unwrap();
    log.append_all(entries(5).into_iter().skip(2)).unwrap();
    log.append_all(Vec::new()).unwrap();
    assert_eq!(log.lines(), 5);
    assert_eq!(fs::read(&one).unwrap(), fs::read(&all).unwrap());
    assert_eq!(
        fs::read(head_path(&one)).unwrap(),
        fs::read(head_path(&all)).unwrap()
    );
    assert_eq!(verify_log(&all).unwrap(), 5);
    // The reserved name refuses the whole batch.
    let err = log
        .append_all(vec![
            ("t".to_string(), "fine", json!({})),
            ("t".to_string(), "checkpoint", json!({})),
        ])
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(verify_log(&all).unwrap(), 5);
}

#[test]
fn an_empty_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.jsonl");
    let log = AuditLog::open(&path).unwrap();
    assert_eq!(log.lines(), 0);
    assert_eq!(verify_log(&path).unwrap(), 0);
}

#[test]
fn the_checkpoint_event_name_is_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir.path().join("a.jsonl")).unwrap();
    let err = log.append("t", "checkpoint", json!({})).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(log.lines(), 0);
}

#[test]
fn opening_a_broken_log_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = six_line_log(dir.path());
    let mut lines = lines_of(&path);
    lines.swap(2, 3);
    write_lines(&path, &lines);
    let err = AuditLog::open(&path).unwrap_err();
    assert!(
        matches!(&err, AuditError::Broken(e) if e.line == 3),
        "{err}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    // A log whose head file is gone is broken too.
    let path = dir.path().join("other.jsonl");
    AuditLog::open(&path)
        .unwrap()
        .append("t", "e", json!(1))
        .unwrap();
    fs::remove_file(head_path(&path)).unwrap();
    let err = AuditLog::open(&path).unwrap_err();
    assert!(
        matches!(
            &err,
            AuditError::Broken(LogError {
                line: 0,
                reason: LogFault::BadHead { .. },
                ..
            })
        ),
        "{err}"
    );
}

/// What the first bad line must be after `line` (1-based, of `total`) was
/// changed into `mutated`, worked out without the verifier: a line that is no
/// longer exactly one well-formed entry with its original `seq` and `prev`
/// is itself the first bad line; one that still is passes, and the next line
/// (whose `prev` no longer matches) or, for the last line, the head file
/// check, fails.
fn expected_first_bad(original: &[u8], mutated: &[u8], line: usize, total: usize) -> usize {
    let still_an_entry = serde_json::from_slice::<Value>(mutated).is_ok_and(|v| {
        let before: Value = serde_json::from_slice(original).unwrap();
        v.as_object().is_some_and(|o| {
            let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
            keys.sort_unstable();
            keys == ["details", "event", "prev", "seq", "time"]
                && o["time"].is_string()
                && o["event"].is_string()
                && o["seq"].as_u64().is_some()
                && o["seq"] == before["seq"]
                && o["prev"] == before["prev"]
        })
    });
    if !still_an_entry || line == total {
        line
    } else {
        line + 1
    }
}

#[test]
fn every_single_byte_edit_of_every_line_is_found_at_the_first_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = six_line_log(dir.path());
    let original = fs::read(&path).unwrap();
    let lines = lines_of(&path);
    let mut start = 0;
    // Edits found at the edited line; edits that left a well-formed entry,
    // found at the next line or (last line) by the head.
    let (mut at_line, mut still_parsed, mut still_parsed_last) = (0, 0, 0);
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        // Every byte of the line, its newline included.
        for offset in start..start + line.len() + 1 {
            let byte = original[offset];
            let replacements = [
                byte ^ 0x01,
                byte ^ 0x20,
                byte ^ 0x80,
                b' ',
                b'\n',
                b'"',
                b'0',
                b'9',
            ];
            for new in replacements.into_iter().filter(|new| *new != byte) {
                let mut bytes = original.clone();
                bytes[offset] = new;
                fs::write(&path, &bytes).unwrap();
                let err = first_bad(&path);
                // The line as a reader now sees it: up to the first newline
                // (a replaced newline runs it on into the next line; a new
                // one cuts it short).
                let end = bytes[start..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(bytes.len(), |p| start + p);
                let mutated = bytes[start..end].to_vec();
                let expected = expected_first_bad(line, &mutated, number, lines.len());
                assert_eq!(
                    err.line,
                    expected,
                    "line {number}, offset {} ({:?} -> {:?}): {err}",
                    offset - start,
                    byte as char,
                    new as char
                );
                match err.reason {
                    LogFault::Prev { previous } if err.line == number + 1 => {
                        assert_eq!(previous, number);
                        still_parsed += 1;
                    }
                    LogFault::LastLine => still_parsed_last += 1,
                    _ => {
                        assert_eq!(err.line, number, "{err}");
                        at_line += 1;
                    }
                }
            }
        }
        start += line.len() + 1;
    }
    // Every kind of edit occurred, in numbers.
    eprintln!("{at_line} at the line, {still_parsed} at the next, {still_parsed_last} by the head");
    assert!(at_line > 1000 && still_parsed > 100 && still_parsed_last > 20);
    fs::write(&path, &original).unwrap();
    assert_eq!(verify_log(&path).unwrap(), 6);
}

#[test]
fn a_parseable_edit_in_the_middle_fails_at_the_next_line_and_at_the_end_at_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = six_line_log(dir.path());
    let lines = lines_of(&path);
    for k in 0..lines.len() {
        let mut edited = lines.clone();
        let text = String::from_utf8(edited[k].clone()).unwrap();
        edited[k] = text.replacen("2024", "2025", 1).into_bytes();
        write_lines(&path, &edited);
        let err = first_bad(&path);
        if k + 1 < lines.len() {
            assert_eq!(err.line, k + 2, "{err}");
            assert!(matches!(err.reason, LogFault::Prev { previous } if previous == k + 1));
        } else {
            assert_eq!(err.line, 6, "{err}");
            assert!(matches!(err.reason, LogFault::LastLine), "{err}");
        }
    }
}

#[test]
fn deleting_any_line_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = six_line_log(dir.path());
    let lines = lines_of(&path);
    for k in 0..lines.len() {
        let mut fewer = lines.clone();
        fewer.remove(k);
        write_lines(&path, &fewer);
        let err = first_bad(&path);
        // The line that moved up into the gap has the wrong seq; after the
        // last line there is none, and the head records 6 lines.
        assert_eq!(err.line, k + 1, "deleting line {}: {err}", k + 1);
        if k + 1 < lines.len() {
            assert!(
                matches!(err.reason, LogFault::Seq { expected, found } if expected == k as u64 && found == k as u64 + 1),
                "{err}"
            );
        } else {
            assert!(
                matches!(
                    err.reason,
                    LogFault::Truncated {
                        recorded: 6,
                        found: 5
                    }
                ),
                "{err}"
            );
        }
    }
    // Deleting everything is found too.
    write_lines(&path, &[]);
    let err = first_bad(&path);
    assert_eq!(err.line, 1);
    assert!(matches!(
        err.reason,
        LogFault::Truncated {
            recorded: 6,
            found: 0
        }
    ));
}

/// A line that is a valid entry at position `seq` after a line hashing to `prev`.
fn forged(seq: usize, prev: &str) -> Vec<u8> {
    format!(r#"{{"seq":{seq},"time":"2024-01-01T00:00:00Z","event":"forged","details":{{}},"prev":"{prev}"}}"#)
        .into_bytes()
}

#[test]
fn inserting_a_line_before_any_line_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = six_line_log(dir.path());
    let lines = lines_of(&path);
    for k in 0..lines.len() {
        let number = k + 1;
        // A copy of another line: its seq is wrong at position `number`.
        for j in (0..lines.len()).filter(|j| *j != k) {
            let mut more = lines.clone();
            more.insert(k, lines[j].clone());
            write_lines(&path, &more);
            let err = first_bad(&path);
            assert_eq!(
                err.line,
                number,
                "copy of line {} before line {number}: {err}",
                j + 1
            );
            assert!(matches!(err.reason, LogFault::Seq { .. }), "{err}");
        }
        // A copy of the line itself, or a forged line with the right seq and
        // prev: that line passes, and the original, now one further down,
        // has the wrong seq.
        let prev = if k == 0 {
            ZERO_HASH.to_string()
        } else {
            line_hash(&lines[k - 1])
        };
        for inserted in [lines[k].clone(), forged(k, &prev)] {
            let mut more = lines.clone();
            more.insert(k, inserted);
            write_lines(&path, &more);
            let err = first_bad(&path);
            assert_eq!(err.line, number + 1, "before line {number}: {err}");
            assert!(
                matches!(err.reason, LogFault::Seq { expected, found } if expected == number as u64 && found == k as u64),
                "{err}"
            );
        }
        // A forged line with only the right seq: its prev is wrong.
        let mut more = lines.clone();
        more.insert(k, forged(k, &"ab".repeat(32)));
        write_lines(&path, &more);
        let err = first_bad(&path);
        assert_eq!(err.line, number, "{err}");
        assert!(
            matches!(err.reason, LogFault::Prev { previous } if previous == k),
            "{err}"
        );
    }
    // A well-forged line appended after the last is not in the head.
    let mut more = lines.clone();
    more.push(forged(6, &line_hash(&lines[5])));
    write_lines(&path, &more);
    let err = first_bad(&path);
    assert_eq!(err.line, 7, "{err}");
    assert!(
        matches!(err.reason, LogFault::Unrecorded { recorded: 6 }),
        "{err}"
    );
}

#[test]
fn swapping_any_line_with_the_next_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = six_line_log(dir.path());
    let lines = lines_of(&path);
    for k in 0..lines.len() - 1 {
        let mut swapped = lines.clone();
        swapped.swap(k, k + 1);
        write_lines(&path, &swapped);
        let err = first_bad(&path);
        assert_eq!(
            err.line,
            k + 1,
            "swapping lines {} and {}: {err}",
            k + 1,
            k + 2
        );
        assert!(
            matches!(err.reason, LogFault::Seq { expected, found } if expected == k as u64 && found == k as u64 + 1),
            "{err}"
        );
    }
    // The last line has no next; swapped with the line before, the earlier
    // position fails first.
    let mut swapped = lines.clone();
    swapped.swap(4, 5);
    write_lines(&path, &swapped);
    assert_eq!(first_bad(&path).line, 5);
}

#[test]
fn errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = six_line_log(dir.path());
    let mut lines = lines_of(&path);
    lines[3] = b"not json".to_vec();
    write_lines(&path, &lines);
    let err = first_bad(&path);
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains("line 4"),
        "{message}"
    );
    assert!(matches!(err.reason, LogFault::NotAnEntry(_)));

    let missing = dir.path().join("missing.jsonl");
    let err = first_bad(&missing);
    assert_eq!(err.line, 0);
    assert!(matches!(err.reason, LogFault::Read(_)));
    assert!(err.to_string().contains("missing.jsonl"));
}

#[test]
fn an_unterminated_last_line_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = six_line_log(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    bytes.pop();
    fs::write(&path, &bytes).unwrap();
    let err = first_bad(&path);
    assert_eq!(err.line, 6);
    assert!(matches!(err.reason, LogFault::NoNewline), "{err}");
}

fn checkpointed_log(dir: &Path, signer: &SigningKey) -> PathBuf {
    let path = dir.join("signed.jsonl");
    let mut log = AuditLog::open(&path).unwrap();
    log.append_checkpoint("t0", signer).unwrap(); // line 1: signs the empty log
    log.append("t1", "data-loaded", json!({"root": "00ff"}))
        .unwrap();
    log.append("t2", "attack", json!({"changed": 5})).unwrap();
    log.append_checkpoint("t3", signer).unwrap(); // line 4
    log.append("t4", "trained", json!({})).unwrap();
    log.append_checkpoint("t5", signer).unwrap(); // line 6
    log.append("t6", "metrics", json!({"acc": 0.5})).unwrap();
    path
}

#[test]
fn checkpoints_verify_with_the_right_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key(7);
    let path = checkpointed_log(dir.path(), &signer);
    assert_eq!(verify_log(&path).unwrap(), 7);
    let summary = verify_log_signed(&path, &signer.verifying_key()).unwrap();
    assert_eq!(
        summary,
        SignedLog {
            lines: 7,
            checkpoints: 3,
            signed_through: 5
        }
    );

    let err = verify_log_signed(&path, &key(8).verifying_key()).unwrap_err();
    assert_eq!(err.line, 1, "{err}");
    assert!(
        matches!(err.reason, LogFault::CheckpointKey { .. }),
        "{err}"
    );

    // A log without checkpoints verifies signed, with nothing signed.
    let plain = six_line_log(dir.path());
    let summary = verify_log_signed(&plain, &signer.verifying_key()).unwrap();
    assert_eq!(
        summary,
        SignedLog {
            lines: 6,
            checkpoints: 0,
            signed_through: 0
        }
    );
}

/// Rewrite a log from `lines`, recomputing every prev and the head, so the
/// chain is valid and only the checkpoint checks can object.
fn rechain(path: &Path, lines: &[Value]) {
    let mut prev = ZERO_HASH.to_string();
    let mut out = Vec::new();
    for (seq, line) in lines.iter().enumerate() {
        let mut line = line.clone();
        line["seq"] = json!(seq);
        line["prev"] = json!(prev);
        let bytes = serde_json::to_vec(&line).unwrap();
        prev = line_hash(&bytes);
        out.push(bytes);
    }
    write_lines(path, &out);
    fs::write(
        head_path(path),
        format!("{{\"lines\":{},\"last\":\"{prev}\"}}\n", out.len()),
    )
    .unwrap();
}

#[test]
fn a_forged_checkpoint_in_a_rechained_log_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key(7);
    let public = signer.verifying_key();
    let path = checkpointed_log(dir.path(), &signer);
    let entries: Vec<Value> = lines_of(&path)
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();

    // Rechaining alone changes nothing.
    rechain(&path, &entries);
    assert!(verify_log_signed(&path, &public).is_ok());

    // An earlier line edited and the chain rebuilt: the checkpoint after it
    // signed the old hash.
    let mut edited = entries.clone();
    edited[2]["details"]["changed"] = json!(0);
    rechain(&path, &edited);
    assert_eq!(verify_log(&path).unwrap(), 7);
    let err = verify_log_signed(&path, &public).unwrap_err();
    assert_eq!(err.line, 4, "{err}");
    assert!(matches!(err.reason, LogFault::CheckpointHash), "{err}");

    // ... and the checkpoint's hash updated too: the signature fails.
    let hash = line_hash(
        &serde_json::to_vec(&{
            let mut l = edited[2].clone();
            l["seq"] = json!(2);
            l["prev"] = json!(line_hash(&lines_of(&path)[1]));
            l
        })
        .unwrap(),
    );
    edited[3]["details"]["hash"] = json!(hash);
    rechain(&path, &edited);
    let err = verify_log_signed(&path, &public).unwrap_err();
    assert_eq!(err.line, 4, "{err}");
    assert!(matches!(err.reason, LogFault::CheckpointSignature), "{err}");

    // A checkpoint signed by another key but claiming ours.
    let other = key(9);
    let other_dir = tempfile::tempdir().unwrap();
    let other_path = checkpointed_log(other_dir.path(), &other);
    let other_lines = lines_of(&other_path);
    let mut foreign: Value = serde_json::from_slice(&other_lines[0]).unwrap();
    foreign["details"]["public-key"] = json!(hex::encode(public.to_bytes()));
    let mut with_foreign = entries.clone();
    with_foreign[0] = foreign;
    rechain(&path, &with_foreign);
    let err = verify_log_signed(&path, &public).unwrap_err();
    assert_eq!(err.line, 1, "{err}");
    assert!(matches!(err.reason, LogFault::CheckpointSignature), "{err}");

    // A truncated signature and missing fields are malformed.
    let mut cut = entries.clone();
    let signature = cut[5]["details"]["signature"].as_str().unwrap().to_string();
    cut[5]["details"]["signature"] = json!(&signature[..100]);
    rechain(&path, &cut);
    let err = verify_log_signed(&path, &public).unwrap_err();
    assert_eq!(err.line, 6, "{err}");
    assert!(matches!(err.reason, LogFault::Checkpoint(_)), "{err}");
    let mut bare = entries.clone();
    bare[3]["details"] = json!({});
    rechain(&path, &bare);
    let err = verify_log_signed(&path, &public).unwrap_err();
    assert_eq!(err.line, 4, "{err}");
    assert!(matches!(err.reason, LogFault::Checkpoint(_)), "{err}");
}
