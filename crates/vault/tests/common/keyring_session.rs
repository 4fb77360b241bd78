//! Running one test of the current test binary inside a fresh `scripts/with-keyring.sh` session (private bus +
//! unlocked gnome-keyring, a throwaway HOME). Shared by the vault's and the reliability crate's tests (the latter
//! includes this file by path).

use std::path::{Path, PathBuf};
use std::process::Command;

/// True when this process is the run of `test_name` that [`in_private_keyring_session`] started. Otherwise runs
/// `test_name` of this binary in a session (bus + gnome-keyring) of its own, even when the whole run already has
/// one, asserts it passed, and returns false so the caller returns at once: for tests that SIGKILL or crash
/// Secret Service clients mid-call, which disturbs every other client of the same gnome-keyring while it happens.
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

/// Runs `test_name` of this binary inside `scripts/with-keyring.sh` with `env` changes (`None` removes a var),
/// in a throwaway HOME and runtime dir of its own (the script's daemon keeps its control socket there), and
/// asserts that it ran and passed.
pub fn run_in_new_session(test_name: &str, env: &[(&str, Option<&str>)]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/with-keyring.sh");
    // Our own throwaway HOME (the script would make one and leave it behind); removed when `home` drops.
    let home = tempfile::tempdir().unwrap();
    let runtime = home.path().join(".run");
    create_runtime_dir(&runtime);
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

/// Creates `dir` for use as `XDG_RUNTIME_DIR` (owner-only, mode 0700, as gnome-keyring and D-Bus require).
pub fn create_runtime_dir(dir: &Path) {
    std::fs::create_dir(dir).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
}
