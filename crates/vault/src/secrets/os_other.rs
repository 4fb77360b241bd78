//! Every platform but Linux: macOS/iOS keychain, Windows Credential Manager, Android's Keystore-backed store.
//!
//! These stores hold no connection, so one store per process is built on first use and kept (on Android building
//! it also needs the app context, see [`init_store`]). A platform with no store at all compiles, and every call
//! fails with `keyring_unavailable`: there is no plaintext fallback anywhere.

use std::sync::Arc;

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "android"
))]
use std::{collections::HashMap, sync::OnceLock};

use keyring_core::CredentialStore;

use super::super::backend::{BackendError, BackendErrorKind};

/// The built store. Only success is kept: a failure (on Android: the app context not registered yet) is
/// retried by the next call, so calling `init_platform_store` too early can never poison the process.
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "android"
))]
static STORE: OnceLock<Arc<CredentialStore>> = OnceLock::new();

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "android"
))]
pub(super) fn store() -> Result<Arc<CredentialStore>, BackendError> {
    if let Some(store) = STORE.get() {
        return Ok(store.clone());
    }
    let built = build_store()?;
    // Two threads may build at once; both get the first one stored (the Android store is a per-name singleton).
    Ok(STORE.get_or_init(|| built).clone())
}

#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "android"
)))]
pub(super) fn store() -> Result<Arc<CredentialStore>, BackendError> {
    Err(BackendError::new(
        BackendErrorKind::Unavailable,
        "QuickAuth has no OS keyring store for this platform",
    ))
}

/// Build the platform store now (see `quickauth_vault::init_platform_store`).
pub(crate) fn init_store() -> Result<(), BackendError> {
    store().map(|_| ())
}

#[cfg(target_os = "macos")]
fn build_store() -> Result<Arc<CredentialStore>, BackendError> {
    // The login keychain: the same place keyring 3.x's `apple-native` used, so older entries stay readable.
    let store: Arc<CredentialStore> =
        apple_native_keyring_store::keychain::Store::new().map_err(super::classify)?;
    Ok(store)
}

#[cfg(target_os = "ios")]
fn build_store() -> Result<Arc<CredentialStore>, BackendError> {
    // iOS has only the data-protection keychain: items live in the app's own access group, never synced.
    let store: Arc<CredentialStore> =
        apple_native_keyring_store::protected::Store::new().map_err(super::classify)?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn build_store() -> Result<Arc<CredentialStore>, BackendError> {
    // Default delimiters (`<account>.<service>` target names): what keyring 3.x's `windows-native` wrote.
    let store: Arc<CredentialStore> =
        windows_native_keyring_store::Store::new().map_err(super::classify)?;
    Ok(store)
}

#[cfg(target_os = "android")]
fn build_store() -> Result<Arc<CredentialStore>, BackendError> {
    // A named store: its own SharedPreferences file (`keyring-quickauth`) encrypted with its own Keystore key.
    // Building it reads the app context that `ndk_context` holds; Tauri's Android activity (tao) initialises
    // it in onCreate, before the app's `run()`. Without it `ndk_context` panics: report that, don't unwind.
    let config = HashMap::from([("name", "quickauth")]);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        android_native_keyring_store::Store::new_with_configuration(&config)
    })) {
        Ok(Ok(store)) => Ok(store as Arc<CredentialStore>),
        Ok(Err(e)) => Err(super::classify(e)),
        Err(_) => Err(BackendError::new(
            BackendErrorKind::Unavailable,
            "the Android app context is not initialised (ndk_context), so the Android keystore cannot be opened",
        )),
    }
}

/// These stores answer "no entry" only when they could look: nothing more to check.
pub(super) fn confirm_missing() -> Result<(), BackendError> {
    Ok(())
}

pub(super) fn probe(service: &str) -> Result<(), BackendError> {
    // No "is locked" query on these platforms: reading a known-missing entry exercises the store without a secret.
    let store = store()?;
    let entry = keyring_core::Entry::new_in_store(&store, service, "quickauth:probe")
        .map_err(super::classify)?;
    match entry.get_password() {
        Ok(_) | Err(keyring_core::Error::NoEntry) => Ok(()),
        Err(e) => Err(super::classify(e)),
    }
}

pub(super) fn list_accounts(service: &str) -> Result<Vec<String>, BackendError> {
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    let spec = HashMap::from([("service", service.to_string())]);
    // Windows searches target names (`<account>.<service>`) by regular expression.
    #[cfg(target_os = "windows")]
    let spec = HashMap::from([("pattern", format!("^.*\\.{}$", regex_escape(service)))]);
    // Android matches the service by regular expression, anywhere in the string unless anchored.
    #[cfg(target_os = "android")]
    let spec = HashMap::from([("service", format!("^{}$", regex_escape(service)))]);
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "windows",
        target_os = "android"
    ))]
    {
        let spec: HashMap<&str, &str> = spec.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let store = store()?;
        let found = keyring_core::Entry::search_in_store(&store, &spec).map_err(super::classify)?;
        Ok(super::accounts_of(&found, service))
    }
    #[cfg(not(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "windows",
        target_os = "android"
    )))]
    {
        let _ = service;
        Err(BackendError::new(
            BackendErrorKind::Unsupported,
            "this keyring cannot list entries",
        ))
    }
}

/// Escape regular-expression metacharacters (our services are `quickauth:<hex>`, but stay exact regardless).
#[cfg(any(target_os = "windows", target_os = "android"))]
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(super) fn classify_platform(
    inner: &(dyn std::error::Error + Send + Sync + 'static),
    fallback: BackendErrorKind,
) -> BackendError {
    BackendError::new(fallback, inner.to_string())
}
