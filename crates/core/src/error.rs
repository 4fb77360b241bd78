//! The core's one error type (gathering protocol, vault and QR errors) and `ErrorReport`, what crosses to the page / `--json`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use quickauth_protocol::{Action, Localized};
use serde::Serialize;

pub use quickauth_protocol::YilianyunError;
pub use quickauth_protocol::{InputError, LingjuError};
pub use quickauth_qr::{DecodeError, PayloadError};
pub use quickauth_vault::VaultError;

/// Everything that can go wrong in the service. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Yilianyun(#[from] YilianyunError),
    #[error(transparent)]
    Lingju(#[from] LingjuError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Delivery(#[from] crate::delivery::DeliveryError),

    #[error("profile {name:?} not found")]
    ProfileNotFound { name: String },
    #[error("profile {name:?} already exists")]
    ProfileExists { name: String },
    #[error("invalid profile name {name:?}")]
    InvalidProfileName { name: String },
    #[error("the built-in profile {name:?} cannot be changed or removed")]
    BuiltinProfileImmutable { name: String },
    #[error("profile {profile:?} is not a {expected} profile")]
    WrongProvider {
        profile: String,
        expected: &'static str,
    },
    #[error("profile {name:?} still has {devices} authorized device(s)")]
    ProfileInUse { name: String, devices: usize },
    #[error("profile {profile:?} has no {what} in the keyring")]
    MissingProfileSecret { profile: String, what: &'static str },
    #[error("invalid {field}: {detail}")]
    InvalidInput { field: &'static str, detail: String },

    #[error("device {id:?} not found")]
    DeviceNotFound { id: String },
    #[error("device id {id:?} is ambiguous")]
    AmbiguousId { id: String, providers: Vec<String> },
    #[error("daily grant quota of printer {id} used up until {reset_at}")]
    QuotaExhausted { id: String, reset_at: DateTime<Utc> },
    #[error("device {id} needs to be authorized again")]
    NeedsReauthorization { id: String },
    #[error("device {id} is busy in another process")]
    DeviceBusy { id: String },
    #[error("the keyring has no tokens for device {id}")]
    TokensMissing { id: String },
    #[error("a token entry in the keyring is not readable")]
    CorruptTokenEntry,

    #[error("the authorization callback's state does not match (possible CSRF)")]
    CodeFlowStateMismatch,
    #[error("the authorization was not granted: {reason}")]
    CodeFlowDenied { reason: String },
    #[error("the callback URL has no authorization code")]
    CodeFlowNoCode,

    #[error("the built-in sandbox could not start: {detail}")]
    Sandbox { detail: String },
    #[error("{context} ({path}): {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the new token pair of device {id} could not be stored ({cause}); a replay can recover it until {replay_until}")]
    NewPairNotStored {
        id: String,
        replay_until: DateTime<Utc>,
        cause: &'static str,
    },
    #[error("no answer within {secs} s")]
    NoAnswerInTime { secs: u64 },
    #[error("the server sent an unusable {what}")]
    ServerValueOutOfRange { what: &'static str },
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn shanghai(at: &DateTime<Utc>) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    at.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M (UTC+8)")
        .to_string()
}

impl Localized for Error {
    fn kind(&self) -> &'static str {
        match self {
            Error::Yilianyun(e) => e.kind(),
            Error::Lingju(e) => e.kind(),
            Error::Vault(e) => e.kind(),
            Error::Input(e) => e.kind(),
            Error::Payload(e) => e.kind(),
            Error::Decode(e) => e.kind(),
            Error::Delivery(e) => e.kind(),
            Error::ProfileNotFound { .. } => "profile_not_found",
            Error::ProfileExists { .. } => "profile_exists",
            Error::InvalidProfileName { .. } => "invalid_profile_name",
            Error::BuiltinProfileImmutable { .. } => "builtin_profile_immutable",
            Error::WrongProvider { .. } => "wrong_provider",
            Error::ProfileInUse { .. } => "profile_in_use",
            Error::MissingProfileSecret { .. } => "missing_profile_secret",
            Error::InvalidInput { .. } => "invalid_input",
            Error::DeviceNotFound { .. } => "device_not_found",
            Error::AmbiguousId { .. } => "ambiguous_id",
            Error::QuotaExhausted { .. } => "quota_exhausted",
            Error::NeedsReauthorization { .. } => "needs_reauthorization",
            Error::DeviceBusy { .. } => "device_busy",
            Error::TokensMissing { .. } => "tokens_missing",
            Error::CorruptTokenEntry => "corrupt_token_entry",
            Error::CodeFlowStateMismatch => "state_mismatch",
            Error::CodeFlowDenied { .. } => "authorization_denied",
            Error::CodeFlowNoCode => "no_authorization_code",
            Error::Sandbox { .. } => "sandbox",
            Error::Io { .. } => "io",
            Error::ServerValueOutOfRange { .. } => "server_value_out_of_range",
            Error::NewPairNotStored { .. } => "new_pair_not_stored",
            Error::NoAnswerInTime { .. } => "no_answer_in_time",
            Error::Internal(_) => "internal",
        }
    }

    fn code(&self) -> Option<i64> {
        match self {
            Error::Yilianyun(e) => e.code(),
            Error::Lingju(e) => e.code(),
            Error::Vault(e) => e.code(),
            Error::Input(e) => e.code(),
            _ => None,
        }
    }

    fn message_zh(&self) -> String {
        match self {
            Error::Yilianyun(e) => e.message_zh(),
            Error::Lingju(e) => e.message_zh(),
            Error::Vault(e) => e.message_zh(),
            Error::Input(e) => e.message_zh(),
            Error::Payload(e) => e.message_zh(),
            Error::Decode(e) => e.message_zh(),
            Error::Delivery(e) => e.message_zh(),
            Error::ProfileNotFound { name } => format!("找不到配置“{name}”。请用 `quickauth profile list` 查看已有配置，或先添加它。"),
            Error::ProfileExists { name } => format!("配置“{name}”已存在。请换一个名字，或先删除旧配置。"),
            Error::InvalidProfileName { name } => format!("配置名“{name}”无效：只能使用 1–64 个字母、数字、“-”或“_”。"),
            Error::BuiltinProfileImmutable { name } => format!("内置配置“{name}”不能修改或删除。请新建一个自己的配置。"),
            Error::WrongProvider { profile, expected } => format!("配置“{profile}”不是{}配置，不能这样使用。请选择一个{}配置。", provider_zh(expected), provider_zh(expected)),
            Error::ProfileInUse { name, devices } => format!("配置“{name}”下还有 {devices} 台已授权设备。请先用 `quickauth forget` 移除它们，再删除配置。"),
            Error::MissingProfileSecret { profile, .. } => format!("系统钥匙串中没有配置“{profile}”的密钥。请删除并重新添加该配置，重新输入密钥。"),
            Error::InvalidInput { field, detail } => format!("输入有误（{field}）：{detail}。请检查后重新输入。"),
            Error::DeviceNotFound { id } => format!("没有找到设备 {id}。请用 `quickauth list` 查看已授权的设备，或先授权它。"),
            Error::AmbiguousId { id, providers } => format!("编号 {id} 对应多台已授权的设备（{}）。请写出其中一个完整编号（平台:配置:编号），或写成“配置:编号”。", providers.join("、")),
            Error::QuotaExhausted { id, reset_at } => format!("打印机 {id} 今天的授权/刷新次数（每天 {} 次）已用完，为避免被服务器拒绝，本次未发送请求。请在 {} 之后再试。", crate::quota::GRANTS_PER_DAY, shanghai(reset_at)),
            Error::NeedsReauthorization { id } => format!("设备 {id} 的授权已失效，刷新也无法恢复。请重新扫码授权这台设备。"),
            Error::DeviceBusy { id } => format!("设备 {id} 正在被另一个 QuickAuth 窗口或命令刷新，等了 2 分钟仍未结束。请稍后再试；如果一直如此，请关闭其他 QuickAuth 程序。"),
            Error::TokensMissing { id } => format!("系统钥匙串中没有设备 {id} 的令牌（可能被清除了）。请重新授权这台设备。"),
            Error::CorruptTokenEntry => "系统钥匙串中的令牌记录已损坏，无法读取。请重新授权这台设备。".into(),
            Error::CodeFlowStateMismatch => "授权回调中的 state 与发起时不一致，可能是伪造的回调，已拒绝。请重新发起浏览器授权。".into(),
            Error::CodeFlowDenied { reason } => format!("浏览器授权没有完成（{reason}）。请重新发起授权并在页面上点击同意。"),
            Error::CodeFlowNoCode => "回调地址中没有授权码（code）。请粘贴浏览器最终跳转到的完整地址，或重新授权。".into(),
            Error::Sandbox { detail } => format!("内置沙盒服务器无法启动：{detail}。请检查数据目录是否可写后重试。"),
            Error::Io { context, path, source } => format!("读写文件失败（{context}，{}）：{source}。请检查磁盘空间和目录权限。", path.display()),
            Error::NewPairNotStored { id, replay_until, cause } => format!("设备 {id} 的新令牌已由服务器签发，但系统钥匙串一直无法保存（{cause}）。旧令牌仍在。请在 {} 之前解锁钥匙串并再次刷新这台设备（重放旧的刷新令牌即可取回新令牌）；过了这个时间只能重新扫码授权。", shanghai(replay_until)),
            Error::NoAnswerInTime { secs } => format!("服务器 {secs} 秒内没有完成应答，已停止等待。请求可能已被处理：请检查网络（或稍后在设备列表里查看）后再试。"),
            Error::ServerValueOutOfRange { what } => format!("服务器返回的数值不合理（{what}），无法保存，已保存的令牌没有改动。请稍后重试；如果一直如此，请联系服务商。"),
            Error::Internal(detail) => format!("程序内部错误：{detail}。请把这条信息报告给开发者。"),
        }
    }

    fn message_en(&self) -> String {
        match self {
            Error::Yilianyun(e) => e.message_en(),
            Error::Lingju(e) => e.message_en(),
            Error::Vault(e) => e.message_en(),
            Error::Input(e) => e.message_en(),
            Error::Payload(e) => e.message_en(),
            Error::Decode(e) => e.message_en(),
            Error::Delivery(e) => e.message_en(),
            Error::ProfileNotFound { name } => format!("Profile \"{name}\" not found. See `quickauth profile list`, or add it first."),
            Error::ProfileExists { name } => format!("Profile \"{name}\" already exists. Pick another name or remove the old one first."),
            Error::InvalidProfileName { name } => format!("Invalid profile name \"{name}\": use 1-64 letters, digits, '-' or '_'."),
            Error::BuiltinProfileImmutable { name } => format!("The built-in profile \"{name}\" cannot be changed or removed. Create your own profile instead."),
            Error::WrongProvider { profile, expected } => format!("Profile \"{profile}\" is not a {expected} profile. Choose a {expected} profile."),
            Error::ProfileInUse { name, devices } => format!("Profile \"{name}\" still has {devices} authorized device(s). Remove them with `quickauth forget` first."),
            Error::MissingProfileSecret { profile, what } => format!("The keyring has no {what} for profile \"{profile}\". Remove and re-add the profile to enter it again."),
            Error::InvalidInput { field, detail } => format!("Invalid {field}: {detail}. Check it and try again."),
            Error::DeviceNotFound { id } => format!("No device {id}. See `quickauth list`, or authorize it first."),
            Error::AmbiguousId { id, providers } => format!("Id {id} matches several authorized devices ({}). Give one of these full names (provider:profile:id), or write profile:id.", providers.join(", ")),
            Error::QuotaExhausted { id, reset_at } => format!("Printer {id} has used its {} grants/refreshes for today; nothing was sent, so the server will not lock it. Try again after {} ({}).", crate::quota::GRANTS_PER_DAY, shanghai(reset_at), reset_at.to_rfc3339()),
            Error::NeedsReauthorization { id } => format!("The authorization of device {id} is no longer valid and a refresh cannot restore it. Scan and authorize the device again."),
            Error::DeviceBusy { id } => format!("Device {id} is being refreshed by another QuickAuth window or command, which has not finished after 2 minutes. Try again later; if it persists, close the other QuickAuth programs."),
            Error::TokensMissing { id } => format!("The keyring holds no tokens for device {id} (they may have been removed). Authorize the device again."),
            Error::CorruptTokenEntry => "A token entry in the keyring is damaged and cannot be read. Authorize the device again.".into(),
            Error::CodeFlowStateMismatch => "The authorization callback's state does not match the one we sent; it may be forged and was rejected. Start the browser authorization again.".into(),
            Error::CodeFlowDenied { reason } => format!("The browser authorization was not completed ({reason}). Start it again and approve on the page."),
            Error::CodeFlowNoCode => "The callback URL has no authorization code. Paste the full address the browser ended on, or start again.".into(),
            Error::Sandbox { detail } => format!("The built-in sandbox server could not start: {detail}. Check that the data directory is writable and retry."),
            Error::Io { context, path, source } => format!("File access failed ({context}, {}): {source}. Check disk space and permissions.", path.display()),
            Error::NewPairNotStored { id, replay_until, cause } => format!("The server issued a new token pair for device {id}, but the OS keyring kept refusing to store it ({cause}). The old pair is still there. Unlock the keyring and refresh this device again before {} ({}): replaying the old refresh token fetches the new pair. After that only a new scan helps.", shanghai(replay_until), replay_until.to_rfc3339()),
            Error::NoAnswerInTime { secs } => format!("The server did not finish answering within {secs} s, so QuickAuth stopped waiting. The request may have been processed: check the network (or look at the device list) and try again."),
            Error::ServerValueOutOfRange { what } => format!("The server sent an unusable value ({what}); nothing was stored and the saved tokens are unchanged. Try again later; if it persists, contact the provider."),
            Error::Internal(detail) => format!("Internal error: {detail}. Please report this to the developers."),
        }
    }

    fn action(&self) -> Action {
        match self {
            Error::Yilianyun(e) => e.action(),
            Error::Lingju(e) => e.action(),
            Error::Vault(e) => e.action(),
            Error::Input(e) => e.action(),
            Error::Payload(_) | Error::Decode(_) => Action::Rescan,
            Error::Delivery(e) => e.action(),
            Error::ProfileNotFound { .. }
            | Error::ProfileExists { .. }
            | Error::InvalidProfileName { .. }
            | Error::BuiltinProfileImmutable { .. }
            | Error::WrongProvider { .. }
            | Error::ProfileInUse { .. }
            | Error::InvalidInput { .. }
            | Error::AmbiguousId { .. } => Action::EditInput,
            Error::MissingProfileSecret { .. } => Action::CheckSecret,
            Error::DeviceNotFound { .. } => Action::Rescan,
            Error::QuotaExhausted { .. } => Action::WaitUntilTomorrow,
            Error::NeedsReauthorization { .. }
            | Error::TokensMissing { .. }
            | Error::CorruptTokenEntry => Action::Reauthorize,
            Error::CodeFlowStateMismatch | Error::CodeFlowDenied { .. } | Error::CodeFlowNoCode => {
                Action::Reauthorize
            }
            Error::Sandbox { .. } | Error::Io { .. } | Error::DeviceBusy { .. } => {
                Action::RetryLater
            }
            Error::ServerValueOutOfRange { .. } => Action::RetryLater,
            Error::NewPairNotStored { .. } => Action::UnlockKeyring,
            Error::NoAnswerInTime { .. } => Action::CheckNetwork,
            Error::Internal(_) => Action::ReportBug,
        }
    }

    fn retryable(&self) -> bool {
        match self {
            Error::Yilianyun(e) => e.retryable(),
            Error::Lingju(e) => e.retryable(),
            Error::Vault(e) => e.retryable(),
            Error::Input(e) => e.retryable(),
            _ => false,
        }
    }
}

impl Error {
    /// The server gave a definite answer (an API error code): nothing of this request is still in flight.
    pub fn is_server_answer(&self) -> bool {
        matches!(
            self,
            Error::Yilianyun(YilianyunError::Api { .. }) | Error::Lingju(LingjuError::Api { .. })
        )
    }

    /// The request may have been processed although no usable reply came back.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Error::Yilianyun(e) => e.outcome_unknown(),
            Error::Lingju(e) => e.outcome_unknown(),
            _ => false,
        }
    }
}

