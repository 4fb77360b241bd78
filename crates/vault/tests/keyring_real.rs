//! The keyring against the REAL Secret Service (gnome-keyring in a private D-Bus session, via
//! scripts/with-keyring.sh): round trips, per-data-dir namespacing, awkward values, and that entries really are
//! Secret Service items (seen by `secret-tool`) and never land in files.

#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use quickauth_vault::{accounts, Keyring, Store};

const TIMEOUT: Duration = Duration::from_secs(5);

fn secret_tool_lookup(service: &str, account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", account])
        .output()
        .expect("secret-tool is installed (libsecret-tools)");
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

fn files_containing(root: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                if let Ok(bytes) = std::fs::read(&path) {
                    if bytes.windows(needle.len()).any(|w| w == needle) {
                        hits.push(path.display().to_string());
                    }
                }
            }
        }
    }
    hits
}

#[test]
fn set_get_overwrite_delete() {
    if !common::in_keyring_session("set_get_overwrite_delete") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::open(dir.path(), TIMEOUT).unwrap();
    keyring
        .probe()
        .expect("unlocked gnome-keyring answers the probe");
    let account = accounts::client_secret("shop-1");

    assert_eq!(keyring.get(&account).unwrap(), None);
    keyring.set(&account, "first-value-0123456789").unwrap();
    assert_eq!(
        keyring
            .get(&account)
            .unwrap()
            .as_deref()
            .map(String::as_str),
        Some("first-value-0123456789")
    );
    keyring.set(&account, "second-value-9876543210").unwrap();
    assert_eq!(
        keyring
            .get(&account)
            .unwrap()
            .as_deref()
            .map(String::as_str),
        Some("second-value-9876543210")
    );

    // It is a real Secret Service item under our namespaced service, readable by other Secret Service clients.
    assert!(
        keyring.service().starts_with("quickauth:")
            && keyring.service().len() == "quickauth:".len() + 32
    );
    assert_eq!(
        secret_tool_lookup(keyring.service(), &account).as_deref(),
        Some("second-value-9876543210")
    );
    assert_eq!(
        keyring.list_accounts().unwrap(),
        Some(vec![account.clone()])
    );

    keyring.delete(&account).unwrap();
    assert_eq!(keyring.get(&account).unwrap(), None);
    assert_eq!(secret_tool_lookup(keyring.service(), &account), None);
    keyring
        .delete(&account)
        .expect("deleting a missing entry is fine");
    assert_eq!(keyring.list_accounts().unwrap(), Some(vec![]));
}

#[test]
fn data_dirs_never_see_each_others_entries() {
    if !common::in_keyring_session("data_dirs_never_see_each_others_entries") {
        return;
    }
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Keyring::open(a_dir.path(), TIMEOUT).unwrap();
    let b = Keyring::open(b_dir.path(), TIMEOUT).unwrap();
    assert_ne!(a.service(), b.service());
    let account = accounts::device_tokens("yilianyun", "shop", "4004000001");

    a.set(&account, "tokens-of-a").unwrap();
    assert_eq!(b.get(&account).unwrap(), None, "b must not see a's entry");
    b.set(&account, "tokens-of-b").unwrap();
    assert_eq!(
        a.get(&account).unwrap().as_deref().map(String::as_str),
        Some("tokens-of-a")
    );
    assert_eq!(
        b.get(&account).unwrap().as_deref().map(String::as_str),
        Some("tokens-of-b")
    );

    b.delete(&account).unwrap();
    assert_eq!(
        a.get(&account).unwrap().as_deref().map(String::as_str),
        Some("tokens-of-a")
    );
    assert_eq!(b.list_accounts().unwrap(), Some(vec![]));
    assert_eq!(a.list_accounts().unwrap(), Some(vec![account.clone()]));

    // The same dir spelled differently is the same namespace.
    let a_again = Keyring::open(&a_dir.path().join("."), TIMEOUT).unwrap();
    assert_eq!(
        a_again
            .get(&account)
            .unwrap()
            .as_deref()
            .map(String::as_str),
        Some("tokens-of-a")
    );
    a.delete(&account).unwrap();
}

