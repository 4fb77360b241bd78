//! Lingju (灵聚) authorize client: `/httpapi/authorize.do` (hardware with authcode, software without) and
//! `/bltapi/authorize.do` (pre-registered userids). The appkey goes in the POST form, never in a URL.

use crate::http::{host_of, post_form, Redactor, TransportError, TransportErrorKind};
use crate::input::{check_base_url, require_non_blank, Field, InputError};
use crate::lenient::{field, int, text};
use crate::localized::{api_error_en, api_error_zh, Action, Localized};
use crate::secret::{LingjuAccessToken, LingjuAppKey, LingjuAuthCode};
use crate::UserId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use url::Url;

/// Lingju's public server.
pub const LINGJU_DEFAULT_BASE: &str = "https://dev.lingju.ai";

/// Which Lingju authorize endpoint a profile uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LingjuEndpoint {
    /// `/httpapi/authorize.do`: developer-managed authcodes (hardware) or none (software).
    HttpApi,
    /// `/bltapi/authorize.do`: the userid must have been registered with Lingju beforehand.
    BltApi,
}

impl LingjuEndpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            LingjuEndpoint::HttpApi => "httpapi",
            LingjuEndpoint::BltApi => "bltapi",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            LingjuEndpoint::HttpApi => "/httpapi/authorize.do",
            LingjuEndpoint::BltApi => "/bltapi/authorize.do",
        }
    }
}

impl fmt::Display for LingjuEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LingjuEndpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "httpapi" => Ok(LingjuEndpoint::HttpApi),
            "bltapi" => Ok(LingjuEndpoint::BltApi),
            other => Err(format!(
                "unknown Lingju endpoint {other:?}: use httpapi or bltapi"
            )),
        }
    }
}

/// What the client needs for one Lingju app.
#[derive(Clone)]
pub struct LingjuConfig {
    /// `https://dev.lingju.ai` unless testing; may carry a path prefix, never credentials or a query.
    pub base_url: Url,
    pub endpoint: LingjuEndpoint,
    pub appkey: LingjuAppKey,
    /// Hardware platforms on httpapi send one; software platforms and bltapi do not.
    pub authcode: Option<LingjuAuthCode>,
}

/// Shows the base URL without any `user:password@` (refused at call time, but Debug must not leak it either).
impl fmt::Debug for LingjuConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut base = self.base_url.clone();
        let _ = base.set_username("");
        let _ = base.set_password(None);
        f.debug_struct("LingjuConfig")
            .field("base_url", &base.as_str())
            .field("endpoint", &self.endpoint)
            .field("appkey", &self.appkey)
            .field("authcode", &self.authcode)
            .finish()
    }
}

impl LingjuConfig {
    pub fn default_base_url() -> Url {
        Url::parse(LINGJU_DEFAULT_BASE).expect("constant URL")
    }
}

/// The longest lifetime a Lingju reply may state (10 years).
pub const MAX_EXPIRES_DAYS: i64 = 3650;

/// A Lingju access token and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LingjuGrant {
    pub access_token: LingjuAccessToken,
    /// `expires` as sent: documented as days; 0..=`MAX_EXPIRES_DAYS` (anything else is a broken reply).
    pub expires_days: i64,
    /// `update` (or `updated`): the server's millisecond timestamp of the grant, when sent.
    pub updated_ms: Option<i64>,
}

/// A Lingju `status` code (seen in a third-party client; unknown ones keep the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LingjuCode {
    /// 6
    InvalidAppKey,
    /// 8
    ParameterError,
    /// 11
    InvalidAuthCode,
    /// 13
    TrialAuthCodeExpired,
    /// 16
    TerminalNotActivated,
    /// 41
    CallLimitReached,
    /// 121
    QuotaFull,
    /// 122
    AccessTokenExpired,
    Unknown(i64),
}

