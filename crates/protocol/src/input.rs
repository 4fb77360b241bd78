//! Validated inputs we send (machine code, Lingju userid, the label's device key, print origin id, server base
//! URLs) and what is wrong with them when they are not acceptable.
//!
//! These parsers are the one validator for every entry point (label scan, manual entry, command line): a value
//! one of them accepts is accepted by all of them.

use crate::localized::{Action, Localized};
use crate::secret::{Msign, QrKey};
use crate::yilianyun::DeviceKey;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use url::{Host, Url};

/// Which input a validation error is about; gives the zh/en names used in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    MachineCode,
    UserId,
    OriginId,
    PrintContent,
    QrKey,
    Msign,
    AuthorizationCode,
    ClientId,
    ClientSecret,
    AccessToken,
    RefreshToken,
    LingjuAppKey,
    LingjuAuthCode,
    BaseUrl,
    RedirectUri,
}

impl Field {
    fn zh(self) -> &'static str {
        match self {
            Field::MachineCode => "终端号(machine_code)",
            Field::UserId => "设备 userid",
            Field::OriginId => "订单号(origin_id)",
            Field::PrintContent => "打印内容",
            Field::QrKey => "特殊密钥(qr_key)",
            Field::Msign => "终端密钥(msign)",
            Field::AuthorizationCode => "授权码(code)",
            Field::ClientId => "应用 ID(client_id)",
            Field::ClientSecret => "应用密钥(client_secret)",
            Field::AccessToken => "访问令牌(access_token)",
            Field::RefreshToken => "刷新令牌(refresh_token)",
            Field::LingjuAppKey => "灵聚 appkey",
            Field::LingjuAuthCode => "灵聚授权码(authcode)",
            Field::BaseUrl => "服务器地址",
            Field::RedirectUri => "回调地址(redirect_uri)",
        }
    }

    fn en(self) -> &'static str {
        match self {
            Field::MachineCode => "The machine code (machine_code)",
            Field::UserId => "The device userid",
            Field::OriginId => "The order id (origin_id)",
            Field::PrintContent => "The print content",
            Field::QrKey => "The QR key (qr_key)",
            Field::Msign => "The device key (msign)",
            Field::AuthorizationCode => "The authorization code",
            Field::ClientId => "The app id (client_id)",
            Field::ClientSecret => "The app secret (client_secret)",
            Field::AccessToken => "The access token",
            Field::RefreshToken => "The refresh token",
            Field::LingjuAppKey => "The Lingju appkey",
            Field::LingjuAuthCode => "The Lingju authcode",
            Field::BaseUrl => "The server address",
            Field::RedirectUri => "The redirect URI",
        }
    }

    /// Allowed characters, said plainly (only for fields whose characters we check and may show).
    fn rule(self) -> (&'static str, &'static str) {
        match self {
            Field::MachineCode => (
                "终端号只能由数字组成(见打印机底部标签或“本机信息”页)",
                "a machine code has digits only (see the label under the printer or its device-info page)",
            ),
            Field::UserId => (
                "userid 只能包含英文字母和数字;形如 AA:BB:CC:DD:EE:FF 的 MAC 地址会自动去掉分隔符",
                "a userid has letters and digits only; a MAC address written like AA:BB:CC:DD:EE:FF has its separators removed automatically",
            ),
            Field::OriginId => ("订单号只能包含英文字母和数字", "an order id has letters and digits only"),
            Field::QrKey | Field::Msign => (
                "密钥只能包含英文字母、数字和 - _ . ~ 这四个符号,不能有空格;请对照打印机标签重新输入",
                "a key has only letters, digits and the four symbols - _ . ~, no spaces; copy it again from the printer's label",
            ),
            _ => ("", ""),
        }
    }
}

/// Why a server base URL is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseUrlProblem {
    /// Not http or https.
    Scheme,
    /// No host name.
    NoHost,
    /// `user:password@` in the URL: it would end up in error messages.
    UserInfo,
    /// A path after the host (the client adds `/v2` itself).
    Path,
    /// A `?query` or `#fragment`.
    QueryOrFragment,
    /// Plain http to a host that is not this computer: tokens would travel unencrypted.
    PlainHttpRemote,
    /// The alternative mainland host serves API v2 only.
    AltHostNeedsV2,
}

