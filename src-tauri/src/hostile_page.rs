//! The page is untrusted: these tests call the commands' Rust side the way a script injected into the page would,
//! without a window. (The same cases through the real webview live in tests/webdriver.)
//!
//! Keyring-backed: run under `scripts/with-keyring.sh` like the rest of the workspace tests.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use quickauth_core::{Options, QuickAuth, BUILTIN_SANDBOX_PROFILE};

use crate::commands::devices::{ask_before_reveal, Which};
use crate::commands::history::export_csv;
use crate::commands::scan::pick_and_scan;
use crate::dialogs::{Confirm, Dialogs};
use crate::scans::{ScanBook, ScanTarget, ScanView};
use crate::state::{AppState, LaunchOptions};

/// Dialogs answered by the test, counting what was asked.
#[derive(Default)]
struct Answers {
    confirm: bool,
    save: Option<PathBuf>,
    open: Option<PathBuf>,
    asked: AtomicUsize,
    last_question: Mutex<Option<Confirm>>,
}

impl Dialogs for Answers {
    fn confirm(&self, ask: &Confirm) -> bool {
        self.asked.fetch_add(1, Ordering::SeqCst);
        *self.last_question.lock().unwrap() = Some(ask.clone());
        self.confirm
    }
    fn save_csv(&self, _suggested_name: &str) -> Option<PathBuf> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.save.clone()
    }
    fn pick_image(&self) -> Option<PathBuf> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.open.clone()
    }
}

/// A fresh data dir with one sandbox printer authorized through the app's own scan path.
async fn core_with_printer() -> (tempfile::TempDir, Arc<QuickAuth>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Arc::new(
        QuickAuth::open(Options::new(dir.path()))
            .await
            .expect("open core (run under with-keyring.sh)"),
    );
    let label = core
        .sandbox()
        .await
        .expect("sandbox")
        .mint_label(quickauth_sandbox::LabelKind::Msign);
    let book = ScanBook::default();
    let ScanView::Ok { scan_id, .. } = book.admit(&label.payload) else {
        panic!("label did not parse")
    };
    let ScanTarget::Yilianyun(mc, key) = book.target(&scan_id).expect("target") else {
        panic!("not a printer")
    };
    let dev = core
        .authorize_yilianyun(BUILTIN_SANDBOX_PROFILE, mc, key)
        .await
        .expect("authorize");
    (dir, core, format!("yilianyun:{}", dev.id))
}

fn reveals_in_history(core: &QuickAuth) -> usize {
    core.history(1000)
        .expect("history")
        .iter()
        .filter(|h| h.action == "reveal_tokens")
        .count()
}

#[tokio::test]
async fn reveal_and_copy_without_the_users_yes_never_read_a_token() {
    let (_dir, core, id) = core_with_printer().await;
    let no = Arc::new(Answers::default());
    for copy in [None, Some(Which::Access), Some(Which::Refresh)] {
        let err = ask_before_reveal(core.clone(), no.clone(), id.clone(), copy)
            .await
            .err()
            .expect("refused");
        assert_eq!(err.kind, "cancelled", "{err:?}");
        assert!(!err.message_zh.is_empty() && !err.message_en.is_empty());
    }
    assert_eq!(
        no.asked.load(Ordering::SeqCst),
        3,
        "the user was asked every time"
    );
    assert_eq!(
        reveals_in_history(&core),
        0,
        "the keyring was never read for a declined reveal"
    );

    // The dialog names the device from the core's record, whatever text the page sent as the id.
    let q = no.last_question.lock().unwrap().clone().unwrap();
    assert!(
        q.message.contains(id.split(':').nth(1).unwrap()) && q.message.contains("刷新令牌"),
        "{}",
        q.message
    );

    let yes = Arc::new(Answers {
        confirm: true,
        ..Default::default()
    });
    let t = ask_before_reveal(core.clone(), yes.clone(), id.clone(), None)
        .await
        .expect("revealed after yes");
    assert!(t.access_token.expose().len() >= 8);
    assert_eq!(reveals_in_history(&core), 1);
}

#[tokio::test]
async fn an_unknown_device_or_token_kind_is_refused_before_any_dialog() {
    let (_dir, core, _id) = core_with_printer().await;
    let yes = Arc::new(Answers {
        confirm: true,
        ..Default::default()
    });
    for hostile in [
        "yilianyun:9999999999",
        "",
        "../../etc/passwd",
        "yilianyun:1' OR '1'='1",
    ] {
        let r = ask_before_reveal(core.clone(), yes.clone(), hostile.to_owned(), None).await;
        assert!(r.is_err(), "{hostile:?} revealed something");
    }
    assert_eq!(
        yes.asked.load(Ordering::SeqCst),
        0,
        "no dialog for a device that does not exist"
    );
    for which in ["", "ACCESS", "access_token", "both", "refresh\0"] {
        assert!(Which::parse(which).is_err(), "{which:?}");
    }
    assert_eq!(reveals_in_history(&core), 0);
}

