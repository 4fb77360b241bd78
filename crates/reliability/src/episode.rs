//! One fault episode: snapshot the device, inject one fault, run one operation (in this process or in a child), check
//! the answer (specific error, bounded retries) and the stored state, remove the fault, then take the step the error
//! advises and check that it completes with tokens the server accepts. Shared by the fault-matrix tests and the run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use quickauth_core::{Error, RefreshOutcome};
use quickauth_sandbox::FaultRule;
use serde::Serialize;
use url::Url;

use crate::child::{self, ChildArgs, ChildEnd, ChildSpec};
use crate::endpoints::{BacklogFull, BlackHole, ClosedPort, SelfSignedTls};
use crate::faults::{Expect, FaultKind, Observed, Op};
use crate::fleet::{Device, Fleet, Snapshot};

/// Delay of the `slow` fault: well inside the client's 15 s total timeout, so the call must succeed.
pub const SLOW_MS: u64 = 1_500;

/// Everything measured in one episode.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeRecord {
    pub device: usize,
    pub fault: FaultKind,
    pub op: Op,
    /// The operation's error, if it failed.
    pub error: Option<Observed>,
    /// The answer was what a correct client gives (specific error / success / the crash happened).
    pub clear: bool,
    /// Time until the operation returned (its error, or its result); for crashes, until the process died.
    pub ms: u64,
    /// Requests that reached the faulty server (None where nothing can reach it: refused, connect timeout, keyring).
    pub reached_server: Option<usize>,
    /// The number of requests stayed within the retry bound.
    pub bounded: bool,
    /// Stored tokens and DB row were intact right after the fault (or, for crashes, old-or-new and never mixed).
    pub state_intact: bool,
    /// After the fault was removed, the advised next step completed and the server accepts the stored tokens.
    pub recovered: bool,
    /// A refresh that a crash or lost reply interrupted was completed afterwards (journal replay).
    pub refresh_completed: bool,
    /// Yilianyun error 41 replies the server sent during the episode (must stay 0).
    pub quota_refusals: usize,
    pub problems: Vec<String>,
}

impl EpisodeRecord {
    fn new(dev: &Device, fault: FaultKind, op: Op) -> Self {
        Self {
            device: dev.index,
            fault,
            op,
            error: None,
            clear: false,
            ms: 0,
            reached_server: None,
            bounded: true,
            state_intact: false,
            recovered: false,
            refresh_completed: false,
            quota_refusals: 0,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, p: impl Into<String>) {
        self.problems.push(p.into());
    }

    /// Every check passed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
            && self.clear
            && self.bounded
            && self.state_intact
            && self.recovered
    }
}

/// The operation under test, through the service. Returns the new generation for grants/refreshes.
pub async fn run_op(fleet: &Fleet, dev: &Device, op: Op) -> Result<Option<RefreshOutcome>, Error> {
    match op {
        Op::Authorize => fleet
            .qa
            .authorize_yilianyun(&dev.profile, dev.machine_code(), dev.msign())
            .await
            .map(|d| {
                Some(RefreshOutcome::Refreshed {
                    generation: d.token_generation,
                })
            }),
        Op::Refresh => fleet.qa.refresh(&dev.id()).await.map(|r| Some(r.outcome)),
        Op::PrinterStatus => fleet.qa.printer_status(&dev.id()).await.map(|_| None),
    }
}

/// A fault endpoint alive for one episode (fresh, so its counters belong to this episode alone).
enum Target {
    Refused(ClosedPort),
    ConnectTimeout(BacklogFull),
    ReadTimeout(BlackHole),
    Tls(SelfSignedTls),
}

impl Target {
    async fn start(fault: FaultKind) -> std::io::Result<Self> {
        Ok(match fault {
            FaultKind::ConnectionRefused => Target::Refused(ClosedPort::new()?),
            FaultKind::ConnectTimeout => Target::ConnectTimeout(BacklogFull::new().await?),
            FaultKind::ReadTimeout => Target::ReadTimeout(BlackHole::new().await?),
            FaultKind::Tls => Target::Tls(SelfSignedTls::new().await?),
            other => unreachable!("{other:?} is not a network fault"),
        })
    }

