//! The reliability run: authorize a fleet of sandbox printers, inject at least N faults over them (every network and
//! sandbox fault mode against authorize / refresh / printer calls, keyring faults and crashes in real child processes,
//! concurrent refreshes from several processes), then verify every device and summarise.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::episode::{self, ChildEnv, ConcurrentRecord, EpisodeRecord};
use crate::faults::{Expect, FaultKind, Op, CRASH_KINDS, NETWORK_KINDS, SANDBOX_KINDS};
use crate::fleet::{Device, Fleet, FleetOptions, PROVIDER};

/// How big a run is and where its children come from.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Keep adding devices until the plan injects at least this many faults.
    pub min_faults: usize,
    /// The binary that runs `child ...` (qa-reliability itself).
    pub child_exe: PathBuf,
    /// Data dir of the run (shared by this process and every child).
    pub data_dir: PathBuf,
    /// Child processes alive at once (the machine is small and shared).
    pub child_parallelism: usize,
    /// Devices running their episodes at once. gnome-keyring-daemon aborts under bursts of concurrent Secret Service
    /// sessions from several processes (an upstream race; every keyring call of the keyring crate opens one), so the
    /// run keeps the burst size moderate rather than starting every device at once.
    pub device_parallelism: usize,
    /// Include connect-timeout and read-timeout episodes (5 s / 15 s per attempt with the product's timeouts).
    pub include_timeouts: bool,
    /// Every n-th device also gets a concurrent refresh from `concurrent_processes` processes.
    pub concurrent_every: usize,
    pub concurrent_processes: usize,
    /// Keyring bound inside children (the keyring faults wait for it).
    pub child_keyring_timeout: Duration,
    pub seed: u64,
    /// Run the webhook delivery matrix after the token episodes (tests run it on its own: tests/delivery_matrix.rs).
    pub include_delivery: bool,
}

impl RunConfig {
    pub fn new(child_exe: PathBuf, data_dir: PathBuf, min_faults: usize) -> Self {
        Self {
            min_faults,
            child_exe,
            data_dir,
            child_parallelism: 2,
            device_parallelism: 24,
            include_timeouts: true,
            concurrent_every: 4,
            concurrent_processes: 3,
            child_keyring_timeout: Duration::from_millis(2_000),
            seed: 0x5eed_2026,
            include_delivery: true,
        }
    }
}

/// The planned episodes of one device, mandatory crash/concurrency work first.
#[derive(Debug, Clone)]
struct DevicePlan {
    concurrent: bool,
    crashes: Vec<FaultKind>,
    faults: Vec<(FaultKind, Op)>,
}

impl DevicePlan {
    fn fault_count(&self) -> usize {
        self.crashes.len() + self.faults.len()
    }
}

// `%` rather than `is_multiple_of`: the workspace's rust-version is 1.80.
#[allow(clippy::manual_is_multiple_of)]
fn plan_device(cfg: &RunConfig, index: usize, rng: &mut StdRng) -> DevicePlan {
    let crashes = if index % 2 == 0 {
        CRASH_KINDS.to_vec()
    } else {
        vec![FaultKind::KillInFlight]
    };
    let mut kinds: Vec<FaultKind> = Vec::new();
    for k in NETWORK_KINDS {
        if cfg.include_timeouts || !matches!(k, FaultKind::ConnectTimeout | FaultKind::ReadTimeout)
        {
            kinds.push(k);
        }
    }
    kinds.extend(SANDBOX_KINDS);
    kinds.extend([
        FaultKind::KeyringUnavailable,
        FaultKind::KeyringNeverAnswers,
    ]);
    kinds.shuffle(rng);
    let ops = [Op::Authorize, Op::Refresh, Op::PrinterStatus];
    let faults = kinds
        .into_iter()
        .enumerate()
        .map(|(j, k)| (k, ops[(index + j) % ops.len()]))
        .collect();
    DevicePlan {
        concurrent: cfg.concurrent_every > 0 && index % cfg.concurrent_every == 0,
        crashes,
        faults,
    }
}