/// An input that cannot be sent as it is. Messages name the field and the rule, never a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{} is empty", .field.en())]
    Empty { field: Field },
    #[error("{} is too long: {len} characters, at most {max}", .field.en())]
    TooLong {
        field: Field,
        len: usize,
        max: usize,
    },
    #[error("{} contains {ch:?} at position {position}", .field.en())]
    InvalidChar {
        field: Field,
        ch: char,
        position: usize,
    },
    /// A character a secret may not contain. Unlike [`InputError::InvalidChar`] it never holds the character
    /// itself (a key is secret, and its characters with it), only where it is and what sort it is.
    #[error("{} has a character that is not allowed at position {position} ({})", .field.en(), .class.en())]
    InvalidSecretChar {
        field: Field,
        position: usize,
        class: CharClass,
    },
    #[error("the server address is not usable: {problem:?}")]
    BaseUrl { problem: BaseUrlProblem },
}

/// What sort of character was refused in a secret, so the message can help without showing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    /// A space, tab or other whitespace (often a copy-paste artefact).
    Whitespace,
    /// An invisible control character.
    Control,
    /// Anything outside ASCII: a full-width or Chinese character, an accented letter, an emoji.
    NonAscii,
    /// An ASCII symbol other than `- _ . ~`.
    Symbol,
}

impl CharClass {
    fn of(c: char) -> Self {
        if c.is_whitespace() {
            CharClass::Whitespace
        } else if c.is_control() {
            CharClass::Control
        } else if !c.is_ascii() {
            CharClass::NonAscii
        } else {
            CharClass::Symbol
        }
    }

    fn zh(self) -> &'static str {
        match self {
            CharClass::Whitespace => "空格或制表符",
            CharClass::Control => "不可见的控制字符",
            CharClass::NonAscii => "中文、全角或其他非英文字符",
            CharClass::Symbol => "不允许的符号",
        }
    }

    fn en(self) -> &'static str {
        match self {
            CharClass::Whitespace => "a space or tab",
            CharClass::Control => "an invisible control character",
            CharClass::NonAscii => "a Chinese, full-width or other non-English character",
            CharClass::Symbol => "a symbol that is not allowed",
        }
    }
}

impl Localized for InputError {
    fn kind(&self) -> &'static str {
        "invalid_input"
    }

    fn message_zh(&self) -> String {
        match self {
            InputError::Empty { field } => format!("{}为空,请填写后再试。", field.zh()),
            InputError::TooLong { field, len, max } => {
                format!(
                    "{}太长:{len} 个字符,最多 {max} 个。请检查后重新输入。",
                    field.zh()
                )
            }
            InputError::InvalidChar {
                field,
                ch,
                position,
            } => format!(
                "{}的第 {position} 个字符“{}”不允许:{}。请改正后再试。",
                field.zh(),
                ch.escape_debug(),
                field.rule().0
            ),
            InputError::InvalidSecretChar {
                field,
                position,
                class,
            } => format!(
                "{}的第 {position} 个字符是{},不允许:{}。",
                field.zh(),
                class.zh(),
                field.rule().0
            ),
            InputError::BaseUrl { problem } => match problem {
                BaseUrlProblem::Scheme => {
                    "服务器地址必须以 https:// 开头(本机测试可用 http://)。".into()
                }
                BaseUrlProblem::NoHost => {
                    "服务器地址缺少主机名,格式应为 https://主机名:端口。".into()
                }
                BaseUrlProblem::UserInfo => {
                    "服务器地址里不能包含用户名或密码(user:pass@),请删掉这一部分。".into()
                }
                BaseUrlProblem::Path => {
                    "服务器地址只填 https://主机名:端口,不要带路径(v2 的 /v2 会自动加上)。".into()
                }
                BaseUrlProblem::QueryOrFragment => {
                    "服务器地址不能带 ? 或 # 后面的部分,请删掉。".into()
                }
                BaseUrlProblem::PlainHttpRemote => {
                    "非本机的服务器必须用 https://,否则令牌会以明文传输。请改用 https 地址。".into()
                }
                BaseUrlProblem::AltHostNeedsV2 => {
                    "备用大陆节点(cloud-open-api.10ss.net)只提供 API v2,请把接口版本改为 v2。"
                        .into()
                }
            },
        }
    }

    fn message_en(&self) -> String {
        match self {
            InputError::Empty { field } => format!("{} is empty: fill it in and try again.", field.en()),
            InputError::TooLong { field, len, max } => {
                format!("{} is too long: {len} characters, at most {max}. Check it and enter it again.", field.en())
            }
            InputError::InvalidChar { field, ch, position } => format!(
                "{} has a character that is not allowed at position {position}: \"{}\" ({}). Correct it and try again.",
                field.en(),
                ch.escape_debug(),
                field.rule().1
            ),
            InputError::InvalidSecretChar { field, position, class } => format!(
                "{} has {} at position {position}, which is not allowed: {}.",
                field.en(),
                class.en(),
                field.rule().1
            ),
            InputError::BaseUrl { problem } => match problem {
                BaseUrlProblem::Scheme => {
                    "The server address must start with https:// (http:// only for a server on this computer).".into()
                }
                BaseUrlProblem::NoHost => "The server address has no host name; use https://host:port.".into(),
                BaseUrlProblem::UserInfo => {
                    "The server address must not contain a user name or password (user:pass@); remove that part."
                        .into()
                }
                BaseUrlProblem::Path => {
                    "Enter only https://host:port as the server address, without a path (/v2 is added automatically)."
                        .into()
                }
                BaseUrlProblem::QueryOrFragment => {
                    "The server address must not have a ?query or #fragment; remove it.".into()
                }
                BaseUrlProblem::PlainHttpRemote => {
                    "A server that is not on this computer must use https://, otherwise tokens travel in clear text."
                        .into()
                }
                BaseUrlProblem::AltHostNeedsV2 => {
                    "The alternative mainland host (cloud-open-api.10ss.net) serves API v2 only: switch the API version to v2."
                        .into()
                }
            },
        }
    }

    fn action(&self) -> Action {
        Action::EditInput
    }
}

