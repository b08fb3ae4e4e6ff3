//! Write-to-temp-then-rename, so a reader never sees half a file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Who may read a file written by [`atomic_write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The default permissions (umask applies).
    Default,
    /// Owner read/write only (0600) on unix; the default elsewhere.
    Private,
}

/// The temporary sibling `path` is written to before the rename.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".tmp.{}", std::process::id()));
    Ok(path.with_file_name(temp))
}

/// Create `path` afresh (never reusing an existing file, so a private file
/// never inherits looser permissions or follows a planted link).
fn create_new(path: &Path, access: Access) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if access == Access::Private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = access;
    match options.open(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // A temporary file left by an interrupted write of this process id.
            fs::remove_file(path)?;
            options.open(path)
        }
        other => other,
    }
}

/// Write `bytes` to `path` by writing a temporary sibling, syncing it and
/// renaming it over `path`.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    let temp = temp_path(path)?;
    let result = (|| {
        let mut file = create_new(&temp, access)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        fs::write(&path, b"old").unwrap();
        atomic_write(&path, b"new", Access::Default).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.json")]);
    }

    #[cfg(unix)]
    #[test]
    fn private_file_is_0600_even_over_a_looser_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        atomic_write(&path, b"new", Access::Private).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("file");
        assert!(atomic_write(&path, b"x", Access::Default).is_err());
    }
}
