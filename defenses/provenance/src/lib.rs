//! Provenance as a defense: the data owner signs a Merkle-rooted manifest of
//! the dataset where it is produced ([`poisonlab_integrity::Manifest`]); before
//! training, the defender verifies the training set against it and removes
//! every record that was changed or added since.
//!
//! This is the data-provenance defense of Baracaldo, Chen, Ludwig and Safavi
//! 2017 ("Mitigating Poisoning Attacks on Machine Learning Models: A Data
//! Provenance Based Approach", AISec) reduced to its cryptographic core: a
//! record whose bytes do not match what its source signed has no provenance.
//! Its limit is just as clear: poison that entered before the data was signed
//! (an attack at the `source`) carries a valid signature and passes; only
//! poison added in `transit`, after signing, is caught.
//!
//! A bad signature (a manifest signed by someone else, or altered) means no
//! record can be trusted: every sample is flagged.

use poisonlab_core::{Dataset, FilterVerdict};
use poisonlab_integrity::{Manifest, SignatureCheck, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The `[[defense]]` table for `kind = "provenance"`: no keys of its own; the
/// scenario's `[integrity]` table says where the data is signed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProvenanceParams {}

/// What verifying the training set against its manifest found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvenanceVerdict {
    /// Flag every sample without provenance; score 1 for those, 0 otherwise.
    pub filter: FilterVerdict,
    /// Ids whose bytes or label differ from the signed record.
    pub modified: Vec<u64>,
    /// Ids in the training set the manifest does not hold.
    pub added: Vec<u64>,
    /// Ids the manifest holds that the training set lacks.
    pub removed: Vec<u64>,
    /// Whether the manifest's signature holds under the owner's key.
    pub signature_valid: bool,
}

/// Verify `train` against `manifest` signed by the owner of `public`.
pub fn inspect(manifest: &Manifest, public: &VerifyingKey, train: &Dataset) -> ProvenanceVerdict {
    let v = manifest.verify(train, public);
    let signature_valid = v.signature == SignatureCheck::Valid;
    let flags = if signature_valid {
        manifest.flags(train)
    } else {
        vec![true; train.len()]
    };
    let scores = flags.iter().map(|&f| f64::from(u8::from(f))).collect();
    ProvenanceVerdict {
        filter: FilterVerdict { scores, flags },
        modified: v.modified,
        added: v.added,
        removed: v.removed,
        signature_valid,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use poisonlab_integrity::SigningKey;

    fn data() -> Dataset {
        Dataset::new(vec![0.0, 1.0, 2.0, 3.0], vec![1], vec![0, 1, 0, 1], 2, None).unwrap()
    }

    #[test]
    fn flags_exactly_the_records_changed_or_added_after_signing() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let clean = data();
        let manifest = Manifest::sign(&clean, "test", "t0", &key).unwrap();
        // In transit: record 1 relabelled, a copy of record 2 added with a new id.
        let mut poisoned = clean.clone();
        poisoned.set_label(1, 0);
        let extra = Dataset::new(vec![2.0], vec![1], vec![0], 2, Some(vec![9])).unwrap();
        poisoned.extend(&extra);
        let v = inspect(&manifest, &key.verifying_key(), &poisoned);
        assert!(v.signature_valid);
        assert_eq!(v.filter.flags, [false, true, false, false, true]);
        assert_eq!((v.modified, v.added, v.removed), (vec![1], vec![9], vec![]));
        // Poisoned at the source, then signed: everything verifies.
        let at_source = Manifest::sign(&poisoned, "test", "t0", &key).unwrap();
        let v = inspect(&at_source, &key.verifying_key(), &poisoned);
        assert_eq!(v.filter.flags, [false; 5]);
    }

    #[test]
    fn a_foreign_signature_leaves_nothing_trusted() {
        let manifest =
            Manifest::sign(&data(), "test", "t0", &SigningKey::from_bytes(&[1; 32])).unwrap();
        let other = SigningKey::from_bytes(&[2; 32]).verifying_key();
        let v = inspect(&manifest, &other, &data());
        assert!(!v.signature_valid);
        assert_eq!(v.filter.flags, [true; 4]);
    }

    #[test]
    fn the_table_has_no_keys() {
        assert!(toml::from_str::<ProvenanceParams>("").is_ok());
        assert!(toml::from_str::<ProvenanceParams>("k = 1").is_err());
    }
}
