//! Scanning and authorizing: live sources (native preview, webview camera), label images (picked in a native
//! dialog, dropped on the window, or pasted as bytes), manual entry, and the authorize commands.

use std::path::PathBuf;
use std::sync::Arc;

use quickauth_core::{DeviceSummary, PrinterReport, QuickAuth};
use quickauth_protocol::{DeviceKey, Field, InputError, MachineCode, UserId};
use serde::{Deserialize, Serialize};
use tauri::ipc::{Channel, InvokeBody, InvokeResponseBody, Request};
use tauri::{AppHandle, DragDropEvent, Emitter, Manager, Runtime, State, Window, WindowEvent};

use super::{off_thread, DevicesChanged};
use crate::camera::{self, FrameSink, SourceId, SourceInfo};
use crate::error::{report, AppError, CmdResult, ErrorReport, IntoReport};
use crate::scans::{Detections, PreviewEvent, ScanTarget, ScanView};
use crate::state::AppState;
use crate::webcam::{frame_meta, FrameResult, WebcamSession};

// ------------------------------------------------------------------ native preview

#[derive(Serialize)]
pub struct Sources {
    sources: Vec<SourceInfo>,
    camera_error: Option<String>,
}

#[tauri::command]
pub async fn preview_sources(state: State<'_, AppState>) -> CmdResult<Sources> {
    let mut sources = Vec::new();
    if let Some(f) = &state.launch.frames {
        sources.push(SourceInfo {
            id: SourceId::Images.to_wire(),
            label: f
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            kind: "images",
        });
    }
    // Device enumeration talks to V4L2 (or the OS camera API): keep it off the async workers.
    let (cams, err) = off_thread(crate::platform::list_cameras).await?;
    sources.extend(cams);
    Ok(Sources {
        sources,
        camera_error: err,
    })
}

struct ChannelSink(Channel<InvokeResponseBody>);

impl FrameSink for ChannelSink {
    fn preview(&mut self, jpeg: Vec<u8>) -> bool {
        self.0.send(InvokeResponseBody::Raw(jpeg)).is_ok()
    }
}

#[tauri::command]
pub async fn preview_start(
    app: AppHandle,
    state: State<'_, AppState>,
    source: String,
    frames: Channel<InvokeResponseBody>,
    detections: Channel<PreviewEvent>,
) -> CmdResult<String> {
    let id = SourceId::from_wire(&source)
        .ok_or_else(|| report(&AppError::UnknownSource(source.clone())))?;
    if id == SourceId::Images && state.launch.frames.is_none() {
        return Err(report(&AppError::UnknownSource(source)));
    }
    state.stop_live_sources().await;
    // Live mode for camera frames (bounded per frame, the full search spread over consecutive frames).
    let mut decoder = quickauth_qr::Decoder::live();
    let handle = app.clone();
    let det = detections.clone();
    let mut seen = Detections::default();
    let session = camera::start(
        id,
        state.launch.frames.clone(),
        ChannelSink(frames),
        move |luma| {
            decoder
                .decode(quickauth_qr::LumaFrame {
                    width: luma.width(),
                    height: luma.height(),
                    data: luma.as_raw(),
                })
                .into_iter()
                .map(|d| (d.text, d.corners))
                .collect()
        },
        move |fd| {
            let _ = det.send(seen.on_decode(&handle.state::<AppState>().scans, fd));
        },
        move |err| {
            let e = match err {
                camera::SourceError::CameraOpen(d) => AppError::CameraOpen(d),
                camera::SourceError::CameraLost(d) => AppError::CameraLost(d),
                other => AppError::CameraOpen(other.to_string()),
            };
            tracing::warn!(
                kind = quickauth_core::Localized::kind(&e),
                "preview source stopped"
            );
            let _ = detections.send(PreviewEvent::Stopped {
                reason: Some(report(&e)),
            });
        },
    );
    let wire = session.source_id.to_wire();
    *state.preview.lock().expect("preview lock") = Some(session);
    Ok(wire)
}

