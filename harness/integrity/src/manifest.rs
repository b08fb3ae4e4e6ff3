//! Signed Merkle manifests of datasets.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use poisonlab_core::Dataset;
use serde::{Deserialize, Serialize};

use crate::ManifestError;
use crate::fsutil::{Access, atomic_write};
use crate::record::{merkle_root, record_hash};

/// The `format` every manifest this version writes holds, and the only one it reads.
pub const MANIFEST_FORMAT: &str = "poisonlab-manifest-v1";

/// A signed list of a dataset's records: one hash per record, their Merkle
/// root, and an ed25519 signature over it all.
///
/// Written as JSON with kebab-case keys, in this order:
///
/// ```json
/// {"format": "poisonlab-manifest-v1", "source": "...", "created-at": "...",
///  "count": 4, "shape": [3], "root": "<hex>",
///  "records": [{"id": 0, "label": 1, "hash": "<hex>"}, ...],
///  "public-key": "<hex>", "signature": "<hex>"}
/// ```
///
/// **What is signed.** The signature is ed25519 (RFC 8032, verified strictly)
/// over [`Manifest::signed_bytes`]: the manifest serialized by `serde_json`
/// as compact JSON (no whitespace, keys in the order above, `records` in
/// ascending id) with `signature` set to the empty string `""`. Every other
/// field, `public-key` included, is covered. How the file on disk is laid out
/// (it is written pretty-printed) does not matter: the signed bytes are
/// rebuilt from the parsed fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// Where the data came from, as the caller describes it (a file, a
    /// generator and its seed, ...).
    pub source: String,
    /// When the manifest was made, as the caller states it. Never read from
    /// the clock, so that signing the same data twice gives the same manifest.
    pub created_at: String,
    /// Number of records.
    pub count: usize,
    /// Shape of every sample (`Dataset::shape`).
    pub shape: Vec<usize>,
    /// Hex of the [`merkle_root`] over the record hashes in ascending id order.
    pub root: String,
    /// One entry per record, in ascending id order.
    pub records: Vec<ManifestRecord>,
    /// Hex of the 32-byte ed25519 public key of the signer.
    pub public_key: String,
    /// Hex of the 64-byte ed25519 signature over [`Manifest::signed_bytes`].
    pub signature: String,
}

/// One record of a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ManifestRecord {
    /// The record's stable id.
    pub id: u64,
    /// Its label when signed (also part of `hash`; kept here for reading).
    pub label: usize,
    /// Hex of [`record_hash`] of the record.
    pub hash: String,
}

/// The outcome of checking a manifest's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Signed by the key given, and unchanged since.
    Valid,
    /// The manifest's `public-key` is not the key given: someone else signed it.
    WrongKey,
    /// The signature or the `public-key` field is malformed (not hex, wrong
    /// length), or the signature does not verify: the manifest was changed
    /// after signing, or the signature was forged.
    Invalid,
    /// The file carries no signature at all (`public-key` and `signature`
    /// both empty): a recipe written without a key, or an unsigned manifest.
    Unsigned,
}

/// What [`Manifest::verify`] found. Id lists are in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Whether the manifest is signed by the key given and unchanged.
    pub signature: SignatureCheck,
    /// Whether the Merkle root of the data as it is now equals the manifest's `root`.
    pub root_matches: bool,
    /// Whether the data's sample shape equals the manifest's `shape`.
    pub shape_matches: bool,
    /// Ids in both, whose record (label or features) changed.
    pub modified: Vec<u64>,
    /// Ids in the data that the manifest does not list. An id that the data
    /// holds more than once is also listed here: only one sample can be the
    /// signed record (one whose hash matches, if any), the rest are additions.
    pub added: Vec<u64>,
    /// Ids the manifest lists that the data no longer holds.
    pub removed: Vec<u64>,
}

impl Verification {
    /// True when the signature is valid and the data is exactly what was signed.
    pub fn is_intact(&self) -> bool {
        self.signature == SignatureCheck::Valid
            && self.root_matches
            && self.shape_matches
            && self.modified.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
    }
}

/// Which records differ between a dataset and a record list
/// ([`Manifest::differences`]). Id lists are in ascending order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordDiff {
    /// Ids in both, whose record (label or features) changed.
    pub modified: Vec<u64>,
    /// Ids in the data that the list does not hold (or hold twice).
    pub added: Vec<u64>,
    /// Ids the list holds that the data does not.
    pub removed: Vec<u64>,
}

impl RecordDiff {
    /// True when no record differs.
    pub fn is_empty(&self) -> bool {
        self.modified.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }
}

/// How one sample of the data compares with the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Intact,
    Modified,
    Added,
}

