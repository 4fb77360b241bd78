//! The built-in sandbox: where it listens (for demos and the WebDriver tests' fault controls) and freshly minted
//! test labels, so anyone can try the whole flow without an account.

use base64::Engine as _;
use serde::Serialize;
use tauri::State;

use crate::error::{report, AppError, CmdResult, IntoReport};
use crate::state::AppState;

#[derive(Serialize)]
pub struct SandboxInfo {
    base_url: String,
}

/// Where the built-in sandbox listens (loopback), for demos and the WebDriver tests' fault controls.
#[tauri::command]
pub async fn sandbox_info(state: State<'_, AppState>) -> CmdResult<SandboxInfo> {
    let core = state.core().await?;
    let sb = core.sandbox().await.rep()?;
    Ok(SandboxInfo {
        base_url: sb.base_url().to_string(),
    })
}

#[derive(Serialize)]
pub struct TestLabel {
    machine_code: String,
    kind: &'static str,
    png_base64: String,
}

/// "Make a test label": a freshly minted sandbox printer label, as a PNG, so anyone can try the whole flow.
#[tauri::command]
pub async fn sandbox_test_label(
    state: State<'_, AppState>,
    kind: Option<String>,
) -> CmdResult<TestLabel> {
    let core = state.core().await?;
    let sb = core.sandbox().await.rep()?;
    let (lk, kind) = match kind.as_deref() {
        Some("msign") => (quickauth_sandbox::LabelKind::Msign, "msign"),
        _ => (quickauth_sandbox::LabelKind::QrKey, "qr_key"),
    };
    let label = sb.mint_label(lk);
    let machine_code = label.machine_code.clone();
    let opts = quickauth_qr::label::LabelOptions {
        lines: vec![format!("SN:{machine_code}")],
        ..Default::default()
    };
    let img = quickauth_qr::label::render_text(&label.payload, &opts)
        .map_err(|e| report(&AppError::Internal(e.to_string())))?;
    let png = quickauth_qr::label::png_bytes(&img);
    Ok(TestLabel {
        machine_code,
        kind,
        png_base64: base64::engine::general_purpose::STANDARD.encode(png),
    })
}