/// Stops the live source, whichever it is (native preview or webview camera).
#[tauri::command]
pub async fn preview_stop(state: State<'_, AppState>) -> CmdResult<()> {
    state.stop_live_sources().await;
    Ok(())
}

// ------------------------------------------------------------------ webview camera

/// Starts a webview-camera session: detections for the frames the page pushes arrive on `detections`, exactly
/// as for `preview_start`. Ends a native preview that was running.
#[tauri::command]
pub async fn webview_camera_start(
    state: State<'_, AppState>,
    detections: Channel<PreviewEvent>,
) -> CmdResult<()> {
    state.stop_live_sources().await;
    *state.webcam.lock().expect("webcam lock") = Some(Arc::new(WebcamSession::new(detections)));
    Ok(())
}

/// One camera frame from the page: raw luma bytes, sizes in the `x-frame-width` / `x-frame-height` headers.
#[tauri::command]
pub async fn push_camera_frame(app: AppHandle, request: Request<'_>) -> CmdResult<FrameResult> {
    let state = app.state::<AppState>();
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(report(&AppError::BadFrame(
            "expected raw luma bytes, not JSON".into(),
        )));
    };
    let meta = frame_meta(request.headers(), bytes.len()).map_err(ErrorReport::from)?;
    let Some(session) = state.webcam.lock().expect("webcam lock").clone() else {
        return Err(report(&AppError::CameraLost(
            "the camera session is not running".into(),
        )));
    };
    let Some(claim) = session.try_claim() else {
        return Ok(FrameResult {
            decoded: false,
            codes: 0,
            ms: 0.0,
        });
    };
    let luma = bytes.clone();
    let app = app.clone();
    off_thread(move || claim.process(meta, luma, &app.state::<AppState>().scans)).await
}

// ------------------------------------------------------------------ label images

fn first_scan(state: &AppState, decoded: Vec<quickauth_qr::Decoded>) -> CmdResult<ScanView> {
    // A label holds one code; if a picture holds several, prefer one that parses as a label.
    let mut unparsed = None;
    for d in decoded {
        match state.scans.admit(&d.text) {
            v @ ScanView::Ok { .. } => return Ok(v),
            v => unparsed = unparsed.or(Some(v)),
        }
    }
    unparsed.ok_or_else(|| report(&AppError::NoCodeInImage))
}

/// Decodes an image file the user chose (open dialog) or dropped on the window: never a path from the page.
async fn scan_user_file(state: &AppState, path: PathBuf) -> CmdResult<ScanView> {
    let decoded = off_thread(move || quickauth_qr::decode_image_file(&path))
        .await?
        .map_err(|e| ErrorReport::from(&quickauth_core::Error::from(e)))?;
    first_scan(state, decoded)
}

/// Asks for a label image in the native open dialog and scans it; `None` when the user cancelled.
pub async fn pick_and_scan(state: &AppState) -> CmdResult<Option<ScanView>> {
    let dialogs = state.dialogs.clone();
    let Some(path) = off_thread(move || dialogs.pick_image()).await? else {
        return Ok(None);
    };
    scan_user_file(state, path).await.map(Some)
}

/// Opens the native open dialog (PNG, JPEG, GIF, BMP, WebP, TIFF) and scans the chosen image; `null` when the user cancelled.
#[tauri::command]
pub async fn scan_image_pick(state: State<'_, AppState>) -> CmdResult<Option<ScanView>> {
    pick_and_scan(&state).await
}

