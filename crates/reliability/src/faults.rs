//! The fault taxonomy: every kind the matrix and the run inject, what a correct client must answer for each, and how
//! an observed error is reduced to a specific tag (`transport/ReadTimeout`, `keyring_timeout`, `api/41`, ...).

use quickauth_core::{Error, Localized};
use quickauth_protocol::{Action, TransportErrorKind, YilianyunError};
use serde::{Deserialize, Serialize};

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The profile points at a bound port nobody listens on.
    ConnectionRefused,
    /// The profile points at a listener whose accept queue is full (SYNs dropped).
    ConnectTimeout,
    /// The profile points at a server that accepts and never answers.
    ReadTimeout,
    /// The profile points at HTTPS with a self-signed certificate.
    Tls,
    /// Sandbox `slow`: answers after a delay that is still inside the client's timeout (must succeed).
    SlowServer,
    /// Sandbox `html_500`: a gateway error page, request not processed.
    Html500,
    /// Sandbox `non_json`: 200 with garbage, request not processed.
    NonJson,
    /// Sandbox `truncated`: processed, then the reply is cut.
    Truncated,
    /// Sandbox `drop_reply`: processed and committed, then the connection closes without a reply.
    DropReply,
    /// Sandbox `reset`: the connection is reset before the request is processed.
    Reset,
    /// No Secret Service: the process's session bus address points at nothing.
    KeyringUnavailable,
    /// A D-Bus peer that accepts and never answers.
    KeyringNeverAnswers,
    /// `QUICKAUTH_CRASH_AT=before_send` aborts a real child process.
    CrashBeforeSend,
    /// `QUICKAUTH_CRASH_AT=after_send_before_keyring`.
    CrashAfterSend,
    /// `QUICKAUTH_CRASH_AT=after_keyring_before_db`.
    CrashAfterKeyring,
    /// `QUICKAUTH_CRASH_AT=after_db_before_journal_clear`.
    CrashAfterDb,
    /// SIGKILL of a child while its refresh request is at the (slow) server.
    KillInFlight,
}

/// Which call faces the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Authorize,
    Refresh,
    /// A printer call (getprintstatus + getversion).
    PrinterStatus,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Authorize => "authorize",
            Op::Refresh => "refresh",
            Op::PrinterStatus => "printer_status",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Op::Authorize, Op::Refresh, Op::PrinterStatus]
            .into_iter()
            .find(|o| o.name() == s)
    }

    /// The sandbox path prefix the call uses (v2 profile).
    pub fn sandbox_path(self) -> &'static str {
        match self {
            Op::Authorize => "/v2/oauth/scancodemodel",
            Op::Refresh => "/v2/oauth/oauth",
            Op::PrinterStatus => "/v2/printer/",
        }
    }
}

/// What a correct client must report for a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The call fails with this specific tag and action.
    Error {
        tag: &'static str,
        action: Action,
        retryable: bool,
    },
    /// The call succeeds (e.g. a slow server inside the timeout).
    Success,
    /// The process dies on purpose; the next run must complete the refresh.
    Crash,
}

pub const CRASH_KINDS: [FaultKind; 4] = [
    FaultKind::CrashBeforeSend,
    FaultKind::CrashAfterSend,
    FaultKind::CrashAfterKeyring,
    FaultKind::CrashAfterDb,
];

pub const NETWORK_KINDS: [FaultKind; 4] = [
    FaultKind::ConnectionRefused,
    FaultKind::ConnectTimeout,
    FaultKind::ReadTimeout,
    FaultKind::Tls,
];

pub const SANDBOX_KINDS: [FaultKind; 6] = [
    FaultKind::SlowServer,
    FaultKind::Html500,
    FaultKind::NonJson,
    FaultKind::Truncated,
    FaultKind::DropReply,
    FaultKind::Reset,
];

