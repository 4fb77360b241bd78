//! Yilianyun (易联云) open API client, v1 and v2: fast authorize, authorization-code flow, refresh, printer calls.
//!
//! Every request is a form POST carrying `client_id`, a 10-digit `timestamp`, `sign` = md5(client_id + timestamp
//! + client_secret) and a fresh UUID4 `id`. The secret itself never travels and no secret is ever put in a URL.

mod codes;
mod error;
mod reply;

pub use codes::ApiCode;
pub use error::YilianyunError;
pub use reply::{PrintInfo, PrintJob, PrinterState, PrinterVersion, TokenGrant};

use crate::choice::{Setting, UnknownChoice};
use crate::http::{host_of, post_form, Redactor};
use crate::input::{
    check_base_url, check_origin_id, require_non_blank, BaseUrlProblem, Field, InputError,
};
use crate::secret::{AccessToken, ClientSecret, Msign, QrKey, RefreshToken};
use crate::MachineCode;
use md5::{Digest, Md5};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use url::Url;

/// Mainland host.
pub const HOST_CN: &str = "https://open-api.10ss.net";
/// Overseas host (same paths).
pub const HOST_OVERSEAS: &str = "https://open-api-os.10ss.net";
/// Alternative mainland host, API v2 only.
pub const HOST_CN_ALT: &str = "https://cloud-open-api.10ss.net";

/// `sign` = lowercase hex md5 of `client_id + timestamp + client_secret`, plainly concatenated.
pub fn sign(client_id: &str, timestamp: i64, secret: &ClientSecret) -> String {
    let mut md5 = Md5::new();
    md5.update(client_id.as_bytes());
    md5.update(timestamp.to_string().as_bytes());
    md5.update(secret.expose().as_bytes());
    hex::encode(md5.finalize())
}

/// Which Yilianyun host to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Region {
    #[serde(rename = "cn")]
    Cn,
    #[serde(rename = "overseas")]
    Overseas,
    #[serde(rename = "cn-alt")]
    CnAlt,
}

impl Region {
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Cn => "cn",
            Region::Overseas => "overseas",
            Region::CnAlt => "cn-alt",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Region {
    type Err = UnknownChoice;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cn" => Ok(Region::Cn),
            "overseas" => Ok(Region::Overseas),
            "cn-alt" => Ok(Region::CnAlt),
            _ => Err(UnknownChoice {
                setting: Setting::Region,
            }),
        }
    }
}

/// Yilianyun API version: v2 lives under `/v2` and answers with numbers where v1 uses strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    V1,
    V2,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        }
    }

    /// Longest `origin_id` the print call accepts.
    pub fn max_origin_id_len(self) -> usize {
        match self {
            ApiVersion::V1 => 32,
            ApiVersion::V2 => 64,
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ApiVersion {
    type Err = UnknownChoice;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1" => Ok(ApiVersion::V1),
            "v2" => Ok(ApiVersion::V2),
            _ => Err(UnknownChoice {
                setting: Setting::ApiVersion,
            }),
        }
    }
}

/// Where requests go: a region's host or a custom `scheme://host:port`, plus `/v2` for v2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    region: Region,
    version: ApiVersion,
    custom: bool,
    /// API root without trailing slash, `/v2` included for v2.
    root: String,
}

impl Endpoint {
    /// `custom_base` (for the sandbox or a relay) must be `scheme://host[:port]` with no path, query or
    /// credentials, and https unless it is this computer.
    pub fn new(
        region: Region,
        version: ApiVersion,
        custom_base: Option<Url>,
    ) -> Result<Self, InputError> {
        let host = match &custom_base {
            Some(url) => {
                check_base_url(url, false)?;
                url.origin().ascii_serialization()
            }
            None => match (region, version) {
                (Region::Cn, _) => HOST_CN.to_owned(),
                (Region::Overseas, _) => HOST_OVERSEAS.to_owned(),
                (Region::CnAlt, ApiVersion::V2) => HOST_CN_ALT.to_owned(),
                (Region::CnAlt, ApiVersion::V1) => {
                    return Err(InputError::BaseUrl {
                        problem: BaseUrlProblem::AltHostNeedsV2,
                    })
                }
            },
        };
        let root = match version {
            ApiVersion::V1 => host,
            ApiVersion::V2 => format!("{host}/v2"),
        };
        Ok(Self {
            region,
            version,
            custom: custom_base.is_some(),
            root,
        })
    }

