//! Shared helpers of the reliability tests: run inside a real keyring session, open a fleet, build the child env.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use quickauth_reliability::episode::{start_silent_bus, ChildEnv};
use quickauth_reliability::{Fleet, FleetOptions};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// True inside `scripts/with-keyring.sh` (private bus + unlocked gnome-keyring). Otherwise runs `test_name` of this
/// binary inside that script, asserts it passed, and returns false so the caller returns at once. Either way the
/// test body runs against the real Secret Service.
pub fn in_keyring_session(test_name: &str) -> bool {
    if std::env::var("QUICKAUTH_IN_KEYRING_SESSION").as_deref() == Ok("1") {
        return true;
    }
    let script = repo_root().join("scripts/with-keyring.sh");
    let out = Command::new(&script)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{test_name} failed inside with-keyring.sh:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{test_name} did not run inside with-keyring.sh:\n{stdout}\n{stderr}");
    false
}

/// Short keyring bound for the service under test (the brief: short keyring timeouts).
pub const KEYRING_TIMEOUT: Duration = Duration::from_millis(2_000);

pub struct TestFleet {
    pub fleet: Fleet,
    pub env: ChildEnv,
    _dir: tempfile::TempDir,
}

pub async fn fleet() -> TestFleet {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let options = FleetOptions { keyring_timeout: Duration::from_secs(5), ..FleetOptions::default() };
    let fleet = Fleet::open(&data_dir, options).await.expect("fleet");
    let env = ChildEnv {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_qa-reliability")),
        data_dir: data_dir.clone(),
        keyring_timeout: KEYRING_TIMEOUT,
        backoff: fleet.options.backoff,
        silent_bus: start_silent_bus(dir.path()).unwrap(),
        missing_bus: dir.path().join("no-bus-here"),
        recover_all: true,
    };
    TestFleet { fleet, env, _dir: dir }
}