/// Grants/refreshes an episode may count against the printer's daily quota (20 per China day, counted locally per
/// request sent) — used to keep every device able to refresh at the end.
fn quota_cost(fleet_attempts: u32, fault: FaultKind, op: Op) -> u32 {
    if op == Op::PrinterStatus {
        return 0;
    }
    if fault.is_keyring() {
        return 1; // only the recovery step sends
    }
    match fault.expect() {
        Expect::Error {
            retryable: true, ..
        } => fleet_attempts + 1,
        Expect::Error {
            retryable: false, ..
        } => 2,
        Expect::Success | Expect::Crash => 2,
    }
}

/// Final state of one device after the run.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceCheck {
    pub device: usize,
    /// The stored access token is accepted by the server for a printer call.
    pub valid_pair: bool,
    /// A refresh right now works and yields a pair the server accepts.
    pub final_refresh_ok: bool,
    /// Grants/refreshes the server counted today for the printer (limit 20).
    pub server_grants_today: i64,
    pub local_grants_today: u32,
    pub problems: Vec<String>,
}

impl DeviceCheck {
    pub fn tokens_lost(&self) -> bool {
        !(self.valid_pair && self.final_refresh_ok)
    }
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub devices: usize,
    pub episodes: Vec<EpisodeRecord>,
    pub concurrent: Vec<ConcurrentRecord>,
    pub checks: Vec<DeviceCheck>,
    /// Episodes after which the device did not hold a pair the server accepts (checked right after each episode).
    pub lost_after_episode: Vec<(usize, FaultKind)>,
    pub setup_problems: Vec<String>,
    pub wall: Duration,
    pub config_summary: String,
    /// The webhook delivery fault matrix (issue 9), run after the token episodes.
    pub delivery: Option<crate::delivery::DeliveryOutcome>,
}

impl RunOutcome {
    pub fn faults_injected(&self) -> usize {
        self.episodes.len()
    }

    pub fn tokens_lost(&self) -> usize {
        self.checks.iter().filter(|c| c.tokens_lost()).count()
    }

    /// Episodes whose answer was not the specific, expected one.
    pub fn unclear(&self) -> Vec<&EpisodeRecord> {
        self.episodes.iter().filter(|e| !e.clear).collect()
    }

    pub fn failed_episodes(&self) -> Vec<&EpisodeRecord> {
        self.episodes.iter().filter(|e| !e.passed()).collect()
    }

    pub fn refreshes_completed_after_crash(&self) -> usize {
        self.episodes
            .iter()
            .filter(|e| e.fault.is_crash() && e.refresh_completed)
            .count()
    }

    pub fn quota_refusals(&self) -> usize {
        self.episodes.iter().map(|e| e.quota_refusals).sum()
    }

    pub fn max_server_grants(&self) -> i64 {
        self.checks
            .iter()
            .map(|c| c.server_grants_today)
            .max()
            .unwrap_or(0)
    }

    /// Episodes per fault kind, in the taxonomy's order.
    pub fn by_kind(&self) -> BTreeMap<FaultKind, Vec<&EpisodeRecord>> {
        let mut m: BTreeMap<FaultKind, Vec<&EpisodeRecord>> = BTreeMap::new();
        for e in &self.episodes {
            m.entry(e.fault).or_default().push(e);
        }
        m
    }

    /// Passed: no tokens lost, every error specific, every episode's checks passed, single flight held, quota kept.
    pub fn ok(&self) -> bool {
        self.setup_problems.is_empty()
            && self.tokens_lost() == 0
            && self.lost_after_episode.is_empty()
            && self.failed_episodes().is_empty()
            && self.concurrent.iter().all(|c| c.problems.is_empty())
            && self.quota_refusals() == 0
            && self.max_server_grants() <= 20
            && self.delivery.as_ref().is_none_or(|d| d.ok())
    }
}

