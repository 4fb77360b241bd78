//! The production backend: the OS keyring through the `keyring` crate (v3).
//!
//! The entry construction and error classification differ per platform and live in `os_linux.rs` /
//! `os_other.rs`; this file is the platform-independent part.

use zeroize::Zeroizing;

use super::backend::{BackendError, BackendErrorKind, SecretBackend};

#[cfg(target_os = "linux")]
#[path = "os_linux.rs"]
mod platform;
#[cfg(not(target_os = "linux"))]
#[path = "os_other.rs"]
mod platform;

/// The real OS keyring: Secret Service on Linux (never keyutils, never a file), Keychain on macOS,
/// Credential Manager on Windows.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsBackend;

impl OsBackend {
    pub fn new() -> Self {
        OsBackend
    }
}

impl SecretBackend for OsBackend {
    fn get(&self, service: &str, account: &str) -> Result<Option<Zeroizing<String>>, BackendError> {
        let entry = platform::entry(service, account)?;
        match entry.get_password() {
            Ok(value) => Ok(Some(Zeroizing::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    fn set(&self, service: &str, account: &str, value: &str) -> Result<(), BackendError> {
        platform::entry(service, account)?
            .set_password(value)
            .map_err(classify)
    }

    fn delete(&self, service: &str, account: &str) -> Result<(), BackendError> {
        match platform::entry(service, account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            // Duplicates can only come from other tools writing the same attributes; deleting means all of them.
            Err(keyring::Error::Ambiguous(credentials)) => {
                for credential in credentials {
                    match credential.delete_credential() {
                        Ok(()) | Err(keyring::Error::NoEntry) => {}
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

/// Map a `keyring` error to our coarse kinds. Never formats the error with `Debug`: `BadEncoding` would print
/// the stored bytes.
pub(crate) fn classify(e: keyring::Error) -> BackendError {
    match e {
        keyring::Error::NoStorageAccess(inner) => {
            platform::classify_platform(&*inner, BackendErrorKind::Locked)
        }
        keyring::Error::PlatformFailure(inner) => {
            platform::classify_platform(&*inner, BackendErrorKind::Other)
        }
        keyring::Error::NoEntry => {
            BackendError::new(BackendErrorKind::Other, "no such keyring entry")
        }
        keyring::Error::BadEncoding(_) => BackendError::new(
            BackendErrorKind::Other,
            "the stored keyring value is not UTF-8 text",
        ),
        keyring::Error::TooLong(name, limit) => BackendError::new(
            BackendErrorKind::Other,
            format!("keyring attribute {name} is longer than the platform limit of {limit}"),
        ),
        keyring::Error::Invalid(name, reason) => BackendError::new(
            BackendErrorKind::Other,
            format!("keyring attribute {name} is invalid: {reason}"),
        ),
        keyring::Error::Ambiguous(items) => BackendError::new(
            BackendErrorKind::Other,
            format!("{} keyring entries match one account", items.len()),
        ),
        other => BackendError::new(BackendErrorKind::Other, other.to_string()),
    }
}
