//! What the app keeps between commands: the core service (opened once, lazily) and whether it could be opened,
//! the live camera session (native preview or webview camera), pending scans and browser code flows, the dialogs,
//! and the launch options.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quickauth_core::{Options, QuickAuth};
use tokio::sync::OnceCell;

use serde::Serialize;

use crate::camera::{ImageFramesConfig, PreviewSession};
use crate::dialogs::Dialogs;
use crate::error::{CmdResult, ErrorReport, IntoReport};
use crate::scans::ScanBook;
use crate::webcam::WebcamSession;

/// Launch options from argv / env.
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    pub data_dir: Option<PathBuf>,
    pub frames: Option<ImageFramesConfig>,
    /// Print the first-paint timestamp on stdout (for scripts/app-metrics.sh).
    pub metrics: bool,
}

impl LaunchOptions {
    /// `--frames <dir|file>` / `QUICKAUTH_FRAMES`, `--frames-fps N` / `QUICKAUTH_FRAMES_FPS`,
    /// `--frames-hold-ms N` / `QUICKAUTH_FRAMES_HOLD_MS`, `--data-dir DIR` (after `QUICKAUTH_DATA_DIR`).
    pub fn from_env_and_args(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut frames: Option<PathBuf> = std::env::var_os("QUICKAUTH_FRAMES")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let mut fps: u32 = env_num("QUICKAUTH_FRAMES_FPS").unwrap_or(25);
        let mut hold_ms: u64 = env_num("QUICKAUTH_FRAMES_HOLD_MS").unwrap_or(1500);
        let mut data_dir = None;
        let mut metrics = std::env::var("QUICKAUTH_METRICS").is_ok_and(|v| v == "1");
        let mut it = args.into_iter().skip(1);
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (a.clone(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match flag.as_str() {
                "--frames" => frames = Some(PathBuf::from(value("--frames")?)),
                "--frames-fps" => {
                    fps = value("--frames-fps")?
                        .parse()
                        .map_err(|_| "--frames-fps takes a number".to_string())?
                }
                "--frames-hold-ms" => {
                    hold_ms = value("--frames-hold-ms")?
                        .parse()
                        .map_err(|_| "--frames-hold-ms takes a number".to_string())?
                }
                "--data-dir" => data_dir = Some(PathBuf::from(value("--data-dir")?)),
                "--metrics" => metrics = true,
                // WebKit / tauri-driver may pass their own switches; ignore what is not ours.
                _ => {}
            }
        }
        if let Some(p) = &frames {
            if !p.exists() {
                return Err(format!(
                    "--frames {}: no such file or directory",
                    p.display()
                ));
            }
        }
        Ok(LaunchOptions {
            data_dir,
            frames: frames.map(|path| ImageFramesConfig {
                path,
                fps: fps.clamp(1, 60),
                hold: Duration::from_millis(hold_ms.max(50)),
            }),
            metrics,
        })
    }
}

fn env_num<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// A browser authorization in progress.
pub struct PendingFlow {
    pub flow: quickauth_core::CodeFlow,
    pub started: Instant,
    /// Stops the loopback listener when the flow ends another way (pasted URL, dialog closed).
    pub cancel: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Event `core-status` (and command `core_status`): whether the core (keyring + database) is open, and if not, why.
/// `ok: null` while the first attempt is still running.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CoreStatus {
    pub ok: Option<bool>,
    pub error: Option<ErrorReport>,
    /// When the next attempt to open it is made (the background loop retries with backoff).
    pub retry_in_secs: Option<u64>,
}

pub struct AppState {
    pub launch: LaunchOptions,
    pub data_dir: PathBuf,
    core: OnceCell<Arc<QuickAuth>>,
    core_status: Mutex<CoreStatus>,
    pub preview: Mutex<Option<PreviewSession>>,
    pub webcam: Mutex<Option<Arc<WebcamSession>>>,
    pub scans: ScanBook,
    pub flows: Mutex<HashMap<String, PendingFlow>>,
    pub dialogs: Arc<dyn Dialogs>,
    pub started: Instant,
}

impl AppState {
    pub fn new(launch: LaunchOptions, data_dir: PathBuf, dialogs: Arc<dyn Dialogs>) -> Self {
        Self {
            launch,
            data_dir,
            core: OnceCell::new(),
            core_status: Mutex::new(CoreStatus::default()),
            preview: Mutex::new(None),
            webcam: Mutex::new(None),
            scans: ScanBook::default(),
            flows: Mutex::new(HashMap::new()),
            dialogs,
            started: Instant::now(),
        }
    }

    pub fn core_status(&self) -> CoreStatus {
        self.core_status.lock().expect("core status lock").clone()
    }

    pub fn set_core_status(&self, status: CoreStatus) {
        *self.core_status.lock().expect("core status lock") = status;
    }

    /// Ends whichever live camera session runs (native preview or webview camera).
    pub async fn stop_live_sources(&self) {
        self.webcam.lock().expect("webcam lock").take();
        let old = self.preview.lock().expect("preview lock").take();
        if let Some(old) = old {
            tauri::async_runtime::spawn_blocking(move || old.stop())
                .await
                .ok();
        }
    }

    /// The core service, opened on first use (opening may complete a refresh a previous run left pending).
    pub async fn core(&self) -> CmdResult<Arc<QuickAuth>> {
        self.core
            .get_or_try_init(|| async {
                let opts = Options::new(self.data_dir.clone());
                QuickAuth::open(opts).await.map(Arc::new)
            })
            .await
            .cloned()
            .rep()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        std::iter::once("quickauth-app")
            .chain(list.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn the_image_frame_source_is_only_on_when_asked_for() {
        // (QUICKAUTH_FRAMES is not set in the unit-test environment.)
        let none = LaunchOptions::from_env_and_args(args(&[])).unwrap();
        assert!(none.frames.is_none());
        let dir = std::env::temp_dir();
        let d = dir.display().to_string();
        let on = LaunchOptions::from_env_and_args(args(&[
            "--frames",
            &d,
            "--frames-fps=30",
            "--frames-hold-ms",
            "700",
        ]))
        .unwrap();
        let f = on.frames.expect("frames");
        assert_eq!(
            (f.path, f.fps, f.hold),
            (dir, 30, Duration::from_millis(700))
        );
    }

    #[test]
    fn a_missing_frames_path_is_a_usage_error_not_a_silent_camera_fallback() {
        let err =
            LaunchOptions::from_env_and_args(args(&["--frames", "/nonexistent/quickauth-labels"]))
                .unwrap_err();
        assert!(err.contains("no such file"), "{err}");
        assert!(LaunchOptions::from_env_and_args(args(&["--frames-fps", "many"])).is_err());
    }
}
