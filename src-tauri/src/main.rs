//! The desktop binary: everything lives in the library (`quickauth_app_lib::run`), which the Android and iOS
//! builds load the same way.
//!
//! `quickauth-app [--frames <dir|file>] [--frames-fps N] [--frames-hold-ms N] [--data-dir DIR] [--metrics]`

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    quickauth_app_lib::run()
}