/// Files dropped on the window (desktop): the first image is scanned and the result goes to the page as event
/// `scan-dropped`, whose payload is a `ScanView` (`status` tag) or an `ErrorReport` (`type` tag).
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    let WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event else {
        return;
    };
    let Some(path) = paths.first().cloned() else {
        return;
    };
    let app = window.app_handle().clone();
    tauri::async_runtime::spawn(async move {
        let Some(state) = app.try_state::<AppState>() else {
            return;
        };
        let sent = match scan_user_file(&state, path).await {
            Ok(scan) => app.emit("scan-dropped", scan),
            Err(e) => app.emit("scan-dropped", e),
        };
        if sent.is_err() {
            tracing::warn!("could not deliver the dropped image's scan to the page");
        }
    });
}

const MAX_IMAGE_BYTES: usize = 40 * 1024 * 1024;

/// Raw image bytes in the request body (paste from the clipboard, the sandbox test label).
#[tauri::command]
pub async fn scan_image_bytes(
    state: State<'_, AppState>,
    request: Request<'_>,
) -> CmdResult<ScanView> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(report(&AppError::BadImage(
            "expected raw image bytes".into(),
        )));
    };
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(report(&AppError::BadImage(format!(
            "{} MB is too large",
            bytes.len() / 1_000_000
        ))));
    }
    let bytes = bytes.clone();
    let decoded = off_thread(move || -> Result<Vec<quickauth_qr::Decoded>, AppError> {
        let (width, height, luma) = quickauth_qr::image_to_luma(&bytes).map_err(|e| match e {
            quickauth_qr::DecodeError::BadImage { reason, .. } => AppError::BadImage(reason),
            other => AppError::BadImage(other.to_string()),
        })?;
        let mut decoder = quickauth_qr::Decoder::new(quickauth_qr::DecoderOptions::still_image());
        Ok(decoder.decode(quickauth_qr::LumaFrame {
            width,
            height,
            data: &luma,
        }))
    })
    .await?
    .map_err(ErrorReport::from)?;
    first_scan(&state, decoded)
}

// ------------------------------------------------------------------ manual entry

#[derive(Deserialize)]
pub struct ManualInput {
    provider: String,
    machine_code: Option<String>,
    key_kind: Option<String>,
    key: Option<String>,
    userid: Option<String>,
}

impl Drop for ManualInput {
    fn drop(&mut self) {
        if let Some(k) = self.key.as_mut() {
            zeroize::Zeroize::zeroize(k);
        }
    }
}

#[derive(Serialize, Default)]
pub struct ManualFields {
    machine_code: Option<ErrorReport>,
    key: Option<ErrorReport>,
    userid: Option<ErrorReport>,
}

#[derive(Serialize)]
pub struct ManualCheck {
    ok: bool,
    fields: ManualFields,
}

fn check(input: &ManualInput) -> (ManualFields, Option<ScanTarget>) {
    let mut fields = ManualFields::default();
    if input.provider == "lingju" {
        return match UserId::parse(input.userid.as_deref().unwrap_or("")) {
            Ok(u) => (fields, Some(ScanTarget::Lingju(u))),
            Err(e) => {
                fields.userid = Some(report(&e));
                (fields, None)
            }
        };
    }
    let mc = MachineCode::parse(input.machine_code.as_deref().unwrap_or(""));
    if let Err(e) = &mc {
        fields.machine_code = Some(report(e));
    }
    // The one device-key validator every entry point uses (its errors never echo a character of the key).
    let key = input.key.as_deref().unwrap_or("");
    let key = if input.key_kind.as_deref() == Some("msign") {
        DeviceKey::parse_msign(key)
    } else {
        DeviceKey::parse_qr_key(key)
    };
    if let Err(e) = &key {
        fields.key = Some(report(e));
    }
    match (mc, key) {
        (Ok(mc), Ok(key)) => (fields, Some(ScanTarget::Yilianyun(mc, key))),
        _ => (fields, None),
    }
}

/// Validates manual entry as the user types, with the same parsers the authorization uses.
#[tauri::command]
pub async fn check_manual(input: ManualInput) -> CmdResult<ManualCheck> {
    let (fields, target) = check(&input);
    Ok(ManualCheck {
        ok: target.is_some(),
        fields,
    })
}

