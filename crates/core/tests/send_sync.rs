//! The app keeps `QuickAuth` in Tauri state and awaits its methods from async commands / spawned tasks:
//! the service must be Send + Sync and every public future Send.

use quickauth_core::QuickAuth;

fn assert_send<T: Send>(_: &T) {}
fn assert_send_sync<T: Send + Sync>() {}

#[allow(dead_code, unused_must_use)]
fn futures_are_send(qa: &QuickAuth, flow: &quickauth_core::CodeFlow) {
    assert_send(&qa.refresh("x"));
    assert_send(&qa.refresh_due());
    assert_send(&qa.recover_pending());
    assert_send(&qa.printer_status("x"));
    assert_send(&qa.print_test("x"));
    assert_send(&qa.forget("x", true));
    assert_send(&qa.authorize_payload("sandbox", "x"));
    assert_send(&qa.complete_code_flow(flow, "http://127.0.0.1/callback"));
    assert_send(&qa.sandbox());
}

#[test]
fn service_is_send_and_sync() {
    assert_send_sync::<QuickAuth>();
    assert_send_sync::<quickauth_core::Error>();
}
