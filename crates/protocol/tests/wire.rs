//! Yilianyun and Lingju requests over real loopback HTTP: what goes on the wire and how replies are read.

mod common;

use common::*;
use md5::{Digest, Md5};
use quickauth_protocol::secret::{
    AccessToken, ClientSecret, LingjuAppKey, LingjuAuthCode, Msign, QrKey, RefreshToken,
};
use quickauth_protocol::*;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

const CLIENT_ID: &str = "1074356281";
const MACHINE: &str = "4004123456";

fn client(server: &TestServer, version: ApiVersion) -> YilianyunClient {
    let cfg = YilianyunConfig {
        client_id: CLIENT_ID.into(),
        client_secret: ClientSecret::new(CLIENT_SECRET),
        endpoint: Endpoint::new(Region::Cn, version, Some(server.base())).unwrap(),
    };
    YilianyunClient::new(cfg, http_client())
}

fn mc() -> MachineCode {
    MachineCode::parse(MACHINE).unwrap()
}

fn at() -> AccessToken {
    AccessToken::new(ACCESS_TOKEN)
}

/// Checks what every Yilianyun request must carry, computing the sign independently of the crate.
fn assert_common(r: &common::Recorded, path: &str, takes_scope: bool) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, path);
    assert_eq!(r.query, None, "nothing may travel in the URL");
    assert!(
        r.content_type
            .starts_with("application/x-www-form-urlencoded"),
        "{}",
        r.content_type
    );
    assert_eq!(r.get("client_id"), Some(CLIENT_ID));
    let ts = r.get("timestamp").expect("timestamp");
    assert_eq!(ts.len(), 10, "{ts}");
    let ts_num: i64 = ts.parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - ts_num).abs() < 60, "timestamp {ts_num} vs now {now}");
    let expected_sign = hex::encode(Md5::digest(
        format!("{CLIENT_ID}{ts}{CLIENT_SECRET}").as_bytes(),
    ));
    assert_eq!(r.get("sign"), Some(expected_sign.as_str()));
    let id = uuid::Uuid::parse_str(r.get("id").expect("id")).expect("id is a UUID");
    assert_eq!(id.get_version_num(), 4);
    assert_eq!(r.get("id").unwrap().len(), 36);
    assert_eq!(r.get("scope"), if takes_scope { Some("all") } else { None });
    assert!(
        !r.raw_body.contains(CLIENT_SECRET),
        "the client secret must never travel"
    );
    assert!(!r.has("client_secret"));
}

fn v1_token_reply() -> serde_json::Value {
    json!({"error":"0","error_description":"success","body":{
        "access_token":"srv-at-1","refresh_token":"srv-rt-1","expires_in":"2592000","scope":"all"}})
}

fn v2_token_reply() -> serde_json::Value {
    json!({"error":0,"error_description":"success","timestamp":1700000000,"body":{
        "access_token":"srv-at-2","refresh_token":"srv-rt-2","expires_in":2592000,"refresh_expires_in":3024000,
        "machine_code":"4004123456","client_id":CLIENT_ID,"scope":"all"}})
}

#[tokio::test]
async fn fast_authorize_v1_with_qr_key() {
    let server = TestServer::start().await;
    server.reply_json("/oauth/scancodemodel", v1_token_reply());
    let grant = client(&server, ApiVersion::V1)
        .fast_authorize(&mc(), &DeviceKey::QrKey(QrKey::new(QR_KEY)))
        .await
        .unwrap();
    let r = server.last();
    assert_common(&r, "/oauth/scancodemodel", true);
    assert_eq!(r.get("machine_code"), Some(MACHINE));
    assert_eq!(r.get("qr_key"), Some(QR_KEY));
    assert!(!r.has("msign"), "qr_key and msign are exclusive");
    assert_eq!(grant.access_token.expose(), "srv-at-1");
    assert_eq!(grant.refresh_token.expose(), "srv-rt-1");
    assert_eq!(grant.expires_in, 2_592_000);
    assert_eq!(grant.scope, "all");
}

#[tokio::test]
async fn fast_authorize_v2_with_msign_uses_v2_prefix() {
    let server = TestServer::start().await;
    server.reply_json("/v2/oauth/scancodemodel", v2_token_reply());
    let grant = client(&server, ApiVersion::V2)
        .fast_authorize(&mc(), &DeviceKey::Msign(Msign::new(MSIGN)))
        .await
        .unwrap();
    let r = server.last();
    assert_common(&r, "/v2/oauth/scancodemodel", true);
    assert_eq!(r.get("msign"), Some(MSIGN));
    assert!(!r.has("qr_key"), "qr_key and msign are exclusive");
    assert_eq!(grant.access_token.expose(), "srv-at-2");
    assert_eq!(grant.refresh_expires_in, Some(3_024_000));
    assert_eq!(grant.machine_code.as_deref(), Some(MACHINE));
}

