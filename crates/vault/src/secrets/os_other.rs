//! macOS Keychain / Windows Credential Manager through `keyring`'s native stores (selected by Cargo features,
//! so `Entry::new` resolves to them; there is no mock fallback because the matching feature is always on).

use keyring::Entry;

use super::super::backend::{BackendError, BackendErrorKind};

pub(super) fn entry(service: &str, account: &str) -> Result<Entry, BackendError> {
    Entry::new(service, account).map_err(super::classify)
}

pub(super) fn probe(service: &str) -> Result<(), BackendError> {
    // No "is locked" query on these platforms: reading a known-missing entry exercises the store without a secret.
    match entry(service, "quickauth:probe")?.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(super::classify(e)),
    }
}

pub(super) fn list_accounts(_service: &str) -> Result<Vec<String>, BackendError> {
    Err(BackendError::new(
        BackendErrorKind::Unsupported,
        "this keyring cannot list entries",
    ))
}

pub(super) fn classify_platform(
    inner: &(dyn std::error::Error + Send + Sync + 'static),
    fallback: BackendErrorKind,
) -> BackendError {
    BackendError::new(fallback, inner.to_string())
}