impl FaultKind {
    pub const ALL: [FaultKind; 17] = [
        FaultKind::ConnectionRefused,
        FaultKind::ConnectTimeout,
        FaultKind::ReadTimeout,
        FaultKind::Tls,
        FaultKind::SlowServer,
        FaultKind::Html500,
        FaultKind::NonJson,
        FaultKind::Truncated,
        FaultKind::DropReply,
        FaultKind::Reset,
        FaultKind::KeyringUnavailable,
        FaultKind::KeyringNeverAnswers,
        FaultKind::CrashBeforeSend,
        FaultKind::CrashAfterSend,
        FaultKind::CrashAfterKeyring,
        FaultKind::CrashAfterDb,
        FaultKind::KillInFlight,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::ConnectionRefused => "connection_refused",
            FaultKind::ConnectTimeout => "connect_timeout",
            FaultKind::ReadTimeout => "read_timeout",
            FaultKind::Tls => "tls_untrusted",
            FaultKind::SlowServer => "slow_server",
            FaultKind::Html500 => "html_500",
            FaultKind::NonJson => "non_json",
            FaultKind::Truncated => "truncated",
            FaultKind::DropReply => "reply_dropped",
            FaultKind::Reset => "connection_reset",
            FaultKind::KeyringUnavailable => "keyring_unavailable",
            FaultKind::KeyringNeverAnswers => "keyring_never_answers",
            FaultKind::CrashBeforeSend => "crash:before_send",
            FaultKind::CrashAfterSend => "crash:after_send_before_keyring",
            FaultKind::CrashAfterKeyring => "crash:after_keyring_before_db",
            FaultKind::CrashAfterDb => "crash:after_db_before_journal_clear",
            FaultKind::KillInFlight => "kill -9 mid-request",
        }
    }

    /// The `QUICKAUTH_CRASH_AT` step, for the crash kinds.
    pub fn crash_step(self) -> Option<&'static str> {
        match self {
            FaultKind::CrashBeforeSend => Some("before_send"),
            FaultKind::CrashAfterSend => Some("after_send_before_keyring"),
            FaultKind::CrashAfterKeyring => Some("after_keyring_before_db"),
            FaultKind::CrashAfterDb => Some("after_db_before_journal_clear"),
            _ => None,
        }
    }

    /// The sandbox fault mode, for the kinds the sandbox injects.
    pub fn sandbox_mode(self) -> Option<quickauth_sandbox::FaultMode> {
        use quickauth_sandbox::FaultMode;
        match self {
            FaultKind::SlowServer => Some(FaultMode::Slow),
            FaultKind::Html500 => Some(FaultMode::Html500),
            FaultKind::NonJson => Some(FaultMode::NonJson),
            FaultKind::Truncated => Some(FaultMode::Truncated),
            FaultKind::DropReply => Some(FaultMode::DropReply),
            FaultKind::Reset => Some(FaultMode::Reset),
            _ => None,
        }
    }

    pub fn is_network(self) -> bool {
        NETWORK_KINDS.contains(&self)
    }

    pub fn is_keyring(self) -> bool {
        matches!(
            self,
            FaultKind::KeyringUnavailable | FaultKind::KeyringNeverAnswers
        )
    }

    pub fn is_crash(self) -> bool {
        CRASH_KINDS.contains(&self) || self == FaultKind::KillInFlight
    }

    /// Did the server possibly process the request (so a refresh must be completed by replaying the old token)?
    pub fn server_may_have_processed(self) -> bool {
        matches!(
            self,
            FaultKind::ReadTimeout
                | FaultKind::Truncated
                | FaultKind::DropReply
                | FaultKind::SlowServer
        )
    }

    /// The specific answer a correct client gives when the fault persists through every retry.
    pub fn expect(self) -> Expect {
        use Action::*;
        let e = |tag, action, retryable| Expect::Error {
            tag,
            action,
            retryable,
        };
        match self {
            FaultKind::ConnectionRefused => e("transport/ConnectionRefused", CheckNetwork, true),
            FaultKind::ConnectTimeout => e("transport/ConnectTimeout", CheckNetwork, true),
            FaultKind::ReadTimeout => e("transport/ReadTimeout", RetryLater, true),
            FaultKind::Tls => e("transport/Tls", CheckNetwork, false),
            FaultKind::SlowServer => Expect::Success,
            FaultKind::Html500 => e("transport/HttpStatus500Html", RetryLater, true),
            FaultKind::NonJson => e("transport/NonJson", CheckNetwork, true),
            FaultKind::Truncated => e("transport/Truncated", RetryLater, true),
            FaultKind::DropReply => e("transport/ConnectionClosed", RetryLater, true),
            FaultKind::Reset => e("transport/ConnectionClosed", RetryLater, true),
            FaultKind::KeyringUnavailable => e("keyring_unavailable", InstallSecretService, false),
            // A timed-out keyring call may succeed when repeated (the vault marks it transient).
            FaultKind::KeyringNeverAnswers => e("keyring_timeout", UnlockKeyring, true),
            _ => Expect::Crash,
        }
    }
}

/// An error reduced to what the report and the assertions need. Never holds a secret (messages are checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// Specific tag: `transport/<TransportErrorKind>`, `api/<code>`, or the core kind.
    pub tag: String,
    pub kind: String,
    pub code: Option<i64>,
    pub message_zh: String,
    pub message_en: String,
    pub action: Action,
    pub retryable: bool,
}

/// The specific tag of a core error.
pub fn tag_of(e: &Error) -> String {
    match e {
        Error::Yilianyun(YilianyunError::Transport(t)) => {
            format!("transport/{}", transport_tag(t.kind))
        }
        Error::Yilianyun(YilianyunError::Api { code, .. }) => format!("api/{}", code.code()),
        other => other.kind().to_owned(),
    }
}

fn transport_tag(kind: TransportErrorKind) -> String {
    match kind {
        TransportErrorKind::HttpStatus { status, html } => {
            format!("HttpStatus{status}{}", if html { "Html" } else { "" })
        }
        TransportErrorKind::NonJson { .. } => "NonJson".to_owned(),
        other => format!("{other:?}"),
    }
}

impl Observed {
    pub fn from_error(e: &Error) -> Self {
        Self {
            tag: tag_of(e),
            kind: e.kind().to_owned(),
            code: e.code(),
            message_zh: e.message_zh(),
            message_en: e.message_en(),
            action: e.action(),
            retryable: e.retryable(),
        }
    }

    /// Specific and actionable: a Chinese and an English message, an action other than "report a bug"/"none".
    pub fn is_clear(&self) -> bool {
        let has_cjk = self
            .message_zh
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        has_cjk
            && self
                .message_en
                .chars()
                .filter(char::is_ascii_alphabetic)
                .count()
                > 20
            && !matches!(self.action, Action::ReportBug | Action::None)
            && self.kind != "internal"
    }

    /// Matches the expectation of `fault` exactly (tag, action, retryable) and is clear.
    pub fn matches(&self, fault: FaultKind) -> bool {
        match fault.expect() {
            Expect::Error {
                tag,
                action,
                retryable,
            } => {
                self.tag == tag
                    && self.action == action
                    && self.retryable == retryable
                    && self.is_clear()
            }
            _ => false,
        }
    }
}
