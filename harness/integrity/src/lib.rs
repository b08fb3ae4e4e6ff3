//! poisonlab-integrity: tamper evidence for datasets and pipeline runs.
//!
//! - [`record_hash`] and [`merkle_root`]: a SHA-256 hash per record (id, label,
//!   feature bits) and an RFC 6962-style Merkle root over them.
//! - [`Manifest`]: the per-record hashes and root of a [`poisonlab_core::Dataset`],
//!   signed with ed25519. [`Manifest::verify`] names every record modified,
//!   added or removed since signing; [`Manifest::flags`] marks them per sample.
//! - [`Recipe`]: what generated a synthetic dataset (generator, version,
//!   parameters, seed, files, Merkle root), signed with ed25519, so that a
//!   receiver can regenerate the data and compare ([`Manifest::differences`]).
//! - [`generate_key`], [`write_keypair`], [`read_signing_key`],
//!   [`read_verifying_key`]: ed25519 key files (hex).
//! - [`AuditLog`], [`verify_log`], [`verify_log_signed`]: an append-only JSON-lines
//!   log in which each line holds the SHA-256 of the line before, with a head
//!   file that pins the last line and optional signed checkpoints.
//!
//! No cryptography is written here: SHA-256 comes from `sha2`, signatures from
//! `ed25519-dalek`.

mod audit;
mod error;
mod fsutil;
mod keys;
mod manifest;
mod recipe;
mod record;

pub use audit::{
    AuditLog, CHECKPOINT_EVENT, CHECKPOINT_TAG, SignedLog, ZERO_HASH, checkpoint_message,
    head_path, line_hash, verify_log, verify_log_signed,
};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use error::{AuditError, KeyError, LogError, LogFault, ManifestError, RecipeError};
pub use keys::{
    generate_key, public_key_path, read_signing_key, read_verifying_key, write_keypair,
};
pub use manifest::{
    MANIFEST_FORMAT, Manifest, ManifestRecord, RecordDiff, SignatureCheck, SignedSet, Verification,
};
pub use recipe::{RECIPE_FORMAT, Recipe, RecipeFile, RecipeSplit};
pub use record::{EMPTY_TAG, RECORD_TAG, dataset_root, merkle_root, record_hash};