const TABLE: &[(LingjuCode, i64, &str, &str, Action, bool)] = {
    use LingjuCode::*;
    &[
        (InvalidAppKey, 6,
         "灵聚 appkey 无效。请在配置里核对灵聚分配给你的 appkey。",
         "The Lingju appkey is not valid. Check the appkey Lingju gave you in the profile.",
         Action::CheckSecret, false),
        (ParameterError, 8,
         "参数错误。请检查设备 userid 是否正确(只能是字母和数字);如果确认无误,请反馈问题。",
         "A parameter was rejected. Check the device userid (letters and digits only); if it is right, please report it.",
         Action::EditInput, false),
        (InvalidAuthCode, 11,
         "灵聚授权码(authcode)无效。请在配置里核对授权码。",
         "The Lingju authcode is not valid. Check the authcode in the profile.",
         Action::CheckSecret, false),
        (TrialAuthCodeExpired, 13,
         "灵聚试用授权码已过期。请向灵聚申请正式授权码,并更新配置。",
         "The Lingju trial authcode has expired. Get a full authcode from Lingju and update the profile.",
         Action::CheckSecret, false),
        (TerminalNotActivated, 16,
         "这台设备(userid)在灵聚没有激活或登记。bltapi 方式需要事先把 userid 报给灵聚录入;请核对 userid 或联系灵聚。",
         "This device (userid) is not activated or registered at Lingju. For bltapi the userid must be registered with Lingju first: check the userid or contact Lingju.",
         Action::CheckLabel, false),
        (CallLimitReached, 41,
         "灵聚接口调用次数已达上限。请稍后再试,或联系灵聚提高额度;不要反复重试。",
         "The Lingju call limit is reached. Try again later or ask Lingju for a higher limit; do not keep retrying.",
         Action::RetryLater, false),
        (QuotaFull, 121,
         "灵聚授权数量已用完,无法再授权新设备。请联系灵聚增加授权数量。",
         "The Lingju authorization quota is used up; no new device can be authorized. Ask Lingju for more authorizations.",
         Action::None, false),
        (AccessTokenExpired, 122,
         "灵聚访问令牌已过期。请重新授权这台设备。",
         "The Lingju access token has expired. Authorize this device again.",
         Action::Reauthorize, false),
    ]
};

impl LingjuCode {
    pub fn known() -> impl Iterator<Item = LingjuCode> {
        TABLE.iter().map(|row| row.0)
    }

    pub fn from_code(code: i64) -> Self {
        TABLE
            .iter()
            .find(|row| row.1 == code)
            .map_or(LingjuCode::Unknown(code), |row| row.0)
    }

    pub fn code(self) -> i64 {
        match self {
            LingjuCode::Unknown(code) => code,
            known => known.row().map_or(-1, |r| r.1),
        }
    }

    fn row(self) -> Option<&'static (LingjuCode, i64, &'static str, &'static str, Action, bool)> {
        TABLE.iter().find(|row| row.0 == self)
    }

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

/// Why a Lingju authorize failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LingjuError {
    /// Lingju answered with a non-zero `status`; `server_message` is its redacted `description`.
    #[error("Lingju status {}: {server_message}", .code.code())]
    Api {
        code: LingjuCode,
        server_message: String,
    },
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Input(#[from] InputError),
}

impl LingjuError {
    /// True when the request may have been processed although no usable answer came back.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            LingjuError::Transport(t) => t.outcome_unknown(),
            LingjuError::Api { .. } | LingjuError::Input(_) => false,
        }
    }
}

impl Localized for LingjuError {
    fn kind(&self) -> &'static str {
        match self {
            LingjuError::Api { .. } => "api",
            LingjuError::Transport(t) => t.kind(),
            LingjuError::Input(i) => i.kind(),
        }
    }

    fn code(&self) -> Option<i64> {
        match self {
            LingjuError::Api { code, .. } => Some(code.code()),
            _ => None,
        }
    }

    fn message_zh(&self) -> String {
        match self {
            LingjuError::Api {
                code,
                server_message,
            } => api_error_zh("灵聚", code.code(), code.message_zh(), server_message),
            LingjuError::Transport(t) => t.message_zh(),
            LingjuError::Input(i) => i.message_zh(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            LingjuError::Api {
                code,
                server_message,
            } => api_error_en("Lingju", code.code(), code.message_en(), server_message),
            LingjuError::Transport(t) => t.message_en(),
            LingjuError::Input(i) => i.message_en(),
        }
    }

    fn action(&self) -> Action {
        match self {
            LingjuError::Api { code, .. } => code.action(),
            LingjuError::Transport(t) => t.action(),
            LingjuError::Input(i) => i.action(),
        }
    }

    fn retryable(&self) -> bool {
        match self {
            LingjuError::Api { code, .. } => code.retryable(),
            LingjuError::Transport(t) => t.retryable(),
            LingjuError::Input(i) => i.retryable(),
        }
    }
}

/// Talks to Lingju for one app. Cheap to clone.
#[derive(Clone)]
pub struct LingjuClient {
    cfg: LingjuConfig,
    http: reqwest::Client,
}

