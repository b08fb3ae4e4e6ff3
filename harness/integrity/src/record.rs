//! Record hashes and the Merkle root over them.

use sha2::{Digest, Sha256};

/// Domain tag that starts every record encoding hashed by [`record_hash`].
pub const RECORD_TAG: &[u8] = b"poisonlab-record-v1";

/// The bytes hashed to give the root of an empty record set in [`merkle_root`].
pub const EMPTY_TAG: &[u8] = b"poisonlab-empty";

/// Prefix of a Merkle leaf node (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Prefix of a Merkle inner node (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// SHA-256 of one record's canonical encoding.
///
/// The encoding is, in order and with no separators:
///
/// | bytes | what |
/// | --- | --- |
/// | 19 | the domain tag [`RECORD_TAG`], `b"poisonlab-record-v1"` |
/// | 8 | `id` as a little-endian `u64` |
/// | 8 | `label` as a little-endian `u64` |
/// | 8 | the feature count as a little-endian `u64` |
/// | 4 each | each feature's IEEE-754 bits (`f32::to_bits`) little-endian |
///
/// Features are hashed by their bits, not their value: `-0.0` and `0.0` hash
/// differently and a NaN's payload is part of the hash. The shape is not part
/// of a record; a [`crate::Manifest`] records it once for the whole dataset.
pub fn record_hash(id: u64, label: usize, features: &[f32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(RECORD_TAG);
    hasher.update(id.to_le_bytes());
    hasher.update((label as u64).to_le_bytes());
    hasher.update((features.len() as u64).to_le_bytes());
    for value in features {
        hasher.update(value.to_bits().to_le_bytes());
    }
    hasher.finalize().into()
}

/// Merkle root over record hashes given in ascending id order.
///
/// Built as in RFC 6962 (Certificate Transparency), with its domain separation
/// so that a leaf can never be passed off as an inner node:
///
/// - a leaf node is `SHA-256(0x00 || leaf)`;
/// - an inner node is `SHA-256(0x01 || left || right)`;
/// - levels are built pairwise from the left; a node left without a partner at
///   the end of a level is carried up to the next level unchanged (not hashed
///   again, not duplicated);
/// - the root of an empty set is `SHA-256(b"poisonlab-empty")`
///   ([`EMPTY_TAG`]); the root of one record is its leaf node.
///
/// The order of `leaves` matters: callers pass them sorted by record id, as
/// [`crate::Manifest`] does.
pub fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    if leaves.is_empty() {
        return Sha256::digest(EMPTY_TAG).into();
    }
    let mut level: Vec<[u8; 32]> = leaves
        .iter()
        .map(|leaf| {
            let mut hasher = Sha256::new();
            hasher.update([LEAF_PREFIX]);
            hasher.update(leaf);
            hasher.finalize().into()
        })
        .collect();
    while level.len() > 1 {
        let mut pairs = level.chunks_exact(2);
        let mut next: Vec<[u8; 32]> = pairs
            .by_ref()
            .map(|pair| {
                let mut hasher = Sha256::new();
                hasher.update([NODE_PREFIX]);
                hasher.update(pair[0]);
                hasher.update(pair[1]);
                hasher.finalize().into()
            })
            .collect();
        // An odd node at the end of a level moves up unchanged.
        next.extend_from_slice(pairs.remainder());
        level = next;
    }
    level.first().copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(parts: &[&[u8]]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize().into()
    }

    #[test]
    fn record_hash_is_sha256_of_the_documented_encoding() {
        let mut encoding = b"poisonlab-record-v1".to_vec();
        encoding.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0]);
        encoding.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
        encoding.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
        encoding.extend_from_slice(&[0x00, 0x00, 0x80, 0x3f]); // 1.0
        encoding.extend_from_slice(&[0x00, 0x00, 0x00, 0xc0]); // -2.0
        assert_eq!(record_hash(7, 2, &[1.0, -2.0]), sha(&[&encoding]));
    }

    #[test]
    fn record_hash_known_answer() {
        // Worked out independently: sha256(b"poisonlab-record-v1" + 8 zero bytes x 3).
        let mut encoding = b"poisonlab-record-v1".to_vec();
        encoding.extend_from_slice(&[0; 24]);
        assert_eq!(record_hash(0, 0, &[]), sha(&[&encoding]));
        assert_ne!(record_hash(0, 0, &[]), record_hash(0, 0, &[0.0]));
    }

    #[test]
    fn record_hash_sees_bits_not_values() {
        assert_ne!(record_hash(1, 0, &[0.0]), record_hash(1, 0, &[-0.0]));
        let quiet = f32::from_bits(0x7fc0_0000);
        let payload = f32::from_bits(0x7fc0_0001);
        assert_ne!(record_hash(1, 0, &[quiet]), record_hash(1, 0, &[payload]));
        assert_eq!(record_hash(1, 0, &[payload]), record_hash(1, 0, &[payload]));
    }

    #[test]
    fn record_hash_separates_fields() {
        // The same 8 bytes in the id slot vs the label slot hash differently.
        assert_ne!(record_hash(1, 0, &[]), record_hash(0, 1, &[]));
        assert_ne!(record_hash(0, 0, &[1.0]), record_hash(0, 0, &[1.0, 1.0]));
    }

    #[test]
    fn merkle_root_by_hand() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let c = [3u8; 32];
        let la = sha(&[&[0], &a]);
        let lb = sha(&[&[0], &b]);
        let lc = sha(&[&[0], &c]);
        assert_eq!(merkle_root(&[]), sha(&[b"poisonlab-empty"]));
        assert_eq!(merkle_root(&[a]), la);
        assert_eq!(merkle_root(&[a, b]), sha(&[&[1], &la, &lb]));
        // Odd node carried up unchanged.
        let ab = sha(&[&[1], &la, &lb]);
        assert_eq!(merkle_root(&[a, b, c]), sha(&[&[1], &ab, &lc]));
        // Five leaves: level 1 = [ab, cd, le]; level 2 = [abcd, le]; root = H(1, abcd, le).
        let d = [4u8; 32];
        let e = [5u8; 32];
        let ld = sha(&[&[0], &d]);
        let le = sha(&[&[0], &e]);
        let cd = sha(&[&[1], &lc, &ld]);
        let abcd = sha(&[&[1], &ab, &cd]);
        assert_eq!(merkle_root(&[a, b, c, d, e]), sha(&[&[1], &abcd, &le]));
    }

    #[test]
    fn merkle_root_depends_on_order_and_every_leaf() {
        let leaves: Vec<[u8; 32]> = (0..7u8).map(|i| [i; 32]).collect();
        let root = merkle_root(&leaves);
        let mut swapped = leaves.clone();
        swapped.swap(0, 1);
        assert_ne!(merkle_root(&swapped), root);
        for i in 0..leaves.len() {
            let mut changed = leaves.clone();
            changed[i][31] ^= 1;
            assert_ne!(merkle_root(&changed), root, "leaf {i}");
            let mut fewer = leaves.clone();
            fewer.remove(i);
            assert_ne!(merkle_root(&fewer), root, "without leaf {i}");
        }
    }
}

/// The Merkle root of a dataset's records, as hex: the root a manifest of it
/// would carry ([`record_hash`] of every sample, leaves in ascending id order).
pub fn dataset_root(data: &poisonlab_core::Dataset) -> String {
    let mut leaves: Vec<(u64, [u8; 32])> = (0..data.len())
        .map(|i| {
            let id = data.ids()[i];
            (id, record_hash(id, data.labels()[i], data.sample(i)))
        })
        .collect();
    leaves.sort_unstable_by_key(|&(id, _)| id);
    let hashes: Vec<[u8; 32]> = leaves.into_iter().map(|(_, h)| h).collect();
    hex::encode(merkle_root(&hashes))
}

#[cfg(test)]
mod root_tests {
    use super::*;

    #[test]
    fn dataset_root_ignores_sample_order_and_sees_any_change() {
        let d = poisonlab_core::Dataset::new(vec![0.0, 1.0, 2.0], vec![1], vec![0, 1, 0], 2, None)
            .unwrap();
        let reordered = d.subset(&[2, 0, 1]);
        assert_eq!(dataset_root(&d), dataset_root(&reordered));
        let mut changed = d.clone();
        changed.set_label(1, 0);
        assert_ne!(dataset_root(&d), dataset_root(&changed));
    }
}
