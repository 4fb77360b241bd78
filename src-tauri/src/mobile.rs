//! Android and iOS behaviour: the data dir is the app's own data dir, there is no native camera API here (the
//! webview camera in the page is the live camera), and the browser code flow completes by pasting the redirect.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use quickauth_core::QuickAuth;
use tauri::{AppHandle, Manager, Runtime, WebviewWindow};

use crate::camera::{Forward, SourceError, SourceInfo};
use crate::error::CmdResult;
use crate::state::LaunchOptions;

pub const NAME: &str = "mobile";

/// Android keeps secrets in the Android keystore through `android-native-keyring-store`, which must be given the
/// app's context before the first keyring call.
pub fn init_keyring<R: Runtime>(_app: &AppHandle<R>) -> Result<(), Box<dyn std::error::Error>> {
    // TODO(lead, after merging the `platform` branch): call the vault's Android store initialiser here, e.g.
    // `quickauth_vault::init_android_store(...)?` with the context from `app`. Until then the vault on Android
    // reports "keyring unavailable" on first use (never a plaintext fallback). iOS needs no initialisation.
    Ok(())
}

/// Tauri's per-app data dir (there is no HOME on Android; `./quickauth` would be wherever the process started).
pub fn data_dir<R: Runtime>(
    app: &AppHandle<R>,
    _launch: &LaunchOptions,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    Ok(app.path().app_data_dir()?)
}

/// The Android webview's camera permission is answered in the generated Android project (`onPermissionRequest`);
/// iOS asks the user through `NSCameraUsageDescription`.
pub fn configure_webview<R: Runtime>(_window: &WebviewWindow<R>) {}

/// No native camera list on phones: the page uses `getUserMedia`.
pub fn list_cameras() -> (Vec<SourceInfo>, Option<String>) {
    (Vec::new(), None)
}

pub fn run_camera(
    _index: &str,
    _stop: &AtomicBool,
    _forward: Forward<'_>,
) -> Result<(), SourceError> {
    Err(SourceError::CameraOpen(
        "native cameras are not used on phones; use the in-page camera".into(),
    ))
}

/// The redirect goes to loopback where nothing listens; the merchant copies the address from the browser and
/// pastes it into the app (`complete_code_flow`).
pub struct Redirect {
    pub uri: url::Url,
}

pub async fn code_flow_redirect() -> CmdResult<Redirect> {
    Ok(Redirect {
        uri: url::Url::parse("http://127.0.0.1/callback").expect("valid loopback URL"),
    })
}

pub fn catch_redirect(
    _app: AppHandle,
    _core: Arc<QuickAuth>,
    _redirect: Redirect,
    _flow_id: String,
    _cancel: tokio::sync::oneshot::Receiver<()>,
) {
}
