//! Hand-over commands (issue 9) for the Profiles and Devices pages: a profile's delivery destination, a device's
//! ownership and hand-over, the outbox. The background loop runs `background_deliveries` after each refresh pass
//! and every `DELIVERY_INTERVAL`.
//!
//! The page is untrusted. What it sends is validated by the core (profile names, URL, secret shape). Two actions
//! need a confirmation in a native dialog opened from Rust, never a flag from the page:
//! - `handover_device` opens its own dialog, with the text of `handover_prompt`.
//! - `reveal_advice` is the text the lead's native reveal/copy dialog shows for a kept or delivered device. It
//!   offers the hand-over.
//!
//! The only secret that ever goes to the page here is a signing secret the user asked QuickAuth to generate,
//! returned once by `set_delivery` (the CLI prints it once too). A secret the user types goes page → Rust only.

use std::time::Duration;

use quickauth_core::{
    DeliverRun, Delivery, DeliverySettings, HandoverReport, Ownership, QuickAuth, RevealAdvice,
    SigningSecret, WebhookSecret,
};
use serde::{Deserialize, Serialize};
use tauri::State;

use super::{blocking, off_thread};
use crate::dialogs::Confirm;
use crate::error::{report, AppError, CmdResult, ErrorReport, IntoReport};
use crate::state::AppState;

/// How often the app's background loop runs the outbox (due events only; backoff lives in the outbox itself).
pub const DELIVERY_INTERVAL: Duration = Duration::from_secs(60);

fn parse_ownership(s: Option<&str>) -> CmdResult<Option<Ownership>> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => Ownership::parse(s).map(Some).ok_or_else(|| {
            ErrorReport::from(&quickauth_core::Error::InvalidInput {
                field: "ownership",
                detail:
                    "应为 kept、delivered 或 handed-over / must be kept, delivered or handed-over"
                        .into(),
            })
        }),
    }
}

/// An outbox event id as the core makes them (`msg_` + 32 hex); anything else is refused before it reaches SQL.
fn check_event_id(id: &str) -> CmdResult<()> {
    let ok = id
        .strip_prefix("msg_")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(ErrorReport::from(&quickauth_core::Error::InvalidInput {
            field: "event_id",
            detail: "不是交付事件编号 / not a delivery event id".into(),
        }))
    }
}

/// The profile's destination (never the secret), or null.
#[tauri::command]
pub async fn delivery_settings(
    state: State<'_, AppState>,
    profile: String,
) -> CmdResult<Option<DeliverySettings>> {
    let core = state.core().await?;
    blocking(core, move |c| c.delivery_settings(&profile)).await
}

/// What the page sends to set a destination. `secret` is write-only (zeroized on drop); `generate_secret` asks
/// for a new one instead.
#[derive(Deserialize)]
pub struct DeliveryInput {
    pub profile: String,
    pub url: String,
    pub ownership: Option<String>,
    pub secret: Option<String>,
    #[serde(default)]
    pub generate_secret: bool,
}

impl Drop for DeliveryInput {
    fn drop(&mut self) {
        if let Some(s) = self.secret.as_mut() {
            zeroize::Zeroize::zeroize(s);
        }
    }
}

#[derive(Serialize)]
pub struct DeliverySaved {
    pub settings: DeliverySettings,
    /// Only when the user asked QuickAuth to generate one: shown once, never retrievable again.
    pub generated_secret: Option<String>,
}

/// Sets a profile's destination. Without a new secret (blank and not generating), the stored one is kept.
#[tauri::command]
pub async fn set_delivery(
    state: State<'_, AppState>,
    input: DeliveryInput,
) -> CmdResult<DeliverySaved> {
    let ownership = parse_ownership(input.ownership.as_deref())?;
    let secret = if input.generate_secret {
        SigningSecret::Generate
    } else {
        match input
            .secret
            .as_deref()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            Some(s) => SigningSecret::Given(WebhookSecret::parse(s).rep()?),
            None => SigningSecret::Keep,
        }
    };
    let (profile, url) = (input.profile.clone(), input.url.clone());
    drop(input);
    let core = state.core().await?;
    let (settings, generated) = blocking(core, move |c| {
        c.set_delivery(&profile, &url, ownership, secret)
    })
    .await?;
    Ok(DeliverySaved {
        settings,
        generated_secret: generated.map(|s| s.expose().to_owned()),
    })
}

/// Removes the profile's destination and its signing secret.
#[tauri::command]
pub async fn remove_delivery(state: State<'_, AppState>, profile: String) -> CmdResult<bool> {
    let core = state.core().await?;
    blocking(core, move |c| c.remove_delivery(&profile)).await
}

