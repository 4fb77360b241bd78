//! The one error type of the Yilianyun client.

use super::codes::ApiCode;
use crate::http::TransportError;
use crate::input::InputError;
use crate::localized::{api_error_en, api_error_zh, Action, Localized};

/// Why a Yilianyun call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YilianyunError {
    /// Yilianyun answered with a non-zero `error`. `server_message` is its `error_description`, redacted and
    /// at most 200 characters.
    #[error("Yilianyun error {}: {server_message}", .code.code())]
    Api {
        code: ApiCode,
        server_message: String,
    },
    /// No usable reply (network, TLS, HTTP status, body not JSON or not the documented shape).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// We refused to send the request: an input is not acceptable.
    #[error(transparent)]
    Input(#[from] InputError),
}

impl YilianyunError {
    /// True when the request may have been processed although we got no usable answer (see
    /// [`TransportError::outcome_unknown`]). An API error is a definite answer; an input error was never sent.
    /// Error 45 (system error) also counts as unknown: the server failed somewhere inside, so a refresh may or
    /// may not have been applied.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            YilianyunError::Transport(t) => t.outcome_unknown(),
            YilianyunError::Api { code, .. } => *code == ApiCode::SystemError,
            YilianyunError::Input(_) => false,
        }
    }

    /// The provider code, when Yilianyun answered with one.
    pub fn api_code(&self) -> Option<ApiCode> {
        match self {
            YilianyunError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl Localized for YilianyunError {
    fn kind(&self) -> &'static str {
        match self {
            YilianyunError::Api { .. } => "api",
            YilianyunError::Transport(t) => t.kind(),
            YilianyunError::Input(i) => i.kind(),
        }
    }

    fn code(&self) -> Option<i64> {
        self.api_code().map(ApiCode::code)
    }

    fn message_zh(&self) -> String {
        match self {
            YilianyunError::Api {
                code,
                server_message,
            } => api_error_zh("易联云", code.code(), code.message_zh(), server_message),
            YilianyunError::Transport(t) => t.message_zh(),
            YilianyunError::Input(i) => i.message_zh(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            YilianyunError::Api {
                code,
                server_message,
            } => api_error_en("Yilianyun", code.code(), code.message_en(), server_message),
            YilianyunError::Transport(t) => t.message_en(),
            YilianyunError::Input(i) => i.message_en(),
        }
    }

    fn action(&self) -> Action {
        match self {
            YilianyunError::Api { code, .. } => code.action(),
            YilianyunError::Transport(t) => t.action(),
            YilianyunError::Input(i) => i.action(),
        }
    }

    fn retryable(&self) -> bool {
        match self {
            YilianyunError::Api { code, .. } => code.retryable(),
            YilianyunError::Transport(t) => t.retryable(),
            YilianyunError::Input(i) => i.retryable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_explains_itself_with_its_number() {
        for code in ApiCode::known() {
            let err = YilianyunError::Api {
                code,
                server_message: "srv".into(),
            };
            let n = code.code().to_string();
            assert!(
                err.message_zh().contains(&n) && err.message_en().contains(&n),
                "{code:?}"
            );
            assert!(err.message_zh().contains("srv") && err.message_en().contains("srv"));
            assert_eq!(err.kind(), "api");
            assert_eq!(err.code(), Some(code.code()));
            assert_eq!(err.action(), code.action());
            assert_eq!(err.retryable(), code.retryable());
            assert_eq!(
                err.outcome_unknown(),
                code == ApiCode::SystemError,
                "{code:?}"
            );
        }
        let unknown = YilianyunError::Api {
            code: ApiCode::Unknown(88),
            server_message: String::new(),
        };
        assert!(
            unknown.message_zh().contains("88") && !unknown.message_zh().contains("服务器说明")
        );
        assert_eq!(unknown.action(), Action::ReportBug);
        assert!(!unknown.retryable());
    }
}
