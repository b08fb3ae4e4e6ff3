//! Signed generator recipes: what made a synthetic dataset, so that anyone
//! can make it again and compare.

use std::path::Path;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::RecipeError;
use crate::fsutil::{Access, atomic_write};
use crate::manifest::{SignatureCheck, check_ed25519, decode_hex};

/// The `format` every recipe this version writes holds, and the only one it reads.
pub const RECIPE_FORMAT: &str = "poisonlab-recipe-v1";

/// A generator recipe: which generator (name and version) made a dataset,
/// with which parameters and seed, the files it wrote and the Merkle root of
/// their records, optionally signed with ed25519.
///
/// Written as JSON with kebab-case keys, in this order:
///
/// ```json
/// {"format": "poisonlab-recipe-v1", "generator": "synthetic-digits",
///  "generator-version": 1, "params": {"test": 1000, "train": 3000}, "seed": 7,
///  "poisonlab-version": "0.1.0",
///  "splits": [{"name": "train", "count": 3000, "root": "<hex>"}, ...],
///  "files": [{"name": "train-images-idx3-ubyte", "sha256": "<hex>"}, ...],
///  "root": "<hex>", "public-key": "<hex>", "signature": "<hex>"}
/// ```
///
/// `root` is the Merkle root ([`crate::merkle_root`] of
/// [`crate::record_hash`]es, leaves in ascending id order) over every record
/// of every split together (train ids count from 0, test ids from
/// 1 000 000 000, so they never collide); each split's own root is in `splits`.
///
/// **What is signed.** The signature is ed25519 (RFC 8032, verified
/// strictly) over [`Recipe::signed_bytes`]: the recipe as compact JSON
/// (`serde_json`, no whitespace, keys in the order above, the keys of
/// `params` sorted) with `signature` set to `""`. Every other field is
/// covered, the root and `public-key` included, so editing any parameter,
/// the seed, a file hash or the root after signing breaks the signature.
/// How the file is laid out on disk does not matter. An unsigned recipe has
/// `public-key` and `signature` both `""`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Recipe {
    /// Always [`RECIPE_FORMAT`].
    pub format: String,
    /// The generator's name (`synthetic-digits`, `blobs`).
    pub generator: String,
    /// The generator's version: bumped whenever the same parameters and
    /// seed would give different data.
    pub generator_version: u32,
    /// Every parameter of the generator, defaults included.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The seed the generator's random stream is derived from.
    pub seed: u64,
    /// The poisonlab version that wrote the recipe (informational: the
    /// generator's version decides what the recipe makes).
    pub poisonlab_version: String,
    /// Each split's record count and Merkle root, in order (train, test).
    pub splits: Vec<RecipeSplit>,
    /// The files written, relative to the recipe's folder, with their SHA-256.
    pub files: Vec<RecipeFile>,
    /// Hex of the Merkle root over every record of every split.
    pub root: String,
    /// Hex of the signer's 32-byte ed25519 public key; `""` when unsigned.
    pub public_key: String,
    /// Hex of the 64-byte ed25519 signature over [`Recipe::signed_bytes`];
    /// `""` when unsigned.
    pub signature: String,
}

/// One split of a [`Recipe`]'s output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RecipeSplit {
    /// `train` or `test`.
    pub name: String,
    /// Records in the split.
    pub count: usize,
    /// Hex of the Merkle root of the split's records.
    pub root: String,
}

/// One file of a [`Recipe`]'s output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RecipeFile {
    /// The file's name, relative to the recipe's folder.
    pub name: String,
    /// Hex of the SHA-256 of its bytes.
    pub sha256: String,
}

