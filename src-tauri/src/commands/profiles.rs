//! Profiles (developer apps): list, add/edit with write-only secrets, remove, and the open-app browser code flow.

use quickauth_core::{Profile, ProfileUpdate};
use quickauth_protocol::secret::{ClientSecret, LingjuAppKey, LingjuAuthCode};
use quickauth_protocol::{ApiVersion, LingjuEndpoint, Region};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, State};

use super::scan::{flow_outcome, AuthorizeOutcome};
use super::{blocking, DevicesChanged};
use crate::error::{report, CmdResult, ErrorReport, IntoReport};
use crate::state::AppState;

#[derive(Serialize)]
pub struct ProfileView {
    #[serde(flatten)]
    profile: Profile,
    /// A user profile always has its secret in the keyring (the core stores it before the profile row).
    secret_set: bool,
    devices: usize,
}

#[tauri::command]
pub async fn list_profiles(state: State<'_, AppState>) -> CmdResult<Vec<ProfileView>> {
    let core = state.core().await?;
    let (profiles, devices) =
        blocking(core, |c| Ok((c.list_profiles()?, c.list_devices()?))).await?;
    Ok(profiles
        .into_iter()
        .map(|p| {
            let n = devices.iter().filter(|d| d.profile == p.name).count();
            ProfileView {
                secret_set: true,
                devices: n,
                profile: p,
            }
        })
        .collect())
}

#[derive(Deserialize)]
pub struct ProfileInput {
    name: String,
    provider: String,
    client_id: Option<String>,
    region: Option<String>,
    api_version: Option<String>,
    endpoint: Option<String>,
    base_url: Option<String>,
    /// Client secret (Yilianyun) or appkey (Lingju). Write-only.
    secret: Option<String>,
    /// Lingju authcode. Write-only.
    authcode: Option<String>,
}

impl Drop for ProfileInput {
    fn drop(&mut self) {
        for s in [self.secret.as_mut(), self.authcode.as_mut()]
            .into_iter()
            .flatten()
        {
            zeroize::Zeroize::zeroize(s);
        }
    }
}

fn invalid(field: &'static str, zh: &str, en: &str) -> ErrorReport {
    ErrorReport::from(&quickauth_core::Error::InvalidInput {
        field,
        detail: format!("{zh} / {en}"),
    })
}

fn parse_base_url(s: Option<&str>) -> CmdResult<Option<url::Url>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => url::Url::parse(s).map(Some).map_err(|_| {
            invalid(
                "base_url",
                "不是完整的网址，例如 https://example.com",
                "not a full URL, e.g. https://example.com",
            )
        }),
    }
}

/// A named setting, parsed by the protocol's one parser (`FromStr`); absent means the default.
fn setting<T: std::str::FromStr<Err = quickauth_protocol::UnknownChoice>>(
    s: Option<&str>,
    default: T,
) -> CmdResult<T> {
    match s {
        None => Ok(default),
        Some(s) => s.parse().map_err(|e| report(&e)),
    }
}

