//! Shared helpers for the vault's integration tests: running a test inside a real keyring session, and running
//! this test binary as a child process with a changed environment (D-Bus env vars are process-wide).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub mod keyring_session;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// True when this process is the run of `test_name` in a `scripts/with-keyring.sh` session (private bus +
/// unlocked gnome-keyring) of its own. Otherwise starts that run, asserts it passed, and returns false so the
/// caller returns at once. The test body always runs against the real Secret Service, and never shares its
/// daemon with another test: a CI run saw the run's shared gnome-keyring-daemon disappear between two of these
/// tests (the next client's call started a locked one: "unlock prompt was dismissed"), as the reliability
/// tests had (see [`keyring_session::in_private_keyring_session`]). Why the daemon goes is not known.
pub fn in_keyring_session(test_name: &str) -> bool {
    keyring_session::in_private_keyring_session(test_name)
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
