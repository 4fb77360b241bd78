//! Build script: compiles the Tauri context and declares one permission per app command (allow-<command>),
//! so the capability file can grant exactly the commands the window uses.

const COMMANDS: &[&str] = &[
    "app_info",
    "first_paint",
    "core_status",
    "preview_sources",
    "preview_start",
    "preview_stop",
    "webview_camera_start",
    "push_camera_frame",
    "scan_image_pick",
    "scan_image_bytes",
    "check_manual",
    "authorize_scan",
    "authorize_manual",
    "list_devices",
    "printer_status",
    "print_test",
    "refresh_device",
    "refresh_due",
    "forget_device",
    "reveal_tokens",
    "copy_token",
    "list_profiles",
    "save_profile",
    "remove_profile",
    "begin_code_flow",
    "complete_code_flow",
    "open_code_flow_page",
    "cancel_code_flow",
    "history",
    "export_history_csv",
    "sandbox_info",
    "sandbox_test_label",
    "delivery_settings",
    "set_delivery",
    "remove_delivery",
    "reveal_advice",
    "handover_prompt",
    "handover_device",
    "deliveries",
    "deliver_now",
    "retry_delivery",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
