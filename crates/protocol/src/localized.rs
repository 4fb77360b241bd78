//! The error contract every QuickAuth crate implements: a stable tag, zh/en messages and what the UI should offer.

use serde::{Deserialize, Serialize};

/// An error that can explain itself to a shop installer, in Chinese first and English second.
///
/// Implementations must never put a secret (client secret, token, qr_key, msign, Lingju appkey/authcode)
/// into any of these strings.
pub trait Localized {
    /// Stable machine tag, e.g. "api", "transport", "keyring_unavailable".
    fn kind(&self) -> &'static str;
    /// The provider's error code when there is one.
    fn code(&self) -> Option<i64> {
        None
    }
    /// What happened and what to do, in Chinese.
    fn message_zh(&self) -> String;
    /// What happened and what to do, in English.
    fn message_en(&self) -> String;
    /// What the UI should offer next.
    fn action(&self) -> Action;
    /// Transient: a backoff loop may retry the same call.
    fn retryable(&self) -> bool {
        false
    }
}

/// What the UI offers the user after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    None,
    Rescan,
    CheckClientId,
    CheckSecret,
    CheckClock,
    CheckLabel,
    Reauthorize,
    RefreshToken,
    WaitUntilTomorrow,
    RetryLater,
    UnbindFirst,
    UseOpenApp,
    CheckNetwork,
    UnlockKeyring,
    InstallSecretService,
    ReportBug,
    EditInput,
}
