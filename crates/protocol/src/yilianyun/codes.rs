//! Yilianyun return codes (global and printer-call ones) with what a shop installer should be told and offered.

use crate::localized::Action;

/// A Yilianyun `error` code. Unknown codes keep their number; the server's text travels alongside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiCode {
    /// 0
    Success,
    /// 2: client_id does not exist.
    ClientIdNotFound,
    /// 5: client_id or client_secret wrong.
    ClientCredentialsWrong,
    /// 6: authorization code wrong or expired (600 s).
    CodeInvalid,
    /// 8: printer information wrong.
    PrinterInfoWrong,
    /// 9: connecting to the printer failed.
    PrinterConnectFailed,
    /// 10: insufficient permission.
    PermissionDenied,
    /// 11: sign check failed.
    SignInvalid,
    /// 12: missing required parameter.
    MissingParameter,
    /// 14: access_token wrong.
    AccessTokenInvalid,
    /// 15: scope larger than the first grant.
    ScopeTooLarge,
    /// 16: model not supported (K1/K2/K3).
    ModelNotSupported,
    /// 17: printer already bound by another app.
    PrinterBoundElsewhere,
    /// 18: access_token expired or wrong.
    AccessTokenExpired,
    /// 19: app not listed or delisted.
    AppNotListed,
    /// 20: refresh_token expired.
    RefreshTokenExpired,
    /// 23: model / print width lookup failed.
    PrintWidthLookupFailed,
    /// 24: nothing to cancel.
    NothingToCancel,
    /// 25: version lookup failed.
    VersionLookupFailed,
    /// 27: scope missing.
    ScopeMissing,
    /// 29: client_id, machine_code, qr_key must not be empty.
    RequiredEmpty,
    /// 30: machine_code or qr_key wrong (the qr_key expires after 300 s).
    QrKeyInvalid,
    /// 31: endpoint not available to own-type apps.
    OwnAppNotAllowed,
    /// 33: invalid UUID.
    InvalidUuid,
    /// 34: illegal operation.
    IllegalOperation,
    /// 35: machine_code or msign wrong.
    MsignInvalid,
    /// 41: daily limit of token grants/refreshes exceeded (20 per printer per day).
    DailyLimitExceeded,
    /// 45: system error.
    SystemError,
    /// 47: parameter error.
    ParameterError,
    /// Any other code.
    Unknown(i64),
}

