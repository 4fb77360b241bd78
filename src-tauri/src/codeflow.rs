//! The open-app code flow from the UI. On desktops a one-shot loopback listener catches the browser's redirect
//! (`http://127.0.0.1:<port>/callback?code=…&state=…`, see `desktop.rs`); everywhere, the merchant can paste the
//! callback URL instead (the only way on phones, where the redirect goes to a loopback address nothing listens on).

use std::sync::Arc;
use std::time::{Duration, Instant};

use quickauth_core::{CodeFlow, QuickAuth};
use serde::Serialize;
use tauri::AppHandle;

use crate::commands::profiles::FlowStarted;
use crate::error::{report, AppError, CmdResult, ErrorReport, IntoReport};
use crate::state::{AppState, PendingFlow};

/// The Yilianyun code is valid 600 s; a flow waits a little longer than that for a slow merchant.
pub const FLOW_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Event `code-flow-finished`: the redirect was caught and the flow completed (or failed).
#[derive(Serialize, Clone)]
pub struct FlowFinished {
    pub flow_id: String,
    pub outcome: Option<serde_json::Value>,
    pub error: Option<ErrorReport>,
}

fn open_in_browser(app: &AppHandle, url: &str) {
    use tauri_plugin_opener::OpenerExt;
    if app.opener().open_url(url, None::<&str>).is_err() {
        // No browser (e.g. a headless test box): the dialog shows the link and offers the pasted-URL path.
        // The launcher's error quotes the URL (with its CSRF state), so it is not logged.
        tracing::warn!("could not open the system browser");
    }
}

static FLOW_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub async fn begin(
    app: AppHandle,
    state: &AppState,
    core: Arc<QuickAuth>,
    profile: &str,
) -> CmdResult<FlowStarted> {
    let redirect = crate::platform::code_flow_redirect().await?;
    let flow = core
        .begin_code_flow(profile, redirect.uri.clone())
        .await
        .rep()?;
    let flow_id = format!(
        "f{}",
        FLOW_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let url = flow.url.to_string();
    let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel();
    state.flows.lock().expect("flows lock").insert(
        flow_id.clone(),
        PendingFlow {
            flow,
            started: Instant::now(),
            cancel: Some(cancel_tx),
        },
    );
    crate::platform::catch_redirect(app.clone(), core, redirect, flow_id.clone(), cancel_rx);
    open_in_browser(&app, &url);
    Ok(FlowStarted::new(flow_id, url))
}

/// Removes a pending flow (stopping its listener) and hands it over.
pub fn take(state: &AppState, flow_id: &str) -> CmdResult<CodeFlow> {
    let mut flows = state.flows.lock().expect("flows lock");
    flows.retain(|_, f| f.started.elapsed() < FLOW_TIMEOUT);
    let mut f = flows
        .remove(flow_id)
        .ok_or_else(|| report(&AppError::FlowNotFound(flow_id.chars().take(40).collect())))?;
    if let Some(c) = f.cancel.take() {
        let _ = c.send(());
    }
    Ok(f.flow)
}

pub fn open_again(app: &AppHandle, state: &AppState, flow_id: &str) -> CmdResult<()> {
    let url = state
        .flows
        .lock()
        .expect("flows lock")
        .get(flow_id)
        .map(|f| f.flow.url.to_string())
        .ok_or_else(|| report(&AppError::FlowNotFound(flow_id.chars().take(40).collect())))?;
    open_in_browser(app, &url);
    Ok(())
}