async fn run_device(
    fleet: Arc<Fleet>,
    env: Arc<ChildEnv>,
    children: Arc<Semaphore>,
    dev: Arc<Device>,
    plan: DevicePlan,
    concurrent_processes: usize,
) -> (
    Vec<EpisodeRecord>,
    Vec<ConcurrentRecord>,
    Vec<(usize, FaultKind)>,
) {
    let (mut episodes, mut concurrent, mut lost) = (Vec::new(), Vec::new(), Vec::new());
    if plan.concurrent {
        let _permit = children
            .clone()
            .acquire_many_owned(concurrent_processes as u32)
            .await
            .expect("semaphore open");
        concurrent
            .push(episode::concurrent_refresh(&fleet, &env, &dev, concurrent_processes).await);
    }
    for kind in &plan.crashes {
        let _permit = children
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore open");
        let rec = if *kind == FaultKind::KillInFlight {
            episode::kill_in_flight(&fleet, &env, &dev).await
        } else {
            episode::crash(&fleet, &env, &dev, *kind).await
        };
        episodes.push(rec);
    }
    let attempts = fleet.options.backoff.attempts;
    for (kind, planned_op) in &plan.faults {
        let used = fleet
            .store()
            .grants_on(
                PROVIDER,
                &dev.machine_code,
                quickauth_core::china_day(Utc::now()),
            )
            .unwrap_or(u32::MAX);
        // Keep 2 grants in hand for the final check; over budget, the same fault hits a printer call instead.
        let op = if used + quota_cost(attempts, *kind, *planned_op) + 2
            > quickauth_core::GRANTS_PER_DAY
        {
            Op::PrinterStatus
        } else {
            *planned_op
        };
        let rec = if kind.is_keyring() {
            let _permit = children
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore open");
            episode::keyring_fault(&fleet, &env, &dev, *kind, op).await
        } else {
            episode::in_process(&fleet, &dev, *kind, op).await
        };
        episodes.push(rec);
    }
    if fleet.holds_valid_pair(&dev).await.is_err() {
        if let Some(last) = episodes.last() {
            lost.push((dev.index, last.fault));
        }
    }
    (episodes, concurrent, lost)
}

async fn final_check(fleet: &Fleet, dev: &Device) -> DeviceCheck {
    let mut check = DeviceCheck {
        device: dev.index,
        valid_pair: false,
        final_refresh_ok: false,
        server_grants_today: dev.sandbox.grants_today(&dev.machine_code).unwrap_or(-1),
        local_grants_today: fleet
            .store()
            .grants_on(
                PROVIDER,
                &dev.machine_code,
                quickauth_core::china_day(Utc::now()),
            )
            .unwrap_or(u32::MAX),
        problems: Vec::new(),
    };
    let before = match fleet.holds_valid_pair(dev).await {
        Ok(s) => {
            check.valid_pair = true;
            s
        }
        Err(e) => {
            check.problems.push(e);
            return check;
        }
    };
    match fleet.qa.refresh(&dev.id()).await {
        Ok(_) => match fleet.holds_valid_pair(dev).await {
            Ok(after) => {
                note_in_ledger(&[&before, &after]);
                match episode::check_replay(dev, &before, &after).await {
                    Ok(()) => check.final_refresh_ok = true,
                    Err(p) => check.problems.push(p),
                }
            }
            Err(e) => check.problems.push(format!("after the final refresh: {e}")),
        },
        Err(e) => check.problems.push(format!(
            "final refresh failed: {}",
            crate::faults::tag_of(&e)
        )),
    }
    check.server_grants_today = dev.sandbox.grants_today(&dev.machine_code).unwrap_or(-1);
    check
}

/// Appends token values to the secret ledger of the hygiene scan (`QUICKAUTH_SECRET_LEDGER`, one value per line,
/// kept outside the scanned HOME), so the scan can prove none of them leaked into a log or file.
fn note_in_ledger(snaps: &[&crate::fleet::Snapshot]) {
    let Some(path) = std::env::var_os("QUICKAUTH_SECRET_LEDGER") else {
        return;
    };
    let mut lines = String::new();
    for s in snaps {
        for v in [&s.access_token, &s.refresh_token].into_iter().flatten() {
            lines.push_str(v);
            lines.push('\n');
        }
    }
    use std::io::Write as _;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(lines.as_bytes());
    }
}