#[tokio::test]
async fn every_request_gets_a_fresh_uuid() {
    let server = TestServer::start().await;
    server.reply_json("/oauth/scancodemodel", v1_token_reply());
    let c = client(&server, ApiVersion::V1);
    let key = DeviceKey::QrKey(QrKey::new(QR_KEY));
    c.fast_authorize(&mc(), &key).await.unwrap();
    c.fast_authorize(&mc(), &key).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_ne!(reqs[0].get("id"), reqs[1].get("id"));
}

#[tokio::test]
async fn blank_device_key_is_refused_before_sending() {
    let server = TestServer::start().await;
    let err = client(&server, ApiVersion::V1)
        .fast_authorize(&mc(), &DeviceKey::Msign(Msign::new("  ")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            YilianyunError::Input(InputError::Empty {
                field: Field::Msign
            })
        ),
        "{err:?}"
    );
    assert!(!err.outcome_unknown());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn code_exchange_and_refresh() {
    let server = TestServer::start().await;
    server.reply_json("/oauth/oauth", json!({"error":"0","error_description":"success","body":{
        "access_token":"srv-at-3","refresh_token":"srv-rt-3","machine_code":"4004000009","expires_in":2592000,
        "scope":"all"}}));
    let c = client(&server, ApiVersion::V1);
    let grant = c.exchange_code(AUTH_CODE).await.unwrap();
    let r = server.last();
    assert_common(&r, "/oauth/oauth", true);
    assert_eq!(r.get("grant_type"), Some("authorization_code"));
    assert_eq!(r.get("code"), Some(AUTH_CODE));
    assert_eq!(grant.machine_code.as_deref(), Some("4004000009"));

    c.refresh(&RefreshToken::new(REFRESH_TOKEN)).await.unwrap();
    let r = server.last();
    assert_common(&r, "/oauth/oauth", true);
    assert_eq!(r.get("grant_type"), Some("refresh_token"));
    assert_eq!(r.get("refresh_token"), Some(REFRESH_TOKEN));
    assert!(!r.has("code"));
}

#[tokio::test]
async fn refresh_v2_path() {
    let server = TestServer::start().await;
    server.reply_json("/v2/oauth/oauth", v2_token_reply());
    let grant = client(&server, ApiVersion::V2)
        .refresh(&RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap();
    assert_common(&server.last(), "/v2/oauth/oauth", true);
    assert_eq!(grant.expires_in, 2_592_000);
}

#[tokio::test]
async fn printer_calls_v1() {
    let server = TestServer::start().await;
    server.reply_json(
        "/printer/getprintstatus",
        json!({"error":"0","error_description":"success","body":{"state":"1"}}),
    );
    server.reply_json("/printer/getversion",
        json!({"error":"0","error_description":"success","body":{"hardware":"a7","software":"K4-WAD"}}));
    server.reply_json("/print/index",
        json!({"error":"0","error_description":"success","body":{"id":"98765","origin_id":"qa20261123"}}));
    server.reply_json(
        "/printer/deleteprinter",
        json!({"error":"0","error_description":"success"}),
    );
    let c = client(&server, ApiVersion::V1);

    assert_eq!(
        c.printer_status(&at(), &mc()).await.unwrap(),
        PrinterState::Online
    );
    let v = c.printer_version(&at(), &mc()).await.unwrap();
    assert_eq!(v.software, "K4-WAD");
    let job = c
        .print_text(
            &at(),
            &mc(),
            "<FS2><center>QuickAuth</center></FS2>\n",
            "qa20261123",
        )
        .await
        .unwrap();
    assert_eq!(job.id, "98765");
    c.delete_printer(&at(), &mc()).await.unwrap();

    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/printer/getprintstatus",
            "/printer/getversion",
            "/print/index",
            "/printer/deleteprinter"
        ]
    );
    for r in &reqs {
        assert_common(r, &r.path, false);
        assert_eq!(r.get("access_token"), Some(ACCESS_TOKEN));
        assert_eq!(r.get("machine_code"), Some(MACHINE));
    }
    let print = &reqs[2];
    assert_eq!(
        print.get("content"),
        Some("<FS2><center>QuickAuth</center></FS2>\n")
    );
    assert_eq!(print.get("origin_id"), Some("qa20261123"));
    assert_eq!(print.get("idempotence"), Some("1"));
}

