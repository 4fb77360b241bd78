//! Authorized devices: list, status, test print, refresh, forget — and the two ways a token leaves the keyring
//! (reveal, copy), each only after the user confirms in a native dialog opened from here.

use std::sync::Arc;
use std::time::Duration;

use quickauth_core::{DeviceSummary, PrintReport, PrinterReport, QuickAuth};
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};
use zeroize::Zeroizing;

use super::{blocking, off_thread, DevicesChanged};
use crate::dialogs::{Confirm, Dialogs};
use crate::error::{report, AppError, CmdResult, ErrorReport, IntoReport};
use crate::state::AppState;

#[derive(Serialize)]
pub struct DeviceView {
    #[serde(flatten)]
    device: DeviceSummary,
    profile_builtin: bool,
}

#[tauri::command]
pub async fn list_devices(state: State<'_, AppState>) -> CmdResult<Vec<DeviceView>> {
    let core = state.core().await?;
    let devices = blocking(core, |c| c.list_devices()).await?;
    Ok(devices
        .into_iter()
        .map(|d| DeviceView {
            profile_builtin: d.profile == quickauth_core::BUILTIN_SANDBOX_PROFILE,
            device: d,
        })
        .collect())
}

/// Device ids from the page are `provider:id` safe: a bare id is resolved by the core when unambiguous.
#[tauri::command]
pub async fn printer_status(state: State<'_, AppState>, id: String) -> CmdResult<PrinterReport> {
    state.core().await?.printer_status(&id).await.rep()
}

#[tauri::command]
pub async fn print_test(state: State<'_, AppState>, id: String) -> CmdResult<PrintReport> {
    state.core().await?.print_test(&id).await.rep()
}

#[tauri::command]
pub async fn refresh_device(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
) -> CmdResult<DeviceSummary> {
    let r = state.core().await?.refresh(&id).await.rep()?;
    let _ = app.emit(
        "devices-changed",
        DevicesChanged {
            refreshed: 0,
            reason: "refreshed",
        },
    );
    Ok(r.device)
}

#[derive(Serialize)]
pub struct RefreshDueReport {
    checked: usize,
    refreshed: usize,
    failed: usize,
    errors: Vec<(String, ErrorReport)>,
}

impl RefreshDueReport {
    pub fn checked(&self) -> usize {
        self.checked
    }
    pub fn refreshed(&self) -> usize {
        self.refreshed
    }
}

pub async fn run_refresh_due(core: &QuickAuth) -> CmdResult<RefreshDueReport> {
    let done = core.refresh_due().await.rep()?;
    let mut rep = RefreshDueReport {
        checked: done.len(),
        refreshed: 0,
        failed: 0,
        errors: Vec::new(),
    };
    for (dev, res) in done {
        match res {
            Ok(_) => rep.refreshed += 1,
            Err(e) => {
                rep.failed += 1;
                rep.errors.push((dev.id, ErrorReport::from(&e)));
            }
        }
    }
    Ok(rep)
}

#[tauri::command]
pub async fn refresh_due(state: State<'_, AppState>) -> CmdResult<RefreshDueReport> {
    let core = state.core().await?;
    run_refresh_due(&core).await
}

#[tauri::command]
pub async fn forget_device(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    remote: bool,
) -> CmdResult<()> {
    state.core().await?.forget(&id, remote).await.rep()?;
    let _ = app.emit(
        "devices-changed",
        DevicesChanged {
            refreshed: 0,
            reason: "forgotten",
        },
    );
    Ok(())
}

// ------------------------------------------------------------------ tokens leaving the keyring

/// Which token `copy_token` puts on the clipboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Access,
    Refresh,
}

impl Which {
    pub fn parse(s: &str) -> CmdResult<Self> {
        match s {
            "access" => Ok(Which::Access),
            "refresh" => Ok(Which::Refresh),
            _ => Err(ErrorReport::from(&quickauth_core::Error::InvalidInput {
                field: "which",
                detail: "应为 access 或 refresh / must be access or refresh".into(),
            })),
        }
    }
}