/// Runs the whole thing. `progress` gets one line per finished device.
pub async fn run(cfg: RunConfig, progress: impl Fn(&str)) -> Result<RunOutcome, String> {
    let started = Instant::now();
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| format!("data dir: {e}"))?;
    let fleet = Arc::new(Fleet::open(&cfg.data_dir, FleetOptions::default()).await?);
    let bus_dir = cfg.data_dir.join("bus");
    std::fs::create_dir_all(&bus_dir).map_err(|e| format!("bus dir: {e}"))?;
    let env = Arc::new(ChildEnv {
        exe: cfg.child_exe.clone(),
        data_dir: cfg.data_dir.clone(),
        keyring_timeout: cfg.child_keyring_timeout,
        backoff: fleet.options.backoff,
        silent_bus: episode::start_silent_bus(&bus_dir).map_err(|e| format!("silent bus: {e}"))?,
        missing_bus: bus_dir.join("no-bus-here"),
        recover_all: false,
    });

    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut plans = Vec::new();
    let mut planned = 0;
    while planned < cfg.min_faults {
        let plan = plan_device(&cfg, plans.len(), &mut rng);
        planned += plan.fault_count();
        plans.push(plan);
    }
    progress(&format!("plan: {} devices, {planned} faults", plans.len()));

    // Authorize the fleet (a few at a time: every authorize writes the keyring).
    let mut devices = Vec::new();
    let mut setup_problems = Vec::new();
    for chunk in (0..plans.len()).collect::<Vec<_>>().chunks(8) {
        let mut tasks = Vec::new();
        for &i in chunk {
            let fleet = fleet.clone();
            tasks.push(tokio::spawn(
                async move { fleet.authorized_device(i).await },
            ));
        }
        for t in tasks {
            match t.await {
                Ok(Ok(d)) => devices.push(Arc::new(d)),
                Ok(Err(e)) => setup_problems.push(e),
                Err(e) => setup_problems.push(format!("setup task: {e}")),
            }
        }
    }
    progress(&format!(
        "{} devices authorized in {:.1} s",
        devices.len(),
        started.elapsed().as_secs_f64()
    ));

    let children = Arc::new(Semaphore::new(
        cfg.child_parallelism.max(cfg.concurrent_processes),
    ));
    let running = Arc::new(Semaphore::new(cfg.device_parallelism.max(1)));
    let mut tasks = Vec::new();
    for dev in &devices {
        let running = running.clone();
        let plan = plans[dev.index].clone();
        let (fleet, env, children, dev) =
            (fleet.clone(), env.clone(), children.clone(), dev.clone());
        let processes = cfg.concurrent_processes;
        tasks.push(tokio::spawn(async move {
            let _slot = running.acquire_owned().await.expect("semaphore open");
            run_device(fleet, env, children, dev, plan, processes).await
        }));
    }
    let (mut episodes, mut concurrent, mut lost) = (Vec::new(), Vec::new(), Vec::new());
    let total = tasks.len();
    for (n, t) in tasks.into_iter().enumerate() {
        match t.await {
            Ok((e, c, l)) => {
                let failed = e.iter().filter(|r| !r.passed()).count();
                episodes.extend(e);
                concurrent.extend(c);
                lost.extend(l);
                progress(&format!(
                    "device {}/{total} done ({} episodes so far, {failed} failed here, {:.0} s)",
                    n + 1,
                    episodes.len(),
                    started.elapsed().as_secs_f64()
                ));
            }
            Err(e) => setup_problems.push(format!("device task: {e}")),
        }
    }

    let mut checks = Vec::new();
    for dev in &devices {
        checks.push(final_check(&fleet, dev).await);
    }
    let config_summary = format!(
        "{} devices; backoff {} attempts ({} ms initial, {} ms cap); HTTP connect timeout {} s, total {} s; \
         keyring timeout {} ms in the service process, {} ms in children; {} devices and {} children at once; timeouts included: {}",
        devices.len(),
        fleet.options.backoff.attempts,
        fleet.options.backoff.initial.as_millis(),
        fleet.options.backoff.cap.as_millis(),
        quickauth_protocol::DEFAULT_CONNECT_TIMEOUT.as_secs(),
        quickauth_protocol::DEFAULT_TOTAL_TIMEOUT.as_secs(),
        fleet.options.keyring_timeout.as_millis(),
        cfg.child_keyring_timeout.as_millis(),
        cfg.device_parallelism,
        cfg.child_parallelism,
        cfg.include_timeouts,
    );
    let delivery = if cfg.include_delivery {
        Some(
            crate::delivery::run_matrix(&cfg.data_dir.join("delivery"), &cfg.child_exe, &progress)
                .await,
        )
    } else {
        None
    };
    Ok(RunOutcome {
        delivery,
        devices: devices.len(),
        episodes,
        concurrent,
        checks,
        lost_after_episode: lost,
        setup_problems,
        wall: started.elapsed(),
        config_summary,
    })
}