fn provider_zh(p: &str) -> &'static str {
    match p {
        "lingju" => "灵聚",
        _ => "易联云",
    }
}

/// What crosses to the page and to `--json` output: `{"type","code","message_zh","message_en","action","retryable"}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorReport {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: Option<i64>,
    pub message_zh: String,
    pub message_en: String,
    pub action: Action,
    pub retryable: bool,
}

impl From<&dyn Localized> for ErrorReport {
    fn from(e: &dyn Localized) -> Self {
        Self {
            kind: e.kind().to_owned(),
            code: e.code(),
            message_zh: e.message_zh(),
            message_en: e.message_en(),
            action: e.action(),
            retryable: e.retryable(),
        }
    }
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        Self::from(e as &dyn Localized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_has_the_contract_shape_and_bilingual_text() {
        let reset = quota_reset_for_test();
        let e = Error::QuotaExhausted {
            id: "4004000001".into(),
            reset_at: reset,
        };
        let v = serde_json::to_value(ErrorReport::from(&e)).unwrap();
        assert_eq!(v["type"], "quota_exhausted");
        assert_eq!(v["action"], "wait_until_tomorrow");
        assert_eq!(v["code"], serde_json::Value::Null);
        assert_eq!(v["retryable"], false);
        assert!(v["message_zh"].as_str().unwrap().contains("4004000001"));
        assert!(v["message_en"]
            .as_str()
            .unwrap()
            .contains(&reset.to_rfc3339()));
        assert_eq!(v.as_object().unwrap().len(), 6);
    }

    #[test]
    fn wrapped_errors_keep_their_code_and_kind() {
        let e = Error::from(YilianyunError::Api {
            code: quickauth_protocol::ApiCode::from_code(41),
            server_message: String::new(),
        });
        assert_eq!(
            (e.kind(), e.code(), e.action()),
            ("api", Some(41), Action::WaitUntilTomorrow)
        );
        assert!(e.is_server_answer() && !e.outcome_unknown());
    }

    fn quota_reset_for_test() -> DateTime<Utc> {
        crate::quota::quota_reset_at(Utc::now())
    }
}