    fn url(&self) -> Url {
        match self {
            Target::Refused(t) => t.base_url(),
            Target::ConnectTimeout(t) => t.base_url(),
            Target::ReadTimeout(t) => t.base_url(),
            Target::Tls(t) => t.base_url(),
        }
    }

    /// Requests that reached it; None when nothing can (the point of the fault).
    fn reached(&self) -> Option<usize> {
        match self {
            Target::Refused(_) | Target::ConnectTimeout(_) => None,
            Target::ReadTimeout(t) => Some(t.connections()),
            Target::Tls(t) => Some(t.connections()),
        }
    }
}

/// The most requests a correct client sends for one operation under a persistent fault.
fn request_bound(fleet: &Fleet, fault: FaultKind) -> usize {
    match fault.expect() {
        Expect::Error {
            retryable: true, ..
        } => fleet.options.backoff.attempts as usize,
        Expect::Error {
            retryable: false, ..
        } => 1,
        Expect::Success | Expect::Crash => 1,
    }
}

/// Checks right after a failed operation: tokens and row as before; a refresh may leave its journal pending.
fn check_intact(rec: &mut EpisodeRecord, before: &Snapshot, after: &Snapshot) {
    let mut ok = true;
    if !after.same_tokens_as(before) {
        rec.problem("the stored tokens changed although the operation failed");
        ok = false;
    }
    if after.row != before.row {
        rec.problem(format!(
            "the device row changed although the operation failed: {before:?} -> {after:?}"
        ));
        ok = false;
    }
    match (&before.journal, &after.journal) {
        (None, None) => {}
        (_, Some(j)) if rec.op == Op::Refresh && Some(j.old_generation) == before.generation => {}
        (b, a) => {
            rec.problem(format!(
                "unexpected journal change {:?} -> {:?}",
                b.as_ref().map(|j| j.old_generation),
                a.as_ref().map(|j| j.old_generation)
            ));
            ok = false;
        }
    }
    if let Err(e) = after.consistent() {
        rec.problem(e);
        ok = false;
    }
    rec.state_intact = ok;
}

/// After the fault is gone: take the advised step and prove the device holds a pair the server accepts.
async fn recover_in_process(
    fleet: &Fleet,
    dev: &Device,
    rec: &mut EpisodeRecord,
    before: &Snapshot,
) {
    // Only a refresh left pending in the journal counts as "completed afterwards"; an ordinary refresh does not.
    let pending = fleet
        .snapshot(dev)
        .map(|s| s.journal.is_some())
        .unwrap_or(false);
    let res = match rec.op {
        // A pending refresh (lost or unsent) is completed by the next refresh, replaying the old refresh token.
        Op::Refresh => run_op(fleet, dev, Op::Refresh).await,
        // "Try again": authorize again with the label.
        Op::Authorize => run_op(fleet, dev, Op::Authorize).await,
        Op::PrinterStatus => run_op(fleet, dev, Op::PrinterStatus).await,
    };
    match res {
        Ok(outcome) => {
            if let Err(p) = check_after_success(fleet, dev, rec.op, before, outcome).await {
                rec.problem(format!("after recovery: {p}"));
            } else {
                rec.recovered = true;
                if rec.op == Op::Refresh && pending {
                    rec.refresh_completed = true;
                }
            }
        }
        Err(e) => rec.problem(format!(
            "recovery step failed: {}",
            crate::faults::tag_of(&e)
        )),
    }
}

/// After a successful operation: the right generation, consistent state, a pair the server accepts, and for a
/// refresh exactly the pair the server issued for the old refresh token.
async fn check_after_success(
    fleet: &Fleet,
    dev: &Device,
    op: Op,
    before: &Snapshot,
    outcome: Option<RefreshOutcome>,
) -> Result<(), String> {
    let after = fleet.holds_valid_pair(dev).await?;
    if after.journal.is_some() {
        return Err("a refresh is still pending after a successful operation".into());
    }
    match op {
        Op::PrinterStatus => {
            if !after.same_tokens_as(before) {
                return Err("a printer call changed the stored tokens".into());
            }
        }
        Op::Authorize | Op::Refresh => {
            let want = before.generation.map(|g| g + 1);
            if after.generation != want {
                return Err(format!(
                    "generation {:?}, expected {want:?}",
                    after.generation
                ));
            }
            if let Some(o) = outcome {
                if Some(o.generation()) != want {
                    return Err(format!(
                        "reported generation {} but {want:?} expected",
                        o.generation()
                    ));
                }
            }
            if op == Op::Refresh {
                check_replay(dev, before, &after).await?;
            }
        }
    }
    Ok(())
}