/// Leaves out the HTTP client: its Debug lists proxies, whose URLs may carry credentials.
impl fmt::Debug for LingjuClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LingjuClient")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl LingjuClient {
    pub fn new(cfg: LingjuConfig, http: reqwest::Client) -> Self {
        Self { cfg, http }
    }

    pub fn config(&self) -> &LingjuConfig {
        &self.cfg
    }

    /// Gets an access token for `userid`.
    pub async fn authorize(&self, userid: &UserId) -> Result<LingjuGrant, LingjuError> {
        check_base_url(&self.cfg.base_url, true)?;
        require_non_blank(Field::LingjuAppKey, self.cfg.appkey.is_blank())?;
        let mut form = vec![
            ("appkey", self.cfg.appkey.expose()),
            ("userid", userid.as_str()),
        ];
        let mut secrets = vec![self.cfg.appkey.expose()];
        if let (LingjuEndpoint::HttpApi, Some(authcode)) = (self.cfg.endpoint, &self.cfg.authcode) {
            require_non_blank(Field::LingjuAuthCode, authcode.is_blank())?;
            form.push(("authcode", authcode.expose()));
            secrets.push(authcode.expose());
        }
        let url = self.url();
        let host = host_of(&url);
        let redactor = Redactor::new(secrets);
        let reply = post_form(&self.http, url, &form, "status", &redactor).await?;
        parse_reply(&reply, &host, &redactor)
    }

    fn url(&self) -> Url {
        let mut url = self.cfg.base_url.clone();
        let path = format!(
            "{}{}",
            url.path().trim_end_matches('/'),
            self.cfg.endpoint.path()
        );
        url.set_path(&path);
        url
    }
}

fn unexpected(host: &str, what: &str) -> LingjuError {
    TransportError::new(TransportErrorKind::UnexpectedReply, host, what).into()
}

