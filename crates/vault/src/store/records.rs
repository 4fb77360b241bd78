//! The rows the store hands out and takes in. None of them has a field for a secret.

use chrono::{DateTime, NaiveDate, Utc};

/// A configured app (Yilianyun client id / Lingju endpoint). Its secret lives in the keyring under
/// `profile:<name>:client_secret` (or `lingju_appkey` / `lingju_authcode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord {
    pub name: String,
    /// "yilianyun" | "lingju"
    pub provider: String,
    pub client_id: Option<String>,
    /// "cn" | "overseas" | "cn-alt"
    pub region: Option<String>,
    /// "v1" | "v2"
    pub api_version: Option<String>,
    pub base_url: Option<String>,
    /// "httpapi" | "bltapi"
    pub lingju_endpoint: Option<String>,
    pub builtin: bool,
    /// Kept from the first insert; `upsert_profile` never changes it.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An authorized device, keyed by (provider, profile, id). Its tokens live in the keyring under
/// `device:<provider>:<profile>:<id>:tokens`;
/// `token_generation` counts token writes so a crash between keyring and store can be detected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// "yilianyun" | "lingju"
    pub provider: String,
    /// Machine code (Yilianyun) or normalised userid (Lingju).
    pub id: String,
    pub profile: String,
    pub authorized_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub token_generation: i64,
    pub model: Option<String>,
    pub last_status: Option<String>,
    pub needs_reauth: bool,
}

/// One line of the activity history. `id` is assigned by the store; `append_history` ignores the given one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub action: String,
    pub provider: String,
    pub device_id: Option<String>,
    pub profile: Option<String>,
    /// "ok" | "error"
    pub outcome: String,
    pub error_kind: Option<String>,
    pub error_code: Option<i64>,
    /// Must already be free of secrets (it is an error message or a note, never a token).
    pub message: Option<String>,
}

/// A refresh in flight (or interrupted by a crash): the device had `old_generation` tokens when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub provider: String,
    pub profile: String,
    pub id: String,
    pub old_generation: i64,
    pub started_at: DateTime<Utc>,
    /// 1 on the first `begin_refresh`, +1 each time it is begun again without `finish_refresh`.
    pub attempts: i64,
}

/// The day a grant counts against, as stored (`YYYY-MM-DD`).
pub(super) fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}