/// The server's answer to the old refresh token (replayed within 2 h) must be exactly the stored pair.
pub async fn check_replay(dev: &Device, before: &Snapshot, after: &Snapshot) -> Result<(), String> {
    let old_rt = before
        .refresh_token
        .as_deref()
        .ok_or("no old refresh token")?;
    let (at, rt) = dev.replay(old_rt).await?;
    if Some(at.as_str()) != after.access_token.as_deref()
        || Some(rt.as_str()) != after.refresh_token.as_deref()
    {
        return Err(
            "the stored pair is not the one the server issued for the old refresh token".into(),
        );
    }
    Ok(())
}

/// A network or sandbox fault against an operation in this process.
pub async fn in_process(fleet: &Fleet, dev: &Device, fault: FaultKind, op: Op) -> EpisodeRecord {
    let mut rec = EpisodeRecord::new(dev, fault, op);
    let before = match fleet.snapshot(dev) {
        Ok(s) => s,
        Err(e) => {
            rec.problem(format!("snapshot before: {e}"));
            return rec;
        }
    };
    dev.sandbox.clear_requests();
    let target = if fault.is_network() {
        match Target::start(fault).await {
            Ok(t) => {
                if let Err(e) = fleet.point_at(dev, Some(&t.url())) {
                    rec.problem(e);
                    return rec;
                }
                Some(t)
            }
            Err(e) => {
                rec.problem(format!("fault endpoint: {e}"));
                return rec;
            }
        }
    } else {
        let mode = fault.sandbox_mode().expect("sandbox fault");
        let mut rule = FaultRule::new(mode).on_path(op.sandbox_path()).times(1000);
        if fault == FaultKind::SlowServer {
            rule = rule.delay_ms(SLOW_MS).times(1);
        }
        dev.sandbox.set_fault(rule);
        None
    };

    let started = Instant::now();
    let res = run_op(fleet, dev, op).await;
    rec.ms = started.elapsed().as_millis() as u64;

    // Remove the fault before anything else talks to the device's server.
    dev.sandbox.clear_faults();
    if target.is_some() {
        if let Err(e) = fleet.point_at(dev, None) {
            rec.problem(e);
        }
    }
    rec.reached_server = match &target {
        Some(t) => t.reached(),
        None => Some(dev.requests_on(op.sandbox_path()).1),
    };
    if let Some(Target::Tls(t)) = &target {
        if t.requests() > 0 {
            rec.problem("a request went through the untrusted TLS server");
        }
    }
    let bound = request_bound(fleet, fault);
    if let Some(n) = rec.reached_server {
        // The fault persists, so every allowed attempt must have been made and no more.
        rec.bounded = n == bound;
        if !rec.bounded {
            rec.problem(format!(
                "{n} requests reached the server, expected exactly {bound}"
            ));
        }
    } else if let Expect::Error {
        retryable: true, ..
    } = fault.expect()
    {
        // Nothing reaches the server, so the attempts cannot be counted there: bound them by time instead. Each
        // attempt costs at most a connect timeout plus a capped backoff wait; the operation's own keyring calls (a
        // few, each bounded by the keyring timeout) come on top. One attempt more than allowed would not always
        // exceed this (it is loose under load); the exact count is proven by the faults the server does see, which
        // run through the same retry loop.
        let b = fleet.options.backoff;
        let ceiling = (quickauth_protocol::DEFAULT_CONNECT_TIMEOUT + b.cap) * b.attempts
            + fleet.options.keyring_timeout * 3;
        rec.bounded = Duration::from_millis(rec.ms) <= ceiling;
        if !rec.bounded {
            rec.problem(format!(
                "took {} ms, more than {} retries can",
                rec.ms, fleet.options.backoff.attempts
            ));
        }
    }

    match (fault.expect(), res) {
        (Expect::Success, Ok(outcome)) => {
            rec.clear = true;
            rec.state_intact = true;
            match check_after_success(fleet, dev, op, &before, outcome).await {
                Ok(()) => rec.recovered = true,
                Err(p) => {
                    rec.state_intact = false;
                    rec.problem(p);
                }
            }
        }
        (Expect::Success, Err(e)) => {
            let o = Observed::from_error(&e);
            rec.problem(format!(
                "expected success under {}, got {}",
                fault.name(),
                o.tag
            ));
            rec.error = Some(o);
        }
        (Expect::Error { .. }, Ok(_)) => {
            rec.problem(format!("{} did not fail under {}", op.name(), fault.name()))
        }
        (Expect::Error { tag, action, .. }, Err(e)) => {
            let o = Observed::from_error(&e);
            rec.clear = o.matches(fault);
            if !rec.clear {
                rec.problem(format!(
                    "expected {tag} / {action:?}, got {} / {:?} / retryable {}",
                    o.tag, o.action, o.retryable
                ));
            }
            rec.error = Some(o);
            match fleet.snapshot(dev) {
                Ok(after) => {
                    check_intact(&mut rec, &before, &after);
                    if let Some(at) = &after.access_token {
                        if let Err(p) = dev.server_accepts(at).await {
                            rec.state_intact = false;
                            rec.problem(format!("right after the fault: {p}"));
                        }
                    }
                }
                Err(e) => rec.problem(format!("snapshot after: {e}")),
            }
            recover_in_process(fleet, dev, &mut rec, &before).await;
        }
        (Expect::Crash, _) => unreachable!("crash kinds run in child processes"),
    }
    rec.quota_refusals = dev.quota_refusals();
    rec
}

