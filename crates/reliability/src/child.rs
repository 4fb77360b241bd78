//! Child processes: one service operation per process, the way the `quickauth` CLI runs it (open the data dir, complete
//! pending refreshes if asked, do one thing, exit). The parent kills them (`QUICKAUTH_CRASH_AT`, SIGKILL), starves
//! their keyring (D-Bus env is per process) or runs several at once, and reads one `QA-RESULT {json}` line.

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use quickauth_core::{Backoff, Options, QuickAuth, RefreshOutcome};
use quickauth_protocol::secret::Msign;
use quickauth_protocol::{DeviceKey, MachineCode};
use serde::{Deserialize, Serialize};

use crate::faults::{Observed, Op};

const RESULT_PREFIX: &str = "QA-RESULT ";

/// What a child did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildResult {
    pub ok: bool,
    /// refreshed | already_refreshed | recovered | nothing_pending | authorized | status
    pub outcome: Option<String>,
    pub generation: Option<i64>,
    pub error: Option<Observed>,
    /// Time of the operation itself (after opening the service).
    pub ms: u64,
}

/// Arguments of `qa-reliability child`.
#[derive(Debug, Clone)]
pub struct ChildArgs {
    pub data_dir: PathBuf,
    /// An `Op` name, `recover` (complete every pending refresh, as opening the app does) or `recover-device` (complete
    /// this device's pending refresh, as its next refresh does).
    pub op: String,
    pub machine_code: String,
    pub profile: String,
    pub keyring_timeout: Duration,
    pub backoff: Backoff,
}

impl ChildArgs {
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "child".into(),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--op".into(),
            self.op.clone(),
            "--machine-code".into(),
            self.machine_code.clone(),
            "--profile".into(),
            self.profile.clone(),
            "--keyring-timeout-ms".into(),
            self.keyring_timeout.as_millis().to_string(),
            "--backoff".into(),
            format!(
                "{}:{}:{}",
                self.backoff.attempts,
                self.backoff.initial.as_millis(),
                self.backoff.cap.as_millis()
            ),
        ]
    }

    pub fn parse(args: &[String]) -> Result<Self, String> {
        let get = |name: &str| -> Result<String, String> {
            let at = args
                .iter()
                .position(|a| a == name)
                .ok_or(format!("missing {name}"))?;
            args.get(at + 1)
                .cloned()
                .ok_or(format!("{name} needs a value"))
        };
        let backoff: Vec<u64> = get("--backoff")?
            .split(':')
            .map(|p| p.parse().map_err(|_| "bad --backoff"))
            .collect::<Result<_, _>>()?;
        let [attempts, initial, cap] = backoff[..] else {
            return Err("--backoff is attempts:initial_ms:cap_ms".into());
        };
        Ok(Self {
            data_dir: PathBuf::from(get("--data-dir")?),
            op: get("--op")?,
            machine_code: get("--machine-code")?,
            profile: get("--profile")?,
            keyring_timeout: Duration::from_millis(
                get("--keyring-timeout-ms")?
                    .parse()
                    .map_err(|_| "bad timeout")?,
            ),
            backoff: Backoff {
                attempts: attempts as u32,
                initial: Duration::from_millis(initial),
                cap: Duration::from_millis(cap),
            },
        })
    }
}

fn outcome_name(o: &RefreshOutcome) -> &'static str {
    match o {
        RefreshOutcome::Refreshed { .. } => "refreshed",
        RefreshOutcome::AlreadyRefreshed { .. } => "already_refreshed",
        RefreshOutcome::Recovered { .. } => "recovered",
    }
}

