//! quickauth-vault: where QuickAuth keeps state — secrets in the OS keyring, everything else in SQLite.
//!
//! * [`Keyring`]: client secrets, Lingju appkeys/authcodes and token-pair JSON, and nothing else, live here.
//!   Entries are namespaced per data dir: service `quickauth:<id>`, where `<id>` is 32 random hex digits kept in
//!   `<data_dir>/keyring-namespace` (so a data dir that is moved or restored elsewhere keeps its secrets; entries
//!   of the older path-hashed namespace are moved over once, see [`legacy_namespace`]). Every call runs on a
//!   worker thread and is bounded by a timeout (default 5 s), so a locked keyring or a dead D-Bus peer turns into
//!   an error the UI can explain instead of a frozen window.
//! * [`Store`]: `<data_dir>/quickauth.sqlite3` (WAL, 5 s busy timeout, foreign keys, versioned migrations) with
//!   profiles, devices, daily grant counts, history, the refresh journal and settings. It has no column that
//!   could hold a secret.
//!
//! # Which store on which platform
//!
//! `keyring-core` 1.x with one store crate per platform (the keyring ecosystem's current layout; `keyring` 3.x
//! had no Android or iOS store at all):
//!
//! * Linux: `dbus-secret-service-keyring-store` with `crypto-rust` — the freedesktop Secret Service over libdbus,
//!   secrets encrypted on the wire (DH session) without OpenSSL. Synchronous calls fit our design exactly: each is
//!   a plain blocking call on our own worker thread, which we can abandon on timeout (the `zbus` variant would
//!   bring a second async runtime into that thread for nothing).
//! * macOS: `apple-native-keyring-store` (`keychain`, the login keychain); iOS: the same crate's `protected`
//!   (data-protection keychain, the only one iOS has).
//! * Windows: `windows-native-keyring-store` (Credential Manager, with `search` so entries can be listed).
//! * Android: `android-native-keyring-store` (SharedPreferences encrypted by an Android Keystore key). It needs
//!   the app context; Tauri's activity provides it before `run()`, and the app calls
//!   [`init_platform_store`] early in `run()` so a problem shows up at start, not at the first secret.
//! * Any other target compiles, and every keyring call fails with `keyring_unavailable`.
//!
//! Never keyutils (forgets on reboot), never a file, never keyring-core's mock store or its process-wide default
//! store: if no OS store answers, calls fail with `keyring_unavailable`. Minimum Rust: 1.90 (the workspace's
//! `rust-version`; tauri 2.12 needs 1.90, the store crates 1.85–1.88, `File::try_lock` 1.89).
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
mod namespace;
mod secrets;
mod store;

pub use crate::error::{Result, VaultError};
pub use crate::namespace::{legacy_namespace, NAMESPACE_FILE_NAME};
pub use crate::secrets::{
    BackendError, BackendErrorKind, Keyring, OsBackend, SecretBackend, DEFAULT_TIMEOUT,
    MAX_STUCK_WORKERS,
};
pub use crate::store::{
    migration_sql, DestinationRecord, DeviceRecord, HistoryEntry, JournalEntry, OutboxEvent,
    OwnershipRecord, ProfileRecord, Store, SCHEMA_VERSION, STORE_FILE_NAME,
};

/// Set up this platform's keyring store now. Call it once, early in the app's `run()`, on every platform.
///
/// On Android it opens the Keystore-backed store (`keyring-quickauth` SharedPreferences + its Keystore key),
/// which needs the app context that Tauri's Android activity has registered with `ndk_context` before `run()`.
/// On the other platforms there is nothing to prepare and it returns `Ok(())`. Calling it more than once is fine.
///
/// An error does not stop the app: every keyring call then fails with the same `keyring_unavailable` error,
/// which the UI shows. Log it.
pub fn init_platform_store() -> Result<()> {
    crate::secrets::init_store().map_err(|e| VaultError::KeyringUnavailable { detail: e.detail })
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
