//! What the service returns to the app and the CLI. Nothing here holds a secret except `RevealedTokens`.

use chrono::{DateTime, Utc};
use quickauth_protocol::secret::{AccessToken, RefreshToken};
use serde::Serialize;
use url::Url;

use crate::lifecycle::RefreshOutcome;

/// One authorized device, as listed (no secrets).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeviceSummary {
    /// `provider:profile:id`: names this device exactly, even when the same printer is authorized under several
    /// profiles (every device command accepts it; a bare id works while it is unambiguous).
    pub key: String,
    /// Machine code (Yilianyun) or userid (Lingju).
    pub id: String,
    /// "yilianyun" | "lingju"
    pub provider: String,
    pub profile: String,
    pub expires_at: DateTime<Utc>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub authorized_at: DateTime<Utc>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub token_generation: i64,
    pub needs_reauth: bool,
    pub model: Option<String>,
    /// Who owns the token pair: kept | delivered | handed-over (issue 9).
    pub ownership: crate::delivery::Ownership,
    pub handed_over_at: Option<DateTime<Utc>>,
    /// Origin (scheme://host:port) of the destination it was handed over to.
    pub handed_over_to: Option<String>,
    /// When the receiver acknowledged the hand-over and the tokens were deleted from the keyring.
    pub pair_released_at: Option<DateTime<Utc>>,
    /// A refresh of this device is pending (its reply was lost, or its new pair could not be stored): until this
    /// time the server still answers a replay of the old refresh token with that pair. `None` when nothing waits.
    pub replay_pending_until: Option<DateTime<Utc>>,
}

impl DeviceSummary {
    /// True when the access token has less than `days` left (refresh policy).
    pub fn due_within(&self, days: i64, now: DateTime<Utc>) -> bool {
        self.expires_at - now < chrono::Duration::days(days)
    }
}

/// What is known about a device's stored tokens without revealing them.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub device: DeviceSummary,
    pub generation: i64,
    pub issued_at: DateTime<Utc>,
    pub access_token_len: usize,
    pub has_refresh_token: bool,
}

/// The one way a token leaves the service (`reveal_tokens`). Debug masks; no Serialize.
#[derive(Debug)]
pub struct RevealedTokens {
    pub device: DeviceSummary,
    /// Yilianyun access token, or the Lingju accessToken.
    pub access_token: AccessToken,
    /// None for Lingju (it has no refresh token).
    pub refresh_token: Option<RefreshToken>,
}

/// Result of a refresh.
#[derive(Debug, Clone)]
pub struct RefreshReport {
    pub device: DeviceSummary,
    pub outcome: RefreshOutcome,
}

/// A printer's live state (getprintstatus + getversion).
#[derive(Debug, Clone, Serialize)]
pub struct PrinterReport {
    pub id: String,
    /// "offline" | "online" | "out_of_paper" | "unknown"
    pub state: String,
    pub hardware: Option<String>,
    pub software: Option<String>,
}

/// A test ticket that was accepted by the server.
#[derive(Debug, Clone, Serialize)]
pub struct PrintReport {
    pub id: String,
    pub job_id: String,
    pub origin_id: String,
}

/// A started browser authorization; keep it until the callback arrives.
#[derive(Debug, Clone)]
pub struct CodeFlow {
    pub profile: String,
    /// Open this in the browser.
    pub url: Url,
    pub redirect_uri: Url,
    /// The CSRF state the callback must echo.
    pub state: String,
}
