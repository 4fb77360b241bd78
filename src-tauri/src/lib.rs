//! QuickAuth app: a thin Tauri v2 shell over `quickauth-core` — commands, state, events, cameras — for desktops,
//! Android and iOS. Behaviour that differs per platform lives in `desktop.rs` / `mobile.rs` (exposed here as
//! `platform`), not in `#[cfg]`s through the rest of the code.
//!
//! Launch options (desktop): `--frames <dir|file>` (or `QUICKAUTH_FRAMES`) plays label images as a camera would;
//! it is only ever chosen explicitly. `--data-dir DIR`, `--metrics`. Test switches, never silent fallbacks:
//! `QUICKAUTH_TEST_DIALOGS=<answers.json>` (native dialogs answered from a file, see `dialogs.rs`) and
//! `QUICKAUTH_TEST_MOCK_CAMERA=1` (WebKitGTK's mock capture device).

mod background;
mod camera;
mod codeflow;
mod commands;
mod dialogs;
mod error;
#[cfg(test)]
mod hostile_page;
mod scans;
mod state;
mod webcam;

#[cfg(desktop)]
mod desktop;
#[cfg(desktop)]
use desktop as platform;
#[cfg(mobile)]
mod mobile;
#[cfg(mobile)]
use mobile as platform;

use tauri::Manager;

use crate::state::{AppState, LaunchOptions};

/// Builds and runs the app (the desktop `main` and the mobile entry point).
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| "info,tao=warn,wry=warn".into()),
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
        .setup(move |app| {
            platform::init_keyring(app.handle())?;
            let data_dir = platform::data_dir(app.handle(), &launch)?;
            let dialogs = dialogs::from_env(app.handle().clone());
            app.manage(AppState::new(launch, data_dir, dialogs));
            if let Some(main) = app.get_webview_window("main") {
                platform::configure_webview(&main);
            }
            background::spawn(app.handle().clone());
            Ok(())
        })
        .on_window_event(commands::scan::on_window_event)
        .invoke_handler(tauri::generate_handler![
            commands::app::app_info,
            commands::app::first_paint,
            commands::app::core_status,
            commands::scan::preview_sources,
            commands::scan::preview_start,
            commands::scan::preview_stop,
            commands::scan::webview_camera_start,
            commands::scan::push_camera_frame,
            commands::scan::scan_image_pick,
            commands::scan::scan_image_bytes,
            commands::scan::check_manual,
            commands::scan::authorize_scan,
            commands::scan::authorize_manual,
            commands::devices::list_devices,
            commands::devices::printer_status,
            commands::devices::print_test,
            commands::devices::refresh_device,
            commands::devices::refresh_due,
            commands::devices::forget_device,
            commands::devices::reveal_tokens,
            commands::devices::copy_token,
            commands::profiles::list_profiles,
            commands::profiles::save_profile,
            commands::profiles::remove_profile,
            commands::profiles::begin_code_flow,
            commands::profiles::complete_code_flow,
            commands::profiles::open_code_flow_page,
            commands::profiles::cancel_code_flow,
            commands::history::history,
            commands::history::export_history_csv,
            commands::sandbox::sandbox_info,
            commands::sandbox::sandbox_test_label,
            commands::delivery::delivery_settings,
            commands::delivery::set_delivery,
            commands::delivery::remove_delivery,
            commands::delivery::reveal_advice,
            commands::delivery::handover_prompt,
            commands::delivery::handover_device,
            commands::delivery::deliveries,
            commands::delivery::deliver_now,
            commands::delivery::retry_delivery,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running the QuickAuth app");
}
