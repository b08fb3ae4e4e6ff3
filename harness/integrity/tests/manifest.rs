//! Manifests: every change to a record is named, signatures catch tampering.
#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

use ed25519_dalek::SigningKey;
use poisonlab_core::Dataset;
use poisonlab_integrity::{
    MANIFEST_FORMAT, Manifest, ManifestError, SignatureCheck, Verification, record_hash,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// Records as (id, label, features).
type Record = (u64, usize, Vec<f32>);

/// A dataset of `dim`-feature records. `n_classes` is usize::MAX so that any
/// label a byte flip produces (short of all-0xff) is a valid class.
fn dataset(records: &[Record], dim: usize) -> Dataset {
    let features = records.iter().flat_map(|r| r.2.iter().copied()).collect();
    let labels = records.iter().map(|r| r.1).collect();
    let ids = records.iter().map(|r| r.0).collect();
    Dataset::new(features, vec![dim], labels, usize::MAX, Some(ids)).unwrap()
}

/// Four records of three features. Any two ids differ in all eight bytes,
/// so no single byte flip turns one id into another.
fn small() -> Vec<Record> {
    vec![
        (0x1111_1111_1111_1111, 0, vec![0.0, 1.5, -2.25]),
        (0x2222_2222_2222_2222, 1, vec![-0.0, f32::NAN, 3.0]),
        (0x3333_3333_3333_3333, 2, vec![1e-30, -1e30, 0.5]),
        (
            0x4444_4444_4444_4444,
            1,
            vec![7.0, 8.0, f32::from_bits(0x7f80_0001)],
        ),
    ]
}

const TAG: &[u8] = b"poisonlab-record-v1";

/// The canonical encoding record_hash documents.
fn encode(record: &Record) -> Vec<u8> {
    let mut bytes = TAG.to_vec();
    bytes.extend_from_slice(&record.0.to_le_bytes());
    bytes.extend_from_slice(&(record.1 as u64).to_le_bytes());
    bytes.extend_from_slice(&(record.2.len() as u64).to_le_bytes());
    for v in &record.2 {
        bytes.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    bytes
}

/// Inverse of `encode` (the tag and count are taken as they are).
fn decode(bytes: &[u8]) -> Record {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let base = TAG.len();
    let count = word(base + 16) as usize;
    let features = (0..count)
        .map(|k| {
            let at = base + 24 + 4 * k;
            f32::from_bits(u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()))
        })
        .collect();
    (word(base), word(base + 8) as usize, features)
}

fn sign(records: &[Record], dim: usize, signer: &SigningKey) -> Manifest {
    Manifest::sign(
        &dataset(records, dim),
        "test",
        "2024-01-01T00:00:00Z",
        signer,
    )
    .unwrap()
}

fn clean(signature: SignatureCheck) -> Verification {
    Verification {
        signature,
        root_matches: true,
        shape_matches: true,
        modified: vec![],
        added: vec![],
        removed: vec![],
    }
}

#[test]
fn record_hash_is_sha256_of_the_encoding_the_tests_use() {
    for record in small() {
        let expected: [u8; 32] = Sha256::digest(encode(&record)).into();
        assert_eq!(record_hash(record.0, record.1, &record.2), expected);
        assert_eq!(decode(&encode(&record)).0, record.0);
    }
}

#[test]
fn a_fresh_manifest_verifies_intact() {
    let signer = key(1);
    let data = dataset(&small(), 3);
    let manifest = sign(&small(), 3, &signer);
    let verification = manifest.verify(&data, &signer.verifying_key());
    assert_eq!(verification, clean(SignatureCheck::Valid));
    assert!(verification.is_intact());
    assert_eq!(manifest.flags(&data), vec![false; 4]);
    assert_eq!(manifest.format, MANIFEST_FORMAT);
    assert_eq!(manifest.count, 4);
    assert_eq!(manifest.shape, vec![3]);
    let ids: Vec<u64> = manifest.records.iter().map(|r| r.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn records_are_listed_by_ascending_id_whatever_the_sample_order() {
    let signer = key(1);
    let mut shuffled = small();
    shuffled.reverse();
    let a = sign(&small(), 3, &signer);
    let b = sign(&shuffled, 3, &signer);
    assert_eq!(a, b, "same records in another order give the same manifest");
    // And the shuffled data verifies against either.
    assert!(
        a.verify(&dataset(&shuffled, 3), &signer.verifying_key())
            .is_intact()
    );
}

#[test]
fn every_single_byte_change_of_every_record_is_named() {
    let signer = key(1);
    let public = signer.verifying_key();
    let records = small();
    let manifest = sign(&records, 3, &signer);
    let mut checked = 0;
    for (index, record) in records.iter().enumerate() {
        let encoding = encode(record);
        // Offsets of the id, label and feature bytes (the tag and the count
        // are not stored in a dataset).
        let id_at = TAG.len();
        let offsets = (id_at..id_at + 16).chain(id_at + 24..encoding.len());
        for offset in offsets {
            for flip in 1..=255u8 {
                let mut bytes = encoding.clone();
                bytes[offset] ^= flip;
                let changed = decode(&bytes);
                let expected_hash: [u8; 32] = Sha256::digest(&bytes).into();
                assert_eq!(record_hash(changed.0, changed.1, &changed.2), expected_hash);
                let mut altered = records.clone();
                altered[index] = changed.clone();
                let data = dataset(&altered, 3);
                let verification = manifest.verify(&data, &public);
                let mut expected = clean(SignatureCheck::Valid);
                expected.root_matches = false;
                if offset < id_at + 8 {
                    expected.removed = vec![record.0];
                    expected.added = vec![changed.0];
                } else {
                    expected.modified = vec![record.0];
                }
                assert_eq!(
                    verification, expected,
                    "record {index}, offset {offset}, flip {flip:#04x}"
                );
                let mut flags = vec![false; records.len()];
                flags[index] = true;
                assert_eq!(manifest.flags(&data), flags);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * 28 * 255);
}

#[test]
fn added_and_removed_records_are_named() {
    let signer = key(1);
    let public = signer.verifying_key();
    let records = small();
    let manifest = sign(&records, 3, &signer);

    let mut more = records.clone();
    more.insert(1, (99, 0, vec![1.0, 2.0, 3.0]));
    let data = dataset(&more, 3);
    let v = manifest.verify(&data, &public);
    assert_eq!(
        (v.added.clone(), v.modified.clone(), v.removed.clone()),
        (vec![99], vec![], vec![])
    );
    assert!(!v.root_matches && !v.is_intact());
    assert_eq!(
        manifest.flags(&data),
        vec![false, true, false, false, false]
    );

    for gone in 0..records.len() {
        let mut fewer = records.clone();
        let removed = fewer.remove(gone);
        let data = dataset(&fewer, 3);
        let v = manifest.verify(&data, &public);
        assert_eq!(
            (v.added.clone(), v.modified.clone(), v.removed.clone()),
            (vec![], vec![], vec![removed.0])
        );
        assert!(!v.root_matches);
        assert_eq!(manifest.flags(&data), vec![false; 3]);
    }

    let empty = dataset(&[], 3);
    let v = manifest.verify(&empty, &public);
    assert_eq!(v.removed, records.iter().map(|r| r.0).collect::<Vec<_>>());
}

#[test]
fn a_duplicated_record_flags_the_copy_not_the_original() {
    let signer = key(1);
    let records = small();
    let manifest = sign(&records, 3, &signer);
    // A modified copy placed before the untouched original.
    let mut copy = records[2].clone();
    copy.2[0] = 42.0;
    let mut data = records.clone();
    data.insert(0, copy);
    let data = dataset(&data, 3);
    let v = manifest.verify(&data, &signer.verifying_key());
    assert_eq!(v.added, vec![records[2].0]);
    assert!(v.modified.is_empty() && v.removed.is_empty());
    assert_eq!(
        manifest.flags(&data),
        vec![true, false, false, false, false]
    );
}

#[test]
fn signing_refuses_duplicate_ids() {
    let mut records = small();
    records[3].0 = records[1].0;
    let err = Manifest::sign(&dataset(&records, 3), "s", "t", &key(1)).unwrap_err();
    assert!(
        matches!(err, ManifestError::DuplicateId { id } if id == records[1].0),
        "{err}"
    );
}

#[test]
fn a_changed_shape_is_reported() {
    let signer = key(1);
    let records = small();
    let manifest = sign(&records, 3, &signer);
    let data = dataset(&records, 3);
    let reshaped = Dataset::new(
        data.to_features(),
        vec![1, 3],
        data.labels().to_vec(),
        data.n_classes(),
        Some(data.ids().to_vec()),
    )
    .unwrap();
    let v = manifest.verify(&reshaped, &signer.verifying_key());
    assert!(!v.shape_matches && v.root_matches && !v.is_intact());
}

#[test]
fn a_wrong_public_key_is_wrong_key() {
    let signer = key(1);
    let manifest = sign(&small(), 3, &signer);
    let data = dataset(&small(), 3);
    let v = manifest.verify(&data, &key(2).verifying_key());
    assert_eq!(v, clean(SignatureCheck::WrongKey));
    assert!(!v.is_intact());
    // A manifest re-signed by someone else claims their key.
    let forged = sign(&small(), 3, &key(3));
    assert_eq!(
        forged.verify(&data, &signer.verifying_key()).signature,
        SignatureCheck::WrongKey
    );
    // Pointing public-key at the verifier's key without their secret fails.
    let mut claimed = forged.clone();
    claimed.public_key = hex::encode(signer.verifying_key().to_bytes());
    assert_eq!(
        claimed.verify(&data, &signer.verifying_key()).signature,
        SignatureCheck::Invalid
    );
}

#[test]
fn a_truncated_or_altered_signature_is_invalid() {
    let signer = key(1);
    let public = signer.verifying_key();
    let data = dataset(&small(), 3);
    let manifest = sign(&small(), 3, &signer);
    for cut in [0, 1, 2, 64, 126, 127] {
        let mut m = manifest.clone();
        m.signature.truncate(cut);
        assert_eq!(
            m.verify(&data, &public).signature,
            SignatureCheck::Invalid,
            "cut to {cut}"
        );
    }
    let mut m = manifest.clone();
    m.signature.push_str("00");
    assert_eq!(m.verify(&data, &public).signature, SignatureCheck::Invalid);
    let mut m = manifest.clone();
    m.signature.replace_range(0..1, "z");
    assert_eq!(m.verify(&data, &public).signature, SignatureCheck::Invalid);
    for at in 0..64 {
        let mut bytes = hex::decode(&manifest.signature).unwrap();
        bytes[at] ^= 0x01;
        let mut m = manifest.clone();
        m.signature = hex::encode(bytes);
        assert_eq!(
            m.verify(&data, &public).signature,
            SignatureCheck::Invalid,
            "byte {at}"
        );
    }
}

/// A change made to a signed manifest.
type Tamper = Box<dyn Fn(&mut Manifest)>;

#[test]
fn every_tampered_field_is_invalid() {
    let signer = key(1);
    let public = signer.verifying_key();
    let data = dataset(&small(), 3);
    let manifest = sign(&small(), 3, &signer);
    let tamperings: Vec<(&str, Tamper)> = vec![
        ("format", Box::new(|m| m.format.push('x'))),
        ("source", Box::new(|m| m.source = "elsewhere".into())),
        (
            "created-at",
            Box::new(|m| m.created_at = "2025-01-01T00:00:00Z".into()),
        ),
        ("count", Box::new(|m| m.count += 1)),
        ("shape", Box::new(|m| m.shape = vec![1, 3])),
        (
            "root",
            Box::new(|m| {
                m.root
                    .replace_range(0..1, if m.root.starts_with('0') { "1" } else { "0" })
            }),
        ),
        ("record id", Box::new(|m| m.records[0].id += 1)),
        ("record label", Box::new(|m| m.records[1].label += 1)),
        (
            "record hash",
            Box::new(|m| m.records[2].hash = hex::encode([0u8; 32])),
        ),
        (
            "record dropped",
            Box::new(|m| {
                m.records.pop();
            }),
        ),
        ("records reordered", Box::new(|m| m.records.swap(0, 1))),
    ];
    for (what, tamper) in tamperings {
        let mut m = manifest.clone();
        tamper(&mut m);
        assert_ne!(m, manifest);
        assert_eq!(
            m.verify(&data, &public).signature,
            SignatureCheck::Invalid,
            "{what}"
        );
    }
    let mut m = manifest.clone();
    m.public_key = "not hex".into();
    assert_eq!(m.verify(&data, &public).signature, SignatureCheck::Invalid);
}

#[test]
fn a_manifest_that_hides_a_change_has_a_bad_signature() {
    // An attacker changes a record and updates the manifest to match; the
    // data comparison is then clean, but the signature is not.
    let signer = key(1);
    let public = signer.verifying_key();
    let mut records = small();
    let manifest = sign(&records, 3, &signer);
    records[0].2[0] = 5.0;
    let data = dataset(&records, 3);
    let refreshed = sign(&records, 3, &key(9));
    let mut m = manifest.clone();
    m.root = refreshed.root.clone();
    m.records = refreshed.records.clone();
    let v = m.verify(&data, &public);
    assert!(v.root_matches && v.modified.is_empty());
    assert_eq!(v.signature, SignatureCheck::Invalid);
    assert!(!v.is_intact());
}

#[test]
fn signed_bytes_are_the_compact_json_with_an_empty_signature() {
    let signer = key(1);
    let manifest = sign(&small(), 3, &signer);
    let mut unsigned = manifest.clone();
    unsigned.signature.clear();
    assert_eq!(
        manifest.signed_bytes().unwrap(),
        serde_json::to_vec(&unsigned).unwrap()
    );
    let text = String::from_utf8(manifest.signed_bytes().unwrap()).unwrap();
    assert!(text.starts_with(r#"{"format":"poisonlab-manifest-v1","source":"test","created-at":"2024-01-01T00:00:00Z","count":4,"shape":[3],"root":""#), "{text}");
    assert!(text.ends_with(r#","signature":""}"#), "{text}");
    assert!(text.contains(r#""public-key":""#));
    // ed25519 signing is deterministic: the same inputs give the same manifest.
    assert_eq!(manifest, sign(&small(), 3, &signer));
}

#[test]
fn an_empty_dataset_signs_and_verifies() {
    let signer = key(1);
    let data = dataset(&[], 2);
    let manifest = Manifest::sign(&data, "s", "t", &signer).unwrap();
    let empty_root: [u8; 32] = Sha256::digest(b"poisonlab-empty").into();
    assert_eq!(manifest.root, hex::encode(empty_root));
    assert!(manifest.verify(&data, &signer.verifying_key()).is_intact());
}

#[test]
fn manifest_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.manifest.json");
    let signer = key(1);
    let manifest = sign(&small(), 3, &signer);
    manifest.write(&path).unwrap();
    let read = Manifest::read(&path).unwrap();
    assert_eq!(read, manifest);
    assert!(
        read.verify(&dataset(&small(), 3), &signer.verifying_key())
            .is_intact()
    );
    // Overwriting leaves only the manifest behind.
    manifest.write(&path).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

fn names(err: &ManifestError, path: &std::path::Path) {
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[test]
fn bad_manifest_files_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");

    let err = Manifest::read(&path).unwrap_err();
    assert!(matches!(err, ManifestError::Io { .. }), "{err}");
    names(&err, &path);

    std::fs::write(&path, "{ not json").unwrap();
    let err = Manifest::read(&path).unwrap_err();
    assert!(matches!(err, ManifestError::Parse { .. }), "{err}");
    names(&err, &path);

    // An unknown key (a field the signature would not cover) is rejected.
    let manifest = sign(&small(), 3, &key(1));
    let mut value = serde_json::to_value(&manifest).unwrap();
    value["comment"] = "hi".into();
    std::fs::write(&path, value.to_string()).unwrap();
    let err = Manifest::read(&path).unwrap_err();
    assert!(matches!(err, ManifestError::Parse { .. }), "{err}");
    assert!(err.to_string().contains("comment"), "{err}");

    let mut value = serde_json::to_value(&manifest).unwrap();
    value["format"] = "poisonlab-manifest-v0".into();
    std::fs::write(&path, value.to_string()).unwrap();
    let err = Manifest::read(&path).unwrap_err();
    assert!(matches!(err, ManifestError::Format { .. }), "{err}");
    names(&err, &path);

    let nowhere = dir.path().join("missing").join("m.json");
    let err = manifest.write(&nowhere).unwrap_err();
    names(&err, &nowhere);
}

#[test]
fn ten_thousand_records_verify_and_one_change_is_named() {
    let n = 10_000usize;
    let dim = 4;
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let id = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15); // scattered ids
            (
                id,
                i % 10,
                (0..dim).map(|k| (i * dim + k) as f32 * 0.001).collect(),
            )
        })
        .collect();
    let signer = key(4);
    let public = signer.verifying_key();
    let manifest = sign(&records, dim, &signer);
    assert_eq!(manifest.records.len(), n);
    assert!(
        manifest
            .verify(&dataset(&records, dim), &public)
            .is_intact()
    );
    let target = 6_789;
    let mut changed = records.clone();
    changed[target].2[2] = f32::from_bits(changed[target].2[2].to_bits() ^ 1);
    let data = dataset(&changed, dim);
    let v = manifest.verify(&data, &public);
    assert_eq!(v.modified, vec![records[target].0]);
    assert!(v.added.is_empty() && v.removed.is_empty() && !v.root_matches);
    assert_eq!(v.signature, SignatureCheck::Valid);
    let flags = manifest.flags(&data);
    assert_eq!(flags.iter().filter(|f| **f).count(), 1);
    assert!(flags[target]);
}

/// A small dataset and a set of changes: which to modify, remove, and how many to add.
fn scenario() -> impl Strategy<Value = (Vec<Record>, Vec<u8>, usize)> {
    (1usize..24, 0usize..5).prop_flat_map(|(n, added)| {
        (
            prop::collection::vec((0usize..4, prop::collection::vec(any::<f32>(), 2)), n),
            prop::collection::vec(0u8..3, n),
            Just(added),
        )
            .prop_map(|(rows, actions, added)| {
                let records = rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, (label, features))| (i as u64 * 3, label, features))
                    .collect();
                (records, actions, added)
            })
    })
}

proptest! {
    /// Verification names exactly the records modified, removed and added, in one pass.
    #[test]
    fn verify_names_exactly_what_changed((records, actions, added) in scenario()) {
        let signer = key(5);
        let manifest = sign(&records, 2, &signer);
        let mut now = Vec::new();
        let (mut modified, mut removed) = (Vec::new(), Vec::new());
        for (record, action) in records.iter().zip(&actions) {
            match action {
                0 => now.push(record.clone()),
                1 => {
                    let mut r = record.clone();
                    r.1 = (r.1 + 1) % 4;
                    modified.push(r.0);
                    now.push(r);
                }
                _ => removed.push(record.0),
            }
        }
        let new_ids: Vec<u64> = (0..added).map(|k| 1_000 + k as u64).collect();
        for &id in &new_ids {
            now.insert(now.len() / 2, (id, 0, vec![0.5, 0.25]));
        }
        let data = dataset(&now, 2);
        let v = manifest.verify(&data, &signer.verifying_key());
        prop_assert_eq!(&v.modified, &modified);
        prop_assert_eq!(&v.removed, &removed);
        prop_assert_eq!(&v.added, &new_ids);
        prop_assert_eq!(v.signature, SignatureCheck::Valid);
        let unchanged = modified.is_empty() && removed.is_empty() && new_ids.is_empty();
        prop_assert_eq!(v.root_matches, unchanged);
        prop_assert_eq!(v.is_intact(), unchanged);
        let flags = manifest.flags(&data);
        for (flag, record) in flags.iter().zip(&now) {
            prop_assert_eq!(*flag, modified.contains(&record.0) || new_ids.contains(&record.0));
        }
    }
}

#[test]
fn an_unsigned_manifest_lists_differences_as_verify_names_them() {
    let records = small();
    let list = Manifest::unsigned(&dataset(&records, 3), "regenerated", "").unwrap();
    assert_eq!(list.public_key, "");
    assert_eq!(list.signature, "");
    assert_eq!(list.root, sign(&records, 3, &key(1)).root);
    assert_eq!(
        list.verify(&dataset(&records, 3), &key(1).verifying_key())
            .signature,
        SignatureCheck::Unsigned
    );
    assert!(list.differences(&dataset(&records, 3)).is_empty());
    // Change record 2's label, drop record 4, add a fifth.
    let mut changed = records.clone();
    changed[1].1 = 0;
    changed.pop();
    changed.push((0x5555_5555_5555_5555, 0, vec![1.0, 2.0, 3.0]));
    let d = list.differences(&dataset(&changed, 3));
    assert_eq!(d.modified, [0x2222_2222_2222_2222]);
    assert_eq!(d.added, [0x5555_5555_5555_5555]);
    assert_eq!(d.removed, [0x4444_4444_4444_4444]);
    assert!(!d.is_empty());
    // The same lists `verify` gives for a signed manifest of the same records.
    let v = sign(&records, 3, &key(1)).verify(&dataset(&changed, 3), &key(1).verifying_key());
    assert_eq!(
        (v.modified, v.added, v.removed),
        (d.modified, d.added, d.removed)
    );
}