/// Where the children find the binary and how they are configured.
#[derive(Debug, Clone)]
pub struct ChildEnv {
    pub exe: PathBuf,
    pub data_dir: PathBuf,
    /// Keyring bound inside children (short: the keyring faults wait for it).
    pub keyring_timeout: Duration,
    pub backoff: quickauth_core::Backoff,
    /// A unix socket that accepts and never answers (the never-answering D-Bus peer).
    pub silent_bus: PathBuf,
    /// A path where no bus exists.
    pub missing_bus: PathBuf,
    /// Recovery children complete every pending refresh of the data dir (`recover`, what an app start does) rather
    /// than only their device's (`recover-device`). Only safe when one device is under test at a time: otherwise one
    /// episode's recovery completes another episode's crash before that episode can check it.
    pub recover_all: bool,
}

impl ChildEnv {
    pub fn spec(&self, dev: &Device, op: &str) -> ChildSpec {
        ChildSpec {
            exe: self.exe.clone(),
            args: ChildArgs {
                data_dir: self.data_dir.clone(),
                op: op.to_owned(),
                machine_code: dev.machine_code.clone(),
                profile: dev.profile.clone(),
                keyring_timeout: self.keyring_timeout,
                backoff: self.backoff,
            },
            env: vec![("QUICKAUTH_CRASH_AT".into(), None)],
        }
    }
}

/// Starts the never-answering D-Bus peer: accepts every connection and holds it without a word.
pub fn start_silent_bus(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join("silent-bus");
    let listener = std::os::unix::net::UnixListener::bind(&path)?;
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    Ok(path)
}

async fn blocking_child(
    f: impl FnOnce() -> std::io::Result<ChildEnd> + Send + 'static,
) -> Result<ChildEnd, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("child task: {e}"))?
        .map_err(|e| format!("spawn child: {e}"))
}