#[tokio::test]
async fn csv_export_writes_only_where_the_user_chose() {
    let (dir, core, _id) = core_with_printer().await;
    let chosen = dir.path().join("chosen.csv");
    let cancel = Arc::new(Answers::default());
    let r = export_csv(core.clone(), cancel.clone())
        .await
        .expect("cancel is not an error");
    assert_eq!((r.path, r.rows), (None, 0));
    assert!(!chosen.exists());
    let save = Arc::new(Answers {
        save: Some(chosen.clone()),
        ..Default::default()
    });
    let r = export_csv(core.clone(), save).await.expect("export");
    assert_eq!(
        r.path.as_deref(),
        Some(chosen.display().to_string().as_str())
    );
    assert!(r.rows >= 1);
    let csv = std::fs::read_to_string(&chosen).unwrap();
    assert!(
        csv.starts_with("time,operation,") && csv.contains("authorize"),
        "{csv}"
    );
}

#[tokio::test]
async fn an_image_is_read_only_from_the_file_the_user_picked() {
    let dir = tempfile::tempdir().unwrap();
    let state = |open: Option<PathBuf>| {
        AppState::new(
            LaunchOptions::default(),
            dir.path().join("data"),
            Arc::new(Answers {
                open,
                ..Default::default()
            }),
        )
    };
    assert!(pick_and_scan(&state(None))
        .await
        .expect("cancel is not an error")
        .is_none());

    let label = dir.path().join("label.png");
    let payload = r#"{"machine_code":"4004123456","qr_key":"0123456789abcdef"}"#;
    quickauth_qr::label::render_text(payload, &Default::default())
        .unwrap()
        .save(&label)
        .unwrap();
    match pick_and_scan(&state(Some(label))).await.expect("scan") {
        Some(ScanView::Ok { machine_code, .. }) => {
            assert_eq!(machine_code.as_deref(), Some("4004123456"))
        }
        other => panic!("{other:?}"),
    }

    // A chosen file that is not an image: a clear error that does not quote the file's contents.
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "client_secret=hunter2hunter2").unwrap();
    let err = pick_and_scan(&state(Some(text)))
        .await
        .expect_err("not an image");
    assert!(!err.message_zh.is_empty() && !err.message_en.is_empty());
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

// ------------------------------------------------------------------ what the page is allowed to call

const CAPABILITY: &str = include_str!("../capabilities/main.json");
const BUILD_RS: &str = include_str!("../build.rs");
const LIB_RS: &str = include_str!("lib.rs");

/// The quoted names in build.rs's COMMANDS list (the commands that get an allow-/deny- permission).
fn declared_commands() -> BTreeSet<String> {
    let list = &BUILD_RS[BUILD_RS.find("const COMMANDS").unwrap()..];
    let list = &list[..list.find("];").unwrap()];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The commands in lib.rs's `generate_handler!`.
fn handled_commands() -> BTreeSet<String> {
    let list = &LIB_RS[LIB_RS.find("generate_handler![").unwrap()..];
    let list = &list[..list.find("])").unwrap()];
    list.split(',')
        .filter_map(|s| s.trim().rsplit("::").next())
        .filter(|s| !s.is_empty() && !s.contains('['))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_capability_grants_exactly_the_apps_commands_and_no_dialog_or_path_commands() {
    let cap: serde_json::Value = serde_json::from_str(CAPABILITY).unwrap();
    assert_eq!(cap["windows"], serde_json::json!(["main"]));
    let perms: BTreeSet<String> = cap["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().expect("plain permission").to_owned())
        .collect();
    let declared = declared_commands();
    let handled = handled_commands();
    assert_eq!(
        declared, handled,
        "build.rs COMMANDS and generate_handler! list the same commands"
    );
    let granted: BTreeSet<String> = perms
        .iter()
        .filter_map(|p| p.strip_prefix("allow-"))
        .map(|c| c.replace('-', "_"))
        .collect();
    assert_eq!(
        granted, declared,
        "the window is granted every app command it uses, and nothing else of ours"
    );
    let plugin: Vec<&String> = perms.iter().filter(|p| !p.starts_with("allow-")).collect();
    assert_eq!(
        plugin,
        ["core:event:allow-listen", "core:event:allow-unlisten"],
        "no plugin commands for the page"
    );
    for gone in [
        "scan_image_file",
        "dialog:allow-open",
        "dialog:allow-save",
        "dialog:default",
        "fs:",
        "shell:",
    ] {
        assert!(!CAPABILITY.contains(gone), "{gone} must not be granted");
        assert!(!declared.contains(gone));
    }
    for new in [
        "scan_image_pick",
        "push_camera_frame",
        "webview_camera_start",
        "core_status",
    ] {
        assert!(declared.contains(new), "{new}");
    }
}
