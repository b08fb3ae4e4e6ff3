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
//!
//! [`Provenance`] implements [`poisonlab_core::ProvenanceCheck`] over a
//! [`SignedSet`] (the manifest and the owner's public key) and
//! [`poisonlab_core::Kind`].

use poisonlab_core::{
    BuildContext, Dataset, FilterVerdict, Kind, ParamChecks, ParamError, ProvenanceCheck,
    ProvenanceVerdict,
};
use poisonlab_integrity::SignatureCheck;
pub use poisonlab_integrity::SignedSet;
use serde::{Deserialize, Serialize};

/// The `[[defense]]` table for `kind = "provenance"`: no keys of its own; the
/// scenario's `[integrity]` table says where the data is signed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProvenanceParams {}

impl ProvenanceParams {
    /// Check every value: there are none, so this always passes (kept so
    /// every defense's parameters check the same way).
    pub fn check(&self) -> Result<(), Vec<ParamError>> {
        ParamChecks::new().finish()
    }
}

/// The data-provenance defense of Baracaldo, Chen, Ludwig and Safavi 2017
/// ("Mitigating Poisoning Attacks on Machine Learning Models: A Data
/// Provenance Based Approach", AISec), reduced to its cryptographic core:
/// every training sample whose record does not match the manifest its owner
/// signed is flagged; a bad signature flags every sample.
#[derive(Debug, Clone)]
pub struct Provenance {
    params: ProvenanceParams,
}

impl Provenance {
    /// The provenance check for `params` (which have no values to get wrong).
    pub fn new(params: ProvenanceParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// The parameters this check runs with.
    pub fn params(&self) -> &ProvenanceParams {
        &self.params
    }
}

impl Kind for Provenance {
    type Params = ProvenanceParams;

    fn build(params: ProvenanceParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &ProvenanceParams {
        &self.params
    }

    fn describe(&self) -> String {
        "provenance, removes samples changed or added since the owner signed the manifest".into()
    }
}

impl ProvenanceCheck for Provenance {
    type Signed = SignedSet;

    /// Verify `train` against `signed.manifest` signed by the owner of
    /// `signed.public`: flag (score 1) every sample whose record changed or
    /// that was added since signing, or every sample when the signature does
    /// not hold; the counts are those of [`poisonlab_integrity::Manifest::verify`].
    fn verify(&self, signed: &SignedSet, train: &Dataset) -> ProvenanceVerdict {
        let v = signed.manifest.verify(train, &signed.public);
        let signature_valid = v.signature == SignatureCheck::Valid;
        let flags = if signature_valid {
            signed.manifest.flags(train)
        } else {
            vec![true; train.len()]
        };
        let scores = flags.iter().map(|&f| f64::from(u8::from(f))).collect();
        ProvenanceVerdict {
            filter: FilterVerdict { scores, flags },
            modified: v.modified.len(),
            added: v.added.len(),
            removed: v.removed.len(),
            signature_valid,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use poisonlab_integrity::{Manifest, SigningKey, VerifyingKey};

    fn data() -> Dataset {
        Dataset::new(vec![0.0, 1.0, 2.0, 3.0], vec![1], vec![0, 1, 0, 1], 2, None).unwrap()
    }

    fn inspect(manifest: &Manifest, public: &VerifyingKey, train: &Dataset) -> ProvenanceVerdict {
        let signed = SignedSet {
            manifest: manifest.clone(),
            public: *public,
        };
        Provenance::new(ProvenanceParams::default())
            .unwrap()
            .verify(&signed, train)
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
        assert_eq!((v.modified, v.added, v.removed), (1, 1, 0));
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
        assert_eq!(v.filter.scores, [1.0; 4]);
    }

    #[test]
    fn the_table_has_no_keys() {
        assert!(toml::from_str::<ProvenanceParams>("").is_ok());
        assert!(toml::from_str::<ProvenanceParams>("k = 1").is_err());
    }

    #[test]
    fn removed_records_are_counted_but_flag_nothing() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let manifest = Manifest::sign(&data(), "test", "t0", &key).unwrap();
        let kept = data().subset(&[0, 2, 3]);
        let v = inspect(&manifest, &key.verifying_key(), &kept);
        assert!(v.signature_valid);
        assert_eq!((v.modified, v.added, v.removed), (0, 0, 1));
        assert_eq!(v.filter.flags, [false; 3]);
    }

    #[test]
    fn builds_and_describes_itself() {
        let facts = poisonlab_core::DataFacts::default();
        let ctx = BuildContext::new(std::path::Path::new("."), &facts);
        let p = Provenance::build(ProvenanceParams::default(), &ctx).unwrap();
        assert_eq!(Kind::params(&p), &ProvenanceParams::default());
        assert!(ProvenanceParams::default().check().is_ok());
        assert_eq!(
            p.describe(),
            "provenance, removes samples changed or added since the owner signed the manifest"
        );
    }
}