/// A keyring fault in a child process: its session bus is missing or never answers.
pub async fn keyring_fault(
    fleet: &Fleet,
    env: &ChildEnv,
    dev: &Device,
    fault: FaultKind,
    op: Op,
) -> EpisodeRecord {
    let mut rec = EpisodeRecord::new(dev, fault, op);
    let before = match fleet.snapshot(dev) {
        Ok(s) => s,
        Err(e) => {
            rec.problem(format!("snapshot before: {e}"));
            return rec;
        }
    };
    dev.sandbox.clear_requests();
    let bus = match fault {
        FaultKind::KeyringUnavailable => &env.missing_bus,
        _ => &env.silent_bus,
    };
    let mut spec = env.spec(dev, op.name());
    spec.env.push((
        "DBUS_SESSION_BUS_ADDRESS".into(),
        Some(format!("unix:path={}", bus.display())),
    ));
    let end = match blocking_child(move || child::run_to_end(&spec)).await {
        Ok(e) => e,
        Err(e) => {
            rec.problem(e);
            return rec;
        }
    };
    match &end.result {
        Some(r) if !r.ok => {
            rec.ms = r.ms;
            let o = r.error.clone().expect("failed result has an error");
            rec.clear = o.matches(fault);
            if !rec.clear {
                rec.problem(format!(
                    "expected {:?}, got {} / {:?} / retryable {}",
                    fault.expect(),
                    o.tag,
                    o.action,
                    o.retryable
                ));
            }
            // "A clear error within 5 s": the keyring bound plus scheduling slack.
            if Duration::from_millis(r.ms) > env.keyring_timeout + Duration::from_millis(1500) {
                rec.clear = false;
                rec.problem(format!(
                    "keyring error took {} ms (bound {} ms)",
                    r.ms,
                    env.keyring_timeout.as_millis()
                ));
            }
            rec.error = Some(o);
        }
        Some(_) => rec.problem("the operation succeeded without a keyring"),
        None => rec.problem(format!(
            "child printed no result ({:?}): {}",
            end.status, end.stderr_tail
        )),
    }
    // Nothing may have been sent: without the keyring there is no token or secret to send.
    let sent = dev.sandbox.requests(1000).len();
    rec.reached_server = None;
    rec.bounded = sent == 0;
    if sent > 0 {
        rec.problem(format!("{sent} requests were sent without a keyring"));
    }
    match fleet.snapshot(dev) {
        Ok(after) => {
            check_intact(&mut rec, &before, &after);
            if after.journal.is_some() {
                rec.state_intact = false;
                rec.problem("a journal row was left by an operation that never sent");
            }
        }
        Err(e) => rec.problem(format!("snapshot after: {e}")),
    }
    // The keyring is back (this process's bus): the same operation works again.
    recover_in_process(fleet, dev, &mut rec, &before).await;
    rec.quota_refusals = dev.quota_refusals();
    rec
}

/// Runs `recover` in a fresh child (what the next app/CLI start does) and checks the refresh was completed.
async fn recover_child(
    fleet: &Fleet,
    env: &ChildEnv,
    dev: &Device,
    rec: &mut EpisodeRecord,
    before: &Snapshot,
) {
    let spec = env.spec(
        dev,
        if env.recover_all {
            "recover"
        } else {
            "recover-device"
        },
    );
    let end = match blocking_child(move || child::run_to_end(&spec)).await {
        Ok(e) => e,
        Err(e) => return rec.problem(e),
    };
    let Some(r) = end.result else {
        return rec.problem(format!(
            "recovery child printed no result ({:?}): {}",
            end.status, end.stderr_tail
        ));
    };
    if !r.ok {
        return rec.problem(format!("recovery failed: {:?}", r.error.map(|e| e.tag)));
    }
    let after = match fleet.holds_valid_pair(dev).await {
        Ok(s) => s,
        Err(e) => return rec.problem(format!("after recovery: {e}")),
    };
    if after.journal.is_some() {
        return rec.problem("journal still pending after recovery");
    }
    match r.outcome.as_deref() {
        Some("recovered") => {
            let want = before.generation.map(|g| g + 1);
            if after.generation != want || r.generation != want {
                return rec.problem(format!(
                    "recovered generation {:?}/{:?}, expected {want:?}",
                    r.generation, after.generation
                ));
            }
            if let Err(p) = check_replay(dev, before, &after).await {
                return rec.problem(p);
            }
            rec.refresh_completed = true;
        }
        Some("nothing_pending") => {
            // Killed before the journal was written: nothing was sent, the old pair is untouched.
            if !after.same_tokens_as(before) {
                return rec.problem("nothing was pending but the tokens changed");
            }
        }
        other => return rec.problem(format!("unexpected recovery outcome {other:?}")),
    }
    rec.recovered = true;
}