    pub fn region(&self) -> Region {
        self.region
    }

    pub fn version(&self) -> ApiVersion {
        self.version
    }

    pub fn is_custom(&self) -> bool {
        self.custom
    }

    /// The API root, e.g. `https://open-api.10ss.net/v2`.
    pub fn root(&self) -> Url {
        Url::parse(&self.root).expect("root was built from a validated origin")
    }

    /// `root + path`, where `path` starts with `/` (e.g. `/oauth/oauth`).
    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("{}{path}", self.root)).expect("root was built from a validated origin")
    }
}

/// What the client needs to talk to Yilianyun for one app.
#[derive(Debug, Clone)]
pub struct YilianyunConfig {
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub endpoint: Endpoint,
}

/// The key from a printer's label: a temporary `qr_key` or the permanent `msign`. Never both, by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKey {
    QrKey(QrKey),
    Msign(Msign),
}

impl DeviceKey {
    /// The form field name and value; the one place a device key leaves its type.
    fn form_pair(&self) -> (&'static str, &str) {
        match self {
            DeviceKey::QrKey(k) => ("qr_key", k.expose()),
            DeviceKey::Msign(k) => ("msign", k.expose()),
        }
    }

    fn check(&self) -> Result<(), InputError> {
        match self {
            DeviceKey::QrKey(k) => require_non_blank(Field::QrKey, k.is_blank()),
            DeviceKey::Msign(k) => require_non_blank(Field::Msign, k.is_blank()),
        }
    }
}

/// The `state` of one browser authorization, to check the redirect against (CSRF).
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfState(String);

impl CsrfState {
    /// 128 random bits from the OS, hex.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// Rebuilds a state kept elsewhere (e.g. a pending flow).
    pub fn restore(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares with the `state` the redirect brought back, in constant time for equal lengths.
    pub fn verify(&self, returned_state: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), returned_state.as_bytes());
        !a.is_empty()
            && a.len() == b.len()
            && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for CsrfState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfState(***)")
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Talks to Yilianyun for one app. Cheap to clone.
#[derive(Clone)]
pub struct YilianyunClient {
    cfg: YilianyunConfig,
    http: reqwest::Client,
}

/// Leaves out the HTTP client: its Debug lists proxies, whose URLs may carry credentials.
impl fmt::Debug for YilianyunClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YilianyunClient")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl YilianyunClient {
    pub fn new(cfg: YilianyunConfig, http: reqwest::Client) -> Self {
        Self { cfg, http }
    }

    pub fn config(&self) -> &YilianyunConfig {
        &self.cfg
    }

    /// Fast authorization (`/oauth/scancodemodel`) with a machine code and the label's qr_key or msign.
    /// Open-type apps only (error 31 otherwise).
    pub async fn fast_authorize(
        &self,
        mc: &MachineCode,
        key: &DeviceKey,
    ) -> Result<TokenGrant, YilianyunError> {
        key.check()?;
        let (key_name, key_value) = key.form_pair();
        let body = self
            .call(
                "/oauth/scancodemodel",
                &[
                    ("machine_code", mc.as_str()),
                    (key_name, key_value),
                    ("scope", "all"),
                ],
                &[key_value],
            )
            .await?;
        reply::token_grant(&body, &self.host())
    }