/// The hashes of every sample of `data`, in sample order.
fn hashes(data: &Dataset) -> Vec<[u8; 32]> {
    (0..data.len())
        .map(|i| record_hash(data.ids()[i], data.labels()[i], data.sample(i)))
        .collect()
}

/// The Merkle root of `(id, hash)` pairs, sorted by id (then hash, so that
/// duplicate ids still give a deterministic root).
fn root_of(mut pairs: Vec<(u64, [u8; 32])>) -> [u8; 32] {
    pairs.sort_unstable();
    let leaves: Vec<[u8; 32]> = pairs.into_iter().map(|(_, hash)| hash).collect();
    merkle_root(&leaves)
}

/// Check an ed25519 signature (hex) over `message` by the signer named in
/// `signer` (hex of its public key) against the key the verifier trusts.
/// Both empty: [`SignatureCheck::Unsigned`].
pub(crate) fn check_ed25519(
    signer: &str,
    signature: &str,
    message: &[u8],
    public: &VerifyingKey,
) -> SignatureCheck {
    if signer.is_empty() && signature.is_empty() {
        return SignatureCheck::Unsigned;
    }
    let Some(signer) = decode_hex::<32>(signer) else {
        return SignatureCheck::Invalid;
    };
    if signer != public.to_bytes() {
        return SignatureCheck::WrongKey;
    }
    let Some(signature) = decode_hex::<64>(signature) else {
        return SignatureCheck::Invalid;
    };
    match public.verify_strict(message, &Signature::from_bytes(&signature)) {
        Ok(()) => SignatureCheck::Valid,
        Err(_) => SignatureCheck::Invalid,
    }
}

/// Decode exactly `N` bytes of hex, or `None`.
pub(crate) fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

impl Manifest {
    /// Hash every record of `data`, build the Merkle root and sign it all with `key`.
    ///
    /// `source` says where the data came from; `created_at` is stored as given
    /// (pass a timestamp from the run's context, not the clock, to keep runs
    /// reproducible). Fails when two samples share an id.
    pub fn sign(
        data: &Dataset,
        source: impl Into<String>,
        created_at: impl Into<String>,
        key: &SigningKey,
    ) -> Result<Manifest, ManifestError> {
        let mut manifest = Manifest::unsigned(data, source, created_at)?;
        manifest.public_key = hex::encode(key.verifying_key().to_bytes());
        let message = manifest.signed_bytes().map_err(ManifestError::Encode)?;
        manifest.signature = hex::encode(key.sign(&message).to_bytes());
        Ok(manifest)
    }