/// A write-only secret field: blank means "not given" (on edit: keep the stored one).
fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Adds a profile (`is_new`) or changes one: its settings, and any secret typed in (blank keeps the stored one).
/// Returns the profile as listed (no secret).
#[tauri::command]
pub async fn save_profile(
    state: State<'_, AppState>,
    input: ProfileInput,
    is_new: bool,
) -> CmdResult<Profile> {
    let core = state.core().await?;
    let name = input.name.trim().to_owned();
    let base_url = parse_base_url(input.base_url.as_deref())?;
    match input.provider.as_str() {
        "yilianyun" => {
            let secret = given(&input.secret).map(ClientSecret::new);
            if !is_new {
                // Fields left out keep their stored values; an empty address removes a custom one.
                let update = ProfileUpdate {
                    client_id: given(&input.client_id).map(str::to_owned),
                    region: input
                        .region
                        .as_deref()
                        .map(|r| setting(Some(r), Region::Cn))
                        .transpose()?,
                    api_version: input
                        .api_version
                        .as_deref()
                        .map(|v| setting(Some(v), ApiVersion::V2))
                        .transpose()?,
                    base_url: Some(base_url),
                    lingju_endpoint: None,
                };
                return blocking(core, move |c| {
                    c.update_profile(&name, update)?;
                    if let Some(secret) = secret {
                        c.set_client_secret(&name, secret)?;
                    }
                    c.profile(&name)
                })
                .await;
            }
            let p = quickauth_core::NewYilianyunProfile {
                name,
                client_id: input.client_id.as_deref().unwrap_or("").trim().to_owned(),
                region: setting(input.region.as_deref(), Region::Cn)?,
                api_version: setting(input.api_version.as_deref(), ApiVersion::V2)?,
                base_url,
                client_secret: secret.unwrap_or_else(|| ClientSecret::new("")),
            };
            blocking(core, move |c| c.add_yilianyun_profile(p)).await
        }
        "lingju" => {
            let appkey = given(&input.secret).map(LingjuAppKey::new);
            let authcode = given(&input.authcode).map(LingjuAuthCode::new);
            if !is_new {
                let update = ProfileUpdate {
                    base_url: Some(base_url),
                    lingju_endpoint: input
                        .endpoint
                        .as_deref()
                        .map(|e| setting(Some(e), LingjuEndpoint::HttpApi))
                        .transpose()?,
                    ..Default::default()
                };
                return blocking(core, move |c| {
                    c.update_profile(&name, update)?;
                    c.set_lingju_secrets(&name, appkey, authcode)?;
                    c.profile(&name)
                })
                .await;
            }
            let p = quickauth_core::NewLingjuProfile {
                name,
                endpoint: setting(input.endpoint.as_deref(), LingjuEndpoint::HttpApi)?,
                base_url,
                appkey: appkey.unwrap_or_else(|| LingjuAppKey::new("")),
                authcode,
            };
            blocking(core, move |c| c.add_lingju_profile(p)).await
        }
        _ => Err(invalid(
            "provider",
            "应为 yilianyun 或 lingju",
            "must be yilianyun or lingju",
        )),
    }
}

#[tauri::command]
pub async fn remove_profile(state: State<'_, AppState>, name: String) -> CmdResult<()> {
    let core = state.core().await?;
    blocking(core, move |c| c.remove_profile(&name)).await
}

// ------------------------------------------------------------------ browser code flow

#[derive(Serialize)]
pub struct FlowStarted {
    flow_id: String,
    authorize_url: String,
}

impl FlowStarted {
    pub fn new(flow_id: String, authorize_url: String) -> Self {
        Self {
            flow_id,
            authorize_url,
        }
    }
}

#[tauri::command]
pub async fn begin_code_flow(
    app: AppHandle,
    state: State<'_, AppState>,
    profile: String,
) -> CmdResult<FlowStarted> {
    let core = state.core().await?;
    crate::codeflow::begin(app, &state, core, &profile).await
}

#[tauri::command]
pub async fn complete_code_flow(
    app: AppHandle,
    state: State<'_, AppState>,
    flow_id: String,
    callback_url: String,
) -> CmdResult<AuthorizeOutcome> {
    let core = state.core().await?;
    let flow = crate::codeflow::take(&state, &flow_id)?;
    let device = core.complete_code_flow(&flow, &callback_url).await.rep()?;
    let _ = app.emit(
        "devices-changed",
        DevicesChanged {
            refreshed: 0,
            reason: "authorized",
        },
    );
    Ok(flow_outcome(&core, device).await)
}

#[tauri::command]
pub async fn open_code_flow_page(
    app: AppHandle,
    state: State<'_, AppState>,
    flow_id: String,
) -> CmdResult<()> {
    crate::codeflow::open_again(&app, &state, &flow_id)
}

#[tauri::command]
pub async fn cancel_code_flow(state: State<'_, AppState>, flow_id: String) -> CmdResult<()> {
    let _ = crate::codeflow::take(&state, &flow_id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_use_the_protocols_parser_and_say_what_is_allowed() {
        assert_eq!(setting(None, Region::Cn).unwrap(), Region::Cn);
        assert_eq!(setting(Some("cn-alt"), Region::Cn).unwrap(), Region::CnAlt);
        assert_eq!(setting(Some("v1"), ApiVersion::V2).unwrap(), ApiVersion::V1);
        assert_eq!(
            setting(Some("bltapi"), LingjuEndpoint::HttpApi).unwrap(),
            LingjuEndpoint::BltApi
        );
        let e = setting(Some("CN<script>"), Region::Cn).unwrap_err();
        assert_eq!(e.kind, "invalid_input");
        assert!(
            e.message_zh.contains("cn、overseas 或 cn-alt")
                && e.message_en.contains("cn, overseas or cn-alt")
        );
        assert!(
            !e.message_en.contains("script"),
            "the page's value is not echoed"
        );
    }
}
