//! quickauth-vault: where QuickAuth keeps state — secrets in the OS keyring, everything else in SQLite.
//!
//! * [`Keyring`]: client secrets, Lingju appkeys/authcodes and token-pair JSON, and nothing else, live here.
//!   Entries are namespaced per data dir (service `quickauth:<16 hex of sha256(canonical data dir)>`), every call
//!   runs on a worker thread and is bounded by a timeout (default 5 s), so a locked keyring or a dead D-Bus peer
//!   turns into an error the UI can explain instead of a frozen window.
//! * [`Store`]: `<data_dir>/quickauth.sqlite3` (WAL, 5 s busy timeout, foreign keys, versioned migrations) with
//!   profiles, devices, daily grant counts, history, the refresh journal and settings. It has no column that
//!   could hold a secret.
//!
//! # Why `keyring` 3.x
//!
//! We use `keyring` 3.6 with `sync-secret-service` + `crypto-rust` on Linux, `apple-native` on macOS and
//! `windows-native` on Windows, rather than `keyring` 4 / `keyring-core` 1 with per-platform store crates:
//!
//! * The 4.x/`keyring-core` stores require Rust 1.85–1.88; the workspace promises `rust-version = 1.80`.
//!   3.6 needs 1.75.
//! * The synchronous Secret Service store (libdbus through `dbus-secret-service`) fits our design exactly: each
//!   call is a plain blocking call on our own worker thread, which we can abandon on timeout. The async
//!   (`zbus`) variant would drag a second async runtime into the keyring thread and buys nothing here.
//! * `crypto-rust` encrypts secrets on the D-Bus wire (DH session) without linking OpenSSL.
//! * It is the version the Rust desktop ecosystem (Tauri apps included) runs in production today.
//!
//! On Linux we build every entry from `SsCredential` explicitly: never keyutils (forgets on reboot), never a
//! file, never keyring's mock store. If no Secret Service answers, calls fail with `keyring_unavailable`.
//!
//! # Using it
//!
//! Both handles are blocking and `Send + Sync`. From async code, run keyring calls inside
//! `tokio::task::spawn_blocking` (a call may take up to the timeout); store calls are short, but they may wait up to
//! the 5 s busy timeout when another process is writing. Account names are built with [`accounts`].
//!
//! Errors are one [`VaultError`] implementing `quickauth_protocol::Localized`: kinds `keyring_unavailable`
//! (action `install_secret_service`), `keyring_timeout` / `keyring_locked` / `keyring_denied` (`unlock_keyring`),
//! `keyring_other`, `store_io`, `store_corrupt`, `store_busy`, `store_too_new`, `unknown_profile`,
//! `profile_in_use` (`unbind_first`), `invalid_record`, `store_other`, `keyring_invalid_account`.

mod error;
mod secrets;
mod store;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use crate::error::{Result, VaultError};
pub use crate::secrets::{
    BackendError, BackendErrorKind, Keyring, OsBackend, SecretBackend, DEFAULT_TIMEOUT,
    MAX_STUCK_WORKERS,
};
pub use crate::store::{
    migration_sql, DestinationRecord, DeviceRecord, HistoryEntry, JournalEntry, OutboxEvent,
    OwnershipRecord, ProfileRecord, Store, SCHEMA_VERSION, STORE_FILE_NAME,
};

/// The per-data-dir namespace: first 16 hex chars of sha256 of the canonicalised data-dir path.
///
/// A data dir that does not exist yet is made absolute instead (symlinks cannot be resolved); `Keyring::open`
/// and `Store::open` create the dir first, so in practice the canonical path is always used.
pub fn data_dir_namespace(data_dir: &Path) -> String {
    let path: PathBuf = std::fs::canonicalize(data_dir)
        .or_else(|_| std::path::absolute(data_dir))
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    hex::encode(&digest[..8])
}

/// Keyring account names, as fixed by docs/architecture.md. Callers may build them by hand; these keep the
/// spelling in one place.
pub mod accounts {
    /// `profile:<name>:client_secret`
    pub fn client_secret(profile: &str) -> String {
        format!("profile:{profile}:client_secret")
    }
    /// `profile:<name>:lingju_appkey`
    pub fn lingju_appkey(profile: &str) -> String {
        format!("profile:{profile}:lingju_appkey")
    }
    /// `profile:<name>:lingju_authcode`
    pub fn lingju_authcode(profile: &str) -> String {
        format!("profile:{profile}:lingju_authcode")
    }
    /// `profile:<name>:webhook_secret` — the `whsec_…` key that signs the profile's delivery webhooks.
    pub fn webhook_secret(profile: &str) -> String {
        format!("profile:{profile}:webhook_secret")
    }
    /// `device:<provider>:<profile>:<id>:tokens` — one JSON entry with the whole token state, so a write is atomic.
    pub fn device_tokens(provider: &str, profile: &str, id: &str) -> String {
        format!("device:{provider}:{profile}:{id}:tokens")
    }
    /// `device:<provider>:<id>:tokens`, the account of store schema v1 (before devices were per profile).
    pub fn legacy_device_tokens(provider: &str, id: &str) -> String {
        format!("device:{provider}:{id}:tokens")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_16_hex_and_stable_across_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let a = data_dir_namespace(dir.path());
        assert_eq!(a.len(), 16);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        // `dir/.` and `dir/sub/..` canonicalise to the same path.
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(data_dir_namespace(&dir.path().join(".")), a);
        assert_eq!(data_dir_namespace(&dir.path().join("sub/..")), a);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(data_dir_namespace(other.path()), a);
    }

    #[test]
    fn namespace_matches_sha256_of_canonical_path() {
        let dir = tempfile::tempdir().unwrap();
        let canonical = std::fs::canonicalize(dir.path()).unwrap();
        let expected = hex::encode(Sha256::digest(canonical.to_str().unwrap().as_bytes()));
        assert_eq!(data_dir_namespace(dir.path()), expected[..16]);
    }
}
