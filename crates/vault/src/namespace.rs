//! The keyring namespace of a data dir: a random id kept in `<data_dir>/keyring-namespace`, so the data dir can be
//! moved, renamed or restored from a backup elsewhere and still find its secrets.
//!
//! Before this file existed the namespace was a hash of the data dir's canonical path ([`legacy_namespace`]).
//! When the file is created it records that old namespace as `migrate_from`; the [`Keyring`](crate::Keyring)
//! moves the old entries over before its first call (copy, read back, then delete the old one) and only then
//! rewrites the file without `migrate_from`. Every step is idempotent, so a crash anywhere is completed by the
//! next run.
//!
//! The file holds no secret. Format (one `key=value` per line, `#` comments):
//!
//! ```text
//! # QuickAuth keyring namespace …
//! id=<32 lowercase hex>
//! migrate_from=<16 lowercase hex>     (only until the move from the path-hashed namespace is finished)
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Result, VaultError};

/// The file in the data dir that names its keyring namespace.
pub const NAMESPACE_FILE_NAME: &str = "keyring-namespace";

const HEADER: &str = "# QuickAuth: the keyring namespace of this data directory. Not a secret, but keep it with the\n\
# directory (backups too): without it QuickAuth cannot find this directory's secrets in the OS keyring.\n";

/// What the namespace file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamespaceFile {
    /// 32 lowercase hex: the keyring service is `quickauth:<id>`.
    pub id: String,
    /// The path-hashed namespace (16 lowercase hex) whose entries still have to be moved, if any.
    pub migrate_from: Option<String>,
}

impl NamespaceFile {
    fn render(&self) -> String {
        let mut text = format!("{HEADER}id={}\n", self.id);
        if let Some(old) = &self.migrate_from {
            text.push_str(&format!("migrate_from={old}\n"));
        }
        text
    }
}

/// The old, path-derived namespace: first 16 hex chars of sha256 of the canonicalised data-dir path.
///
/// Only used to find entries written before the namespace file existed. A data dir that does not exist is made
/// absolute instead (symlinks cannot be resolved).
pub fn legacy_namespace(data_dir: &Path) -> String {
    let path: PathBuf = std::fs::canonicalize(data_dir)
        .or_else(|_| std::path::absolute(data_dir))
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    hex::encode(&digest[..8])
}

pub(crate) fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(NAMESPACE_FILE_NAME)
}

/// Read the namespace file of `data_dir`, creating it (with a fresh random id and a pending migration from the
/// path-hashed namespace) when there is none. Two processes creating it at once agree on one id: the file
/// appears atomically and only the first creator's version wins.
pub(crate) fn load_or_create(data_dir: &Path) -> Result<NamespaceFile> {
    let path = path_in(data_dir);
    if let Some(file) = read(&path)? {
        return Ok(file);
    }
    let fresh = NamespaceFile {
        id: uuid::Uuid::new_v4().simple().to_string(),
        migrate_from: Some(legacy_namespace(data_dir)),
    };
    let tmp = write_temp(data_dir, &fresh)?;
    // hard_link refuses to replace an existing file: exactly one creator wins, and readers never see a partial
    // file. Filesystems without hard links fall back to create_new + write (a reader then retries briefly).
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(data_dir);
            Ok(fresh)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_settled(&path),
        Err(_) => create_new_fallback(&path, &fresh),
    }
}

/// Rewrite the file without `migrate_from` (atomically: temp file, fsync, rename).
pub(crate) fn mark_migrated(data_dir: &Path, id: &str) -> Result<()> {
    let done = NamespaceFile {
        id: id.to_string(),
        migrate_from: None,
    };
    let tmp = write_temp(data_dir, &done)?;
    let path = path_in(data_dir);
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(&path, &e)
    })?;
    sync_dir(data_dir);
    Ok(())
}

/// The file's contents, `None` when it does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<NamespaceFile>> {
    match std::fs::read(path) {
        Ok(bytes) => parse(path, &bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, &e)),
    }
}

/// Read a file another process has just created; with the create_new fallback it may still be empty for a moment.
fn read_settled(path: &Path) -> Result<NamespaceFile> {
    let mut last = None;
    for _ in 0..50 {
        match read(path) {
            Ok(Some(file)) => return Ok(file),
            Ok(None) => {}
            Err(e) => last = Some(e),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(last.unwrap_or_else(|| damaged(path, "the file vanished while it was being created")))
}

fn create_new_fallback(path: &Path, file: &NamespaceFile) -> Result<NamespaceFile> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut f) => {
            f.write_all(file.render().as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| io_error(path, &e))?;
            Ok(file.clone())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_settled(path),
        Err(e) => Err(io_error(path, &e)),
    }
}