/// Checks the characters of a non-secret field one by one, so the error can say which one is wrong.
fn check_chars(
    field: Field,
    value: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), InputError> {
    if value.is_empty() {
        return Err(InputError::Empty { field });
    }
    if let Some((i, ch)) = value.chars().enumerate().find(|&(_, c)| !allowed(c)) {
        return Err(InputError::InvalidChar {
            field,
            ch,
            position: i + 1,
        });
    }
    let len = value.chars().count();
    if len > max {
        return Err(InputError::TooLong { field, len, max });
    }
    Ok(())
}

/// Rejects an empty secret without ever looking at (or printing) its characters.
pub(crate) fn require_non_blank(field: Field, blank: bool) -> Result<(), InputError> {
    if blank {
        Err(InputError::Empty { field })
    } else {
        Ok(())
    }
}

/// Longest device key accepted (the QR parser's bound too); real labels carry 11–24 characters.
pub const MAX_DEVICE_KEY_LEN: usize = 128;

/// True for the characters a device key may hold. The key format is not documented (protocol.md), so this is
/// the URL-unreserved set, which covers every key shape seen on labels and in examples.
pub fn is_device_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')
}

/// Checks a device key (`qr_key` or `msign`, given by `field`) exactly as it would be sent: not blank, only
/// [`is_device_key_char`] characters, at most [`MAX_DEVICE_KEY_LEN`]. Errors never contain a character of it.
pub fn check_device_key(field: Field, key: &str) -> Result<(), InputError> {
    if key.trim().is_empty() {
        return Err(InputError::Empty { field });
    }
    if let Some((i, c)) = key
        .chars()
        .enumerate()
        .find(|&(_, c)| !is_device_key_char(c))
    {
        return Err(InputError::InvalidSecretChar {
            field,
            position: i + 1,
            class: CharClass::of(c),
        });
    }
    let len = key.chars().count();
    if len > MAX_DEVICE_KEY_LEN {
        return Err(InputError::TooLong {
            field,
            len,
            max: MAX_DEVICE_KEY_LEN,
        });
    }
    Ok(())
}

impl DeviceKey {
    /// The one way to turn typed, pasted, piped or scanned text into a `qr_key`: surrounding whitespace is
    /// dropped, then [`check_device_key`] applies.
    pub fn parse_qr_key(input: &str) -> Result<Self, InputError> {
        let key = input.trim();
        check_device_key(Field::QrKey, key)?;
        Ok(DeviceKey::QrKey(QrKey::new(key)))
    }

    /// As [`DeviceKey::parse_qr_key`], for the permanent `msign`.
    pub fn parse_msign(input: &str) -> Result<Self, InputError> {
        let key = input.trim();
        check_device_key(Field::Msign, key)?;
        Ok(DeviceKey::Msign(Msign::new(key)))
    }
}

/// A Yilianyun printer terminal number: ASCII digits, 1..=32 chars. Not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MachineCode(String);

impl MachineCode {
    pub const MAX_LEN: usize = 32;

