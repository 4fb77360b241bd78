//! App-level commands: what the page needs to start (version, locale, data dir, frame source), the first-paint
//! metric, and whether the core could be opened.

use chrono::Utc;
use serde::Serialize;
use tauri::State;

use crate::error::CmdResult;
use crate::state::{AppState, CoreStatus};

#[derive(Serialize)]
pub struct FramesInfo {
    path: String,
    fps: u32,
}

#[derive(Serialize)]
pub struct AppInfo {
    version: &'static str,
    os_locale: String,
    data_dir: String,
    frames: Option<FramesInfo>,
    sandbox_profile: &'static str,
    /// "desktop" | "mobile": the page offers the native camera picker on desktops only.
    platform: &'static str,
}

/// The OS locale as the environment says (LC_ALL > LC_MESSAGES > LANG); the page picks zh unless it says en.
fn os_locale() -> String {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

#[tauri::command]
pub async fn app_info(state: State<'_, AppState>) -> CmdResult<AppInfo> {
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        os_locale: os_locale(),
        data_dir: state.data_dir.display().to_string(),
        frames: state.launch.frames.as_ref().map(|f| FramesInfo {
            path: f.path.display().to_string(),
            fps: f.fps,
        }),
        sandbox_profile: quickauth_core::BUILTIN_SANDBOX_PROFILE,
        platform: crate::platform::NAME,
    })
}

/// The page reports its first paint; with `--metrics` the time is printed for scripts/app-metrics.sh.
#[tauri::command]
pub async fn first_paint(state: State<'_, AppState>, page_ms: f64) -> CmdResult<u64> {
    let since_main = state.started.elapsed().as_millis() as u64;
    if state.launch.metrics {
        let unix_ms = Utc::now().timestamp_millis();
        println!("QUICKAUTH_FIRST_PAINT unix_ms={unix_ms} since_main_ms={since_main} page_ms={page_ms:.0}");
    }
    tracing::info!(since_main_ms = since_main, "first paint");
    Ok(since_main)
}

/// The last known state of the core (also sent as event `core-status` whenever it changes), so a page that
/// loads after a failed open still shows why nothing works.
#[tauri::command]
pub async fn core_status(state: State<'_, AppState>) -> CmdResult<CoreStatus> {
    Ok(state.core_status())
}
