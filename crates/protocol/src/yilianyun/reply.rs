//! What Yilianyun replies, read tolerantly: v1 (`"error":"0"`, numbers as strings) and v2 (`"error":0`).

use super::codes::ApiCode;
use super::error::YilianyunError;
use crate::http::{Redactor, TransportError, TransportErrorKind};
use crate::lenient::{field, int, text, uint};
use crate::secret::{AccessToken, RefreshToken};
use serde::Serialize;
use serde_json::Value;

/// A granted or refreshed token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub access_token: AccessToken,
    pub refresh_token: RefreshToken,
    /// Seconds the access token lives (2592000 = 30 days in practice).
    pub expires_in: u64,
    /// Seconds the refresh token lives, when the server says (v2); v1 documents 35 days without sending it.
    pub refresh_expires_in: Option<u64>,
    /// The printer the token is for, when the reply names it (code flow, v2).
    pub machine_code: Option<String>,
    /// Granted scope as sent by the server ("all"); empty if the reply has none.
    pub scope: String,
}

/// A printer's connection state from `/printer/getprintstatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterState {
    /// 0
    Offline,
    /// 1
    Online,
    /// 2
    OutOfPaper,
    /// Any other value, kept.
    Unknown(i64),
}

impl PrinterState {
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => PrinterState::Offline,
            1 => PrinterState::Online,
            2 => PrinterState::OutOfPaper,
            other => PrinterState::Unknown(other),
        }
    }

    pub fn code(self) -> i64 {
        match self {
            PrinterState::Offline => 0,
            PrinterState::Online => 1,
            PrinterState::OutOfPaper => 2,
            PrinterState::Unknown(c) => c,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            PrinterState::Offline => "离线(状态可能延迟 30 秒到 5 分钟)",
            PrinterState::Online => "在线",
            PrinterState::OutOfPaper => "缺纸",
            PrinterState::Unknown(_) => "未知状态",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            PrinterState::Offline => "offline (may be reported 30 s to 5 min late)",
            PrinterState::Online => "online",
            PrinterState::OutOfPaper => "out of paper",
            PrinterState::Unknown(_) => "unknown state",
        }
    }
}

/// Model and firmware from `/printer/getversion`; the model name is in `software` (e.g. "K4-WAD").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrinterVersion {
    pub hardware: String,
    pub software: String,
}

/// Model and print width from `/printer/printinfo` (shape only seen once: both optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrintInfo {
    pub version: Option<String>,
    /// e.g. "58mm"
    pub print_width: Option<String>,
}

/// An accepted print job; `id` is a string in v1 and a number in v2, kept as a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrintJob {
    pub id: String,
    pub origin_id: Option<String>,
}

/// The longest token lifetime a reply may state (10 years; Yilianyun issues 30 and 35 days).
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

fn unexpected(host: &str, what: &str) -> YilianyunError {
    TransportError::new(TransportErrorKind::UnexpectedReply, host, what).into()
}

/// Splits the envelope: `Ok(body)` for error 0 (body is `Null` if absent), the typed API error otherwise.
pub(crate) fn open_envelope(
    reply: Value,
    host: &str,
    redactor: &Redactor<'_>,
) -> Result<Value, YilianyunError> {
    if !reply.is_object() {
        return Err(unexpected(host, "reply is not a JSON object"));
    }
    let code = field(&reply, "error", int)
        .ok_or_else(|| unexpected(host, "reply has no numeric \"error\""))?;
    if code != 0 {
        let server_message = field(&reply, "error_description", text)
            .map(|t| redactor.echo(&t))
            .unwrap_or_default();
        return Err(YilianyunError::Api {
            code: ApiCode::from_code(code),
            server_message,
        });
    }
    let mut reply = reply;
    Ok(reply
        .get_mut("body")
        .map(Value::take)
        .unwrap_or(Value::Null))
}

pub(crate) fn token_grant(body: &Value, host: &str) -> Result<TokenGrant, YilianyunError> {
    let access_token = field(body, "access_token", text)
        .ok_or_else(|| unexpected(host, "success without access_token"))?;
    let refresh_token = field(body, "refresh_token", text)
        .ok_or_else(|| unexpected(host, "success without refresh_token"))?;
    let expires_in = field(body, "expires_in", uint)
        .ok_or_else(|| unexpected(host, "success without expires_in"))?;
    // A lifetime nobody issues (30 days is the documented one) is a broken reply, not a date to compute with.
    let lifetime = |secs: u64, what: &str| {
        if secs <= MAX_TOKEN_LIFETIME_SECS {
            Ok(secs)
        } else {
            Err(unexpected(host, &format!("{what} out of range")))
        }
    };
    let expires_in = lifetime(expires_in, "expires_in")?;
    let refresh_expires_in = field(body, "refresh_expires_in", uint)
        .map(|s| lifetime(s, "refresh_expires_in"))
        .transpose()?;
    Ok(TokenGrant {
        access_token: AccessToken::new(access_token),
        refresh_token: RefreshToken::new(refresh_token),
        expires_in,
        refresh_expires_in,
        machine_code: field(body, "machine_code", text),
        scope: field(body, "scope", text).unwrap_or_default(),
    })
}

