//! ed25519 key generation and key files.
//!
//! A key file holds the 32 key bytes as 64 lowercase hex digits and a newline.
//! [`write_keypair`] writes the private (signing) key to the path given, owner
//! read/write only on unix, and the public (verifying) key beside it with
//! `.pub` appended to the file name.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SECRET_KEY_LENGTH, SigningKey, VerifyingKey};

use crate::KeyError;
use crate::fsutil::{Access, atomic_write};

/// A new signing key from 32 bytes of operating-system randomness.
///
/// Fails only when the operating system cannot provide randomness.
pub fn generate_key() -> Result<SigningKey, KeyError> {
    let mut secret = [0u8; SECRET_KEY_LENGTH];
    getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&secret);
    secret.fill(0);
    Ok(key)
}

/// Where [`write_keypair`] puts the public key for a private key at `path`:
/// the same path with `.pub` appended (`keys/run` → `keys/run.pub`).
pub fn public_key_path(path: impl AsRef<Path>) -> PathBuf {
    let mut name = OsString::from(path.as_ref().as_os_str());
    name.push(".pub");
    PathBuf::from(name)
}

/// Write `key` as a key pair: the private key (hex of the 32 secret bytes and
/// a newline) at `path`, and the public key (hex and a newline) at
/// [`public_key_path`]`(path)`.
///
/// Each file is written to a temporary sibling and renamed into place. On unix
/// the private key file is created with mode 0600 (owner read/write only),
/// also when it replaces an existing file; elsewhere it gets the default
/// permissions.
pub fn write_keypair(path: impl AsRef<Path>, key: &SigningKey) -> Result<(), KeyError> {
    let path = path.as_ref();
    let secret = format!("{}\n", hex::encode(key.to_bytes()));
    atomic_write(path, secret.as_bytes(), Access::Private).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let public_path = public_key_path(path);
    let public = format!("{}\n", hex::encode(key.verifying_key().to_bytes()));
    atomic_write(&public_path, public.as_bytes(), Access::Default).map_err(|source| KeyError::Io {
        path: public_path.clone(),
        source,
    })
}

/// Read a private key file written by [`write_keypair`].
pub fn read_signing_key(path: impl AsRef<Path>) -> Result<SigningKey, KeyError> {
    let bytes = read_key_bytes(path.as_ref())?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Read a public key file written by [`write_keypair`] (the `.pub` file).
pub fn read_verifying_key(path: impl AsRef<Path>) -> Result<VerifyingKey, KeyError> {
    let path = path.as_ref();
    let bytes = read_key_bytes(path)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadPublicKey {
        path: path.to_path_buf(),
    })
}

/// The 32 bytes a key file holds as hex; surrounding whitespace is ignored.
fn read_key_bytes(path: &Path) -> Result<[u8; 32], KeyError> {
    let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let digits = text.trim();
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::NotHex {
            path: path.to_path_buf(),
        });
    }
    let mut bytes = [0u8; 32];
    if digits.len() != 2 * bytes.len() {
        return Err(KeyError::WrongLength {
            path: path.to_path_buf(),
            found: digits.len(),
        });
    }
    hex::decode_to_slice(digits, &mut bytes).map_err(|_| KeyError::NotHex {
        path: path.to_path_buf(),
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypair_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signer");
        let key = generate_key().unwrap();
        write_keypair(&path, &key).unwrap();
        assert_eq!(public_key_path(&path), dir.path().join("signer.pub"));
        let read = read_signing_key(&path).unwrap();
        assert_eq!(read.to_bytes(), key.to_bytes());
        let public = read_verifying_key(public_key_path(&path)).unwrap();
        assert_eq!(public, key.verifying_key());
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", hex::encode(key.to_bytes())));
        let text = fs::read_to_string(public_key_path(&path)).unwrap();
        assert_eq!(
            text,
            format!("{}\n", hex::encode(key.verifying_key().to_bytes()))
        );
    }

    #[test]
    fn generated_keys_differ() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert_ne!(a.to_bytes(), b.to_bytes());
    }

    #[cfg(unix)]
    #[test]
    fn private_key_file_is_0600_and_public_is_not_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signer.key");
        write_keypair(&path, &generate_key().unwrap()).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Rewriting over an existing key keeps it private.
        write_keypair(&path, &generate_key().unwrap()).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(dir.path().join("signer.key.pub").exists());
    }

    fn error_names_file(err: &KeyError, path: &Path) {
        let message = err.to_string();
        assert!(
            message.contains(&path.display().to_string()),
            "{message} does not name {}",
            path.display()
        );
    }

    #[test]
    fn missing_key_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let err = read_signing_key(&path).unwrap_err();
        assert!(
            matches!(&err, KeyError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        error_names_file(&err, &path);
        let err = read_verifying_key(&path).unwrap_err();
        error_names_file(&err, &path);
    }

    #[test]
    fn not_hex_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad");
        fs::write(&path, format!("{}zz\n", "ab".repeat(31))).unwrap();
        let err = read_signing_key(&path).unwrap_err();
        assert!(matches!(err, KeyError::NotHex { .. }), "{err}");
        error_names_file(&err, &path);
        assert!(err.to_string().contains("not hex"));
    }

    #[test]
    fn wrong_length_names_the_file_and_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short");
        fs::write(&path, format!("{}\n", "ab".repeat(31))).unwrap();
        let err = read_signing_key(&path).unwrap_err();
        assert!(
            matches!(err, KeyError::WrongLength { found: 62, .. }),
            "{err}"
        );
        error_names_file(&err, &path);
        fs::write(&path, "ab".repeat(33)).unwrap();
        let err = read_verifying_key(&path).unwrap_err();
        assert!(
            matches!(err, KeyError::WrongLength { found: 66, .. }),
            "{err}"
        );
        fs::write(&path, "").unwrap();
        let err = read_verifying_key(&path).unwrap_err();
        assert!(
            matches!(err, KeyError::WrongLength { found: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_public_key_that_is_not_a_curve_point_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.pub");
        // Find 32 bytes that do not decompress to a curve point.
        let bad = (0u8..=255)
            .map(|b| {
                let mut bytes = [b; 32];
                bytes[31] &= 0x7f;
                bytes
            })
            .find(|bytes| VerifyingKey::from_bytes(bytes).is_err())
            .unwrap();
        fs::write(&path, hex::encode(bad)).unwrap();
        let err = read_verifying_key(&path).unwrap_err();
        assert!(matches!(err, KeyError::BadPublicKey { .. }), "{err}");
        error_names_file(&err, &path);
    }

    #[test]
    fn whitespace_around_the_key_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spaced");
        let key = generate_key().unwrap();
        fs::write(&path, format!("  {}\r\n\n", hex::encode(key.to_bytes()))).unwrap();
        assert_eq!(read_signing_key(&path).unwrap().to_bytes(), key.to_bytes());
    }
}