    /// The manifest of `data` as [`Manifest::sign`] builds it, with
    /// `public-key` and `signature` left empty: a list of what the records
    /// should be, for [`Manifest::differences`] (its signature never verifies).
    /// Fails when two samples share an id.
    pub fn unsigned(
        data: &Dataset,
        source: impl Into<String>,
        created_at: impl Into<String>,
    ) -> Result<Manifest, ManifestError> {
        let mut records: Vec<(u64, usize, [u8; 32])> = hashes(data)
            .into_iter()
            .enumerate()
            .map(|(i, hash)| (data.ids()[i], data.labels()[i], hash))
            .collect();
        records.sort_unstable_by_key(|&(id, _, _)| id);
        if let Some(pair) = records.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(ManifestError::DuplicateId { id: pair[0].0 });
        }
        let leaves: Vec<[u8; 32]> = records.iter().map(|&(_, _, hash)| hash).collect();
        Ok(Manifest {
            format: MANIFEST_FORMAT.to_string(),
            source: source.into(),
            created_at: created_at.into(),
            count: data.len(),
            shape: data.shape().to_vec(),
            root: hex::encode(merkle_root(&leaves)),
            records: records
                .into_iter()
                .map(|(id, label, hash)| ManifestRecord {
                    id,
                    label,
                    hash: hex::encode(hash),
                })
                .collect(),
            public_key: String::new(),
            signature: String::new(),
        })
    }

    /// The bytes the signature covers: this manifest as compact JSON
    /// (`serde_json::to_vec`) with `signature` set to `""`.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let unsigned = Manifest {
            signature: String::new(),
            ..self.clone()
        };
        serde_json::to_vec(&unsigned)
    }

    /// Check the signature against `public` and compare `data` with the
    /// signed records, in one pass over the data (a hash map from id).
    ///
    /// The signature result and the data comparison are independent: a
    /// manifest with a bad signature still reports which records differ from
    /// what it lists, but only a [`SignatureCheck::Valid`] manifest can be
    /// trusted to list what was signed.
    pub fn verify(&self, data: &Dataset, public: &VerifyingKey) -> Verification {
        let (diff, root) = self.diff_and_root(data);
        Verification {
            signature: self.check_signature(public),
            root_matches: decode_hex::<32>(&self.root) == Some(root),
            shape_matches: self.shape == data.shape(),
            modified: diff.modified,
            added: diff.added,
            removed: diff.removed,
        }
    }

    /// Which records of `data` differ from the ones listed here (modified,
    /// added, removed, as [`Manifest::verify`] names them), without looking
    /// at the signature: for comparing data with a list of what it should be
    /// ([`Manifest::unsigned`] of a regenerated dataset).
    pub fn differences(&self, data: &Dataset) -> RecordDiff {
        self.diff_and_root(data).0
    }

    /// The differences and the Merkle root of `data` as it is.
    fn diff_and_root(&self, data: &Dataset) -> (RecordDiff, [u8; 32]) {
        let (statuses, removed, hashes) = self.compare(data);
        let mut modified = Vec::new();
        let mut added = Vec::new();
        for (i, status) in statuses.iter().enumerate() {
            match status {
                Status::Intact => {}
                Status::Modified => modified.push(data.ids()[i]),
                Status::Added => added.push(data.ids()[i]),
            }
        }
        modified.sort_unstable();
        added.sort_unstable();
        added.dedup();
        let root = root_of(data.ids().iter().copied().zip(hashes).collect());
        (
            RecordDiff {
                modified,
                added,
                removed,
            },
            root,
        )
    }

    /// One flag per sample of `data`, in sample order: true when the sample's
    /// record is modified or added since signing (see [`Verification`]).
    ///
    /// Does not check the signature; call [`Manifest::verify`] for that.
    pub fn flags(&self, data: &Dataset) -> Vec<bool> {
        let (statuses, _, _) = self.compare(data);
        statuses.into_iter().map(|s| s != Status::Intact).collect()
    }

    /// The signature check of [`Manifest::verify`].
    fn check_signature(&self, public: &VerifyingKey) -> SignatureCheck {
        match self.signed_bytes() {
            Ok(message) => check_ed25519(&self.public_key, &self.signature, &message, public),
            Err(_) => SignatureCheck::Invalid,
        }
    }

    /// Each sample's status, the removed ids (ascending), and each sample's hash.
    ///
    /// Two passes over the samples: the first claims every id whose hash
    /// matches the manifest, the second marks the rest modified (the first
    /// unclaimed sample of a listed id) or added. A record listed in the
    /// manifest with a hash that is not hex never matches.
    fn compare(&self, data: &Dataset) -> (Vec<Status>, Vec<u64>, Vec<[u8; 32]>) {
        let signed: HashMap<u64, Option<[u8; 32]>> = self
            .records
            .iter()
            .map(|r| (r.id, decode_hex::<32>(&r.hash)))
            .collect();
        let hashes = hashes(data);
        let ids = data.ids();
        let mut claimed: HashSet<u64> = HashSet::with_capacity(signed.len());
        let mut statuses: Vec<Option<Status>> = ids
            .iter()
            .zip(&hashes)
            .map(|(id, hash)| {
                (signed.get(id) == Some(&Some(*hash)) && claimed.insert(*id))
                    .then_some(Status::Intact)
            })
            .collect();
        for (status, id) in statuses.iter_mut().zip(ids) {
            if status.is_none() {
                *status = Some(if signed.contains_key(id) && claimed.insert(*id) {
                    Status::Modified
                } else {
                    Status::Added
                });
            }
        }
        let mut removed: Vec<u64> = self
            .records
            .iter()
            .map(|r| r.id)
            .filter(|id| !claimed.contains(id))
            .collect();
        removed.sort_unstable();
        removed.dedup();
        let statuses = statuses
            .into_iter()
            .map(|s| s.unwrap_or(Status::Added))
            .collect();
        (statuses, removed, hashes)
    }

    /// Read a manifest file, checking that it is JSON of this format.
    pub fn read(path: impl AsRef<Path>) -> Result<Manifest, ManifestError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|source| ManifestError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(ManifestError::Format {
                path: path.to_path_buf(),
                found: manifest.format,
                expected: MANIFEST_FORMAT,
            });
        }
        Ok(manifest)
    }

    /// Write the manifest as pretty-printed JSON, atomically: to a temporary
    /// sibling first, then renamed over `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), ManifestError> {
        let path = path.as_ref();
        let mut bytes = serde_json::to_vec_pretty(self).map_err(ManifestError::Encode)?;
        bytes.push(b'\n');
        atomic_write(path, &bytes, Access::Default).map_err(|source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// What the data owner signed and the defender holds: the Merkle manifest of
/// the dataset and the owner's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedSet {
    /// The signed manifest.
    pub manifest: Manifest,
    /// The key the manifest must be signed with.
    pub public: VerifyingKey,
}