// ------------------------------------------------------------------ authorize

#[derive(Serialize)]
pub struct AuthorizeOutcome {
    device: DeviceSummary,
    printer: Option<PrinterReport>,
    printer_error: Option<ErrorReport>,
}

/// The device plus, for a printer, its status (a courtesy: its failure does not undo the authorization).
pub async fn flow_outcome(core: &QuickAuth, device: DeviceSummary) -> AuthorizeOutcome {
    if device.provider != "yilianyun" {
        return AuthorizeOutcome {
            device,
            printer: None,
            printer_error: None,
        };
    }
    match core.printer_status(&device.key).await {
        Ok(p) => AuthorizeOutcome {
            device,
            printer: Some(p),
            printer_error: None,
        },
        Err(e) => AuthorizeOutcome {
            device,
            printer: None,
            printer_error: Some(ErrorReport::from(&e)),
        },
    }
}

async fn authorize_target(
    app: &AppHandle,
    core: &QuickAuth,
    profile: &str,
    target: ScanTarget,
) -> CmdResult<AuthorizeOutcome> {
    let device = match target {
        ScanTarget::Yilianyun(mc, key) => core.authorize_yilianyun(profile, mc, key).await.rep()?,
        ScanTarget::Lingju(uid) => core.authorize_lingju(profile, uid).await.rep()?,
    };
    let _ = app.emit(
        "devices-changed",
        DevicesChanged {
            refreshed: 0,
            reason: "authorized",
        },
    );
    Ok(flow_outcome(core, device).await)
}

#[tauri::command]
pub async fn authorize_scan(
    app: AppHandle,
    state: State<'_, AppState>,
    scan_id: String,
    profile: Option<String>,
) -> CmdResult<AuthorizeOutcome> {
    let core = state.core().await?;
    let profile = profile.unwrap_or_else(|| quickauth_core::BUILTIN_SANDBOX_PROFILE.to_owned());
    let target = state.scans.target(&scan_id)?;
    let res = authorize_target(&app, &core, &profile, target).await;
    if res.is_ok() {
        state.scans.forget(&scan_id);
    }
    res
}

#[tauri::command]
pub async fn authorize_manual(
    app: AppHandle,
    state: State<'_, AppState>,
    input: ManualInput,
    profile: Option<String>,
) -> CmdResult<AuthorizeOutcome> {
    let core = state.core().await?;
    let profile = profile.unwrap_or_else(|| quickauth_core::BUILTIN_SANDBOX_PROFILE.to_owned());
    let (fields, target) = check(&input);
    let Some(target) = target else {
        return Err(fields
            .machine_code
            .or(fields.key)
            .or(fields.userid)
            .unwrap_or_else(|| {
                report(&InputError::Empty {
                    field: Field::MachineCode,
                })
            }));
    };
    authorize_target(&app, &core, &profile, target).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_entry_is_checked_field_by_field() {
        let input = |mc: &str, kind: &str, key: &str| ManualInput {
            provider: "yilianyun".into(),
            machine_code: Some(mc.into()),
            key_kind: Some(kind.into()),
            key: Some(key.into()),
            userid: None,
        };
        let (f, t) = check(&input("4004123456", "qr_key", "abc123"));
        assert!(t.is_some() && f.machine_code.is_none() && f.key.is_none());
        let (f, t) = check(&input("40041x", "qr_key", "abc123"));
        assert!(t.is_none());
        assert!(f.machine_code.is_some() && f.key.is_none());
        let (f, t) = check(&input("4004123456", "msign", "ab c"));
        assert!(t.is_none());
        let k = f.key.expect("key error");
        assert!(
            !k.message_en.contains("ab c"),
            "message must not echo the key"
        );
        let (f, _) = check(&input("", "qr_key", ""));
        assert!(f.machine_code.is_some() && f.key.is_some());
    }
}
