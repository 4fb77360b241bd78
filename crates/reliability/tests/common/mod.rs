//! Shared helpers of the reliability tests: run inside a real keyring session, open a fleet, build the child env.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

#[path = "../../../vault/tests/common/keyring_session.rs"]
mod keyring_session;

use quickauth_reliability::episode::{start_silent_bus, ChildEnv};
use quickauth_reliability::{Fleet, FleetOptions};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// True inside a `scripts/with-keyring.sh` session (private bus + unlocked gnome-keyring) of this test's own.
/// Otherwise runs `test_name` of this binary inside a fresh one, asserts it passed, and returns false so the
/// caller returns at once. Either way the test body runs against the real Secret Service.
///
/// Always a session of its own, even when the whole run already has one: these tests SIGKILL and crash
/// Secret Service clients mid-call and run two at a time, which disturbs every client of a shared
/// gnome-keyring (the vault's kill test found the same). In one full run (2026-11-30) the shared daemon
/// stopped answering during `truncated_body` (`keyring_timeout`) and was then gone, so `read_timeout` met
/// a locked replacement.
pub fn in_keyring_session(test_name: &str) -> bool {
    keyring_session::in_private_keyring_session(test_name)
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
    let options = FleetOptions {
        keyring_timeout: Duration::from_secs(5),
        ..FleetOptions::default()
    };
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
    TestFleet {
        fleet,
        env,
        _dir: dir,
    }
}
