//! Desktop behaviour: the data dir from env/argv, native cameras through nokhwa, the browser code flow's loopback
//! listener, and (Linux) the WebKitGTK settings and permission answer the webview camera needs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use image::{DynamicImage, RgbImage};
use quickauth_core::QuickAuth;
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewWindow};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::camera::{self, Forward, LumaJob, SourceError, SourceId, SourceInfo};
use crate::codeflow::FlowFinished;
use crate::error::{report, AppError, CmdResult, ErrorReport};
use crate::state::{AppState, LaunchOptions};

pub const NAME: &str = "desktop";

/// Desktops keep secrets in the OS store the vault already knows (Secret Service, Keychain, Credential Manager).
pub fn init_keyring<R: Runtime>(_app: &AppHandle<R>) -> Result<(), Box<dyn std::error::Error>> {
    Ok(())
}

/// `QUICKAUTH_DATA_DIR`, else `--data-dir`, else the shared default the CLI uses too.
pub fn data_dir<R: Runtime>(
    _app: &AppHandle<R>,
    launch: &LaunchOptions,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    Ok(quickauth_core::resolve_data_dir(launch.data_dir.clone()))
}

// ------------------------------------------------------------------ webview camera (WebKitGTK)

/// The explicit test switch for WebKitGTK's mock capture device (a synthetic camera). Never a silent fallback.
pub const MOCK_CAMERA_ENV: &str = "QUICKAUTH_TEST_MOCK_CAMERA";

/// The app's own page, as WebKitGTK reports it (Tauri serves the UI from the `tauri://localhost` scheme on Linux).
pub fn is_app_page(uri: &str) -> bool {
    match url::Url::parse(uri) {
        Ok(u) => u.scheme() == "tauri" && u.host_str() == Some("localhost") && u.port().is_none(),
        Err(_) => false,
    }
}

/// Which media request the app grants: the camera, for its own page, without the microphone or the screen.
pub fn grant_media(page_uri: Option<&str>, audio: bool, video: bool) -> bool {
    video && !audio && page_uri.is_some_and(is_app_page)
}

/// Enables `getUserMedia` in WebKitGTK (off by default) and answers its permission requests: video capture for the
/// app's own page is allowed, everything else (microphone, screen, geolocation, notifications, other origins) is
/// denied. The mock capture device is on only with `QUICKAUTH_TEST_MOCK_CAMERA=1`.
#[cfg(target_os = "linux")]
pub fn configure_webview<R: Runtime>(window: &WebviewWindow<R>) {
    use webkit2gtk::{
        glib::prelude::*, PermissionRequestExt, SettingsExt, UserMediaPermissionRequest,
        UserMediaPermissionRequestExt, WebViewExt,
    };
    let mock = std::env::var(MOCK_CAMERA_ENV).is_ok_and(|v| v == "1");
    if mock {
        tracing::warn!("{MOCK_CAMERA_ENV}=1: the webview camera is WebKitGTK's mock capture device (test switch)");
    }
    let res = window.with_webview(move |wv| {
        let view = wv.inner();
        if let Some(settings) = WebViewExt::settings(&view) {
            settings.set_enable_media_stream(true);
            settings.set_enable_mock_capture_devices(mock);
        }
        view.connect_permission_request(|view, request| {
            let uri = view.uri();
            let granted = match request.downcast_ref::<UserMediaPermissionRequest>() {
                Some(media) => grant_media(uri.as_deref(), media.is_for_audio_device(), media.is_for_video_device()),
                None => false,
            };
            if granted {
                request.allow();
            } else {
                tracing::info!("webview permission request denied (only camera access for the app's page is allowed)");
                request.deny();
            }
            true
        });
    });
    if let Err(e) = res {
        tracing::warn!(error = %e, "could not configure the webview camera");
    }
}

/// WebView2 and WKWebView ask the user themselves; nothing to set up.
#[cfg(not(target_os = "linux"))]
pub fn configure_webview<R: Runtime>(_window: &WebviewWindow<R>) {}

// ------------------------------------------------------------------ native cameras (nokhwa)