/// What the native reveal / copy dialog says for this device, and whether it can offer the hand-over.
#[tauri::command]
pub async fn reveal_advice(state: State<'_, AppState>, id: String) -> CmdResult<RevealAdvice> {
    let core = state.core().await?;
    blocking(core, move |c| c.reveal_advice(&id)).await
}

#[derive(Serialize)]
pub struct HandoverPrompt {
    pub message_zh: String,
    pub message_en: String,
}

/// The text of the native hand-over confirmation (the lead's dialog shows it; the page never confirms itself).
#[tauri::command]
pub async fn handover_prompt(state: State<'_, AppState>, id: String) -> CmdResult<HandoverPrompt> {
    let core = state.core().await?;
    let device = blocking(core.clone(), {
        let id = id.clone();
        move |c| c.device(&id)
    })
    .await?;
    let to = blocking(core, {
        let profile = device.profile.clone();
        move |c| c.delivery_settings(&profile)
    })
    .await?
    .map(|s| s.url)
    .unwrap_or_default();
    let to = url::Url::parse(&to)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    Ok(HandoverPrompt {
        message_zh: format!(
            "把设备 {} 的令牌移交给 {to}？移交后 QuickAuth 不再刷新它；接收方确认后，本机钥匙串中的令牌会被删除。此操作不能撤销（只能重新扫码授权）。",
            device.id
        ),
        message_en: format!(
            "Hand the tokens of device {} over to {to}? QuickAuth will never refresh it again, and deletes the tokens from this keyring once the receiver acknowledges them. This cannot be undone (only by authorizing the device again).",
            device.id
        ),
    })
}

/// Hands a device over after the user confirmed it in a native dialog opened here, from Rust: a page script can
/// call this command, but it cannot answer the dialog.
#[tauri::command]
pub async fn handover_device(state: State<'_, AppState>, id: String) -> CmdResult<HandoverReport> {
    let prompt = handover_prompt(state.clone(), id.clone()).await?;
    let ask = Confirm {
        title: "移交令牌 Hand over tokens".into(),
        message: format!("{}\n\n{}", prompt.message_zh, prompt.message_en),
        ok_label: "移交 Hand over".into(),
    };
    let dialogs = state.dialogs.clone();
    if !off_thread(move || dialogs.confirm(&ask)).await? {
        return Err(report(&AppError::Cancelled));
    }
    state.core().await?.handover(&id).await.rep()
}

/// Every delivery event (no tokens), newest first.
#[tauri::command]
pub async fn deliveries(
    state: State<'_, AppState>,
    limit: Option<usize>,
) -> CmdResult<Vec<Delivery>> {
    let limit = limit.unwrap_or(200).min(1000);
    let core = state.core().await?;
    blocking(core, move |c| c.deliveries(limit)).await
}

/// Runs the outbox now (also events still waiting for their retry time), e.g. from a "send now" button.
#[tauri::command]
pub async fn deliver_now(state: State<'_, AppState>) -> CmdResult<DeliverRun> {
    state.core().await?.deliver(true).await.rep()
}

/// Queues a failed event again (or every failed one) and sends it now.
#[tauri::command]
pub async fn retry_delivery(
    state: State<'_, AppState>,
    event_id: Option<String>,
) -> CmdResult<DeliverRun> {
    if let Some(id) = &event_id {
        check_event_id(id)?;
    }
    let core = state.core().await?;
    blocking(core.clone(), move |c| {
        c.retry_failed_deliveries(event_id.as_deref())
    })
    .await?;
    core.deliver(true).await.rep()
}

/// One background pass (the lead's loop calls it every `DELIVERY_INTERVAL`, and after a refresh pass): sends
/// the due events; a 410 disables the destination, which the Profiles page shows from `delivery_settings`.
pub async fn background_deliveries(core: &QuickAuth) -> CmdResult<DeliverRun> {
    let run = core.deliver(false).await.rep()?;
    if run.attempted > 0 || !run.disabled.is_empty() {
        tracing::info!(
            attempted = run.attempted,
            delivered = run.delivered,
            failed = run.failed,
            pending = run.pending,
            disabled = run.disabled.len(),
            "background delivery pass"
        );
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_checked_before_use() {
        assert!(check_event_id("msg_0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "",
            "msg_",
            "msg_xyz",
            "0123456789abcdef0123456789abcdef",
            "msg_0123456789abcdef0123456789abcdef' OR 1=1",
        ] {
            assert!(check_event_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ownership_strings() {
        assert_eq!(
            parse_ownership(Some("delivered")).unwrap(),
            Some(Ownership::Delivered)
        );
        assert_eq!(parse_ownership(None).unwrap(), None);
        assert!(parse_ownership(Some("mine")).is_err());
    }
}