fn parse_reply(
    reply: &Value,
    host: &str,
    redactor: &Redactor<'_>,
) -> Result<LingjuGrant, LingjuError> {
    if !reply.is_object() {
        return Err(unexpected(host, "reply is not a JSON object"));
    }
    let status = field(reply, "status", int)
        .ok_or_else(|| unexpected(host, "reply has no numeric \"status\""))?;
    if status != 0 {
        let server_message = field(reply, "description", text)
            .map(|t| redactor.echo(&t))
            .unwrap_or_default();
        return Err(LingjuError::Api {
            code: LingjuCode::from_code(status),
            server_message,
        });
    }
    let data = reply
        .get("data")
        .ok_or_else(|| unexpected(host, "success without data"))?;
    let access_token = field(data, "accessToken", text)
        .ok_or_else(|| unexpected(host, "success without accessToken"))?;
    let expires_days =
        field(data, "expires", int).ok_or_else(|| unexpected(host, "success without expires"))?;
    if !(0..=MAX_EXPIRES_DAYS).contains(&expires_days) {
        return Err(unexpected(host, "expires out of range"));
    }
    let updated_ms = field(data, "update", int).or_else(|| field(data, "updated", int));
    Ok(LingjuGrant {
        access_token: LingjuAccessToken::new(access_token),
        expires_days,
        updated_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<LingjuGrant, LingjuError> {
        parse_reply(&v, "h", &Redactor::new(["APPKEYSECRET"]))
    }

    #[test]
    fn success_shapes() {
        let g = parse(json!({"status":0,"description":"success",
            "data":{"accessToken":"tok","expires":87,"update":1474000000000i64}}))
        .unwrap();
        assert_eq!(g.access_token.expose(), "tok");
        assert_eq!(g.expires_days, 87);
        assert_eq!(g.updated_ms, Some(1_474_000_000_000));
        let g =
            parse(json!({"status":"0","data":{"accessToken":"t","expires":"30","updated":"5"}}))
                .unwrap();
        assert_eq!((g.expires_days, g.updated_ms), (30, Some(5)));
        let g = parse(json!({"status":0,"data":{"accessToken":"t","expires":1}})).unwrap();
        assert_eq!(g.updated_ms, None);
    }

    #[test]
    fn errors_without_data() {
        for (reply, want) in [
            (
                json!({"status":6,"description":"appkey APPKEYSECRET invalid"}),
                LingjuCode::InvalidAppKey,
            ),
            (json!({"status":"121"}), LingjuCode::QuotaFull),
            (
                json!({"status":"122","data":null}),
                LingjuCode::AccessTokenExpired,
            ),
            (
                json!({"status":999,"description":"new"}),
                LingjuCode::Unknown(999),
            ),
        ] {
            let err = parse(reply).unwrap_err();
            assert!(
                matches!(err, LingjuError::Api { code, .. } if code == want),
                "{err:?}"
            );
            assert!(!format!("{err:?}{}{}", err.message_zh(), err.message_en())
                .contains("APPKEYSECRET"));
        }
        let err = parse(json!({"status":999,"description":"new thing"})).unwrap_err();
        assert!(err.message_zh().contains("999") && err.message_zh().contains("new thing"));
    }

    #[test]
    fn malformed_success_is_unexpected() {
        for reply in [
            json!({"status":0}),
            json!({"status":0,"data":{"expires":3}}),
            json!({"description":"x"}),
            json!("str"),
        ] {
            match parse(reply) {
                Err(LingjuError::Transport(t)) => {
                    assert_eq!(t.kind, TransportErrorKind::UnexpectedReply)
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn every_code_maps() {
        let documented = [6, 8, 11, 13, 16, 41, 121, 122];
        assert_eq!(LingjuCode::known().count(), documented.len());
        for n in documented {
            let c = LingjuCode::from_code(n);
            assert!(!matches!(c, LingjuCode::Unknown(_)));
            assert_eq!(c.code(), n);
            let e = LingjuError::Api {
                code: c,
                server_message: String::new(),
            };
            assert!(
                e.message_zh().contains(&n.to_string()) && e.message_en().contains(&n.to_string())
            );
            assert_eq!(e.code(), Some(n));
        }
        assert_eq!(LingjuCode::from_code(6).action(), Action::CheckSecret);
        assert_eq!(LingjuCode::from_code(16).action(), Action::CheckLabel);
        assert_eq!(LingjuCode::from_code(122).action(), Action::Reauthorize);
        assert_eq!(LingjuCode::from_code(5).action(), Action::ReportBug);
    }

    #[test]
    fn url_keeps_a_base_path_prefix() {
        let mk = |base: &str, endpoint| {
            LingjuClient::new(
                LingjuConfig {
                    base_url: Url::parse(base).unwrap(),
                    endpoint,
                    appkey: "k".into(),
                    authcode: None,
                },
                reqwest::Client::new(),
            )
            .url()
            .to_string()
        };
        assert_eq!(
            mk(LINGJU_DEFAULT_BASE, LingjuEndpoint::HttpApi),
            "https://dev.lingju.ai/httpapi/authorize.do"
        );
        assert_eq!(
            mk("http://127.0.0.1:9/lj/", LingjuEndpoint::BltApi),
            "http://127.0.0.1:9/lj/bltapi/authorize.do"
        );
    }

    #[test]
    fn extreme_expires_is_a_broken_reply_not_a_panic() {
        for expires in [
            json!(i64::MAX),
            json!(i64::MIN),
            json!(-1),
            json!(MAX_EXPIRES_DAYS + 1),
            json!("1e18"),
        ] {
            let err = parse(json!({"status":0,"data":{"accessToken":"t","expires":expires}}))
                .unwrap_err();
            assert!(err.outcome_unknown(), "{expires}: {err:?}");
        }
        let g = parse(json!({"status":0,"data":{"accessToken":"t","expires":MAX_EXPIRES_DAYS}}))
            .unwrap();
        assert_eq!(g.expires_days, MAX_EXPIRES_DAYS);
    }

    /// Like Yilianyun's sweep: extreme values in every field, no panic, and parsed lifetimes are in range.
    #[test]
    fn reply_parser_survives_a_sweep_of_extreme_values() {
        let values = [
            json!(0),
            json!(-1),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1e300),
            json!(-0.5),
            json!("9223372036854775808"),
            json!("1e18"),
            json!("NaN"),
            json!(""),
            json!(null),
            json!(false),
            json!([0]),
            json!({"a": 1}),
            json!(87),
            json!("30"),
            json!(MAX_EXPIRES_DAYS),
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % values.len() as u64) as usize
        };
        for _ in 0..20_000 {
            let reply = json!({
                "status": values[next()].clone(),
                "description": values[next()].clone(),
                "data": {"accessToken": values[next()].clone(), "expires": values[next()].clone(),
                         "update": values[next()].clone()},
            });
            if let Ok(g) = parse(reply) {
                assert!((0..=MAX_EXPIRES_DAYS).contains(&g.expires_days));
            }
        }
    }
}
