//! The page's commands, by domain. Each is async (keyring and SQLite work runs on blocking threads, never the main
//! thread), returns `Result<T, ErrorReport>`, and treats its arguments as if an injected script sent them: no path
//! comes from the page, and the one command that returns a secret (`reveal_tokens`) and the one that copies it
//! (`copy_token`) ask the user in a native dialog first.

pub mod app;
pub mod delivery;
pub mod devices;
pub mod history;
pub mod profiles;
pub mod sandbox;
pub mod scan;

use std::sync::Arc;

use quickauth_core::QuickAuth;
use serde::Serialize;

use crate::error::{AppError, CmdResult, ErrorReport, IntoReport};

pub use devices::run_refresh_due;
pub use scan::flow_outcome;

/// Runs a blocking core call (keyring / SQLite) on the blocking pool.
pub(crate) async fn blocking<T, F>(core: Arc<QuickAuth>, f: F) -> CmdResult<T>
where
    T: Send + 'static,
    F: FnOnce(&QuickAuth) -> quickauth_core::Result<T> + Send + 'static,
{
    tauri::async_runtime::spawn_blocking(move || f(&core))
        .await
        .map_err(|e| ErrorReport::from(AppError::Internal(e.to_string())))?
        .rep()
}

/// Runs plain blocking work (dialogs, files, decoding) on the blocking pool.
pub(crate) async fn off_thread<T, F>(f: F) -> CmdResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| ErrorReport::from(AppError::Internal(e.to_string())))
}

/// Event `devices-changed`: the device list should be reloaded.
#[derive(Serialize, Clone)]
pub struct DevicesChanged {
    pub refreshed: usize,
    pub reason: &'static str,
}
