//! Cross-process single flight: an exclusive lock per device, `<data_dir>/locks/<provider>-<id>.lock`.
//!
//! Normally an OS file lock (fs4: flock(2) on Unix, LockFileEx on Windows). Those locks belong to the open file
//! description, so two tasks of one process and two processes exclude each other alike, and the kernel releases
//! the lock if the process dies. Some network home folders (NFS without lockd, some SMB/FUSE mounts) refuse
//! flock with ENOLCK/ENOTSUP: then the lock is the exclusive creation of `<…>.lock.held` (O_EXCL), holding
//! `pid host` of the owner; it is removed when the guard drops, and a marker whose owner is gone (same host, dead
//! pid) or that is older than `MARKER_STALE_AFTER` (another host) is taken over.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Longest wait for another process's refresh of the same device.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(50);
/// A fallback marker of another host older than this is abandoned (no refresh holds a lock this long).
const MARKER_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Held for the whole refresh of one device.
#[derive(Debug)]
pub struct DeviceLock {
    _file: Option<File>,
    path: PathBuf,
    /// Set when the lock is the fallback marker file (removed on drop).
    marker: Option<PathBuf>,
}

impl Drop for DeviceLock {
    fn drop(&mut self) {
        if let Some(marker) = self.marker.take() {
            let _ = std::fs::remove_file(marker);
        }
    }
}

fn lock_io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        context: "device lock",
        path: path.to_path_buf(),
        source,
    }
}

/// How the lock is taken: the OS file lock, or (where the file system refuses it) the exclusive marker file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    FileLock,
    /// Only forced by tests; in use it is reached from `FileLock` when the file system refuses locks.
    #[cfg_attr(not(test), allow(dead_code))]
    Marker,
}

/// The file system does not do flock/LockFileEx here (not: someone else holds it).
fn lock_unsupported(e: &std::io::Error) -> bool {
    if e.kind() == std::io::ErrorKind::Unsupported {
        return true;
    }
    #[cfg(unix)]
    {
        // ENOTSUP and EOPNOTSUPP are one value on Linux, two on macOS.
        e.raw_os_error().is_some_and(|c| {
            c == libc::ENOLCK || c == libc::ENOTSUP || c == libc::EOPNOTSUPP || c == libc::ENOSYS
        })
    }
    #[cfg(not(unix))]
    {
        false
    }
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && !h.contains(char::is_whitespace))
        .unwrap_or_else(|| "unknown-host".into())
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // Signal 0 checks existence; EPERM means it exists but belongs to someone else.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    // Without a cheap check, only the age of the marker tells.
    true
}

/// Whether an existing marker was left by an owner that is gone.
fn marker_is_stale(marker: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(marker) else {
        return false;
    };
    let age = meta
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .unwrap_or_default();
    let text = std::fs::read_to_string(marker).unwrap_or_default();
    let mut parts = text.split_whitespace();
    let pid = parts.next().and_then(|p| p.parse::<u32>().ok());
    let host = parts.next();
    match (pid, host) {
        (Some(pid), Some(host)) if host == host_name() => !process_alive(pid),
        // Another host, or a marker cut off while being written: only its age tells.
        _ => age > MARKER_STALE_AFTER || (pid.is_none() && age > std::time::Duration::from_secs(5)),
    }
}

impl DeviceLock {
    /// The lock file for a device. Ids are validated digits/alnum, so they are safe in a file name.
    pub fn path_for(data_dir: &Path, provider: &str, id: &str) -> PathBuf {
        data_dir.join("locks").join(format!("{provider}-{id}.lock"))
    }