/// What the user is asked before a token leaves the keyring. The device is named from the core's record (not from
/// the page's text), so a script cannot make the dialog say something else.
pub fn confirm_text(device: &DeviceSummary, copy: Option<Which>) -> Confirm {
    let name = format!("{} {} ({})", device.provider, device.id, device.profile);
    match copy {
        None => Confirm {
            title: "显示令牌 Show tokens".into(),
            message: format!(
                "要在屏幕上显示 {name} 的访问令牌和刷新令牌吗？\n拿到令牌的人可以控制这台设备，请确认周围没有旁人。\n\n\
                 Show the access and refresh tokens of {name} on screen?\nWhoever has them can control this device."
            ),
            ok_label: "显示 Show".into(),
        },
        Some(which) => {
            let (zh, en) = match which {
                Which::Access => ("访问令牌", "access token"),
                Which::Refresh => ("刷新令牌", "refresh token"),
            };
            Confirm {
                title: "复制令牌 Copy token".into(),
                message: format!(
                    "要把 {name} 的{zh}复制到剪贴板吗？60 秒后会自动清除。\n\n\
                     Copy the {en} of {name} to the clipboard? It is cleared after 60 s."
                ),
                ok_label: "复制 Copy".into(),
            }
        }
    }
}

/// Resolves the device and asks the user. Declined → `cancelled`, and the keyring is never read.
pub async fn ask_before_reveal(
    core: Arc<QuickAuth>,
    dialogs: Arc<dyn Dialogs>,
    id: String,
    copy: Option<Which>,
) -> CmdResult<quickauth_core::RevealedTokens> {
    let lookup = id.clone();
    let device = blocking(core.clone(), move |c| c.device(&lookup)).await?;
    let mut ask = confirm_text(&device, copy);
    // Issue 9: a copied token of a device QuickAuth keeps refreshing breaks at the next refresh; say so, and point
    // to the hand-over, before anything leaves.
    let lookup = id.clone();
    let advice = blocking(core.clone(), move |c| c.reveal_advice(&lookup)).await?;
    ask.message = format!(
        "{}\n\n{}\n{}",
        ask.message, advice.message_zh, advice.message_en
    );
    if !off_thread(move || dialogs.confirm(&ask)).await? {
        return Err(report(&AppError::Cancelled));
    }
    blocking(core, move |c| c.reveal_tokens(&id)).await
}

/// The explicit reveal: the one command that returns a token, after the user confirmed in a native dialog.
#[derive(Serialize)]
pub struct RevealedView {
    id: String,
    access_token: String,
    refresh_token: Option<String>,
}

#[tauri::command]
pub async fn reveal_tokens(state: State<'_, AppState>, id: String) -> CmdResult<RevealedView> {
    let core = state.core().await?;
    let t = ask_before_reveal(core, state.dialogs.clone(), id, None).await?;
    Ok(RevealedView {
        id: t.device.id.clone(),
        access_token: t.access_token.expose().to_owned(),
        refresh_token: t.refresh_token.as_ref().map(|r| r.expose().to_owned()),
    })
}

/// How long a copied token stays on the clipboard.
const CLIPBOARD_CLEAR_AFTER: Duration = Duration::from_secs(60);

/// Puts a token on the clipboard from Rust (the page never needs clipboard permissions), after the user
/// confirmed in a native dialog, and clears it after 60 s unless the user copied something else meanwhile.
#[tauri::command]
pub async fn copy_token(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    which: String,
) -> CmdResult<()> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    let which = Which::parse(&which)?;
    let core = state.core().await?;
    let t = ask_before_reveal(core, state.dialogs.clone(), id, Some(which)).await?;
    let value = Zeroizing::new(match which {
        Which::Refresh => t
            .refresh_token
            .as_ref()
            .map(|r| r.expose().to_owned())
            .unwrap_or_default(),
        Which::Access => t.access_token.expose().to_owned(),
    });
    app.clipboard()
        .write_text(value.as_str())
        .map_err(|e| report(&AppError::Clipboard(e.to_string())))?;
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(CLIPBOARD_CLEAR_AFTER).await;
        let still_ours = app
            .clipboard()
            .read_text()
            .map(|now| Zeroizing::new(now) == value)
            .unwrap_or(false);
        if still_ours {
            let _ = app.clipboard().write_text("");
        }
    });
    Ok(())
}
