//! The production backend: the OS keyring through `keyring-core` 1.x and one platform store crate per OS.
//!
//! | target            | store crate (feature)                              | where secrets live                      |
//! |-------------------|----------------------------------------------------|-----------------------------------------|
//! | Linux             | `dbus-secret-service-keyring-store` (crypto-rust)  | Secret Service (gnome-keyring, KeePassXC) |
//! | macOS             | `apple-native-keyring-store` (keychain)            | the user's login keychain               |
//! | iOS               | `apple-native-keyring-store` (protected)           | the app's data-protection keychain      |
//! | Windows           | `windows-native-keyring-store` (search)            | Credential Manager                      |
//! | Android           | `android-native-keyring-store`                     | SharedPreferences encrypted by a Keystore key |
//! | anything else     | none: every call fails with `keyring_unavailable`  | nowhere (never a plaintext fallback)    |
//!
//! We never use keyring-core's process-wide default store: every entry is built with `Entry::new_in_store` on the
//! store our platform module hands out, so no other code in the process (a plugin, a test) can redirect our secrets
//! into the mock store by calling `set_default_store`.
//!
//! The store construction, the probe, listing and the error classification differ per platform and live in
//! `os_linux.rs` / `os_other.rs`; this file is the platform-independent part.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KError};
use zeroize::Zeroizing;

use super::backend::{BackendError, BackendErrorKind, SecretBackend};

#[cfg(target_os = "linux")]
#[path = "os_linux.rs"]
mod platform;
#[cfg(not(target_os = "linux"))]
#[path = "os_other.rs"]
mod platform;

pub(crate) use platform::init_store;

/// The real OS keyring (see the module docs for which store on which platform).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsBackend;

impl OsBackend {
    pub fn new() -> Self {
        OsBackend
    }
}

fn entry(
    store: &Arc<CredentialStore>,
    service: &str,
    account: &str,
) -> Result<Entry, BackendError> {
    Entry::new_in_store(store, service, account).map_err(classify)
}

impl SecretBackend for OsBackend {
    fn get(&self, service: &str, account: &str) -> Result<Option<Zeroizing<String>>, BackendError> {
        let store = platform::store()?;
        match entry(&store, service, account)?.get_password() {
            Ok(value) => Ok(Some(Zeroizing::new(value))),
            // "Not there" only counts when there is somewhere it could be (Linux: a default collection);
            // otherwise the user needs the store's advice, not an empty answer.
            Err(KError::NoEntry) => platform::confirm_missing().map(|()| None),
            Err(e) => Err(classify(e)),
        }
    }

    fn set(&self, service: &str, account: &str, value: &str) -> Result<(), BackendError> {
        let store = platform::store()?;
        entry(&store, service, account)?
            .set_password(value)
            .map_err(classify)
    }

    fn delete(&self, service: &str, account: &str) -> Result<(), BackendError> {
        let store = platform::store()?;
        match entry(&store, service, account)?.delete_credential() {
            Ok(()) | Err(KError::NoEntry) => Ok(()),
            // Duplicates can only come from other tools writing the same attributes; deleting means all of them.
            Err(KError::Ambiguous(credentials)) => {
                for credential in credentials {
                    match credential.delete_credential() {
                        Ok(()) | Err(KError::NoEntry) => {}
                        Err(e) => return Err(classify(e)),
                    }
                }
                Ok(())
            }
            Err(e) => Err(classify(e)),
        }
    }

    fn probe(&self, service: &str) -> Result<(), BackendError> {
        platform::probe(service)
    }

    fn list_accounts(&self, service: &str) -> Result<Vec<String>, BackendError> {
        platform::list_accounts(service)
    }
}

/// Map a `keyring-core` error to our coarse kinds. Never formats the error with `Debug`: `BadEncoding` and
/// `BadDataFormat` carry the stored bytes.
pub(crate) fn classify(e: KError) -> BackendError {
    match e {
        KError::NoStorageAccess(inner) => {
            platform::classify_platform(&*inner, BackendErrorKind::Locked)
        }
        KError::PlatformFailure(inner) => {
            platform::classify_platform(&*inner, BackendErrorKind::Other)
        }
        KError::NoEntry => BackendError::new(BackendErrorKind::Other, "no such keyring entry"),
        KError::BadEncoding(_) => BackendError::new(
            BackendErrorKind::Other,
            "the stored keyring value is not UTF-8 text",
        ),
        KError::BadDataFormat(..) => BackendError::new(
            BackendErrorKind::Other,
            "the stored keyring value is malformed",
        ),
        KError::BadStoreFormat(reason) => BackendError::new(
            BackendErrorKind::Other,
            format!("the keyring store is malformed: {reason}"),
        ),
        KError::TooLong(name, limit) => BackendError::new(
            BackendErrorKind::Other,
            format!("keyring attribute {name} is longer than the platform limit of {limit}"),
        ),
        KError::Invalid(name, reason) => BackendError::new(
            BackendErrorKind::Other,
            format!("keyring attribute {name} is invalid: {reason}"),
        ),
        KError::Ambiguous(items) => BackendError::new(
            BackendErrorKind::Other,
            format!("{} keyring entries match one account", items.len()),
        ),
        KError::NoDefaultStore => BackendError::new(
            BackendErrorKind::Unavailable,
            "no keyring store is set up for this platform",
        ),
        KError::NotSupportedByStore(what) => BackendError::new(
            BackendErrorKind::Unsupported,
            format!("the keyring store cannot do this: {what}"),
        ),
        other => BackendError::new(BackendErrorKind::Other, other.to_string()),
    }
}

/// The account names of `entries` whose service is exactly `service` (stores whose search is a pattern match
/// may return neighbours), sorted and deduplicated.
#[allow(dead_code)] // used by the non-Linux platform modules only
pub(crate) fn accounts_of(entries: &[Entry], service: &str) -> Vec<String> {
    let mut accounts: Vec<String> = entries
        .iter()
        .filter_map(Entry::get_specifiers)
        .filter(|(s, _)| s == service)
        .map(|(_, account)| account)
        .collect();
    accounts.sort();
    accounts.dedup();
    accounts
}