#[test]
fn unicode_and_long_values_round_trip() {
    if !common::in_keyring_session("unicode_and_long_values_round_trip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::open(dir.path(), TIMEOUT).unwrap();
    let long_json = format!(
        "{{\"access_token\":\"{}\",\"refresh_token\":\"{}\",\"note\":\"多行\\n\\t\\\"引号\\\"\"}}",
        "a".repeat(8000),
        "b".repeat(8000)
    );
    let cases: Vec<(String, String)> = vec![
        (
            accounts::client_secret("测试门店"),
            "密钥🔑-ключ-clé-🙂".into(),
        ),
        (
            accounts::lingju_appkey("店 2"),
            "  leading and trailing spaces  ".into(),
        ),
        (
            accounts::lingju_authcode("x"),
            "line1\nline2\r\n\ttab\"quote'\\".into(),
        ),
        (
            accounts::device_tokens("lingju", "ai", "AABBCCDDEEFF"),
            long_json,
        ),
    ];
    for (account, value) in &cases {
        keyring.set(account, value).unwrap();
    }
    for (account, value) in &cases {
        let got = keyring.get(account).unwrap().expect("stored");
        assert_eq!(got.as_str(), value.as_str(), "{account}");
    }
    let mut expected: Vec<String> = cases.iter().map(|(a, _)| a.clone()).collect();
    expected.sort();
    assert_eq!(keyring.list_accounts().unwrap(), Some(expected));
    for (account, _) in &cases {
        keyring.delete(account).unwrap();
        assert_eq!(keyring.get(account).unwrap(), None);
    }
}

#[test]
fn secrets_never_reach_files_we_control() {
    if !common::in_keyring_session("secrets_never_reach_files_we_control") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::open(dir.path(), TIMEOUT).unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.set_setting("last_profile", "shop-1").unwrap();
    let secret = "S3cr3t-never-in-a-file-7f2c9a";
    keyring
        .set(&accounts::client_secret("shop-1"), secret)
        .unwrap();
    drop(store);
    assert_eq!(
        files_containing(dir.path(), secret.as_bytes()),
        Vec::<String>::new()
    );
    // gnome-keyring's own files (under the session's temp HOME) hold the value encrypted only.
    let keyrings = Path::new(&std::env::var("XDG_DATA_HOME").unwrap()).join("keyrings");
    assert!(
        keyrings.join("login.keyring").is_file(),
        "gnome-keyring writes its login keyring here"
    );
    assert_eq!(
        files_containing(&keyrings, secret.as_bytes()),
        Vec::<String>::new()
    );
    keyring.delete(&accounts::client_secret("shop-1")).unwrap();
}

#[test]
fn concurrent_callers_share_the_worker_safely() {
    if !common::in_keyring_session("concurrent_callers_share_the_worker_safely") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::open(dir.path(), TIMEOUT).unwrap();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let keyring = keyring.clone();
            std::thread::spawn(move || {
                let account =
                    accounts::device_tokens("yilianyun", "shop", &format!("40040000{t:02}"));
                for round in 0..4 {
                    let value = format!("{{\"generation\":{round},\"thread\":{t}}}");
                    keyring.set(&account, &value).unwrap();
                    assert_eq!(keyring.get(&account).unwrap().unwrap().as_str(), value);
                }
                account
            })
        })
        .collect();
    let mut written: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    written.sort();
    assert_eq!(keyring.list_accounts().unwrap(), Some(written.clone()));
    assert_eq!(keyring.stuck_workers(), 0);
    for account in written {
        keyring.delete(&account).unwrap();
    }
}

/// The pid of the process that owns org.freedesktop.secrets on this session bus (our gnome-keyring-daemon).
fn secret_service_pid() -> u32 {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "string:org.freedesktop.secrets",
        ])
        .output()
        .expect("dbus-send");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "uint32")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no owner of org.freedesktop.secrets: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

/// gnome-keyring-daemon dies while a call waits on it (it is stopped, then killed, so the call is surely inside
/// it). The bus answers the call at once ("recipient disconnected"); the vault repeats it, D-Bus starts a
/// replacement daemon (this session's starts unlocked, see scripts/keyring-daemon-unlocked.sh), and the call
/// succeeds there. Entries written before the crash are still there: the daemon keeps them on disk.
#[test]
fn a_call_survives_the_keyring_daemon_dying_under_it() {
    if !common::in_keyring_session("a_call_survives_the_keyring_daemon_dying_under_it") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::open(dir.path(), Duration::from_secs(10)).unwrap();
    let kept = accounts::device_tokens("yilianyun", "shop", "4004000101");
    let written = accounts::device_tokens("yilianyun", "shop", "4004000102");
    keyring.set(&kept, "kept-before-the-crash").unwrap();

    let daemon = secret_service_pid();
    signal(daemon, "-STOP");
    let (k, account) = (keyring.clone(), written.clone());
    let call = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        (
            k.set(&account, "written-across-the-crash"),
            started.elapsed(),
        )
    });
    // Long enough for the call to be waiting on the stopped daemon, well short of D-Bus's 2 s reply timer.
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        !call.is_finished(),
        "the call did not wait on the stopped daemon"
    );
    signal(daemon, "-KILL");
    let (result, took) = call.join().unwrap();
    result.unwrap_or_else(|e| panic!("the call failed after the daemon died: {e}"));
    println!("set across a daemon crash took {} ms", took.as_millis());
    let replacement = secret_service_pid();
    assert_ne!(
        replacement, daemon,
        "a new daemon should own the Secret Service"
    );

    assert_eq!(
        keyring.get(&written).unwrap().unwrap().as_str(),
        "written-across-the-crash"
    );
    assert_eq!(
        keyring.get(&kept).unwrap().unwrap().as_str(),
        "kept-before-the-crash"
    );
    keyring.delete(&kept).unwrap();
    keyring.delete(&written).unwrap();
}
