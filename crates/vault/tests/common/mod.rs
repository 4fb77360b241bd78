//! Shared helpers for the vault's integration tests: running a test inside a real keyring session, and running
//! this test binary as a child process with a changed environment (D-Bus env vars are process-wide).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// True when this process already runs inside `scripts/with-keyring.sh` (private bus + unlocked gnome-keyring).
/// Otherwise runs `test_name` of this binary inside that script, asserts it passed, and returns false so the
/// caller returns at once. Either way the test body always runs against the real Secret Service.
pub fn in_keyring_session(test_name: &str) -> bool {
    if std::env::var("QUICKAUTH_IN_KEYRING_SESSION").as_deref() == Ok("1") {
        return true;
    }
    run_in_new_session(test_name, &[]);
    false
}

/// Like [`in_keyring_session`], but always in a session (bus + gnome-keyring) of this test's own, even when the
/// whole run already has one: for tests that SIGKILL Secret Service clients mid-call, which disturbs other
/// clients of the same gnome-keyring while it happens.
pub fn in_private_keyring_session(test_name: &str) -> bool {
    if std::env::var("QUICKAUTH_PRIVATE_KEYRING_TEST").as_deref() == Ok(test_name) {
        return true;
    }
    run_in_new_session(
        test_name,
        &[
            ("QUICKAUTH_IN_KEYRING_SESSION", None),
            ("QUICKAUTH_PRIVATE_KEYRING_TEST", Some(test_name)),
        ],
    );
    false
}

fn run_in_new_session(test_name: &str, env: &[(&str, Option<&str>)]) {
    let script = repo_root().join("scripts/with-keyring.sh");
    // Our own throwaway HOME (the script would make one and leave it behind); removed when `home` drops.
    let home = tempfile::tempdir().unwrap();
    let runtime = home.path().join(".run");
    std::fs::create_dir(&runtime).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let mut cmd = Command::new(&script);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd
        .env("QUICKAUTH_KEEP_HOME", "1")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join(".local/share"))
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env("XDG_CACHE_HOME", home.path().join(".cache"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{test_name} failed inside with-keyring.sh:\n{stdout}\n{stderr}"
    );
    // Guard against a filter that matched nothing (which would "pass" vacuously).
    assert!(
        stdout.contains("1 passed"),
        "{test_name} did not run inside with-keyring.sh:\n{stdout}\n{stderr}"
    );
}

/// Run `test_name` (an `#[ignore]`d child entry point of this binary) with env changes (`None` removes a var),
/// optionally through a wrapper command (e.g. a script that sets up a D-Bus session).
pub fn run_child(test_name: &str, env: &[(&str, Option<&str>)], wrapper: &[&str]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args([
        "--exact",
        test_name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run child {test_name}: {e}"))
}