    /// The page the merchant opens to approve this app, and the `state` to check on the redirect.
    pub fn authorize_url(&self, redirect_uri: &Url) -> (Url, CsrfState) {
        let state = CsrfState::generate();
        let mut url = self.cfg.endpoint.url("/oauth/authorize");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.cfg.client_id)
            .append_pair("redirect_uri", redirect_uri.as_str())
            .append_pair("state", state.as_str());
        (url, state)
    }

    /// Exchanges the redirect's `code` (valid 600 s) for a token pair; the reply names the printer.
    pub async fn exchange_code(&self, code: &str) -> Result<TokenGrant, YilianyunError> {
        let code = code.trim();
        require_non_blank(Field::AuthorizationCode, code.is_empty())?;
        let body = self
            .call(
                "/oauth/oauth",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("scope", "all"),
                ],
                &[code],
            )
            .await?;
        reply::token_grant(&body, &self.host())
    }

    /// Refreshes a token pair (20 per printer per day). If this fails with `outcome_unknown()`, call again with
    /// the same old refresh token: within 2 hours Yilianyun returns the earlier result.
    pub async fn refresh(&self, rt: &RefreshToken) -> Result<TokenGrant, YilianyunError> {
        require_non_blank(Field::RefreshToken, rt.is_blank())?;
        let body = self
            .call(
                "/oauth/oauth",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.expose()),
                    ("scope", "all"),
                ],
                &[rt.expose()],
            )
            .await?;
        reply::token_grant(&body, &self.host())
    }

    pub async fn printer_status(
        &self,
        at: &AccessToken,
        mc: &MachineCode,
    ) -> Result<PrinterState, YilianyunError> {
        let body = self
            .printer_call("/printer/getprintstatus", at, mc, &[])
            .await?;
        reply::printer_state(&body, &self.host())
    }

    pub async fn printer_version(
        &self,
        at: &AccessToken,
        mc: &MachineCode,
    ) -> Result<PrinterVersion, YilianyunError> {
        let body = self
            .printer_call("/printer/getversion", at, mc, &[])
            .await?;
        reply::printer_version(&body, &self.host())
    }

    pub async fn print_info(
        &self,
        at: &AccessToken,
        mc: &MachineCode,
    ) -> Result<PrintInfo, YilianyunError> {
        let body = self.printer_call("/printer/printinfo", at, mc, &[]).await?;
        Ok(reply::print_info(&body))
    }

    /// Prints `content` (Yilianyun ticket markup). `origin_id` (letters and digits, ≤32 v1 / ≤64 v2) is sent
    /// with `idempotence=1`, so repeating a call with the same origin_id within 2 hours does not print twice.
    pub async fn print_text(
        &self,
        at: &AccessToken,
        mc: &MachineCode,
        content: &str,
        origin_id: &str,
    ) -> Result<PrintJob, YilianyunError> {
        check_origin_id(origin_id, self.cfg.endpoint.version().max_origin_id_len())?;
        require_non_blank(Field::PrintContent, content.trim().is_empty())?;
        let body = self
            .printer_call(
                "/print/index",
                at,
                mc,
                &[
                    ("content", content),
                    ("origin_id", origin_id),
                    ("idempotence", "1"),
                ],
            )
            .await?;
        reply::print_job(&body, &self.host())
    }

    /// Removes this app's authorization for the printer (`/printer/deleteprinter`).
    pub async fn delete_printer(
        &self,
        at: &AccessToken,
        mc: &MachineCode,
    ) -> Result<(), YilianyunError> {
        self.printer_call("/printer/deleteprinter", at, mc, &[])
            .await
            .map(drop)
    }

    /// Cancels all unprinted orders. Error 24 (nothing to cancel) is returned as is; callers may treat it as done.
    pub async fn cancel_all(
        &self,
        at: &AccessToken,
        mc: &MachineCode,
    ) -> Result<(), YilianyunError> {
        self.printer_call("/printer/cancelall", at, mc, &[])
            .await
            .map(drop)
    }

    fn host(&self) -> String {
        host_of(&self.cfg.endpoint.root())
    }

    async fn printer_call(
        &self,
        path: &str,
        at: &AccessToken,
        mc: &MachineCode,
        extra: &[(&str, &str)],
    ) -> Result<serde_json::Value, YilianyunError> {
        require_non_blank(Field::AccessToken, at.is_blank())?;
        let mut params = vec![("access_token", at.expose()), ("machine_code", mc.as_str())];
        params.extend_from_slice(extra);
        self.call(path, &params, &[at.expose()]).await
    }

    /// Adds the common parameters, POSTs, and opens the envelope. `secrets` are request values that must be
    /// scrubbed from anything the server echoes back.
    async fn call(
        &self,
        path: &str,
        params: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<serde_json::Value, YilianyunError> {
        require_non_blank(Field::ClientId, self.cfg.client_id.trim().is_empty())?;
        require_non_blank(Field::ClientSecret, self.cfg.client_secret.is_blank())?;
        let timestamp = unix_now();
        let timestamp_text = timestamp.to_string();
        let signature = sign(&self.cfg.client_id, timestamp, &self.cfg.client_secret);
        let id = uuid::Uuid::new_v4().to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", &self.cfg.client_id),
            ("timestamp", &timestamp_text),
            ("sign", &signature),
            ("id", &id),
        ];
        form.extend_from_slice(params);
        let redactor = Redactor::new(
            secrets
                .iter()
                .copied()
                .chain([self.cfg.client_secret.expose()]),
        );
        let url = self.cfg.endpoint.url(path);
        let host = host_of(&url);
        let reply = post_form(&self.http, url, &form, "error", &redactor).await?;
        reply::open_envelope(reply, &host, &redactor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_matches_an_independent_md5() {
        // Computed with coreutils, not with this crate:
        // printf '%s' '100000000114003344554a9ad1e9b5f64e3c8e5b76a0c1f2d3a4' | md5sum
        //   -> 39c936b79bf7883e6a0dced645470731
        let secret = ClientSecret::new("4a9ad1e9b5f64e3c8e5b76a0c1f2d3a4");
        assert_eq!(sign("1000000001", 1400334455, &secret), EXPECTED);
        assert_eq!(sign("1000000001", 1400334455, &secret).len(), 32);
    }
    const EXPECTED: &str = "39c936b79bf7883e6a0dced645470731";

    #[test]
    fn endpoints() {
        let e = Endpoint::new(Region::Cn, ApiVersion::V1, None).unwrap();
        assert_eq!(
            e.url("/oauth/oauth").as_str(),
            "https://open-api.10ss.net/oauth/oauth"
        );
        let e = Endpoint::new(Region::Cn, ApiVersion::V2, None).unwrap();
        assert_eq!(
            e.url("/oauth/oauth").as_str(),
            "https://open-api.10ss.net/v2/oauth/oauth"
        );
        let e = Endpoint::new(Region::Overseas, ApiVersion::V1, None).unwrap();
        assert_eq!(
            e.url("/printer/getversion").as_str(),
            "https://open-api-os.10ss.net/printer/getversion"
        );
        let e = Endpoint::new(Region::CnAlt, ApiVersion::V2, None).unwrap();
        assert_eq!(e.root().as_str(), "https://cloud-open-api.10ss.net/v2");
        assert_eq!(
            Endpoint::new(Region::CnAlt, ApiVersion::V1, None),
            Err(InputError::BaseUrl {
                problem: BaseUrlProblem::AltHostNeedsV2
            })
        );
        let custom = Url::parse("http://127.0.0.1:8123/").unwrap();
        let e = Endpoint::new(Region::Cn, ApiVersion::V2, Some(custom.clone())).unwrap();
        assert_eq!(
            e.url("/print/index").as_str(),
            "http://127.0.0.1:8123/v2/print/index"
        );
        assert!(e.is_custom());
        let e = Endpoint::new(Region::CnAlt, ApiVersion::V1, Some(custom)).unwrap();
        assert_eq!(
            e.url("/print/index").as_str(),
            "http://127.0.0.1:8123/print/index"
        );
        assert!(Endpoint::new(
            Region::Cn,
            ApiVersion::V2,
            Some(Url::parse("https://h.example/v2").unwrap())
        )
        .is_err());
        assert!(Endpoint::new(
            Region::Cn,
            ApiVersion::V2,
            Some(Url::parse("http://h.example").unwrap())
        )
        .is_err());
    }

    #[test]
    fn region_and_version_names() {
        for r in [Region::Cn, Region::Overseas, Region::CnAlt] {
            assert_eq!(r.as_str().parse::<Region>().unwrap(), r);
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
        for v in [ApiVersion::V1, ApiVersion::V2] {
            assert_eq!(v.as_str().parse::<ApiVersion>().unwrap(), v);
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{v}\""));
        }
        assert!("CN".parse::<Region>().is_err());
    }

    #[test]
    fn csrf_state() {
        let a = CsrfState::generate();
        let b = CsrfState::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert!(a.verify(a.as_str()));
        assert!(!a.verify(b.as_str()));
        assert!(!a.verify(""));
        assert!(!a.verify(&a.as_str()[..31]));
        assert!(!CsrfState::restore("").verify(""));
        assert_eq!(format!("{a:?}"), "CsrfState(***)");
    }

    #[test]
    fn authorize_url_shape() {
        let cfg = YilianyunConfig {
            client_id: "1000000001".into(),
            client_secret: ClientSecret::new("supersecretvalue"),
            endpoint: Endpoint::new(Region::Cn, ApiVersion::V1, None).unwrap(),
        };
        let client = YilianyunClient::new(cfg, reqwest::Client::new());
        let redirect = Url::parse("http://127.0.0.1:9/cb?x=1").unwrap();
        let (url, state) = client.authorize_url(&redirect);
        assert_eq!(url.path(), "/oauth/authorize");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "1000000001");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:9/cb?x=1");
        assert!(state.verify(&q["state"]));
        assert!(!url.as_str().contains("supersecretvalue"));
        assert!(url
            .as_str()
            .contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb%3Fx%3D1"));
        let (_, state2) = client.authorize_url(&redirect);
        assert_ne!(state, state2);
    }

    #[test]
    fn every_code_maps_both_ways_with_messages() {
        let documented = [
            0, 2, 5, 6, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20, 23, 24, 25, 27, 29, 30, 31,
            33, 34, 35, 41, 45, 47,
        ];
        assert_eq!(ApiCode::known().count(), documented.len());
        for n in documented {
            let code = ApiCode::from_code(n);
            assert!(!matches!(code, ApiCode::Unknown(_)), "{n}");
            assert_eq!(code.code(), n);
            assert!(code.message_zh().is_some_and(|m| !m.is_empty()));
            assert!(code.message_en().is_some_and(|m| !m.is_empty()));
        }
        assert_eq!(ApiCode::from_code(1234), ApiCode::Unknown(1234));
        assert_eq!(ApiCode::Unknown(1234).code(), 1234);
        use crate::Action;
        let expect = [
            (2, Action::CheckClientId, false),
            (5, Action::CheckSecret, false),
            (6, Action::Reauthorize, false),
            (11, Action::CheckSecret, false),
            (12, Action::ReportBug, false),
            (14, Action::Reauthorize, false),
            (17, Action::UnbindFirst, false),
            (18, Action::RefreshToken, false),
            (20, Action::Reauthorize, false),
            (30, Action::Rescan, false),
            (31, Action::UseOpenApp, false),
            (35, Action::CheckLabel, false),
            (41, Action::WaitUntilTomorrow, false),
            (45, Action::RetryLater, true),
            (9, Action::RetryLater, true),
            (24, Action::None, false),
            (16, Action::None, false),
        ];
        for (n, action, retryable) in expect {
            assert_eq!(ApiCode::from_code(n).action(), action, "{n}");
            assert_eq!(ApiCode::from_code(n).retryable(), retryable, "{n}");
        }
    }
}
