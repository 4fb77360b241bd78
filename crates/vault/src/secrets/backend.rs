//! The seam between `Keyring` (timeouts, namespacing, worker threads) and the store that actually holds secrets.
//!
//! Production uses [`OsBackend`](super::OsBackend) (Secret Service on Linux). Tests inject their own backends
//! (a hanging one, a failing one) through [`Keyring::with_backend`](super::Keyring::with_backend).

use std::fmt;

use zeroize::Zeroizing;

/// A blocking secret store. Every method may block for as long as the platform wants (D-Bus, unlock prompts);
/// `Keyring` only ever calls it from a worker thread and bounds the wait.
pub trait SecretBackend: Send + Sync + 'static {
    /// The value stored under (service, account), or `None` when there is no such entry.
    fn get(&self, service: &str, account: &str) -> Result<Option<Zeroizing<String>>, BackendError>;
    /// Create or replace the entry.
    fn set(&self, service: &str, account: &str, value: &str) -> Result<(), BackendError>;
    /// Remove the entry; a missing entry is not an error.
    fn delete(&self, service: &str, account: &str) -> Result<(), BackendError>;
    /// Check that the store is reachable and usable without reading any secret.
    fn probe(&self, service: &str) -> Result<(), BackendError>;
    /// Account names stored under `service`, when the platform can search.
    fn list_accounts(&self, _service: &str) -> Result<Vec<String>, BackendError> {
        Err(BackendError::new(
            BackendErrorKind::Unsupported,
            "this keyring cannot list entries",
        ))
    }
}

/// How a backend failed, coarse enough to map onto a user action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendErrorKind {
    /// No keyring service at all (no D-Bus session, nobody owns org.freedesktop.secrets).
    Unavailable,
    /// The keyring is locked / has no unlocked default collection.
    Locked,
    /// The service runs but has no default collection to store into.
    NoCollection,
    /// The user dismissed the prompt or the OS refused access.
    Denied,
    /// The platform itself gave up waiting (e.g. a D-Bus NoReply whose reply timer ran out).
    Timeout,
    /// The keyring service went away in the middle of the call: the process behind it exited (D-Bus: "recipient
    /// disconnected without replying") or the session it handed out no longer exists. The same call on a fresh
    /// connection usually reaches its replacement, so the vault repeats it (see `Keyring`'s module docs).
    Gone,
    /// The backend cannot do this operation (e.g. listing on a platform without search).
    Unsupported,
    Other,
}

/// A backend failure. `detail` is a platform error name/message and must never contain a secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct BackendError {
    pub kind: BackendErrorKind,
    pub detail: String,
}

impl BackendError {
    pub fn new(kind: BackendErrorKind, detail: impl Into<String>) -> Self {
        BackendError {
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackendError({:?}: {})", self.kind, self.detail)
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for BackendError {}