fn write_temp(data_dir: &Path, file: &NamespaceFile) -> Result<PathBuf> {
    let tmp = data_dir.join(format!(
        "{NAMESPACE_FILE_NAME}.tmp-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(file.render().as_bytes())?;
        f.sync_all()
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(&tmp, &e)
    })?;
    Ok(tmp)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<NamespaceFile> {
    let text = std::str::from_utf8(bytes).map_err(|_| damaged(path, "not UTF-8 text"))?;
    let mut id = None;
    let mut migrate_from = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some(("id", v)) => id = Some(v.trim().to_string()),
            Some(("migrate_from", v)) => migrate_from = Some(v.trim().to_string()),
            // Keys a newer QuickAuth may add are ignored; a line that is not key=value is damage.
            Some(_) => {}
            None => return Err(damaged(path, "a line is not key=value")),
        }
    }
    let id = id.ok_or_else(|| damaged(path, "no id= line"))?;
    if !is_lower_hex(&id, 32) {
        return Err(damaged(path, "id is not 32 lowercase hex digits"));
    }
    if let Some(old) = &migrate_from {
        if !is_lower_hex(old, 16) {
            return Err(damaged(path, "migrate_from is not 16 lowercase hex digits"));
        }
    }
    Ok(NamespaceFile { id, migrate_from })
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn damaged(path: &Path, detail: &str) -> VaultError {
    VaultError::NamespaceFile {
        path: path.to_path_buf(),
        detail: detail.to_string(),
        damaged: true,
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> VaultError {
    VaultError::NamespaceFile {
        path: path.to_path_buf(),
        detail: e.to_string(),
        damaged: false,
    }
}

/// Make a rename/link durable (best effort; directories cannot be fsynced on Windows).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_namespace_is_16_hex_and_stable_across_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let a = legacy_namespace(dir.path());
        assert!(is_lower_hex(&a, 16), "{a}");
        // `dir/.` and `dir/sub/..` canonicalise to the same path.
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(legacy_namespace(&dir.path().join(".")), a);
        assert_eq!(legacy_namespace(&dir.path().join("sub/..")), a);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(legacy_namespace(other.path()), a);
    }

    #[test]
    fn legacy_namespace_matches_sha256_of_canonical_path() {
        let dir = tempfile::tempdir().unwrap();
        let canonical = std::fs::canonicalize(dir.path()).unwrap();
        let expected = hex::encode(Sha256::digest(canonical.to_str().unwrap().as_bytes()));
        assert_eq!(legacy_namespace(dir.path()), expected[..16]);
    }

    #[test]
    fn created_once_then_read_back_and_marked_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        assert!(is_lower_hex(&first.id, 32));
        assert_eq!(
            first.migrate_from.as_deref(),
            Some(legacy_namespace(dir.path()).as_str())
        );
        assert_eq!(load_or_create(dir.path()).unwrap(), first, "stable");
        mark_migrated(dir.path(), &first.id).unwrap();
        let done = load_or_create(dir.path()).unwrap();
        assert_eq!(done.id, first.id);
        assert_eq!(done.migrate_from, None);
        // No temp files left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![NAMESPACE_FILE_NAME.to_string()]);
    }

    #[test]
    fn concurrent_creators_agree_on_one_id() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..8)
            .map(|_| {
                let d = dir.path().to_path_buf();
                std::thread::spawn(move || load_or_create(&d).unwrap().id)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    }

    #[test]
    fn damaged_file_is_a_clear_error_never_a_new_id() {
        use quickauth_protocol::Localized;
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        for bad in [
            &b"id=xyz\n"[..],
            b"garbage",
            b"# only a comment\n",
            b"id=0123456789abcdef0123456789ABCDEF\n",
            b"\xff\xfe",
            b"id=0123456789abcdef0123456789abcdef\nmigrate_from=12\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = load_or_create(dir.path()).unwrap_err();
            assert_eq!(err.kind(), "store_corrupt", "{err}");
            assert!(err.message_en().contains(NAMESPACE_FILE_NAME));
            assert!(err.message_zh().contains(NAMESPACE_FILE_NAME));
            assert_eq!(std::fs::read(&path).unwrap(), bad, "left as it was");
        }
        // Unknown keys from a newer version are fine.
        std::fs::write(&path, "id=0123456789abcdef0123456789abcdef\nfuture=1\n").unwrap();
        assert_eq!(
            load_or_create(dir.path()).unwrap().id,
            "0123456789abcdef0123456789abcdef"
        );
    }
}