/// A refresh in a child that aborts at a `QUICKAUTH_CRASH_AT` step, then recovery by a fresh child.
pub async fn crash(fleet: &Fleet, env: &ChildEnv, dev: &Device, fault: FaultKind) -> EpisodeRecord {
    let mut rec = EpisodeRecord::new(dev, fault, Op::Refresh);
    let before = match fleet.snapshot(dev) {
        Ok(s) => s,
        Err(e) => {
            rec.problem(format!("snapshot before: {e}"));
            return rec;
        }
    };
    dev.sandbox.clear_requests();
    let step = fault.crash_step().expect("crash kind");
    let mut spec = env.spec(dev, "refresh");
    spec.env = vec![("QUICKAUTH_CRASH_AT".into(), Some(step.to_owned()))];
    let end = match blocking_child(move || child::run_to_end(&spec)).await {
        Ok(e) => e,
        Err(e) => {
            rec.problem(e);
            return rec;
        }
    };
    rec.ms = end.wall_ms;
    rec.clear = end.signal() == Some(libc::SIGABRT);
    if !rec.clear {
        rec.problem(format!(
            "child was not aborted at {step}: {:?} {:?} {}",
            end.status, end.result, end.stderr_tail
        ));
    }
    let sent = dev.requests_on("/v2/oauth/oauth").0;
    rec.reached_server = Some(sent);
    let want_sent = usize::from(step != "before_send");
    rec.bounded = sent == want_sent;
    if !rec.bounded {
        rec.problem(format!(
            "{sent} refresh requests before the crash, expected {want_sent}"
        ));
    }
    // Mid-crash state: the old pair or the new pair, each whole; a pending journal for the old generation.
    match fleet.snapshot(dev) {
        Ok(mid) => {
            let new_in_keyring = matches!(
                step,
                "after_keyring_before_db" | "after_db_before_journal_clear"
            );
            let want_gen = before.generation.map(|g| g + i64::from(new_in_keyring));
            let mut ok = mid.generation == want_gen
                && mid.access_token.is_some()
                && mid.refresh_token.is_some();
            if !new_in_keyring && !mid.same_tokens_as(&before) {
                ok = false;
            }
            let row_gen = mid.row.as_ref().map(|r| r.token_generation);
            let want_row = before
                .generation
                .map(|g| g + i64::from(step == "after_db_before_journal_clear"));
            ok &= row_gen == want_row;
            ok &= mid.journal.as_ref().map(|j| j.old_generation) == before.generation;
            if !ok {
                rec.problem(format!(
                    "state after crash at {step}: {mid:?}, before {before:?}"
                ));
            }
            rec.state_intact = ok;
        }
        Err(e) => rec.problem(format!("snapshot after crash: {e}")),
    }
    recover_child(fleet, env, dev, &mut rec, &before).await;
    rec.quota_refusals = dev.quota_refusals();
    rec
}

/// SIGKILL of a refreshing child while its refresh request is at the server (a server that holds it without an
/// answer), then recovery by a fresh child.
///
/// The kill waits until the request has arrived, i.e. until the child is past its keyring reads and not inside a
/// D-Bus call: killing a client in the middle of a Secret Service `OpenSession` aborts gnome-keyring-daemon (an upstream
/// bug, seen in an earlier run of this harness), which would take the whole session's keyring down with it.
pub async fn kill_in_flight(fleet: &Fleet, env: &ChildEnv, dev: &Device) -> EpisodeRecord {
    let mut rec = EpisodeRecord::new(dev, FaultKind::KillInFlight, Op::Refresh);
    let before = match fleet.snapshot(dev) {
        Ok(s) => s,
        Err(e) => {
            rec.problem(format!("snapshot before: {e}"));
            return rec;
        }
    };
    let hole = match BlackHole::new().await {
        Ok(h) => std::sync::Arc::new(h),
        Err(e) => {
            rec.problem(format!("fault endpoint: {e}"));
            return rec;
        }
    };
    if let Err(e) = fleet.point_at(dev, Some(&hole.base_url())) {
        rec.problem(e);
        return rec;
    }
    let spec = env.spec(dev, "refresh");
    let watch = hole.clone();
    let end = blocking_child(move || {
        child::run_and_kill_when(
            &spec,
            move || watch.connections() > 0,
            Duration::from_secs(30),
        )
        .map(|(end, hit)| {
            if !hit {
                tracing::warn!("the refresh request never reached the server before the deadline");
            }
            end
        })
    })
    .await;
    if let Err(e) = fleet.point_at(dev, None) {
        rec.problem(e);
    }
    let end = match end {
        Ok(e) => e,
        Err(e) => {
            rec.problem(e);
            return rec;
        }
    };
    rec.ms = end.wall_ms;
    rec.clear = end.signal() == Some(libc::SIGKILL);
    if !rec.clear {
        rec.problem(format!(
            "child was not killed: {:?} {:?}",
            end.status, end.result
        ));
    }
    let sent = hole.connections();
    rec.reached_server = Some(sent);
    rec.bounded = sent == 1;
    if !rec.bounded {
        rec.problem(format!(
            "{sent} requests reached the server before the kill, expected 1"
        ));
    }
    match fleet.snapshot(dev) {
        Ok(mid) => {
            rec.state_intact = mid.same_tokens_as(&before)
                && mid.row == before.row
                && mid.journal.as_ref().map(|j| j.old_generation) == before.generation;
            if !rec.state_intact {
                rec.problem(format!("state after kill: {mid:?}, before {before:?}"));
            }
        }
        Err(e) => rec.problem(format!("snapshot after kill: {e}")),
    }
    recover_child(fleet, env, dev, &mut rec, &before).await;
    if !rec.refresh_completed {
        rec.problem("the refresh interrupted by kill -9 was not completed");
    }
    rec.quota_refusals = dev.quota_refusals();
    rec
}

