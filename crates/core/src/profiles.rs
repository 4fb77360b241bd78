//! Profiles: which provider account a device is authorized with. Non-secret fields live in SQLite; the client
//! secret / Lingju appkey+authcode only in the keyring, and no API returns them.

use chrono::{DateTime, Utc};
use quickauth_protocol::secret::{ClientSecret, LingjuAppKey, LingjuAuthCode};
use quickauth_protocol::{ApiVersion, LingjuEndpoint, Region};
use serde::Serialize;
use url::Url;

use crate::error::{Error, Result};

/// The built-in profile backed by the in-process sandbox server. Always present, cannot be removed.
pub const BUILTIN_SANDBOX_PROFILE: &str = "sandbox";
/// How the built-in profile is shown (zh first).
pub const BUILTIN_SANDBOX_LABEL: &str = "沙盒 Sandbox（测试用 / for testing）";
/// Lingju's public server.
pub const LINGJU_DEFAULT_BASE: &str = "https://dev.lingju.ai";

/// Which provider a profile or device belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Yilianyun,
    Lingju,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Yilianyun => "yilianyun",
            Provider::Lingju => "lingju",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "yilianyun" => Some(Provider::Yilianyun),
            "lingju" => Some(Provider::Lingju),
            _ => None,
        }
    }
}

/// Provider-specific, non-secret settings of a profile.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum ProfileSettings {
    Yilianyun {
        client_id: String,
        region: String,
        api_version: String,
        base_url: Option<Url>,
    },
    Lingju {
        endpoint: String,
        base_url: Url,
    },
}

/// A profile as listed: never carries a secret.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: String,
    /// Display name (the built-in one is bilingual; user profiles show their name).
    pub label: String,
    pub builtin: bool,
    #[serde(flatten)]
    pub settings: ProfileSettings,
    pub created_at: Option<DateTime<Utc>>,
}

impl Profile {
    pub fn provider(&self) -> Provider {
        match self.settings {
            ProfileSettings::Yilianyun { .. } => Provider::Yilianyun,
            ProfileSettings::Lingju { .. } => Provider::Lingju,
        }
    }
}

/// A new Yilianyun profile; the secret goes to the keyring.
#[derive(Debug)]
pub struct NewYilianyunProfile {
    pub name: String,
    pub client_id: String,
    pub region: Region,
    pub api_version: ApiVersion,
    pub base_url: Option<Url>,
    pub client_secret: ClientSecret,
}

/// A new Lingju profile; appkey and authcode go to the keyring.
#[derive(Debug)]
pub struct NewLingjuProfile {
    pub name: String,
    pub endpoint: LingjuEndpoint,
    pub base_url: Option<Url>,
    pub appkey: LingjuAppKey,
    pub authcode: Option<LingjuAuthCode>,
}

/// Changes to a user profile's non-secret settings; `None` keeps the current value.
#[derive(Debug, Default, Clone)]
pub struct ProfileUpdate {
    pub client_id: Option<String>,
    pub region: Option<Region>,
    pub api_version: Option<ApiVersion>,
    /// `Some(None)` removes a custom base URL (Yilianyun); Lingju always has one.
    pub base_url: Option<Option<Url>>,
    pub lingju_endpoint: Option<LingjuEndpoint>,
}

/// Profile names end up in keyring account names and file paths: keep them plain.
pub fn validate_profile_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(Error::InvalidProfileName {
            name: name.chars().take(80).collect(),
        });
    }
    if name == BUILTIN_SANDBOX_PROFILE {
        return Err(Error::BuiltinProfileImmutable {
            name: name.to_owned(),
        });
    }
    Ok(())
}

// Names of the stored settings: one spelling and one parser, the protocol's `as_str` / `FromStr`.

pub(crate) fn region_str(r: Region) -> &'static str {
    r.as_str()
}

pub(crate) fn parse_region(s: &str) -> Option<Region> {
    s.parse().ok()
}

pub(crate) fn api_str(v: ApiVersion) -> &'static str {
    v.as_str()
}

pub(crate) fn parse_api(s: &str) -> Option<ApiVersion> {
    s.parse().ok()
}

pub(crate) fn endpoint_str(e: LingjuEndpoint) -> &'static str {
    e.as_str()
}

pub(crate) fn parse_endpoint(s: &str) -> Option<LingjuEndpoint> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_are_plain_and_sandbox_is_reserved() {
        assert!(validate_profile_name("shop-1_a").is_ok());
        assert!(matches!(
            validate_profile_name(""),
            Err(Error::InvalidProfileName { .. })
        ));
        assert!(matches!(
            validate_profile_name("a:b"),
            Err(Error::InvalidProfileName { .. })
        ));
        assert!(matches!(
            validate_profile_name("../x"),
            Err(Error::InvalidProfileName { .. })
        ));
        assert!(matches!(
            validate_profile_name("sandbox"),
            Err(Error::BuiltinProfileImmutable { .. })
        ));
    }
}