/// The child's main: runs the operation and prints one result line. Crash hooks abort inside.
pub async fn run_child(args: ChildArgs) -> ChildResult {
    let mut opts = Options::new(&args.data_dir);
    opts.keyring_timeout = args.keyring_timeout;
    opts.backoff = args.backoff;
    // Pending refreshes are completed explicitly by `recover`, so each child does exactly one thing.
    opts.recover_on_open = false;
    // The matrix proves every retry happens under each fault: the counter's 10 s budget would cut them short (it has
    // its own test in crates/core/tests/server_values.rs).
    opts.interactive_budget = Duration::from_secs(600);
    let fail = |e: &quickauth_core::Error, started: Instant| ChildResult {
        ok: false,
        outcome: None,
        generation: None,
        error: Some(Observed::from_error(e)),
        ms: started.elapsed().as_millis() as u64,
    };
    let opened = Instant::now();
    let qa = match QuickAuth::open(opts).await {
        Ok(qa) => qa,
        Err(e) => return fail(&e, opened),
    };
    let id = format!("{}:{}", crate::fleet::PROVIDER, args.machine_code);
    let started = Instant::now();
    let ok = |outcome: &str, generation: Option<i64>| ChildResult {
        ok: true,
        outcome: Some(outcome.to_owned()),
        generation,
        error: None,
        ms: started.elapsed().as_millis() as u64,
    };
    if args.op == "recover-device" {
        // The next process that refreshes this device completes its pending refresh first (journal replay).
        let pending =
            quickauth_vault::Store::open(&args.data_dir).and_then(|s| s.pending_refreshes());
        return match pending {
            Ok(list) if !list.iter().any(|j| j.id == args.machine_code) => {
                ok("nothing_pending", None)
            }
            Ok(_) => match qa.refresh(&id).await {
                Ok(r) => ok(outcome_name(&r.outcome), Some(r.outcome.generation())),
                Err(e) => fail(&e, started),
            },
            Err(e) => fail(&quickauth_core::Error::from(e), started),
        };
    }
    if args.op == "deliver" {
        // One outbox run, as `quickauth deliver --now` does (the delivery matrix SIGKILLs it mid-send).
        return match qa.deliver(true).await {
            Ok(run) => ok("delivered", Some(run.delivered as i64)),
            Err(e) => fail(&e, started),
        };
    }
    if args.op == "recover" {
        return match qa.recover_pending().await {
            Ok(list) => {
                let mine = list.into_iter().find(|(d, _)| d.id == args.machine_code);
                match mine {
                    None => ok("nothing_pending", None),
                    Some((_, Ok(None))) => ok("nothing_pending", None),
                    Some((_, Ok(Some(o)))) => ok(outcome_name(&o), Some(o.generation())),
                    Some((_, Err(e))) => fail(&e, started),
                }
            }
            Err(e) => fail(&e, started),
        };
    }
    match Op::parse(&args.op) {
        Some(Op::Refresh) => match qa.refresh(&id).await {
            Ok(r) => ok(outcome_name(&r.outcome), Some(r.outcome.generation())),
            Err(e) => fail(&e, started),
        },
        Some(Op::PrinterStatus) => match qa.printer_status(&id).await {
            Ok(_) => ok("status", None),
            Err(e) => fail(&e, started),
        },
        Some(Op::Authorize) => {
            let mc = MachineCode::parse(&args.machine_code).expect("valid machine code");
            let key =
                DeviceKey::Msign(Msign::new(quickauth_sandbox::msign_for(&args.machine_code)));
            match qa.authorize_yilianyun(&args.profile, mc, key).await {
                Ok(d) => ok("authorized", Some(d.token_generation)),
                Err(e) => fail(&e, started),
            }
        }
        None => panic!("unknown child op {}", args.op),
    }
}

/// Prints the result line the parent parses.
pub fn print_result(r: &ChildResult) {
    println!(
        "{RESULT_PREFIX}{}",
        serde_json::to_string(r).expect("plain struct")
    );
}

/// How a child ended.
#[derive(Debug)]
pub struct ChildEnd {
    pub status: ExitStatus,
    pub result: Option<ChildResult>,
    pub wall_ms: u64,
    pub stderr_tail: String,
}

impl ChildEnd {
    /// The signal that ended the child, if one did.
    pub fn signal(&self) -> Option<i32> {
        std::os::unix::process::ExitStatusExt::signal(&self.status)
    }
}

/// A child about to start: the args plus environment changes (`None` removes a variable).
pub struct ChildSpec {
    pub exe: PathBuf,
    pub args: ChildArgs,
    pub env: Vec<(String, Option<String>)>,
}

impl ChildSpec {
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.args(self.args.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd
    }
}

fn parse_output(stdout: &[u8]) -> Option<ChildResult> {
    String::from_utf8_lossy(stdout).lines().find_map(|l| {
        l.strip_prefix(RESULT_PREFIX)
            .and_then(|j| serde_json::from_str(j).ok())
    })
}

fn tail(stderr: &[u8]) -> String {
    let s = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// Runs a child to completion (blocking: call from `spawn_blocking`).
pub fn run_to_end(spec: &ChildSpec) -> std::io::Result<ChildEnd> {
    let started = Instant::now();
    let out = spec.command().output()?;
    Ok(ChildEnd {
        status: out.status,
        result: parse_output(&out.stdout),
        wall_ms: started.elapsed().as_millis() as u64,
        stderr_tail: tail(&out.stderr),
    })
}

/// Runs a child and SIGKILLs it as soon as `ready()` says so (polled every 5 ms), or after `deadline` at the latest.
/// Blocking: call from `spawn_blocking`. Returns the end and whether the kill was triggered by `ready`.
pub fn run_and_kill_when(
    spec: &ChildSpec,
    ready: impl Fn() -> bool,
    deadline: Duration,
) -> std::io::Result<(ChildEnd, bool)> {
    let started = Instant::now();
    let mut child = spec.command().spawn()?;
    let mut triggered = false;
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if ready() || started.elapsed() >= deadline {
            triggered = ready();
            // Still running (not reaped: try_wait said so): kill exactly this child by its own handle.
            child.kill()?;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output()?;
    let end = ChildEnd {
        status: out.status,
        result: parse_output(&out.stdout),
        wall_ms: started.elapsed().as_millis() as u64,
        stderr_tail: tail(&out.stderr),
    };
    Ok((end, triggered))
}

/// Runs a child and SIGKILLs it after `after` (if it is still running then).
pub fn run_and_kill(spec: &ChildSpec, after: Duration) -> std::io::Result<ChildEnd> {
    let started = Instant::now();
    let child = spec.command().spawn()?;
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(());
        out
    });
    if rx.recv_timeout(after).is_err() {
        // Still running: kill exactly this child (by its own pid, never by name).
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let out = waiter
        .join()
        .map_err(|_| std::io::Error::other("waiter thread panicked"))??;
    Ok(ChildEnd {
        status: out.status,
        result: parse_output(&out.stdout),
        wall_ms: started.elapsed().as_millis() as u64,
        stderr_tail: tail(&out.stderr),
    })
}
