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

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 17] = [
        Action::None,
        Action::Rescan,
        Action::CheckClientId,
        Action::CheckSecret,
        Action::CheckClock,
        Action::CheckLabel,
        Action::Reauthorize,
        Action::RefreshToken,
        Action::WaitUntilTomorrow,
        Action::RetryLater,
        Action::UnbindFirst,
        Action::UseOpenApp,
        Action::CheckNetwork,
        Action::UnlockKeyring,
        Action::InstallSecretService,
        Action::ReportBug,
        Action::EditInput,
    ];

    /// The same snake_case tag serde writes, e.g. for `--json` output built by hand.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Rescan => "rescan",
            Action::CheckClientId => "check_client_id",
            Action::CheckSecret => "check_secret",
            Action::CheckClock => "check_clock",
            Action::CheckLabel => "check_label",
            Action::Reauthorize => "reauthorize",
            Action::RefreshToken => "refresh_token",
            Action::WaitUntilTomorrow => "wait_until_tomorrow",
            Action::RetryLater => "retry_later",
            Action::UnbindFirst => "unbind_first",
            Action::UseOpenApp => "use_open_app",
            Action::CheckNetwork => "check_network",
            Action::UnlockKeyring => "unlock_keyring",
            Action::InstallSecretService => "install_secret_service",
            Action::ReportBug => "report_bug",
            Action::EditInput => "edit_input",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Chinese text of a provider's API error: the known explanation (or "unknown code") plus the code and the
/// server's own words. `provider` is the provider's Chinese name.
pub(crate) fn api_error_zh(
    provider: &str,
    code: i64,
    known: Option<&str>,
    server_message: &str,
) -> String {
    let server = if server_message.is_empty() {
        String::new()
    } else {
        format!("(服务器说明:{server_message})")
    };
    match known {
        Some(text) => format!("{text}[{provider}错误码 {code}]{server}"),
        None => format!("{provider}返回了未知错误码 {code}{server}。请稍后重试;如果反复出现,请把错误码反馈给我们。"),
    }
}

/// English twin of [`api_error_zh`]; `provider` is the provider's English name.
pub(crate) fn api_error_en(
    provider: &str,
    code: i64,
    known: Option<&str>,
    server_message: &str,
) -> String {
    let server = if server_message.is_empty() {
        String::new()
    } else {
        format!(" (server said: {server_message})")
    };
    match known {
        Some(text) => format!("{text} [{provider} code {code}]{server}"),
        None => format!(
            "{provider} answered with unknown error code {code}{server}. Try again later; if it keeps happening, report the code to us."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde() {
        for action in Action::ALL {
            assert_eq!(
                serde_json::to_string(&action).unwrap(),
                format!("\"{}\"", action.as_str())
            );
            assert_eq!(
                serde_json::from_str::<Action>(&format!("\"{action}\"")).unwrap(),
                action
            );
        }
    }
}