#[tokio::test]
async fn printer_calls_v2_numbers() {
    let server = TestServer::start().await;
    server.reply_json(
        "/v2/printer/getprintstatus",
        json!({"error":0,"error_description":"success","body":{"machine_code":MACHINE,"state":2}}),
    );
    server.reply_json("/v2/print/index",
        json!({"error":0,"error_description":"success","body":{"id":1234567890123u64,"origin_id":"a"}}));
    let c = client(&server, ApiVersion::V2);
    assert_eq!(
        c.printer_status(&at(), &mc()).await.unwrap(),
        PrinterState::OutOfPaper
    );
    let long_origin = "a".repeat(64);
    assert_eq!(
        c.print_text(&at(), &mc(), "x", &long_origin)
            .await
            .unwrap()
            .id,
        "1234567890123"
    );
    assert_common(&server.last(), "/v2/print/index", false);
}

#[tokio::test]
async fn origin_id_is_checked_before_sending() {
    let server = TestServer::start().await;
    let v1 = client(&server, ApiVersion::V1);
    let err = v1
        .print_text(&at(), &mc(), "x", &"a".repeat(33))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            YilianyunError::Input(InputError::TooLong { max: 32, .. })
        ),
        "{err:?}"
    );
    let err = v1
        .print_text(&at(), &mc(), "x", "bad-id")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            YilianyunError::Input(InputError::InvalidChar { ch: '-', .. })
        ),
        "{err:?}"
    );
    let v2 = client(&server, ApiVersion::V2);
    let err = v2
        .print_text(&at(), &mc(), "x", &"a".repeat(65))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            YilianyunError::Input(InputError::TooLong { max: 64, .. })
        ),
        "{err:?}"
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn api_errors_over_the_wire_are_typed_and_clean() {
    let server = TestServer::start().await;
    let c = client(&server, ApiVersion::V1);
    // The server echoes secrets back in its description: they must be scrubbed.
    server.reply_json("/oauth/oauth",
        json!({"error":"41","error_description":format!("limit for {REFRESH_TOKEN} and {CLIENT_SECRET}")}));
    let err = c
        .refresh(&RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some(ApiCode::DailyLimitExceeded));
    assert_eq!(err.action(), Action::WaitUntilTomorrow);
    assert!(!err.retryable());
    assert!(!err.outcome_unknown());
    assert_eq!(err.kind(), "api");
    assert_eq!(err.code(), Some(41));
    assert!(err.message_zh().contains("20 次"));
    assert_no_secret(&err);

    server.reply_json(
        "/oauth/scancodemodel",
        json!({"error":"30","error_description":format!("bad {QR_KEY}")}),
    );
    let err = c
        .fast_authorize(&mc(), &DeviceKey::QrKey(QrKey::new(QR_KEY)))
        .await
        .unwrap_err();
    assert_eq!(err.action(), Action::Rescan);
    assert_no_secret(&err);

    server.reply_json(
        "/printer/getprintstatus",
        json!({"error":"18","error_description":format!("{ACCESS_TOKEN}")}),
    );
    let err = c.printer_status(&at(), &mc()).await.unwrap_err();
    assert_eq!(err.action(), Action::RefreshToken);
    assert_no_secret(&err);
}

fn lingju(server: &TestServer, endpoint: LingjuEndpoint, authcode: Option<&str>) -> LingjuClient {
    LingjuClient::new(
        LingjuConfig {
            base_url: server.base(),
            endpoint,
            appkey: LingjuAppKey::new(LINGJU_APPKEY),
            authcode: authcode.map(LingjuAuthCode::new),
        },
        http_client(),
    )
}

#[tokio::test]
async fn lingju_httpapi_hardware_and_software() {
    let server = TestServer::start().await;
    server.reply_json("/httpapi/authorize.do",
        json!({"status":0,"description":"success","data":{"accessToken":"lj-tok","expires":87,"update":1474000000000i64}}));
    let uid = UserId::parse("AA:BB:CC:DD:EE:01").unwrap();

    let grant = lingju(&server, LingjuEndpoint::HttpApi, Some(LINGJU_AUTHCODE))
        .authorize(&uid)
        .await
        .unwrap();
    assert_eq!(grant.access_token.expose(), "lj-tok");
    assert_eq!(grant.expires_days, 87);
    assert_eq!(grant.updated_ms, Some(1_474_000_000_000));
    let r = server.last();
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.query.as_deref()),
        ("POST", "/httpapi/authorize.do", None)
    );
    assert!(r
        .content_type
        .starts_with("application/x-www-form-urlencoded"));
    assert_eq!(r.get("appkey"), Some(LINGJU_APPKEY));
    assert_eq!(r.get("userid"), Some("AABBCCDDEE01"));
    assert_eq!(r.get("authcode"), Some(LINGJU_AUTHCODE));

    lingju(&server, LingjuEndpoint::HttpApi, None)
        .authorize(&uid)
        .await
        .unwrap();
    let r = server.last();
    assert!(!r.has("authcode"), "software platforms send no authcode");
}

