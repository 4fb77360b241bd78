//! Harness for the CLI integration tests: a real `quickauth` binary, a sandbox on real loopback HTTP, the real
//! keyring (run under scripts/with-keyring.sh), and a record of everything printed for the secret-hygiene check.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use quickauth_sandbox::{
    Sandbox, SandboxHandle, SandboxOptions, BUILTIN_OPEN_APP_ID, BUILTIN_OPEN_APP_SECRET,
};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
    pub fn err_json(&self) -> Value {
        let line = self
            .stderr
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("no JSON on stderr: {}", self.stderr));
        serde_json::from_str(line).unwrap()
    }
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }
    #[track_caller]
    pub fn failed(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "expected exit 1\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub sandbox: SandboxHandle,
    /// (output text, printed on purpose with a secret: --reveal / decode / mint)
    captured: Mutex<Vec<(String, bool)>>,
    base_override: Mutex<Option<String>>,
}

impl Env {
    pub async fn new() -> Env {
        let sandbox = Sandbox::start(SandboxOptions {
            bind: ([127, 0, 0, 1], 0).into(),
            state_dir: None,
        })
        .await
        .expect("sandbox starts");
        Env {
            dir: tempfile::tempdir().unwrap(),
            sandbox,
            captured: Mutex::new(Vec::new()),
            base_override: Mutex::new(None),
        }
    }

    /// A second data dir (its own keyring namespace and local counts) talking to the same sandbox server.
    pub async fn new_sharing(other: &Env) -> Env {
        let sandbox = Sandbox::start(SandboxOptions {
            bind: ([127, 0, 0, 1], 0).into(),
            state_dir: None,
        })
        .await
        .unwrap();
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
            sandbox,
            captured: Mutex::new(Vec::new()),
            base_override: Mutex::new(None),
        };
        env.base_override.lock().unwrap().replace(other.base_url());
        env
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn base_url(&self) -> String {
        self.base_override
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| self.sandbox.base_url().to_string())
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, &[]).await
    }

    pub async fn run_with(&self, args: &[&str], stdin: Option<&str>, envs: &[(&str, &str)]) -> Run {
        let reveals = args.contains(&"--reveal")
            || args.contains(&"--generate-secret")
            || args.first() == Some(&"decode")
            || args.get(1) == Some(&"mint");
        let child = self.spawn(args, envs);
        let run = finish(child, stdin).await;
        let mut c = self.captured.lock().unwrap();
        c.push((run.stdout.clone(), reveals));
        c.push((run.stderr.clone(), false));
        run
    }

    pub fn spawn(&self, args: &[&str], envs: &[(&str, &str)]) -> tokio::process::Child {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_quickauth"));
        cmd.args(args)
            .env("QUICKAUTH_DATA_DIR", self.data_dir())
            .env("QUICKAUTH_LOG", "debug")
            .env_remove("QUICKAUTH_CRASH_AT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.spawn().expect("quickauth binary runs")
    }

    pub fn capture(&self, run: &Run, reveals: bool) {
        let mut c = self.captured.lock().unwrap();
        c.push((run.stdout.clone(), reveals));
        c.push((run.stderr.clone(), false));
    }

    /// A Yilianyun profile on this test's sandbox (secret on stdin line 1).
    pub async fn add_profile(&self, name: &str, api: &str) {
        let base = self.base_url();
        self.run_with(
            &[
                "profile",
                "add",
                name,
                "--provider",
                "yilianyun",
                "--client-id",
                BUILTIN_OPEN_APP_ID,
                "--api",
                api,
                "--base-url",
                &base,
            ],
            Some(&format!("{BUILTIN_OPEN_APP_SECRET}\n")),
            &[],
        )
        .await
        .ok();
    }

    /// Authorizes a fresh sandbox printer by its qr_key payload; returns (machine_code, payload).
    pub async fn authorize_new(&self, profile: &str) -> (String, String) {
        let label = self.sandbox.mint_label(quickauth_sandbox::LabelKind::QrKey);
        let run = self
            .run(&[
                "authorize",
                "--profile",
                profile,
                "--payload",
                &label.payload,
                "--json",
            ])
            .await;
        run.ok();
        assert_eq!(run.json()["id"], label.machine_code.as_str());
        (label.machine_code.clone(), label.key().to_owned())
    }

    /// `token ID --reveal --json` → (access_token, refresh_token). Without `--yes`: a kept device's pair is shown to
    /// a script after the warning on stderr (the documented contract); delivered devices need `--yes`.
    pub async fn reveal(&self, id: &str) -> (String, Option<String>) {
        let mut run = self.run(&["token", id, "--reveal", "--json"]).await;
        if run.code == Some(2) {
            // A delivered device: a script must confirm.
            assert!(
                run.stdout.is_empty(),
                "nothing shown before the confirmation"
            );
            run = self
                .run(&["token", id, "--reveal", "--yes", "--json"])
                .await;
        }
        run.ok();
        assert!(
            run.stderr.contains("Warning:"),
            "revealing warns first: {}",
            run.stderr
        );
        let v = run.json();
        (
            v["access_token"].as_str().unwrap().to_owned(),
            v["refresh_token"].as_str().map(str::to_owned),
        )
    }

    pub fn refresh_requests(&self) -> usize {
        self.sandbox
            .requests(1000)
            .iter()
            .filter(|r| {
                r.path.ends_with("/oauth/oauth")
                    && r.params.get("grant_type").map(String::as_str) == Some("refresh_token")
            })
            .count()
    }

    /// Every file under the data dir and HOME, and everything printed (except deliberate reveals), must be free of
    /// every secret value.
    #[track_caller]
    pub fn assert_no_secrets(&self, secrets: &[String]) {
        let secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 6).collect();
        assert!(!secrets.is_empty());
        let mut roots = vec![self.data_dir().to_path_buf()];
        if let Ok(home) = std::env::var("HOME") {
            roots.push(PathBuf::from(home));
        }
        for root in roots {
            for file in walk(&root) {
                let Ok(bytes) = std::fs::read(&file) else {
                    continue;
                };
                for s in &secrets {
                    assert!(
                        !contains(&bytes, s.as_bytes()),
                        "a secret is in {}",
                        file.display()
                    );
                }
            }
        }
        for (text, reveals) in self.captured.lock().unwrap().iter() {
            if *reveals {
                continue;
            }
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "a secret was printed: {text}");
            }
        }
    }
}

pub async fn finish(mut child: tokio::process::Child, stdin: Option<&str>) -> Run {
    if let Some(mut pipe) = child.stdin.take() {
        if let Some(input) = stdin {
            // A run refused before it reads stdin (usage error, exit 2) may close the pipe first: not a failure.
            if let Err(e) = pipe.write_all(input.as_bytes()).await {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
            }
        }
    }
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("quickauth finished within 120 s")
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            // Toolchains and build output are not ours to scan (and huge).
            if matches!(name.to_str(), Some(".cargo" | ".rustup" | "target")) {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}
