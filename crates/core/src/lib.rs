//! quickauth-core: the service shared by the app and the `quickauth` CLI (no Tauri here).
//!
//! [`QuickAuth`] owns one data dir: profiles (the built-in sandbox plus user Yilianyun/Lingju profiles), device
//! authorization (fast authorize, browser code flow, Lingju), the refresh lifecycle (policy, per-printer daily
//! quota, bounded backoff, cross-process single flight, journal-based crash recovery), printer calls and history.
//! Tokens and secrets live only in the keyring; `reveal_tokens` is the one way a token leaves.
//!
//! Crash-test hook: `QUICKAUTH_CRASH_AT=<step>` aborts the process at a named step of a refresh — see [`crash`].

mod backoff;
pub mod crash;
mod delivery;
mod error;
mod lifecycle;
mod lock;
mod models;
mod printer;
mod profiles;
mod quota;
mod service;
mod state;
mod tokens;

use std::path::PathBuf;

pub use backoff::Backoff;
pub use delivery::{
    validate_webhook_url, DeliverRun, Delivery, DeliveryError, DeliverySettings, EventType,
    HandoverReport, Ownership, RevealAdvice, SigningSecret, WebhookSecret,
    CRASH_AFTER_SEND_BEFORE_ACK,
};
pub use error::{Error, ErrorReport, Result};
pub use lifecycle::{DeviceRef, RefreshOutcome, REPLAY_WINDOW};
pub use lock::DeviceLock;
pub use models::{
    CodeFlow, DeviceSummary, PrintReport, PrinterReport, RefreshReport, RevealedTokens, TokenInfo,
};
pub use printer::test_ticket;
pub use profiles::{
    validate_profile_name, NewLingjuProfile, NewYilianyunProfile, Profile, ProfileSettings,
    ProfileUpdate, Provider, BUILTIN_SANDBOX_LABEL, BUILTIN_SANDBOX_PROFILE, LINGJU_DEFAULT_BASE,
};
pub use quickauth_protocol::{Action, Localized};
pub use quickauth_vault::HistoryEntry;
pub use quota::{china_day, quota_reset_at, GRANTS_PER_DAY};
pub use service::{Options, QuickAuth, INTERACTIVE_BUDGET};

/// The data dir app and CLI share when neither `QUICKAUTH_DATA_DIR` nor `--data-dir` says otherwise:
/// `$XDG_DATA_HOME/quickauth` (`~/.local/share/quickauth` on Linux).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("quickauth")
}

/// The data dir to use: `QUICKAUTH_DATA_DIR`, else the explicit one (e.g. `--data-dir`), else the default.
pub fn resolve_data_dir(explicit: Option<PathBuf>) -> PathBuf {
    std::env::var_os("QUICKAUTH_DATA_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or(explicit)
        .unwrap_or_else(default_data_dir)
}