/// (variant, code, zh, en, action, retryable) for every known code, in one place so none can be missed.
const TABLE: &[(ApiCode, i64, &str, &str, Action, bool)] = {
    use ApiCode::*;
    &[
        (Success, 0, "操作成功。", "Success.", Action::None, false),
        (ClientIdNotFound, 2,
         "应用 ID(client_id)不存在。请在配置里核对易联云开放平台上的应用 ID。",
         "The app id (client_id) does not exist. Check the app id in the profile against the Yilianyun open platform.",
         Action::CheckClientId, false),
        (ClientCredentialsWrong, 5,
         "应用 ID 或应用密钥错误。请在配置里重新填写易联云开放平台上的应用密钥(client_secret)。",
         "The app id or app secret is wrong. Enter the app secret (client_secret) from the Yilianyun open platform again in the profile.",
         Action::CheckSecret, false),
        (CodeInvalid, 6,
         "授权码错误或已过期(有效期 600 秒)。请重新在浏览器里发起授权。",
         "The authorization code is wrong or expired (it lives 600 s). Start the browser authorization again.",
         Action::Reauthorize, false),
        (PrinterInfoWrong, 8,
         "打印机信息错误:终端号可能不对,或打印机没有授权给当前应用。请核对终端号,必要时重新授权。",
         "The printer information is wrong: the machine code may be mistyped, or the printer is not authorized for this app. Check the machine code and re-authorize if needed.",
         Action::CheckLabel, false),
        (PrinterConnectFailed, 9,
         "连接打印机失败。请确认打印机已开机并联网(指示灯正常),稍后重试。",
         "Could not reach the printer. Make sure it is switched on and online (status light normal), then try again.",
         Action::RetryLater, true),
        (PermissionDenied, 10,
         "应用没有调用此接口的权限。请在易联云开放平台检查应用的接口权限,或换用有权限的应用。",
         "The app has no permission for this call. Check the app's permissions on the Yilianyun open platform or use an app that has them.",
         Action::CheckClientId, false),
        (SignInvalid, 11,
         "签名校验失败:通常是应用密钥填错,或这台电脑的时间与北京时间相差太多。请核对应用密钥,并把系统时间设为自动同步。",
         "The signature check failed: usually the app secret is wrong, or this computer's clock is far off. Check the app secret and set the clock to synchronise automatically.",
         Action::CheckSecret, false),
        (MissingParameter, 12,
         "请求缺少必要参数。这是本软件的问题,请把此错误反馈给我们。",
         "A required parameter is missing. This is a bug in QuickAuth: please report it.",
         Action::ReportBug, false),
        (AccessTokenInvalid, 14,
         "访问令牌(access_token)无效。请重新授权这台设备。",
         "The access token is not valid. Authorize this device again.",
         Action::Reauthorize, false),
        (ScopeTooLarge, 15,
         "请求的权限大于首次授权的权限。请重新授权这台设备。",
         "The requested scope is larger than the first grant. Authorize this device again.",
         Action::Reauthorize, false),
        (ModelNotSupported, 16,
         "这个型号的打印机(如 K1/K2/K3)不支持此功能。",
         "This printer model (e.g. K1/K2/K3) does not support this function.",
         Action::None, false),
        (PrinterBoundElsewhere, 17,
         "这台打印机已被其他应用绑定。请先在原应用(或易联云后台)解除绑定,再重新授权。",
         "This printer is already bound to another app. Unbind it there (or in the Yilianyun console) first, then authorize again.",
         Action::UnbindFirst, false),
        (AccessTokenExpired, 18,
         "访问令牌已过期或无效。请刷新令牌;如果刷新失败,请重新授权。",
         "The access token has expired or is not valid. Refresh the token; if that fails, authorize again.",
         Action::RefreshToken, false),
        (AppNotListed, 19,
         "应用未上架或已下架。请在易联云开放平台检查应用状态,或联系易联云。",
         "The app is not listed or was delisted. Check the app's status on the Yilianyun open platform or contact Yilianyun.",
         Action::CheckClientId, false),
        (RefreshTokenExpired, 20,
         "刷新令牌已过期(有效期 35 天)。请重新扫码(或重新在浏览器里)授权这台设备。",
         "The refresh token has expired (it lives 35 days). Authorize this device again by scanning (or in the browser).",
         Action::Reauthorize, false),
        (PrintWidthLookupFailed, 23,
         "获取机型和打印宽度失败。请稍后重试。",
         "Looking up the model and print width failed. Try again later.",
         Action::RetryLater, true),
        (NothingToCancel, 24,
         "没有可以取消的未打印订单。",
         "There are no unprinted orders to cancel.",
         Action::None, false),
        (VersionLookupFailed, 25,
         "获取机型软硬件版本失败。请稍后重试。",
         "Looking up the model and firmware version failed. Try again later.",
         Action::RetryLater, true),
        (ScopeMissing, 27,
         "请求缺少 scope 参数。这是本软件的问题,请把此错误反馈给我们。",
         "The scope parameter is missing. This is a bug in QuickAuth: please report it.",
         Action::ReportBug, false),
        (RequiredEmpty, 29,
         "应用 ID、终端号或密钥为空。请检查扫到的标签内容是否完整,重新扫码或手动输入。",
         "The app id, machine code or key is empty. Check that the scanned label is complete, then scan again or type it in.",
         Action::CheckLabel, false),
        (QrKeyInvalid, 30,
         "终端号或特殊密钥(qr_key)错误。特殊密钥 300 秒后失效:请让打印机重新打印本机信息/自检页,再重新扫码。",
         "The machine code or QR key (qr_key) is wrong. The QR key expires after 300 s: print the printer's device-info/self-test page again and scan the new code.",
         Action::Rescan, false),
        (OwnAppNotAllowed, 31,
         "极速授权只支持“开放应用服务模式”的应用,当前应用是自有应用。请换用开放型应用。",
         "Fast authorization only works with open-type apps; this is an own-type app. Use an open-type app.",
         Action::UseOpenApp, false),
        (InvalidUuid, 33,
         "请求编号(UUID)不合法。这是本软件的问题,请把此错误反馈给我们。",
         "The request id (UUID) was rejected. This is a bug in QuickAuth: please report it.",
         Action::ReportBug, false),
        (IllegalOperation, 34,
         "易联云拒绝了此操作(非法操作)。请确认这台打印机已授权给当前应用;如果反复出现,请反馈问题。",
         "Yilianyun rejected this as an illegal operation. Check that the printer is authorized for this app; report it if it keeps happening.",
         Action::ReportBug, false),
        (MsignInvalid, 35,
         "终端号或终端密钥(msign)错误。请核对打印机底部标签上的终端号和密钥,重新扫码或手动输入。",
         "The machine code or device key (msign) is wrong. Check both against the label under the printer, then scan again or type them in.",
         Action::CheckLabel, false),
        (DailyLimitExceeded, 41,
         "这台打印机今天获取或刷新令牌的次数已达上限(每天 20 次)。请明天(北京时间 0 点以后)再试,不要反复重试。",
         "This printer reached today's limit of token grants/refreshes (20 per day). Try again tomorrow (after 00:00 China time); do not keep retrying.",
         Action::WaitUntilTomorrow, false),
        (SystemError, 45,
         "易联云系统错误。请稍后重试。",
         "Yilianyun reported a system error. Try again later.",
         Action::RetryLater, true),
        (ParameterError, 47,
         "参数错误。请检查终端号等输入是否正确;如果确认无误,请反馈问题。",
         "A parameter was rejected. Check the machine code and other input; if they are right, please report it.",
         Action::EditInput, false),
    ]
};

impl ApiCode {
    /// Every named variant (not `Unknown`), e.g. for exhaustive tests and documentation.
    pub fn known() -> impl Iterator<Item = ApiCode> {
        TABLE.iter().map(|row| row.0)
    }

    pub fn from_code(code: i64) -> Self {
        TABLE
            .iter()
            .find(|row| row.1 == code)
            .map_or(ApiCode::Unknown(code), |row| row.0)
    }

    pub fn code(self) -> i64 {
        match self {
            ApiCode::Unknown(code) => code,
            known => Self::row(known).map_or(-1, |r| r.1),
        }
    }

    fn row(self) -> Option<&'static (ApiCode, i64, &'static str, &'static str, Action, bool)> {
        TABLE.iter().find(|row| row.0 == self)
    }

    /// The Chinese explanation; `None` for an unknown code (then the server's text is all we have).
    pub fn message_zh(self) -> Option<&'static str> {
        self.row().map(|r| r.2)
    }

    pub fn message_en(self) -> Option<&'static str> {
        self.row().map(|r| r.3)
    }

    pub fn action(self) -> Action {
        self.row().map_or(Action::ReportBug, |r| r.4)
    }

    pub fn retryable(self) -> bool {
        self.row().is_some_and(|r| r.5)
    }
}
