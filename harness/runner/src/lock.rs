//! One writer per results folder: a `.lock` file holding the writer's pid.
//!
//! [`ResultsLock::acquire`] creates the file with `create_new` (atomic: of
//! two writers exactly one succeeds); dropping the lock removes it, on
//! success and on error alike. A lock whose pid is no longer alive (a writer
//! that was killed) is taken over. Liveness is read from `/proc/<pid>`; where
//! that cannot tell (no `/proc`), the holder counts as alive.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::RunError;

/// The lock file's name inside a results folder. No results reader looks at
/// it: they read the folder's files by name.
pub const LOCK_FILE: &str = ".lock";

/// Why a results folder could not be locked.
#[derive(Debug, Error)]
pub enum LockError {
    /// Another live process holds the lock.
    #[error(
        "{} is in use by another poisonlab (pid {}); wait for it to finish, or remove {} if no such process is running",
        dir.display(),
        pid.map_or_else(|| "unknown".to_string(), |p| p.to_string()),
        dir.join(LOCK_FILE).display()
    )]
    Held {
        /// The results folder.
        dir: PathBuf,
        /// The holder's pid (`None`: the lock file names none).
        pid: Option<u32>,
    },
    /// The lock file could not be created, read or removed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// The lock on a results folder, held until dropped.
#[derive(Debug)]
pub struct ResultsLock {
    path: PathBuf,
    /// The pid of the dead writer whose lock was taken over, if any.
    stale: Option<u32>,
}

impl ResultsLock {
    /// Lock the results folder `dir` (which must exist) for this process.
    pub fn acquire(dir: &Path) -> Result<ResultsLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let held = |pid| LockError::Held {
            dir: dir.to_path_buf(),
            pid,
        };
        let mut stale = None;
        // A few tries: a takeover races with other writers doing the same.
        for _ in 0..5 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    if let Err(e) = writeln!(file, "{}", std::process::id()) {
                        let _ = fs::remove_file(&path);
                        return Err(io(e));
                    }
                    return Ok(ResultsLock { path, stale });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(e)),
            }
            match holder(&path).map_err(io)? {
                Holder::Gone => {}
                Holder::Unknown => return Err(held(None)),
                Holder::Pid(pid) if is_alive(pid) => return Err(held(Some(pid))),
                Holder::Pid(pid) => {
                    if !take_over(&path, pid).map_err(io)? {
                        return Err(held(read_pid(&path).ok().flatten()));
                    }
                    stale = Some(pid);
                }
            }
        }
        Err(held(read_pid(&path).ok().flatten()))
    }

    /// The pid of the dead writer whose lock this one replaced.
    pub fn took_over(&self) -> Option<u32> {
        self.stale
    }

    /// The message for a taken-over stale lock, if this one replaced one.
    pub fn takeover_notice(&self) -> Option<String> {
        self.stale.map(|pid| {
            format!(
                "{}: took over a stale lock (pid {pid} is not running)",
                self.path.display()
            )
        })
    }
}

impl Drop for ResultsLock {
    fn drop(&mut self) {
        // Only our own lock: a file naming another pid is someone else's.
        if read_pid(&self.path).ok().flatten() == Some(std::process::id()) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl From<LockError> for RunError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Io { path, source } => RunError::Io { path, source },
            held @ LockError::Held { .. } => RunError::Locked(held),
        }
    }
}

/// Who holds an existing lock file.
enum Holder {
    /// The file vanished meanwhile (its writer finished): try again.
    Gone,
    /// The process with this pid.
    Pid(u32),
    /// The file names no pid.
    Unknown,
}

/// Read the holder of the lock file at `path`. A writer that has just
/// created the file may not have written its pid yet: wait for it a little.
fn holder(path: &Path) -> io::Result<Holder> {
    for _ in 0..20 {
        match read_pid(path) {
            Ok(Some(pid)) => return Ok(Holder::Pid(pid)),
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(25)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Holder::Gone),
            Err(e) => return Err(e),
        }
    }
    Ok(Holder::Unknown)
}

fn read_pid(path: &Path) -> io::Result<Option<u32>> {
    Ok(fs::read_to_string(path)?.trim().parse().ok())
}

/// Whether `pid` may be a live process other than this one.
fn is_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        // Our own pid in a lock we do not hold: a dead writer whose pid this
        // process inherited (a container's restarted entry point).
        return false;
    }
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true; // cannot tell
    }
    proc.join(pid.to_string()).exists()
}

/// Move the stale lock of `pid` aside and delete it; `false` when the file
/// moved aside turned out to be a live writer's (another process took the
/// stale lock over first), which is then put back.
fn take_over(path: &Path, pid: u32) -> io::Result<bool> {
    let aside = path.with_file_name(format!("{LOCK_FILE}.stale.{}", std::process::id()));
    match fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e),
    }
    let moved = read_pid(&aside);
    if matches!(moved, Ok(Some(p)) if p == pid) {
        fs::remove_file(&aside)?;
        return Ok(true);
    }
    // Put it back unless yet another lock appeared meanwhile.
    let _ = fs::hard_link(&aside, path);
    fs::remove_file(&aside)?;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_live_holder_is_refused_a_stale_one_taken_over_and_the_lock_removed_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join(LOCK_FILE);
        // A live holder other than this process: the one that started it.
        let parent = std::os::unix::process::parent_id();
        fs::write(&path, format!("{parent}\n")).unwrap();
        match ResultsLock::acquire(dir) {
            Err(LockError::Held { pid: Some(p), .. }) if p == parent => {}
            other => panic!("expected held by pid {parent}, got {other:?}"),
        }
        fs::remove_file(&path).unwrap();
        let lock = ResultsLock::acquire(dir).unwrap();
        assert_eq!(lock.took_over(), None);
        assert_eq!(read_pid(&path).unwrap(), Some(std::process::id()));
        drop(lock);
        assert!(!path.exists());
        // A lock naming this very process, which does not hold it, is stale.
        fs::write(&path, format!("{}\n", std::process::id())).unwrap();
        let lock = ResultsLock::acquire(dir).unwrap();
        assert_eq!(lock.took_over(), Some(std::process::id()));
        assert!(lock.takeover_notice().unwrap().contains("stale lock"));
        drop(lock);
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir).unwrap().count(), 0, "nothing left behind");
    }

    #[test]
    fn a_held_lock_is_a_locked_error_naming_folder_and_pid() {
        let e = RunError::from(LockError::Held {
            dir: PathBuf::from("results/x"),
            pid: Some(42),
        });
        assert!(matches!(e, RunError::Locked(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("results/x") && text.contains("pid 42"),
            "{text}"
        );
    }
}