    /// Opens (creating it and its folder if needed) the device's lock file, unlocked.
    fn open(data_dir: &Path, provider: &str, id: &str) -> Result<(File, PathBuf), Error> {
        let path = Self::path_for(data_dir, provider, id);
        std::fs::create_dir_all(path.parent().expect("has parent"))
            .map_err(|e| lock_io(&path, e))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| lock_io(&path, e))?;
        Ok((file, path))
    }

    /// Blocks until the lock is ours. Call it from `spawn_blocking`.
    pub fn acquire_blocking(data_dir: &Path, provider: &str, id: &str) -> Result<Self, Error> {
        loop {
            if let Some(lock) = Self::try_acquire(data_dir, provider, id)? {
                return Ok(lock);
            }
            std::thread::sleep(LOCK_POLL);
        }
    }

    /// Takes the lock only if nobody holds it (None = another process or task is working on this device now).
    pub fn try_acquire(data_dir: &Path, provider: &str, id: &str) -> Result<Option<Self>, Error> {
        Self::try_acquire_mode(data_dir, provider, id, Mode::FileLock)
    }

    fn try_acquire_mode(
        data_dir: &Path,
        provider: &str,
        id: &str,
        mode: Mode,
    ) -> Result<Option<Self>, Error> {
        let (file, path) = Self::open(data_dir, provider, id)?;
        if mode == Mode::FileLock {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {
                    return Ok(Some(Self {
                        _file: Some(file),
                        path,
                        marker: None,
                    }))
                }
                Err(fs4::TryLockError::WouldBlock) => return Ok(None),
                Err(fs4::TryLockError::Error(e)) if lock_unsupported(&e) => {
                    tracing::debug!(path = %path.display(), "file locks unsupported here; using an exclusive marker file");
                }
                Err(fs4::TryLockError::Error(e)) => return Err(lock_io(&path, e)),
            }
        }
        drop(file);
        let marker = path.with_extension("lock.held");
        for _ in 0..2 {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&marker)
            {
                Ok(mut f) => {
                    let owner = format!("{} {}\n", std::process::id(), host_name());
                    if let Err(e) = f.write_all(owner.as_bytes()).and_then(|()| f.sync_all()) {
                        let _ = std::fs::remove_file(&marker);
                        return Err(lock_io(&marker, e));
                    }
                    return Ok(Some(Self {
                        _file: None,
                        path,
                        marker: Some(marker),
                    }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if !marker_is_stale(&marker) {
                        return Ok(None);
                    }
                    tracing::warn!(marker = %marker.display(), "taking over a device lock whose owner is gone");
                    let _ = std::fs::remove_file(&marker);
                }
                Err(e) => return Err(lock_io(&marker, e)),
            }
        }
        Ok(None)
    }

    /// Waits (without blocking the runtime) until the lock is ours, at most `LOCK_WAIT`: a process that holds it
    /// longer is stuck (a refresh is bounded far below that), and the caller gets a clear error instead of a hang.
    pub async fn acquire(data_dir: &Path, provider: &str, id: &str) -> Result<Self, Error> {
        Self::acquire_within(data_dir, provider, id, LOCK_WAIT).await
    }

    pub(crate) async fn acquire_within(
        data_dir: &Path,
        provider: &str,
        id: &str,
        wait: std::time::Duration,
    ) -> Result<Self, Error> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(lock) = Self::try_acquire(data_dir, provider, id)? {
                return Ok(lock);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::DeviceBusy { id: id.to_owned() });
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = DeviceLock::acquire_blocking(dir.path(), "yilianyun", "4004123456").unwrap();
        let released = Arc::new(AtomicBool::new(false));
        let (d, r) = (dir.path().to_path_buf(), released.clone());
        let waiter = std::thread::spawn(move || {
            let _second = DeviceLock::acquire_blocking(&d, "yilianyun", "4004123456").unwrap();
            // Must only get here after the first guard was dropped.
            r.load(Ordering::SeqCst)
        });
        std::thread::sleep(Duration::from_millis(200));
        released.store(true, Ordering::SeqCst);
        drop(first);
        assert!(
            waiter.join().unwrap(),
            "second lock was granted while the first was held"
        );
    }

    #[test]
    fn different_devices_do_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let _a = DeviceLock::acquire_blocking(dir.path(), "yilianyun", "1").unwrap();
        let _b = DeviceLock::acquire_blocking(dir.path(), "yilianyun", "2").unwrap();
        assert!(dir.path().join("locks/yilianyun-1.lock").exists());
    }

    #[tokio::test]
    async fn a_stuck_holder_gives_a_clear_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let _held = DeviceLock::acquire_blocking(dir.path(), "yilianyun", "4004000009").unwrap();
        let err = DeviceLock::acquire_within(
            dir.path(),
            "yilianyun",
            "4004000009",
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::DeviceBusy { ref id } if id == "4004000009"));
    }

    #[test]
    fn try_acquire_reports_a_held_lock() {
        let dir = tempfile::tempdir().unwrap();
        let held = DeviceLock::acquire_blocking(dir.path(), "lingju", "AB12").unwrap();
        assert!(DeviceLock::try_acquire(dir.path(), "lingju", "AB12")
            .unwrap()
            .is_none());
        drop(held);
        assert!(DeviceLock::try_acquire(dir.path(), "lingju", "AB12")
            .unwrap()
            .is_some());
    }

    #[test]
    fn the_marker_fallback_excludes_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let m = |d: &Path| DeviceLock::try_acquire_mode(d, "yilianyun", "4004000077", Mode::Marker);
        let first = m(dir.path()).unwrap().expect("free");
        let marker = dir.path().join("locks/yilianyun-4004000077.lock.held");
        assert!(marker.exists());
        assert!(m(dir.path()).unwrap().is_none(), "a held marker excludes");
        // Threads racing for it: exactly one wins.
        drop(first);
        assert!(!marker.exists(), "released on drop");
        let winners = std::sync::atomic::AtomicUsize::new(0);
        let held = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    if let Some(l) = m(dir.path()).unwrap() {
                        winners.fetch_add(1, Ordering::SeqCst);
                        held.lock().unwrap().push(l);
                    }
                });
            }
        });
        assert_eq!(winners.load(Ordering::SeqCst), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_marker_left_by_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("locks")).unwrap();
        let marker = dir.path().join("locks/yilianyun-4004000078.lock.held");
        // A pid that cannot be alive (above pid_max on Linux).
        std::fs::write(&marker, format!("4194399 {}\n", host_name())).unwrap();
        let lock =
            DeviceLock::try_acquire_mode(dir.path(), "yilianyun", "4004000078", Mode::Marker)
                .unwrap();
        assert!(
            lock.is_some(),
            "a dead owner's marker must not block forever"
        );
        // A live owner on this host (ourselves) is respected.
        drop(lock);
        std::fs::write(&marker, format!("{} {}\n", std::process::id(), host_name())).unwrap();
        assert!(
            DeviceLock::try_acquire_mode(dir.path(), "yilianyun", "4004000078", Mode::Marker)
                .unwrap()
                .is_none()
        );
        // Another host's fresh marker is respected too.
        std::fs::write(&marker, "1 some-other-host\n").unwrap();
        assert!(
            DeviceLock::try_acquire_mode(dir.path(), "yilianyun", "4004000078", Mode::Marker)
                .unwrap()
                .is_none()
        );
    }

    #[cfg(unix)]
    #[test]
    fn enolck_and_enotsup_select_the_fallback() {
        for code in [libc::ENOLCK, libc::ENOTSUP, libc::EOPNOTSUPP] {
            assert!(
                lock_unsupported(&std::io::Error::from_raw_os_error(code)),
                "{code}"
            );
        }
        assert!(!lock_unsupported(&std::io::Error::from_raw_os_error(
            libc::EACCES
        )));
        assert!(!lock_unsupported(&std::io::Error::from_raw_os_error(
            libc::EWOULDBLOCK
        )));
    }
}
