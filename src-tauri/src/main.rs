//! QuickAuth desktop app: a thin Tauri v2 shell over `quickauth-core` — commands, state, events, camera thread.
//!
//! `quickauth-app [--frames <dir|file>] [--frames-fps N] [--frames-hold-ms N] [--data-dir DIR] [--metrics]`
//! `--frames` (or `QUICKAUTH_FRAMES`) plays label images as a camera would; it is only ever chosen explicitly.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod camera;
mod codeflow;
mod commands;
mod error;
mod scans;
mod state;

use std::time::Duration;

use tauri::{Emitter, Manager};

use crate::state::{AppState, LaunchOptions};

/// How often due devices are refreshed in the background (the core decides which are due).
fn refresh_interval() -> Duration {
    let secs = std::env::var("QUICKAUTH_REFRESH_INTERVAL_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(30 * 60);
    Duration::from_secs(secs.max(10))
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "info,tao=warn,wry=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let launch = match LaunchOptions::from_env_and_args(std::env::args()) {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("quickauth-app: {msg}");
            std::process::exit(2);
        }
    };
    if let Some(f) = &launch.frames {
        tracing::info!(path = %f.path.display(), fps = f.fps, "image frame source enabled (--frames)");
    }

    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .manage(AppState::new(launch))
        .setup(|app| {
            let handle = app.handle().clone();
            // Open the core early (and finish any refresh a previous run left pending), then keep devices fresh.
            tauri::async_runtime::spawn(async move {
                let state = handle.state::<AppState>();
                let core = match state.core().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(kind = %e.kind, "core could not be opened; commands will report why");
                        return;
                    }
                };
                let mut first = true;
                loop {
                    tokio::time::sleep(if first { Duration::from_secs(20) } else { refresh_interval() }).await;
                    first = false;
                    match commands::run_refresh_due(&core).await {
                        Ok(rep) => {
                            if rep.checked() > 0 {
                                let _ = handle.emit(
                                    "devices-changed",
                                    commands::DevicesChanged { refreshed: rep.refreshed(), reason: "background" },
                                );
                            }
                        }
                        Err(e) => tracing::warn!(kind = %e.kind, "background refresh failed"),
                    }
                }
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::first_paint,
            commands::preview_sources,
            commands::preview_start,
            commands::preview_stop,
            commands::scan_image_file,
            commands::scan_image_bytes,
            commands::check_manual,
            commands::authorize_scan,
            commands::authorize_manual,
            commands::list_devices,
            commands::printer_status,
            commands::print_test,
            commands::refresh_device,
            commands::refresh_due,
            commands::forget_device,
            commands::reveal_tokens,
            commands::copy_token,
            commands::list_profiles,
            commands::save_profile,
            commands::remove_profile,
            commands::begin_code_flow,
            commands::complete_code_flow,
            commands::open_code_flow_page,
            commands::cancel_code_flow,
            commands::history,
            commands::export_history_csv,
            commands::sandbox_info,
            commands::sandbox_test_label,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running the QuickAuth app");
}