pub(crate) fn printer_state(body: &Value, host: &str) -> Result<PrinterState, YilianyunError> {
    field(body, "state", int)
        .map(PrinterState::from_code)
        .ok_or_else(|| unexpected(host, "status reply without state"))
}

pub(crate) fn printer_version(body: &Value, host: &str) -> Result<PrinterVersion, YilianyunError> {
    let hardware = field(body, "hardware", text);
    let software = field(body, "software", text);
    if hardware.is_none() && software.is_none() {
        return Err(unexpected(host, "version reply without hardware/software"));
    }
    Ok(PrinterVersion {
        hardware: hardware.unwrap_or_default(),
        software: software.unwrap_or_default(),
    })
}

pub(crate) fn print_info(body: &Value) -> PrintInfo {
    PrintInfo {
        version: field(body, "version", text),
        print_width: field(body, "print_width", text),
    }
}

pub(crate) fn print_job(body: &Value, host: &str) -> Result<PrintJob, YilianyunError> {
    let id = field(body, "id", text).ok_or_else(|| unexpected(host, "print reply without id"))?;
    Ok(PrintJob {
        id,
        origin_id: field(body, "origin_id", text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localized::Localized;
    use serde_json::json;

    fn open(v: Value) -> Result<Value, YilianyunError> {
        open_envelope(v, "h", &Redactor::new(["SECRETVALUE"]))
    }

    #[test]
    fn v1_token_reply_with_strings() {
        let body = open(json!({"error":"0","error_description":"success","body":{
            "access_token":"at1","refresh_token":"rt1","expires_in":"2592000","scope":"all"}}))
        .unwrap();
        let g = token_grant(&body, "h").unwrap();
        assert_eq!(g.access_token.expose(), "at1");
        assert_eq!(g.refresh_token.expose(), "rt1");
        assert_eq!(g.expires_in, 2_592_000);
        assert_eq!(g.refresh_expires_in, None);
        assert_eq!(g.machine_code, None);
        assert_eq!(g.scope, "all");
    }

    #[test]
    fn v2_token_reply_with_numbers() {
        let body = open(json!({"error":0,"error_description":"success","timestamp":1700000000,"body":{
            "access_token":"at2","refresh_token":"rt2","expires_in":2592000,"refresh_expires_in":3024000,
            "machine_code":4004123456u64,"client_id":"1000","scope":"all"}}))
        .unwrap();
        let g = token_grant(&body, "h").unwrap();
        assert_eq!(g.expires_in, 2_592_000);
        assert_eq!(g.refresh_expires_in, Some(3_024_000));
        assert_eq!(g.machine_code.as_deref(), Some("4004123456"));
    }

    #[test]
    fn error_string_and_number_map_to_codes() {
        for (reply, want) in [
            (
                json!({"error":"41","error_description":"limit"}),
                ApiCode::DailyLimitExceeded,
            ),
            (
                json!({"error":41,"error_description":"limit"}),
                ApiCode::DailyLimitExceeded,
            ),
            (
                json!({"error":"18","error_description":"x","body":[]}),
                ApiCode::AccessTokenExpired,
            ),
            (
                json!({"error":99,"error_description":"new thing"}),
                ApiCode::Unknown(99),
            ),
        ] {
            match open(reply) {
                Err(YilianyunError::Api { code, .. }) => assert_eq!(code, want),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unknown_code_keeps_number_and_redacted_server_text() {
        let err =
            open(json!({"error":"77","error_description":"odd SECRETVALUE echo"})).unwrap_err();
        assert_eq!(err.code(), Some(77));
        assert!(
            err.message_zh().contains("77") && err.message_zh().contains("odd *** echo"),
            "{}",
            err.message_zh()
        );
        assert!(err.message_en().contains("77") && err.message_en().contains("odd *** echo"));
        assert!(!format!("{err:?}").contains("SECRETVALUE"));
        assert_eq!(err.action(), crate::Action::ReportBug);
    }

    #[test]
    fn malformed_envelopes_are_unexpected_reply() {
        for reply in [
            json!([1, 2]),
            json!({"body":{}}),
            json!({"error":"x"}),
            json!({"error":null}),
        ] {
            match open(reply) {
                Err(YilianyunError::Transport(t)) => {
                    assert_eq!(t.kind, TransportErrorKind::UnexpectedReply);
                    assert!(t.outcome_unknown());
                }
                other => panic!("{other:?}"),
            }
        }
        // Success without the tokens: the grant may have happened, so the outcome is unknown.
        let body = open(json!({"error":0,"body":{"access_token":"a"}})).unwrap();
        let err = token_grant(&body, "h").unwrap_err();
        assert!(err.outcome_unknown());
    }

    #[test]
    fn printer_replies_v1_and_v2() {
        assert_eq!(
            printer_state(&json!({"state":"1"}), "h").unwrap(),
            PrinterState::Online
        );
        assert_eq!(
            printer_state(&json!({"machine_code":"4004","state":2}), "h").unwrap(),
            PrinterState::OutOfPaper
        );
        assert_eq!(
            printer_state(&json!({"state":0}), "h").unwrap(),
            PrinterState::Offline
        );
        assert_eq!(
            printer_state(&json!({"state":"7"}), "h").unwrap(),
            PrinterState::Unknown(7)
        );
        assert!(printer_state(&json!({}), "h").is_err());

        let v = printer_version(&json!({"hardware":"a7","software":"K4-WAD"}), "h").unwrap();
        assert_eq!((v.hardware.as_str(), v.software.as_str()), ("a7", "K4-WAD"));
        assert!(printer_version(&Value::Null, "h").is_err());

        let i = print_info(&json!({"version":"K4","print_width":"58mm"}));
        assert_eq!(i.print_width.as_deref(), Some("58mm"));
        assert_eq!(
            print_info(&Value::Null),
            PrintInfo {
                version: None,
                print_width: None
            }
        );

        assert_eq!(
            print_job(&json!({"id":"123456","origin_id":"abc"}), "h")
                .unwrap()
                .id,
            "123456"
        );
        let big = print_job(&json!({"id":18446744073709551615u64}), "h").unwrap();
        assert_eq!(big.id, "18446744073709551615");
        assert!(print_job(&json!({"origin_id":"abc"}), "h").is_err());
    }

    #[test]
    fn extreme_lifetimes_are_a_broken_reply_not_a_panic() {
        for (expires, refresh) in [
            (json!(u64::MAX), json!(3024000)),
            (json!(i64::MAX), json!(3024000)),
            (json!("9223372036854775807"), json!(null)),
            (json!(2592000), json!(MAX_TOKEN_LIFETIME_SECS + 1)),
            (json!(MAX_TOKEN_LIFETIME_SECS + 1), json!(null)),
            (json!(-1), json!(null)),
            (json!(1e300), json!(null)),
            (json!("NaN"), json!(null)),
        ] {
            let body = json!({"access_token":"at","refresh_token":"rt","expires_in":expires,
                              "refresh_expires_in":refresh});
            let err = token_grant(&body, "h").unwrap_err();
            assert!(err.outcome_unknown(), "{expires} / {refresh}: {err:?}");
        }
        let body =
            json!({"access_token":"at","refresh_token":"rt","expires_in":MAX_TOKEN_LIFETIME_SECS});
        assert_eq!(
            token_grant(&body, "h").unwrap().expires_in,
            MAX_TOKEN_LIFETIME_SECS
        );
    }

    /// Extreme and malformed values (numbers at and past every integer edge, floats, exponents, text, nesting)
    /// in every field of every reply shape, in all combinations of a seeded generator: no panic, and whatever
    /// parses has in-range lifetimes.
    #[test]
    fn reply_parsers_survive_a_sweep_of_extreme_values() {
        let values = [
            json!(0),
            json!(-1),
            json!(1),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(9.007_199_254_740_993e15),
            json!(1e300),
            json!(-1e300),
            json!(0.5),
            json!(f64::MIN_POSITIVE),
            json!("18446744073709551616"),
            json!("-9223372036854775809"),
            json!("1e18"),
            json!("NaN"),
            json!("inf"),
            json!(" 42 "),
            json!(""),
            json!("零"),
            json!(null),
            json!(true),
            json!([1]),
            json!({"x": 1}),
            json!("2592000"),
            json!(2592000),
            json!(MAX_TOKEN_LIFETIME_SECS),
        ];
        let keys = [
            "error",
            "expires_in",
            "refresh_expires_in",
            "state",
            "id",
            "origin_id",
            "access_token",
            "refresh_token",
            "machine_code",
            "hardware",
            "software",
            "scope",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let redactor = Redactor::new(["SECRETVALUE"]);
        for _ in 0..20_000 {
            let mut body = serde_json::Map::new();
            for k in keys {
                if next() % 3 != 0 {
                    body.insert(
                        k.into(),
                        values[(next() % values.len() as u64) as usize].clone(),
                    );
                }
            }
            let mut reply = serde_json::Map::new();
            reply.insert(
                "error".into(),
                values[(next() % values.len() as u64) as usize].clone(),
            );
            if next() % 4 != 0 {
                reply.insert("error".into(), json!(0));
            }
            reply.insert("body".into(), Value::Object(body.clone()));
            let body = Value::Object(body);
            let _ = open_envelope(Value::Object(reply), "h", &redactor);
            if let Ok(g) = token_grant(&body, "h") {
                assert!(g.expires_in <= MAX_TOKEN_LIFETIME_SECS);
                assert!(g
                    .refresh_expires_in
                    .is_none_or(|r| r <= MAX_TOKEN_LIFETIME_SECS));
            }
            let _ = printer_state(&body, "h");
            let _ = printer_version(&body, "h");
            let _ = print_job(&body, "h");
        }
    }
}
