//! The open-app code flow from the UI: a one-shot loopback listener catches the browser's redirect
//! (`http://127.0.0.1:<port>/callback?code=…&state=…`); a pasted callback URL works the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quickauth_core::{CodeFlow, QuickAuth};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::commands::FlowStarted;
use crate::error::{report, AppError, CmdResult, ErrorReport, IntoReport};
use crate::state::{AppState, PendingFlow};

/// The Yilianyun code is valid 600 s; the listener waits a little longer than that for a slow merchant.
const FLOW_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Serialize, Clone)]
struct FlowFinished {
    flow_id: String,
    outcome: Option<serde_json::Value>,
    error: Option<ErrorReport>,
}

fn open_in_browser(app: &AppHandle, url: &str) {
    use tauri_plugin_opener::OpenerExt;
    if app.opener().open_url(url, None::<&str>).is_err() {
        // No browser (e.g. a headless test box): the dialog shows the link and offers the pasted-URL path.
        // The launcher's error quotes the URL (with its CSRF state), so it is not logged.
        tracing::warn!("could not open the system browser");
    }
}

pub async fn begin(app: AppHandle, state: &AppState, core: Arc<QuickAuth>, profile: &str) -> CmdResult<FlowStarted> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| report(&AppError::Io { context: "loopback listener", detail: e.to_string() }))?;
    let port = listener.local_addr().map_err(|e| report(&AppError::Internal(e.to_string())))?.port();
    let redirect = url::Url::parse(&format!("http://127.0.0.1:{port}/callback")).expect("valid loopback URL");
    let flow = core.begin_code_flow(profile, redirect).await.rep()?;
    let flow_id = format!("f{port}");
    let url = flow.url.to_string();
    let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel();
    state
        .flows
        .lock()
        .expect("flows lock")
        .insert(flow_id.clone(), PendingFlow { flow, started: Instant::now(), cancel: Some(cancel_tx) });
    tauri::async_runtime::spawn(serve(app.clone(), core, listener, flow_id.clone(), cancel_rx));
    open_in_browser(&app, &url);
    Ok(FlowStarted::new(flow_id, url))
}

/// Removes a pending flow (stopping its listener) and hands it over.
pub fn take(state: &AppState, flow_id: &str) -> CmdResult<CodeFlow> {
    let mut flows = state.flows.lock().expect("flows lock");
    flows.retain(|_, f| f.started.elapsed() < FLOW_TIMEOUT);
    let mut f = flows.remove(flow_id).ok_or_else(|| report(&AppError::FlowNotFound(flow_id.chars().take(40).collect())))?;
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

const PAGE_OK: &str = "<!doctype html><meta charset=utf-8><title>QuickAuth</title><body style=\"font-family:sans-serif;padding:40px\"><h2>授权已收到，可以关闭此页面，回到 QuickAuth。</h2><p>Authorization received. You can close this tab and return to QuickAuth.</p>";

async fn serve(
    app: AppHandle,
    core: Arc<QuickAuth>,
    listener: TcpListener,
    flow_id: String,
    mut cancel: tokio::sync::oneshot::Receiver<()>,
) {
    let deadline = tokio::time::sleep(FLOW_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        let (mut sock, _) = tokio::select! {
            _ = &mut cancel => return,
            _ = &mut deadline => { let _ = take(&app.state::<AppState>(), &flow_id); return; }
            acc = listener.accept() => match acc { Ok(s) => s, Err(_) => continue },
        };
        let mut buf = vec![0u8; 8192];
        let n = match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => continue,
        };
        let head = String::from_utf8_lossy(&buf[..n]);
        let Some(target) = head.lines().next().and_then(|l| l.split_whitespace().nth(1)) else { continue };
        if !target.starts_with("/callback") {
            let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            continue;
        }
        let callback = format!("http://127.0.0.1{target}");
        let page = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE_OK}",
            PAGE_OK.len()
        );
        let _ = sock.write_all(page.as_bytes()).await;
        let _ = sock.shutdown().await;
        let flow = {
            let st = app.state::<AppState>();
            let mut flows = st.flows.lock().expect("flows lock");
            match flows.remove(&flow_id) {
                Some(f) => f.flow,
                None => return,
            }
        };
        let msg = match core.complete_code_flow(&flow, &callback).await {
            Ok(device) => {
                let outcome = crate::commands::flow_outcome(&core, device).await;
                let _ = app.emit("devices-changed", crate::commands::DevicesChanged { refreshed: 0, reason: "authorized" });
                FlowFinished { flow_id, outcome: serde_json::to_value(outcome).ok(), error: None }
            }
            Err(e) => FlowFinished { flow_id, outcome: None, error: Some(ErrorReport::from(&e)) },
        };
        let _ = app.emit("code-flow-finished", msg);
        return;
    }
}