/// Lists the real cameras. Errors (no V4L2 devices, permission) become an empty list plus a reason for the page.
pub fn list_cameras() -> (Vec<SourceInfo>, Option<String>) {
    match nokhwa::query(nokhwa::utils::ApiBackend::Auto) {
        Ok(cams) => (
            cams.into_iter()
                .map(|c| SourceInfo {
                    id: SourceId::Camera(c.index().as_string()).to_wire(),
                    label: c.human_name(),
                    kind: "camera",
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

/// Grabs frames from a native camera until `stop` (runs on the camera thread).
pub fn run_camera(index: &str, stop: &AtomicBool, forward: Forward<'_>) -> Result<(), SourceError> {
    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{
        CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution,
    };

    let idx = match index.parse::<u32>() {
        Ok(n) => CameraIndex::Index(n),
        Err(_) => CameraIndex::String(index.to_owned()),
    };
    // MJPEG at 640x480 lets frames go to the page without re-encoding; nokhwa picks the closest the camera offers.
    let wanted = CameraFormat::new(
        Resolution::new(camera::PREVIEW_WIDTH, camera::PREVIEW_HEIGHT),
        FrameFormat::MJPEG,
        30,
    );
    let request = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(wanted));
    let mut cam =
        nokhwa::Camera::new(idx, request).map_err(|e| SourceError::CameraOpen(e.to_string()))?;
    cam.open_stream()
        .map_err(|e| SourceError::CameraOpen(e.to_string()))?;
    let mut seq = 0u64;
    let mut failures = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let frame = match cam.frame() {
            Ok(f) => {
                failures = 0;
                f
            }
            Err(e) => {
                failures += 1;
                if failures > 30 {
                    let _ = cam.stop_stream();
                    return Err(SourceError::CameraLost(e.to_string()));
                }
                std::thread::sleep(Duration::from_millis(30));
                continue;
            }
        };
        seq += 1;
        let res = frame.resolution();
        let (jpeg, job) = match frame.source_frame_format() {
            FrameFormat::MJPEG => {
                let bytes = frame.buffer().to_vec();
                (bytes.clone(), LumaJob::Jpeg { seq, jpeg: bytes })
            }
            FrameFormat::YUYV => {
                let Ok(rgb) = frame.decode_image::<RgbFormat>() else {
                    continue;
                };
                let Some(rgb) = RgbImage::from_raw(rgb.width(), rgb.height(), rgb.into_raw())
                else {
                    continue;
                };
                let Some(jpeg) = camera::encode_jpeg(&rgb) else {
                    continue;
                };
                (
                    jpeg,
                    LumaJob::Yuyv {
                        seq,
                        width: res.width(),
                        height: res.height(),
                        data: frame.buffer().to_vec(),
                    },
                )
            }
            _ => {
                let Ok(rgb) = frame.decode_image::<RgbFormat>() else {
                    continue;
                };
                let Some(rgb) = RgbImage::from_raw(rgb.width(), rgb.height(), rgb.into_raw())
                else {
                    continue;
                };
                let Some(jpeg) = camera::encode_jpeg(&rgb) else {
                    continue;
                };
                let luma = DynamicImage::ImageRgb8(rgb).to_luma8();
                (jpeg, LumaJob::Ready(camera::downscale_luma(seq, luma)))
            }
        };
        if !forward(jpeg, Some(job)) {
            break;
        }
    }
    let _ = cam.stop_stream();
    Ok(())
}

// ------------------------------------------------------------------ browser code flow: the loopback redirect

/// Where the browser brings the merchant back: a one-shot listener on loopback.
pub struct Redirect {
    pub uri: url::Url,
    listener: TcpListener,
}

pub async fn code_flow_redirect() -> CmdResult<Redirect> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
        report(&AppError::Io {
            context: "loopback listener",
            detail: e.to_string(),
        })
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| report(&AppError::Internal(e.to_string())))?
        .port();
    let uri =
        url::Url::parse(&format!("http://127.0.0.1:{port}/callback")).expect("valid loopback URL");
    Ok(Redirect { uri, listener })
}

/// Catches the redirect in the background; a pasted callback URL (or cancel) stops it through `cancel`.
pub fn catch_redirect(
    app: AppHandle,
    core: Arc<QuickAuth>,
    redirect: Redirect,
    flow_id: String,
    cancel: tokio::sync::oneshot::Receiver<()>,
) {
    tauri::async_runtime::spawn(serve(app, core, redirect.listener, flow_id, cancel));
}

const PAGE_OK: &str = "<!doctype html><meta charset=utf-8><title>QuickAuth</title><body style=\"font-family:sans-serif;padding:40px\"><h2>授权已收到，可以关闭此页面，回到 QuickAuth。</h2><p>Authorization received. You can close this tab and return to QuickAuth.</p>";

async fn serve(
    app: AppHandle,
    core: Arc<QuickAuth>,
    listener: TcpListener,
    flow_id: String,
    mut cancel: tokio::sync::oneshot::Receiver<()>,
) {
    let deadline = tokio::time::sleep(crate::codeflow::FLOW_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        let (mut sock, _) = tokio::select! {
            _ = &mut cancel => return,
            _ = &mut deadline => { let _ = crate::codeflow::take(&app.state::<AppState>(), &flow_id); return; }
            acc = listener.accept() => match acc { Ok(s) => s, Err(_) => continue },
        };
        let mut buf = vec![0u8; 8192];
        let n = match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => continue,
        };
        let head = String::from_utf8_lossy(&buf[..n]);
        let Some(target) = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
        else {
            continue;
        };
        if !target.starts_with("/callback") {
            let _ = sock
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
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
                let _ = app.emit(
                    "devices-changed",
                    crate::commands::DevicesChanged {
                        refreshed: 0,
                        reason: "authorized",
                    },
                );
                FlowFinished {
                    flow_id,
                    outcome: serde_json::to_value(outcome).ok(),
                    error: None,
                }
            }
            Err(e) => FlowFinished {
                flow_id,
                outcome: None,
                error: Some(ErrorReport::from(&e)),
            },
        };
        let _ = app.emit("code-flow-finished", msg);
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_camera_is_granted_to_the_apps_own_page_only_and_never_with_the_microphone() {
        let app = Some("tauri://localhost/index.html");
        assert!(grant_media(app, false, true));
        assert!(
            !grant_media(app, true, true),
            "camera + microphone is denied as a whole"
        );
        assert!(!grant_media(app, true, false), "microphone alone");
        assert!(
            !grant_media(app, false, false),
            "screen capture (neither audio nor video device)"
        );
        for other in [
            "https://evil.example/",
            "http://localhost/",
            "tauri://localhost.evil.example/",
            "tauri://localhost:8080/",
            "tauri://evil/",
            "file:///tmp/x.html",
            "not a url",
        ] {
            assert!(!grant_media(Some(other), false, true), "{other}");
        }
        assert!(!grant_media(None, false, true), "unknown page");
    }
}
