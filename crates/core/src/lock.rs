//! Cross-process single flight: an exclusive file lock per device, `<data_dir>/locks/<provider>-<id>.lock`.
//!
//! flock(2) locks belong to the open file description, so two tasks of one process and two processes exclude each
//! other alike. The lock is released when the guard (the open file) is dropped, or by the kernel if the process dies.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Longest wait for another process's refresh of the same device.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Held for the whole refresh of one device.
#[derive(Debug)]
pub struct DeviceLock {
    _file: File,
    path: PathBuf,
}

fn lock_io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        context: "device lock",
        path: path.to_path_buf(),
        source,
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
        let (file, path) = Self::open(data_dir, provider, id)?;
        fs4::FileExt::lock(&file).map_err(|e| lock_io(&path, e))?;
        Ok(Self { _file: file, path })
    }

    /// Takes the lock only if nobody holds it (None = another process or task is working on this device now).
    pub fn try_acquire(data_dir: &Path, provider: &str, id: &str) -> Result<Option<Self>, Error> {
        let (file, path) = Self::open(data_dir, provider, id)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(Some(Self { _file: file, path })),
            Err(fs4::TryLockError::WouldBlock) => Ok(None),
            Err(fs4::TryLockError::Error(e)) => Err(lock_io(&path, e)),
        }
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
}