#[tokio::test]
async fn lingju_bltapi_and_errors() {
    let server = TestServer::start().await;
    server.reply_json(
        "/bltapi/authorize.do",
        json!({"status":"16","description":format!("userid not registered for {LINGJU_APPKEY}")}),
    );
    let uid = UserId::parse("device01").unwrap();
    let err = lingju(&server, LingjuEndpoint::BltApi, Some(LINGJU_AUTHCODE))
        .authorize(&uid)
        .await
        .unwrap_err();
    let r = server.last();
    assert_eq!(r.path, "/bltapi/authorize.do");
    assert_eq!(r.get("appkey"), Some(LINGJU_APPKEY));
    assert!(!r.has("authcode"), "bltapi takes appkey and userid only");
    assert!(
        matches!(
            err,
            LingjuError::Api {
                code: LingjuCode::TerminalNotActivated,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.action(), Action::CheckLabel);
    assert_no_secret(&err);

    server.reply_json(
        "/bltapi/authorize.do",
        json!({"status":121,"description":"quota"}),
    );
    let err = lingju(&server, LingjuEndpoint::BltApi, None)
        .authorize(&uid)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        LingjuError::Api {
            code: LingjuCode::QuotaFull,
            ..
        }
    ));
    assert_no_secret(&err);
}

#[tokio::test]
async fn lingju_base_url_with_credentials_is_refused() {
    let server = TestServer::start().await;
    let mut base = server.base();
    base.set_username("user").unwrap();
    base.set_password(Some(LINGJU_APPKEY)).unwrap();
    let c = LingjuClient::new(
        LingjuConfig {
            base_url: base,
            endpoint: LingjuEndpoint::HttpApi,
            appkey: LingjuAppKey::new(LINGJU_APPKEY),
            authcode: None,
        },
        http_client(),
    );
    let err = c
        .authorize(&UserId::parse("abc").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        LingjuError::Input(InputError::BaseUrl {
            problem: BaseUrlProblem::UserInfo
        })
    ));
    assert_no_secret(&err);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn provider_error_inside_an_http_error_status_is_typed() {
    let server = TestServer::start().await;
    server.reply_raw(
        "/oauth/oauth",
        500,
        "application/json",
        r#"{"error":"45","error_description":"system busy"}"#,
    );
    let err = client(&server, ApiVersion::V1)
        .refresh(&RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some(ApiCode::SystemError));
    assert!(err.retryable());
    assert!(
        err.outcome_unknown(),
        "a system error may have applied the refresh"
    );

    server.reply_raw(
        "/httpapi/authorize.do",
        403,
        "application/json",
        r#"{"status":6,"description":"bad appkey"}"#,
    );
    let err = lingju(&server, LingjuEndpoint::HttpApi, None)
        .authorize(&UserId::parse("a1").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LingjuError::Api {
                code: LingjuCode::InvalidAppKey,
                ..
            }
        ),
        "{err:?}"
    );

    // A JSON body without the provider's code stays an HTTP status error.
    server.reply_raw(
        "/printer/getversion",
        502,
        "application/json",
        r#"{"message":"bad gateway"}"#,
    );
    let err = client(&server, ApiVersion::V1)
        .printer_version(&at(), &mc())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            YilianyunError::Transport(TransportError {
                kind: TransportErrorKind::HttpStatus {
                    status: 502,
                    html: false
                },
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn lingju_config_debug_hides_url_credentials() {
    let mut base = LingjuConfig::default_base_url();
    base.set_username("u").unwrap();
    base.set_password(Some(LINGJU_APPKEY)).unwrap();
    let cfg = LingjuConfig {
        base_url: base,
        endpoint: LingjuEndpoint::HttpApi,
        appkey: LingjuAppKey::new(LINGJU_APPKEY),
        authcode: Some(LingjuAuthCode::new(LINGJU_AUTHCODE)),
    };
    let shown = format!(
        "{cfg:?} {:?}",
        LingjuClient::new(cfg.clone(), reqwest::Client::new())
    );
    for secret in ALL_SECRETS {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("dev.lingju.ai"));
}