    /// Accepts surrounding whitespace and full-width digits (a Chinese IME types those), nothing else.
    pub fn parse(input: &str) -> Result<Self, InputError> {
        let normalised: String = input
            .trim()
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                other => other,
            })
            .collect();
        check_chars(Field::MachineCode, &normalised, Self::MAX_LEN, |c| {
            c.is_ascii_digit()
        })?;
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MachineCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for MachineCode {
    type Error = InputError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MachineCode> for String {
    fn from(value: MachineCode) -> Self {
        value.0
    }
}

impl std::str::FromStr for MachineCode {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A Lingju device userid: `[A-Za-z0-9]+`, at most 64 chars. Not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 64;

    /// A MAC address written with `:`, `-`, `.` or space separators (`AA:BB:CC:DD:EE:FF`, `aabb.ccdd.eeff`, 8-group
    /// EUI-64) becomes its hex digits without separators. Case is kept as typed: Lingju compares userids as given,
    /// and a bltapi userid must match what was registered. Anything else must already be letters and digits.
    pub fn parse(input: &str) -> Result<Self, InputError> {
        let trimmed = input.trim();
        let value = strip_mac_separators(trimmed).unwrap_or_else(|| trimmed.to_owned());
        check_chars(Field::UserId, &value, Self::MAX_LEN, |c| {
            c.is_ascii_alphanumeric()
        })?;
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Returns the MAC without separators when `s` is MAC-shaped with one consistent separator; `None` otherwise, so
/// a stray `-` in a non-MAC id is reported instead of silently removed.
fn strip_mac_separators(s: &str) -> Option<String> {
    let sep = s.chars().find(|c| matches!(c, ':' | '-' | '.' | ' '))?;
    let groups: Vec<&str> = s.split(sep).collect();
    let hex = |g: &&str| !g.is_empty() && g.chars().all(|c| c.is_ascii_hexdigit());
    let shaped = match groups.len() {
        6 | 8 => groups.iter().all(|g| g.len() == 2 && hex(g)),
        3 | 4 => groups.iter().all(|g| g.len() == 4 && hex(g)),
        _ => false,
    };
    shaped.then(|| groups.concat())
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UserId {
    type Error = InputError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> Self {
        value.0
    }
}

impl std::str::FromStr for UserId {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Checks a print order id: letters and digits, at most `max` (32 for v1, 64 for v2).
pub(crate) fn check_origin_id(origin_id: &str, max: usize) -> Result<(), InputError> {
    check_chars(Field::OriginId, origin_id, max, |c| {
        c.is_ascii_alphanumeric()
    })
}

/// True for 127.0.0.0/8, ::1 and `localhost`: the only hosts plain http is acceptable for.
pub(crate) fn is_loopback_host(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    }
}

/// Validates a server base URL: http(s), a host, no credentials, no query/fragment, https unless loopback.
/// With `allow_path == false` the path must be empty or `/`.
pub(crate) fn check_base_url(url: &Url, allow_path: bool) -> Result<(), InputError> {
    let problem = |problem| Err(InputError::BaseUrl { problem });
    if url.scheme() != "https" && url.scheme() != "http" {
        return problem(BaseUrlProblem::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return problem(BaseUrlProblem::UserInfo);
    }
    if url.host().is_none() {
        return problem(BaseUrlProblem::NoHost);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return problem(BaseUrlProblem::QueryOrFragment);
    }
    if !allow_path && !url.path().is_empty() && url.path() != "/" {
        return problem(BaseUrlProblem::Path);
    }
    if url.scheme() == "http" && !is_loopback_host(url.host()) {
        return problem(BaseUrlProblem::PlainHttpRemote);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_code_accepts_digits_only() {
        assert_eq!(
            MachineCode::parse("4004123456").unwrap().as_str(),
            "4004123456"
        );
        assert_eq!(
            MachineCode::parse("  4004123456\n").unwrap().as_str(),
            "4004123456"
        );
        assert_eq!(MachineCode::parse("４００４１").unwrap().as_str(), "40041");
        assert_eq!(MachineCode::parse("1").unwrap().as_str(), "1");
        assert!(MachineCode::parse(&"9".repeat(32)).is_ok());
        assert_eq!(
            MachineCode::parse(&"9".repeat(33)),
            Err(InputError::TooLong {
                field: Field::MachineCode,
                len: 33,
                max: 32
            })
        );
        assert_eq!(
            MachineCode::parse("  "),
            Err(InputError::Empty {
                field: Field::MachineCode
            })
        );
        assert_eq!(
            MachineCode::parse("4004 12"),
            Err(InputError::InvalidChar {
                field: Field::MachineCode,
                ch: ' ',
                position: 5
            })
        );
        let err = MachineCode::parse("40041x").unwrap_err();
        assert!(
            err.message_zh().contains("第 6 个字符“x”"),
            "{}",
            err.message_zh()
        );
        assert!(
            err.message_en().contains("position 6"),
            "{}",
            err.message_en()
        );
        assert_eq!(err.action(), Action::EditInput);
    }

    #[test]
    fn machine_code_serde_validates() {
        let mc: MachineCode = serde_json::from_str("\"4004000001\"").unwrap();
        assert_eq!(serde_json::to_string(&mc).unwrap(), "\"4004000001\"");
        assert!(serde_json::from_str::<MachineCode>("\"40a\"").is_err());
    }

    #[test]
    fn user_id_normalises_mac_separators() {
        for (input, want) in [
            ("AA:BB:cc:dd:EE:ff", "AABBccddEEff"),
            ("aa-bb-cc-dd-ee-ff", "aabbccddeeff"),
            ("aabb.ccdd.eeff", "aabbccddeeff"),
            ("AA BB CC DD EE FF", "AABBCCDDEEFF"),
            ("00:11:22:33:44:55:66:77", "0011223344556677"),
            ("  001122334455 ", "001122334455"),
            ("device42", "device42"),
        ] {
            assert_eq!(UserId::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn user_id_rejects_non_mac_separators_and_bad_chars() {
        // Not MAC-shaped: the dash is reported, not silently removed.
        assert_eq!(
            UserId::parse("shop-12"),
            Err(InputError::InvalidChar {
                field: Field::UserId,
                ch: '-',
                position: 5
            })
        );
        // Mixed separators are not a MAC either.
        assert!(UserId::parse("aa:bb-cc:dd:ee:ff").is_err());
        // Non-hex group is not a MAC.
        assert!(UserId::parse("zz:bb:cc:dd:ee:ff").is_err());
        assert!(matches!(
            UserId::parse("设备1"),
            Err(InputError::InvalidChar { position: 1, .. })
        ));
        assert_eq!(
            UserId::parse(""),
            Err(InputError::Empty {
                field: Field::UserId
            })
        );
        assert!(UserId::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            UserId::parse(&"a".repeat(65)),
            Err(InputError::TooLong {
                field: Field::UserId,
                len: 65,
                max: 64
            })
        );
    }

    #[test]
    fn device_keys_accept_the_url_unreserved_set_only() {
        for good in [
            "qk-77aa88bb99cc",
            "0123456789abcdef",
            "a1b2c3d4e5f6",
            "Ab.c_D~e-9",
        ] {
            assert!(DeviceKey::parse_qr_key(good).is_ok(), "{good}");
            assert!(DeviceKey::parse_msign(good).is_ok(), "{good}");
        }
        // Surrounding whitespace (a pasted line, a piped "\n") is dropped before the check.
        match DeviceKey::parse_msign("  a1b2c3d4e5f6\r\n").unwrap() {
            DeviceKey::Msign(m) => assert_eq!(m.expose(), "a1b2c3d4e5f6"),
            other => panic!("{other:?}"),
        }
        assert!(DeviceKey::parse_qr_key(&"k".repeat(MAX_DEVICE_KEY_LEN)).is_ok());
        assert_eq!(
            DeviceKey::parse_qr_key(&"k".repeat(MAX_DEVICE_KEY_LEN + 1)).unwrap_err(),
            InputError::TooLong {
                field: Field::QrKey,
                len: MAX_DEVICE_KEY_LEN + 1,
                max: MAX_DEVICE_KEY_LEN
            }
        );
        for blank in ["", "   ", "\t\n"] {
            assert_eq!(
                DeviceKey::parse_msign(blank).unwrap_err(),
                InputError::Empty {
                    field: Field::Msign
                }
            );
        }
        let refused = |key: &str| match DeviceKey::parse_qr_key(key) {
            Err(InputError::InvalidSecretChar {
                field: Field::QrKey,
                position,
                class,
            }) => (position, class),
            other => panic!("{key:?}: {other:?}"),
        };
        assert_eq!(refused("ab cd"), (3, CharClass::Whitespace));
        assert_eq!(refused("ab\u{3000}cd"), (3, CharClass::Whitespace));
        assert_eq!(refused("abc\u{7}"), (4, CharClass::Control));
        assert_eq!(refused("密钥abc"), (1, CharClass::NonAscii));
        assert_eq!(refused("ab\u{200b}cd"), (3, CharClass::NonAscii));
        assert_eq!(refused("ab#cd"), (3, CharClass::Symbol));
        assert_eq!(refused("a+b"), (2, CharClass::Symbol));
        // A key built from its variants directly gets the same check before it is sent.
        assert_eq!(
            DeviceKey::Msign(Msign::new("ab cd")).check(),
            Err(InputError::InvalidSecretChar {
                field: Field::Msign,
                position: 3,
                class: CharClass::Whitespace
            })
        );
        assert!(DeviceKey::QrKey(QrKey::new("qk-77aa88bb99cc"))
            .check()
            .is_ok());
    }

    #[test]
    fn device_key_errors_never_echo_a_character_of_the_key() {
        let texts = |e: &InputError| {
            [
                e.message_zh(),
                e.message_en(),
                e.to_string(),
                format!("{e:?}"),
            ]
        };
        // Each bad character appears in no message template, so finding it would mean it was echoed.
        let bad = [
            '#', '@', '%', '!', '=', '秘', '€', 'é', '\u{7}', '\u{1b}', '\u{200b}',
        ];
        for c in bad {
            for key in [
                format!("Zq9{c}Wx7Vy5"),
                format!("{c}Zq9Wx7Vy5"),
                format!("Zq9Wx7Vy5{c}"),
            ] {
                for e in [
                    DeviceKey::parse_qr_key(&key).unwrap_err(),
                    DeviceKey::parse_msign(&key).unwrap_err(),
                ] {
                    for text in texts(&e) {
                        assert!(!text.contains(c), "{:?} echoed in {text}", c.escape_debug());
                        for window in key.as_bytes().windows(4) {
                            let window = String::from_utf8_lossy(window);
                            assert!(!text.contains(&*window), "{window:?} echoed in {text}");
                        }
                    }
                }
            }
        }
        // Two keys that differ only in the refused character (same class) give the very same messages.
        let a = DeviceKey::parse_msign("Zq9#Wx7").unwrap_err();
        let b = DeviceKey::parse_msign("Zq9@Wx7").unwrap_err();
        assert_eq!(texts(&a), texts(&b));
        assert!(a.message_zh().contains("第 4 个字符") && a.message_en().contains("position 4"));
        assert_eq!(a.action(), Action::EditInput);
        // The old character-echoing variant is still what non-secret fields get (the user needs to see it).
        assert!(matches!(
            MachineCode::parse("40#1"),
            Err(InputError::InvalidChar { ch: '#', .. })
        ));
    }

    #[test]
    fn origin_id_rules() {
        assert!(check_origin_id("abc123", 32).is_ok());
        assert!(check_origin_id(&"a".repeat(32), 32).is_ok());
        assert!(check_origin_id(&"a".repeat(33), 32).is_err());
        assert!(check_origin_id(&"a".repeat(64), 64).is_ok());
        assert!(check_origin_id("ab_c", 64).is_err());
        assert!(check_origin_id("", 64).is_err());
    }

    #[test]
    fn base_url_rules() {
        let ok = |s: &str| check_base_url(&Url::parse(s).unwrap(), false);
        assert!(ok("https://open-api.10ss.net").is_ok());
        assert!(ok("https://example.com:8443/").is_ok());
        assert!(ok("http://127.0.0.1:8080").is_ok());
        assert!(ok("http://[::1]:8080").is_ok());
        assert!(ok("http://localhost:1").is_ok());
        let bad = |s: &str| match ok(s) {
            Err(InputError::BaseUrl { problem }) => problem,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(bad("http://example.com"), BaseUrlProblem::PlainHttpRemote);
        assert_eq!(bad("https://u:p@example.com"), BaseUrlProblem::UserInfo);
        assert_eq!(bad("https://example.com/v2"), BaseUrlProblem::Path);
        assert_eq!(
            bad("https://example.com/?a=1"),
            BaseUrlProblem::QueryOrFragment
        );
        assert_eq!(bad("ftp://example.com"), BaseUrlProblem::Scheme);
        assert!(check_base_url(&Url::parse("https://example.com/prefix").unwrap(), true).is_ok());
        let e = InputError::BaseUrl {
            problem: BaseUrlProblem::UserInfo,
        };
        assert!(!e.message_zh().is_empty() && !e.message_en().is_empty());
    }
}