impl Recipe {
    /// Sign the recipe with `key`: sets `public-key`, then `signature` over
    /// [`Recipe::signed_bytes`].
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), RecipeError> {
        self.public_key = hex::encode(key.verifying_key().to_bytes());
        self.signature = String::new();
        let message = self.signed_bytes().map_err(RecipeError::Encode)?;
        self.signature = hex::encode(key.sign(&message).to_bytes());
        Ok(())
    }

    /// The bytes the signature covers: the recipe as compact JSON
    /// (`serde_json::to_vec`) with the keys of `params` sorted and
    /// `signature` set to `""`.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut params: Vec<(&String, &serde_json::Value)> = self.params.iter().collect();
        params.sort_by(|a, b| a.0.cmp(b.0));
        let unsigned = Recipe {
            params: params
                .into_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            signature: String::new(),
            ..self.clone()
        };
        serde_json::to_vec(&unsigned)
    }

    /// Whether the recipe is signed by `public` and unchanged since:
    /// [`SignatureCheck::Unsigned`] when it carries no signature.
    pub fn check_signature(&self, public: &VerifyingKey) -> SignatureCheck {
        match self.signed_bytes() {
            Ok(message) => check_ed25519(&self.public_key, &self.signature, &message, public),
            Err(_) => SignatureCheck::Invalid,
        }
    }

    /// Whether the signature verifies with the key the recipe itself names
    /// (`public-key`): catches any edit after signing, but says nothing of
    /// who signed; [`Recipe::check_signature`] with a trusted key does.
    /// [`SignatureCheck::Unsigned`] when unsigned, `Invalid` when
    /// `public-key` is not an ed25519 key.
    pub fn check_own_signature(&self) -> SignatureCheck {
        if !self.is_signed() {
            return SignatureCheck::Unsigned;
        }
        let key = decode_hex::<32>(&self.public_key)
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok());
        match key {
            Some(key) => self.check_signature(&key),
            None => SignatureCheck::Invalid,
        }
    }

    /// Whether the recipe carries a signature.
    pub fn is_signed(&self) -> bool {
        !(self.public_key.is_empty() && self.signature.is_empty())
    }

    /// Read a recipe file, checking that it is JSON of this format.
    pub fn read(path: impl AsRef<Path>) -> Result<Recipe, RecipeError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| RecipeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let recipe: Recipe =
            serde_json::from_slice(&bytes).map_err(|source| RecipeError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        if recipe.format != RECIPE_FORMAT {
            return Err(RecipeError::Format {
                path: path.to_path_buf(),
                found: recipe.format,
                expected: RECIPE_FORMAT,
            });
        }
        Ok(recipe)
    }

    /// Write the recipe as pretty-printed JSON, atomically (a temporary
    /// sibling renamed over `path`).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), RecipeError> {
        let path = path.as_ref();
        let mut bytes = serde_json::to_vec_pretty(self).map_err(RecipeError::Encode)?;
        bytes.push(b'\n');
        atomic_write(path, &bytes, Access::Default).map_err(|source| RecipeError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn recipe() -> Recipe {
        let mut params = serde_json::Map::new();
        params.insert("train".into(), 30.into());
        params.insert("test".into(), 10.into());
        Recipe {
            format: RECIPE_FORMAT.into(),
            generator: "synthetic-digits".into(),
            generator_version: 1,
            params,
            seed: 7,
            poisonlab_version: "0.1.0".into(),
            splits: vec![RecipeSplit {
                name: "train".into(),
                count: 30,
                root: "ab".repeat(32),
            }],
            files: vec![RecipeFile {
                name: "train.csv".into(),
                sha256: "cd".repeat(32),
            }],
            root: "ef".repeat(32),
            public_key: String::new(),
            signature: String::new(),
        }
    }

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[byte; 32])
    }

    #[test]
    fn a_signed_recipe_verifies_and_every_field_is_covered() {
        let mut r = recipe();
        assert_eq!(
            r.check_signature(&key(1).verifying_key()),
            SignatureCheck::Unsigned
        );
        r.sign(&key(1)).unwrap();
        assert!(r.is_signed());
        let public = key(1).verifying_key();
        assert_eq!(r.check_signature(&public), SignatureCheck::Valid);
        assert_eq!(r.check_own_signature(), SignatureCheck::Valid);
        assert_eq!(
            r.check_signature(&key(2).verifying_key()),
            SignatureCheck::WrongKey
        );
        let edits: [fn(&mut Recipe); 8] = [
            |r| r.seed += 1,
            |r| r.generator_version += 1,
            |r| r.generator = "blobs".into(),
            |r| {
                r.params.insert("train".into(), 31.into());
            },
            |r| r.root = "00".repeat(32),
            |r| r.splits[0].count = 29,
            |r| r.files[0].sha256 = "00".repeat(32),
            |r| r.poisonlab_version = "9.9.9".into(),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut changed = r.clone();
            edit(&mut changed);
            assert_eq!(
                changed.check_signature(&public),
                SignatureCheck::Invalid,
                "edit {i}"
            );
            assert_eq!(
                changed.check_own_signature(),
                SignatureCheck::Invalid,
                "edit {i}"
            );
        }
    }

    #[test]
    fn the_order_of_params_does_not_matter_but_the_layout_of_the_file_does_not_either() {
        let mut r = recipe();
        r.sign(&key(3)).unwrap();
        let mut reordered = r.clone();
        reordered.params = r
            .params
            .iter()
            .rev()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_ne!(
            reordered.params.keys().collect::<Vec<_>>(),
            r.params.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            reordered.check_signature(&key(3).verifying_key()),
            SignatureCheck::Valid
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recipe.json");
        r.write(&path).unwrap();
        let back = Recipe::read(&path).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            back.check_signature(&key(3).verifying_key()),
            SignatureCheck::Valid
        );
    }

    #[test]
    fn reading_names_the_file_and_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recipe.json");
        let e = Recipe::read(&path).unwrap_err();
        assert!(matches!(e, RecipeError::Io { .. }), "{e}");
        assert!(e.to_string().contains("recipe.json"), "{e}");
        std::fs::write(&path, "{not json").unwrap();
        let e = Recipe::read(&path).unwrap_err();
        assert!(matches!(e, RecipeError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("recipe.json"), "{e}");
        let mut r = recipe();
        r.format = "poisonlab-recipe-v9".into();
        r.write(&path).unwrap();
        let e = Recipe::read(&path).unwrap_err();
        assert!(e.to_string().contains("poisonlab-recipe-v9"), "{e}");
    }
}