/// What several processes refreshing one device at once did.
#[derive(Debug, Clone, Serialize)]
pub struct ConcurrentRecord {
    pub device: usize,
    pub processes: usize,
    /// Refresh requests the server received (single flight: exactly 1).
    pub server_refreshes: usize,
    pub refreshed: usize,
    pub already_refreshed: usize,
    pub failed: usize,
    pub problems: Vec<String>,
}

/// `processes` children refresh the same device at the same moment while the server is slow.
pub async fn concurrent_refresh(
    fleet: &Fleet,
    env: &ChildEnv,
    dev: &Device,
    processes: usize,
) -> ConcurrentRecord {
    let mut rec = ConcurrentRecord {
        device: dev.index,
        processes,
        server_refreshes: 0,
        refreshed: 0,
        already_refreshed: 0,
        failed: 0,
        problems: Vec::new(),
    };
    let before = match fleet.snapshot(dev) {
        Ok(s) => s,
        Err(e) => {
            rec.problems.push(e);
            return rec;
        }
    };
    dev.sandbox.clear_requests();
    // Slow enough that every process reads the old generation before the first refresh lands.
    dev.sandbox.set_fault(
        FaultRule::new(quickauth_sandbox::FaultMode::Slow)
            .on_path("/v2/oauth/oauth")
            .delay_ms(1_500)
            .times(1),
    );
    let mut tasks = Vec::new();
    for _ in 0..processes {
        let spec = env.spec(dev, "refresh");
        tasks.push(tokio::task::spawn_blocking(move || {
            child::run_to_end(&spec)
        }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(end)) => match end.result {
                Some(r) if r.ok && r.outcome.as_deref() == Some("refreshed") => rec.refreshed += 1,
                Some(r) if r.ok && r.outcome.as_deref() == Some("already_refreshed") => {
                    rec.already_refreshed += 1
                }
                other => {
                    rec.failed += 1;
                    rec.problems.push(format!(
                        "process result {:?}: {}",
                        other.map(|r| (r.outcome, r.error.map(|e| e.tag))),
                        end.stderr_tail
                    ));
                }
            },
            other => {
                rec.failed += 1;
                rec.problems.push(format!(
                    "process did not run: {:?}",
                    other.map(|r| r.map(|e| e.status))
                ));
            }
        }
    }
    dev.sandbox.clear_faults();
    rec.server_refreshes = dev.requests_on("/v2/oauth/oauth").0;
    if rec.server_refreshes != 1 || rec.refreshed != 1 || rec.already_refreshed != processes - 1 {
        rec.problems.push(format!(
            "single flight broken: {} server refreshes, {} refreshed, {} already_refreshed",
            rec.server_refreshes, rec.refreshed, rec.already_refreshed
        ));
    }
    match fleet.holds_valid_pair(dev).await {
        Ok(after) => {
            if after.generation != before.generation.map(|g| g + 1) {
                rec.problems.push(format!(
                    "generation {:?} after one refresh from {:?}",
                    after.generation, before.generation
                ));
            }
            if let Err(p) = check_replay(dev, &before, &after).await {
                rec.problems.push(p);
            }
        }
        Err(e) => rec.problems.push(e),
    }
    rec
}
