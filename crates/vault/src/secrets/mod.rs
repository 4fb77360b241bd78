//! Secrets in the OS keyring, namespaced per data dir, every call off the caller's thread and bounded by a timeout.
//!
//! A Secret Service call can block forever (a locked collection waiting on an unlock prompt nobody sees, a D-Bus
//! peer that accepts and never replies). So calls go to a worker thread and the caller waits at most `timeout`.
//! A worker that overran is abandoned (it finishes or dies on its own, its queued jobs are skipped) and the next
//! call gets a fresh worker. At most [`MAX_STUCK_WORKERS`] abandoned workers may exist at once; beyond that calls
//! fail fast with `KeyringTimeout` instead of piling up threads. A stuck worker that finally returns (the user
//! unlocked the keyring, the daemon restarted) frees its slot again.
//!
//! Calls from several threads share one worker and run one after another; the timeout counts from when a call is
//! queued, so it bounds what the caller experiences.
//!
//! A call that meets a keyring service going away under it ([`BackendErrorKind::Gone`]: gnome-keyring-daemon
//! exited mid-call, which D-Bus answers at once with "recipient disconnected") is repeated on a fresh connection
//! after a short pause, at most [`GONE_RETRY_PAUSES`]`.len()` times, within the same timeout: D-Bus starts the
//! replacement for the repeat. Every call is safe to repeat (a write replaces the same item with the same value,
//! a delete of a missing item succeeds). A replacement that starts locked (the stock D-Bus service file starts
//! gnome-keyring that way) asks for its unlock prompt; where none can be shown the repeat ends with
//! `keyring_denied` (measured in a headless session), whose action is to unlock the keyring.
//!
//! The namespace (service `quickauth:<id>`) comes from `<data_dir>/keyring-namespace` (see `crate::namespace`).
//! While that file still names a path-hashed namespace to migrate from, the first call that touches entries
//! moves them first (`Keyring::migrate_legacy`), under a lock file so two processes never move at once.

mod backend;
mod os;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

pub use backend::{BackendError, BackendErrorKind, SecretBackend};
pub(crate) use os::init_store;
pub use os::OsBackend;

use crate::error::{Result, VaultError};

/// The default bound on one keyring call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many abandoned (still blocked) worker threads we tolerate before refusing new calls outright.
pub const MAX_STUCK_WORKERS: usize = 4;
/// Pauses before repeating a call whose keyring service went away mid-call, one per repeat.
pub const GONE_RETRY_PAUSES: [Duration; 2] =
    [Duration::from_millis(100), Duration::from_millis(400)];
/// Longest account name accepted; Secret Service has no hard limit, Windows' target name does (512 incl. service).
const MAX_ACCOUNT_LEN: usize = 256;

type Job = Box<dyn FnOnce(&dyn SecretBackend) + Send>;

/// Handle to the keyring for one data dir. Cheap to clone; clones share the worker.
///
/// Calls block the calling thread for at most the timeout (plus scheduling noise). From async code, call it inside
/// `tokio::task::spawn_blocking` so a slow keyring never stalls the runtime.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    data_dir: PathBuf,
    /// The namespace id (the part of `service` after `quickauth:`).
    id: String,
    /// `quickauth:<16 hex>` of the path-hashed namespace whose entries still have to be moved, if any.
    legacy_service: Option<String>,
    /// True until the legacy entries are moved (always false when `legacy_service` is `None`).
    migration_pending: AtomicBool,
    /// Serialises migration attempts within this process (the lock file does it across processes).
    migrating: Mutex<()>,
    timeout: Duration,
    backend: Arc<dyn SecretBackend>,
    worker: Mutex<WorkerSlot>,
    /// Abandoned workers whose threads have not exited yet.
    stuck: Arc<AtomicUsize>,
}

#[derive(Default)]
struct WorkerSlot {
    current: Option<Worker>,
    next_id: u64,
}

struct Worker {
    id: u64,
    jobs: mpsc::Sender<Job>,
    abandoned: Arc<AtomicBool>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("service", &self.inner.service)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// The keyring for `data_dir` backed by the real OS keyring. Creates `data_dir` and its namespace file
    /// (`keyring-namespace`, a random id) if needed. Does not touch the keyring yet; call [`probe`](Self::probe)
    /// to check it.
    pub fn open(data_dir: &Path, timeout: Duration) -> Result<Keyring> {
        Self::with_backend(data_dir, timeout, Arc::new(OsBackend::new()))
    }

    /// Same as [`open`](Self::open) with an injected backend (tests, or a future alternative store).
    pub fn with_backend(
        data_dir: &Path,
        timeout: Duration,
        backend: Arc<dyn SecretBackend>,
    ) -> Result<Keyring> {
        std::fs::create_dir_all(data_dir).map_err(|source| VaultError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let file = crate::namespace::load_or_create(data_dir)?;
        let service = format!("quickauth:{}", file.id);
        let legacy_service = file.migrate_from.map(|ns| format!("quickauth:{ns}"));
        Ok(Keyring {
            inner: Arc::new(Inner {
                service,
                data_dir: data_dir.to_path_buf(),
                id: file.id,
                migration_pending: AtomicBool::new(legacy_service.is_some()),
                legacy_service,
                migrating: Mutex::new(()),
                timeout,
                backend,
                worker: Mutex::new(WorkerSlot::default()),
                stuck: Arc::new(AtomicUsize::new(0)),
            }),
        })
    }

    /// The keyring service name all entries of this data dir live under: `quickauth:<32 hex>` (the id in
    /// `<data_dir>/keyring-namespace`).
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Abandoned calls still blocked inside the platform keyring.
    pub fn stuck_workers(&self) -> usize {
        self.inner.stuck.load(Ordering::SeqCst)
    }

    /// The path-hashed service (`quickauth:<16 hex>`) this data dir's entries are being moved from, while that
    /// move is unfinished.
    pub fn legacy_service(&self) -> Option<&str> {
        if self.inner.migration_pending.load(Ordering::SeqCst) {
            self.inner.legacy_service.as_deref()
        } else {
            None
        }
    }

    /// The secret stored under `account`, or `None` when there is none.
    pub fn get(&self, account: &str) -> Result<Option<Zeroizing<String>>> {
        check_account(account)?;
        self.ensure_migrated()?;
        let account = account.to_owned();
        self.run(move |backend, service| backend.get(service, &account))
    }

    /// Create or replace the secret under `account`.
    ///
    /// After a `keyring_timeout` the outcome is unknown: a write already inside the platform call may still land
    /// later (a write still queued is dropped). Read back before relying on either state.
    pub fn set(&self, account: &str, value: &str) -> Result<()> {
        check_account(account)?;
        self.ensure_migrated()?;
        let account = account.to_owned();
        // The copy handed to the worker is wiped when the job is dropped, whether it ran or was skipped.
        let value = Zeroizing::new(value.to_owned());
        self.run(move |backend, service| backend.set(service, &account, &value))
    }

    /// Remove the secret under `account`; a missing entry is fine.
    pub fn delete(&self, account: &str) -> Result<()> {
        check_account(account)?;
        self.ensure_migrated()?;
        let account = account.to_owned();
        self.run(move |backend, service| backend.delete(service, &account))
    }

    /// Check that the keyring is reachable and unlocked, without reading any secret.
    pub fn probe(&self) -> Result<()> {
        self.run(|backend, service| backend.probe(service))
    }

    /// Every account stored for this data dir (to clean up orphans). `Ok(None)` when the platform cannot search.
    pub fn list_accounts(&self) -> Result<Option<Vec<String>>> {
        self.ensure_migrated()?;
        match self.run_raw(|backend, service| backend.list_accounts(service))? {
            Ok(accounts) => Ok(Some(accounts)),
            Err(e) if e.kind == BackendErrorKind::Unsupported => Ok(None),
            Err(e) => Err(self.to_vault_error(e)),
        }
    }

    fn run<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&dyn SecretBackend, &str) -> Result<T, BackendError> + Send + 'static,
    {
        self.run_raw(op)?.map_err(|e| self.to_vault_error(e))
    }

    fn run_raw<T, F>(&self, op: F) -> Result<Result<T, BackendError>>
    where
        T: Send + 'static,
        F: Fn(&dyn SecretBackend, &str) -> Result<T, BackendError> + Send + 'static,
    {
        self.run_raw_in(self.inner.service.clone(), op)
    }

    /// Send `op` (run against `service`) to the worker and wait at most the timeout for its answer. The outer
    /// error is the vault's own failure (timeout, no worker); the inner one is what the backend said.
    fn run_raw_in<T, F>(&self, service: String, op: F) -> Result<Result<T, BackendError>>
    where
        T: Send + 'static,
        F: Fn(&dyn SecretBackend, &str) -> Result<T, BackendError> + Send + 'static,
    {
        let inner = &self.inner;
        let (reply_tx, reply_rx) = mpsc::sync_channel::<Result<T, BackendError>>(1);
        let cancelled = Arc::new(AtomicBool::new(false));
        let job_cancelled = Arc::clone(&cancelled);
        let job: Job = Box::new(move |backend| {
            let mut pauses = GONE_RETRY_PAUSES.iter();
            let result = loop {
                // A caller that already gave up must not have its write land late behind its back.
                if job_cancelled.load(Ordering::SeqCst) {
                    return;
                }
                let result = catch_unwind(AssertUnwindSafe(|| op(backend, &service)))
                    .unwrap_or_else(|_| {
                        Err(BackendError::new(
                            BackendErrorKind::Other,
                            "the keyring backend panicked",
                        ))
                    });
                match (&result, pauses.next()) {
                    (Err(e), Some(pause)) if e.kind == BackendErrorKind::Gone => {
                        tracing::warn!(service = %service, detail = %e.detail,
                            "the keyring service went away mid-call; repeating the call on a fresh connection");
                        std::thread::sleep(*pause);
                    }
                    _ => break result,
                }
            };
            let _ = reply_tx.send(result);
        });
        let worker_id = self.submit(job)?;
        match reply_rx.recv_timeout(inner.timeout) {
            Ok(result) => Ok(result),
            Err(RecvTimeoutError::Timeout) => {
                cancelled.store(true, Ordering::SeqCst);
                self.abandon(worker_id);
                tracing::warn!(service = %inner.service, timeout_ms = inner.timeout.as_millis() as u64,
                    stuck = self.stuck_workers(), "keyring call timed out; worker abandoned");
                Err(VaultError::KeyringTimeout {
                    timeout: inner.timeout,
                    stuck: self.stuck_workers(),
                })
            }
            // The worker thread vanished without answering (it cannot panic past catch_unwind, so this is
            // a thread that died some other way); replace it.
            Err(RecvTimeoutError::Disconnected) => {
                self.forget_worker(worker_id);
                Err(VaultError::KeyringOther {
                    detail: "the keyring worker stopped unexpectedly".into(),
                })
            }
        }
    }

    /// Move the entries of the path-hashed namespace, if that is still pending. One atomic load once done.
    ///
    /// Nothing is written to the new namespace before the move has finished (every entry call waits for it), so a
    /// value already in the new namespace is never older than the legacy one.
    fn ensure_migrated(&self) -> Result<()> {
        let inner = &self.inner;
        if !inner.migration_pending.load(Ordering::SeqCst) {
            return Ok(());
        }
        // Another thread of this process may be moving right now; wait for it at most the timeout, like any call.
        let deadline = Instant::now() + inner.timeout;
        let _in_process = loop {
            match inner.migrating.try_lock() {
                Ok(guard) => break guard,
                Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    return Err(VaultError::KeyringTimeout {
                        timeout: inner.timeout,
                        stuck: self.stuck_workers(),
                    });
                }
            }
        };
        if !inner.migration_pending.load(Ordering::SeqCst) {
            return Ok(());
        }
        let _across_processes = self.lock_migration()?;
        // Another process may have finished the move while we waited for the lock.
        let path = crate::namespace::path_in(&inner.data_dir);
        match crate::namespace::read(&path)? {
            Some(file) if file.id == inner.id => {
                if file.migrate_from.is_none() {
                    inner.migration_pending.store(false, Ordering::SeqCst);
                    return Ok(());
                }
            }
            _ => {
                return Err(VaultError::NamespaceFile {
                    path,
                    detail: "the file changed or vanished while QuickAuth was running".into(),
                    damaged: true,
                })
            }
        }
        let legacy = inner
            .legacy_service
            .clone()
            .expect("a pending migration has a legacy service");
        let report = self.migrate_legacy(&legacy)?;
        crate::namespace::mark_migrated(&inner.data_dir, &inner.id)?;
        inner.migration_pending.store(false, Ordering::SeqCst);
        tracing::info!(
            from = %legacy, to = %inner.service, moved = report.moved, already = report.already,
            left = report.left, "keyring entries moved from the path-hashed namespace"
        );
        Ok(())
    }

    /// `<data_dir>/locks/keyring-namespace.lock`, held exclusively while moving; waits at most the timeout.
    /// `None` where the filesystem has no locks (some network homes): the move then relies on the in-process
    /// mutex alone, which is said in the log.
    fn lock_migration(&self) -> Result<Option<std::fs::File>> {
        let dir = self.inner.data_dir.join("locks");
        std::fs::create_dir_all(&dir).map_err(|source| VaultError::DataDir {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join("keyring-namespace.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| VaultError::DataDir {
                path: path.clone(),
                source,
            })?;
        let deadline = Instant::now() + self.inner.timeout;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(file)),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(VaultError::StoreBusy { path });
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    tracing::warn!(path = %path.display(), error = %e,
                        "no file lock available; moving keyring entries under the in-process lock only");
                    return Ok(None);
                }
            }
        }
    }

    /// Copy every entry of `legacy` into this namespace, read it back, then delete the legacy one. Idempotent: a
    /// run cut off anywhere (crash, keyring error, timeout) is completed by the next one. An entry that cannot be
    /// read, or that differs from a value already in the new namespace, is left where it is (never deleted).
    fn migrate_legacy(&self, legacy: &str) -> Result<MigrationReport> {
        let mut report = MigrationReport::default();
        let accounts = match self.run_raw_in(legacy.to_string(), |b, s| b.list_accounts(s))? {
            Ok(accounts) => accounts,
            // Every OS store we ship can list; only a custom backend (tests) cannot, and then there is
            // nothing we could find to move.
            Err(e) if e.kind == BackendErrorKind::Unsupported => {
                tracing::warn!(
                    "this keyring backend cannot list entries; nothing moved from the path-hashed namespace"
                );
                return Ok(report);
            }
            Err(e) => return Err(self.to_vault_error(e)),
        };
        let new = self.inner.service.clone();
        for account in accounts {
            if check_account(&account).is_err() {
                report.left += 1;
                continue;
            }
            let old = match self.get_in(legacy, &account)? {
                Ok(Some(value)) => value,
                Ok(None) => continue,
                Err(e) if e.kind == BackendErrorKind::Other => {
                    tracing::warn!(account = %account, error = %e,
                        "legacy keyring entry cannot be read; left where it is");
                    report.left += 1;
                    continue;
                }
                Err(e) => return Err(self.to_vault_error(e)),
            };
            match self
                .get_in(&new, &account)?
                .map_err(|e| self.to_vault_error(e))?
            {
                None => {
                    let (acct, value) = (account.clone(), Zeroizing::new((*old).clone()));
                    self.run_raw_in(new.clone(), move |b, s| b.set(s, &acct, &value))?
                        .map_err(|e| self.to_vault_error(e))?;
                    let back = self
                        .get_in(&new, &account)?
                        .map_err(|e| self.to_vault_error(e))?;
                    if back.as_deref() != Some(&*old) {
                        return Err(VaultError::KeyringOther {
                            detail: "a keyring entry moved to the new namespace did not read back identically; \
                                     the old entry was kept"
                                .into(),
                        });
                    }
                    report.moved += 1;
                }
                Some(current) if *current == *old => report.already += 1,
                Some(_) => {
                    tracing::warn!(account = %account,
                        "legacy and new keyring entries differ; the new one is used, the legacy one is left");
                    report.left += 1;
                    continue;
                }
            }
            let acct = account.clone();
            self.run_raw_in(legacy.to_string(), move |b, s| b.delete(s, &acct))?
                .map_err(|e| self.to_vault_error(e))?;
        }
        Ok(report)
    }

    fn get_in(
        &self,
        service: &str,
        account: &str,
    ) -> Result<Result<Option<Zeroizing<String>>, BackendError>> {
        let account = account.to_owned();
        self.run_raw_in(service.to_string(), move |b, s| b.get(s, &account))
    }

    fn submit(&self, job: Job) -> Result<u64> {
        let inner = &self.inner;
        let mut slot = inner.worker.lock().unwrap_or_else(|p| p.into_inner());
        let mut job = Some(job);
        // Two rounds: a dead worker (send fails) is replaced once.
        for _ in 0..2 {
            if slot.current.is_none() {
                let stuck = inner.stuck.load(Ordering::SeqCst);
                if stuck >= MAX_STUCK_WORKERS {
                    return Err(VaultError::KeyringTimeout {
                        timeout: inner.timeout,
                        stuck,
                    });
                }
                let id = slot.next_id;
                slot.next_id += 1;
                slot.current = Some(spawn_worker(
                    id,
                    Arc::clone(&inner.backend),
                    Arc::clone(&inner.stuck),
                )?);
            }
            let worker = slot.current.as_ref().expect("worker just ensured");
            match worker.jobs.send(job.take().expect("job sent once")) {
                Ok(()) => return Ok(worker.id),
                Err(mpsc::SendError(back)) => {
                    job = Some(back);
                    slot.current = None;
                }
            }
        }
        Err(VaultError::KeyringOther {
            detail: "could not start a keyring worker".into(),
        })
    }

    /// Give up on worker `id` (if it is still the current one): count it as stuck and let the next call spawn anew.
    fn abandon(&self, id: u64) {
        let mut slot = self.inner.worker.lock().unwrap_or_else(|p| p.into_inner());
        if slot.current.as_ref().is_some_and(|w| w.id == id) {
            let worker = slot.current.take().expect("checked above");
            // Count first, flag second, close the queue last: the thread only exits after the queue closes,
            // and it un-counts itself only if it sees the flag, so the counter never goes negative.
            self.inner.stuck.fetch_add(1, Ordering::SeqCst);
            worker.abandoned.store(true, Ordering::SeqCst);
            drop(worker);
        }
    }

    fn forget_worker(&self, id: u64) {
        let mut slot = self.inner.worker.lock().unwrap_or_else(|p| p.into_inner());
        if slot.current.as_ref().is_some_and(|w| w.id == id) {
            slot.current = None;
        }
    }

    fn to_vault_error(&self, e: BackendError) -> VaultError {
        match e.kind {
            BackendErrorKind::Unavailable => VaultError::KeyringUnavailable { detail: e.detail },
            BackendErrorKind::Locked => VaultError::KeyringLocked { detail: e.detail },
            BackendErrorKind::NoCollection => VaultError::KeyringNoCollection { detail: e.detail },
            BackendErrorKind::Denied => VaultError::KeyringDenied { detail: e.detail },
            BackendErrorKind::Timeout => VaultError::KeyringTimeout {
                timeout: self.inner.timeout,
                stuck: self.stuck_workers(),
            },
            // Still gone after the repeats: neither the service nor a replacement answered.
            BackendErrorKind::Gone => VaultError::KeyringOther {
                detail: format!(
                    "the keyring service exited while answering, and so did its replacement ({})",
                    e.detail
                ),
            },
            BackendErrorKind::Unsupported | BackendErrorKind::Other => {
                VaultError::KeyringOther { detail: e.detail }
            }
        }
    }
}

#[derive(Debug, Default)]
struct MigrationReport {
    moved: usize,
    already: usize,
    left: usize,
}

fn spawn_worker(
    id: u64,
    backend: Arc<dyn SecretBackend>,
    stuck: Arc<AtomicUsize>,
) -> Result<Worker> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let abandoned = Arc::new(AtomicBool::new(false));
    let thread_abandoned = Arc::clone(&abandoned);
    std::thread::Builder::new()
        .name(format!("quickauth-keyring-{id}"))
        .spawn(move || {
            for job in queue {
                job(&*backend);
            }
            if thread_abandoned.load(Ordering::SeqCst) {
                stuck.fetch_sub(1, Ordering::SeqCst);
            }
        })
        .map_err(|e| VaultError::KeyringOther {
            detail: format!("cannot start a keyring worker thread: {e}"),
        })?;
    Ok(Worker {
        id,
        jobs,
        abandoned,
    })
}

fn check_account(account: &str) -> Result<()> {
    if account.is_empty() {
        return Err(VaultError::InvalidAccount { reason: "empty" });
    }
    if account.len() > MAX_ACCOUNT_LEN {
        return Err(VaultError::InvalidAccount {
            reason: "longer than 256 bytes",
        });
    }
    if account.chars().any(char::is_control) {
        return Err(VaultError::InvalidAccount {
            reason: "contains control characters",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Instant;

    /// In-memory backend keyed by (service, account), to test the worker machinery without D-Bus.
    #[derive(Default)]
    struct MapBackend(Mutex<HashMap<(String, String), String>>);

    impl SecretBackend for MapBackend {
        fn get(&self, s: &str, a: &str) -> Result<Option<Zeroizing<String>>, BackendError> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .get(&(s.into(), a.into()))
                .cloned()
                .map(Zeroizing::new))
        }
        fn set(&self, s: &str, a: &str, v: &str) -> Result<(), BackendError> {
            self.0
                .lock()
                .unwrap()
                .insert((s.into(), a.into()), v.into());
            Ok(())
        }
        fn delete(&self, s: &str, a: &str) -> Result<(), BackendError> {
            self.0.lock().unwrap().remove(&(s.into(), a.into()));
            Ok(())
        }
        fn probe(&self, _: &str) -> Result<(), BackendError> {
            Ok(())
        }
    }

    /// Blocks every call until released, like a D-Bus peer that never answers.
    struct GateBackend {
        release: Mutex<bool>,
        cv: std::sync::Condvar,
        calls: AtomicUsize,
    }

    impl GateBackend {
        fn new() -> Arc<Self> {
            Arc::new(GateBackend {
                release: Mutex::new(false),
                cv: Default::default(),
                calls: AtomicUsize::new(0),
            })
        }
        fn wait(&self) {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut open = self.release.lock().unwrap();
            while !*open {
                open = self.cv.wait(open).unwrap();
            }
        }
        fn open(&self) {
            *self.release.lock().unwrap() = true;
            self.cv.notify_all();
        }
    }

    impl SecretBackend for GateBackend {
        fn get(&self, _: &str, _: &str) -> Result<Option<Zeroizing<String>>, BackendError> {
            self.wait();
            Ok(None)
        }
        fn set(&self, _: &str, _: &str, _: &str) -> Result<(), BackendError> {
            self.wait();
            Ok(())
        }
        fn delete(&self, _: &str, _: &str) -> Result<(), BackendError> {
            self.wait();
            Ok(())
        }
        fn probe(&self, _: &str) -> Result<(), BackendError> {
            self.wait();
            Ok(())
        }
    }

    #[test]
    fn round_trip_through_worker() {
        let dir = tempfile::tempdir().unwrap();
        let k = Keyring::with_backend(dir.path(), DEFAULT_TIMEOUT, Arc::new(MapBackend::default()))
            .unwrap();
        assert_eq!(k.get("a").unwrap(), None);
        k.set("a", "v1").unwrap();
        assert_eq!(
            k.get("a").unwrap().as_deref().map(String::as_str),
            Some("v1")
        );
        k.delete("a").unwrap();
        k.delete("a").unwrap();
        assert_eq!(k.get("a").unwrap(), None);
        assert_eq!(k.list_accounts().unwrap(), None, "MapBackend cannot list");
    }

    #[test]
    fn rejects_bad_account_names() {
        let dir = tempfile::tempdir().unwrap();
        let k = Keyring::with_backend(dir.path(), DEFAULT_TIMEOUT, Arc::new(MapBackend::default()))
            .unwrap();
        assert!(matches!(k.get(""), Err(VaultError::InvalidAccount { .. })));
        assert!(matches!(
            k.set("a\nb", "x"),
            Err(VaultError::InvalidAccount { .. })
        ));
        assert!(matches!(
            k.delete(&"x".repeat(300)),
            Err(VaultError::InvalidAccount { .. })
        ));
    }

    #[test]
    fn hung_backend_times_out_and_bounds_stuck_threads() {
        let dir = tempfile::tempdir().unwrap();
        let gate = GateBackend::new();
        let timeout = Duration::from_millis(200);
        let k = Keyring::with_backend(dir.path(), timeout, gate.clone()).unwrap();
        for n in 1..=MAX_STUCK_WORKERS {
            let started = Instant::now();
            let err = k.get("a").unwrap_err();
            assert!(matches!(err, VaultError::KeyringTimeout { .. }), "{err:?}");
            assert!(
                started.elapsed() < timeout * 10,
                "call {n} took {:?}",
                started.elapsed()
            );
            assert_eq!(k.stuck_workers(), n);
        }
        // Each timed-out call got its own fresh worker (no queueing behind the hung one)...
        assert_eq!(gate.calls.load(Ordering::SeqCst), MAX_STUCK_WORKERS);
        // ...and once the bound is reached, calls fail without spawning or waiting.
        let started = Instant::now();
        let err = k.set("a", "secret-value").unwrap_err();
        assert!(
            matches!(err, VaultError::KeyringTimeout { stuck, .. } if stuck == MAX_STUCK_WORKERS)
        );
        assert!(
            started.elapsed() < timeout,
            "fail-fast took {:?}",
            started.elapsed()
        );
        assert_eq!(gate.calls.load(Ordering::SeqCst), MAX_STUCK_WORKERS);
        // When the platform finally answers, the abandoned threads exit and the keyring works again.
        gate.open();
        let deadline = Instant::now() + Duration::from_secs(10);
        while k.stuck_workers() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(k.stuck_workers(), 0);
        assert_eq!(k.get("a").unwrap(), None);
    }

    #[test]
    fn queued_job_of_a_timed_out_caller_is_skipped() {
        // Second caller queues behind a hung first call; both time out; when released, neither runs late.
        let dir = tempfile::tempdir().unwrap();
        let gate = GateBackend::new();
        let k =
            Keyring::with_backend(dir.path(), Duration::from_millis(300), gate.clone()).unwrap();
        let k2 = k.clone();
        let first = std::thread::spawn(move || k2.probe());
        while gate.calls.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let second = k.set("b", "late");
        assert!(matches!(second, Err(VaultError::KeyringTimeout { .. })));
        assert!(matches!(
            first.join().unwrap(),
            Err(VaultError::KeyringTimeout { .. })
        ));
        gate.open();
        let deadline = Instant::now() + Duration::from_secs(10);
        while k.stuck_workers() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(k.stuck_workers(), 0);
        assert_eq!(
            gate.calls.load(Ordering::SeqCst),
            1,
            "the cancelled set must not have run"
        );
    }

    #[test]
    fn backend_panic_is_an_error_not_a_hang() {
        struct Panicky;
        impl SecretBackend for Panicky {
            fn get(&self, _: &str, _: &str) -> Result<Option<Zeroizing<String>>, BackendError> {
                panic!("boom")
            }
            fn set(&self, _: &str, _: &str, _: &str) -> Result<(), BackendError> {
                Ok(())
            }
            fn delete(&self, _: &str, _: &str) -> Result<(), BackendError> {
                Ok(())
            }
            fn probe(&self, _: &str) -> Result<(), BackendError> {
                Ok(())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let k = Keyring::with_backend(dir.path(), DEFAULT_TIMEOUT, Arc::new(Panicky)).unwrap();
        assert!(matches!(k.get("a"), Err(VaultError::KeyringOther { .. })));
        k.set("a", "b").unwrap();
    }

    #[test]
    fn backend_error_kinds_map_to_vault_errors() {
        struct Failing(BackendErrorKind);
        impl SecretBackend for Failing {
            fn get(&self, _: &str, _: &str) -> Result<Option<Zeroizing<String>>, BackendError> {
                Err(BackendError::new(self.0, "detail"))
            }
            fn set(&self, _: &str, _: &str, _: &str) -> Result<(), BackendError> {
                Err(BackendError::new(self.0, "detail"))
            }
            fn delete(&self, _: &str, _: &str) -> Result<(), BackendError> {
                Err(BackendError::new(self.0, "detail"))
            }
            fn probe(&self, _: &str) -> Result<(), BackendError> {
                Err(BackendError::new(self.0, "detail"))
            }
        }
        use quickauth_protocol::{Action, Localized};
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                BackendErrorKind::Unavailable,
                "keyring_unavailable",
                Action::InstallSecretService,
            ),
            (
                BackendErrorKind::Locked,
                "keyring_locked",
                Action::UnlockKeyring,
            ),
            (
                BackendErrorKind::Denied,
                "keyring_denied",
                Action::UnlockKeyring,
            ),
            (
                BackendErrorKind::Timeout,
                "keyring_timeout",
                Action::UnlockKeyring,
            ),
            (BackendErrorKind::Other, "keyring_other", Action::RetryLater),
            // Gone on every repeat too (this backend always fails).
            (BackendErrorKind::Gone, "keyring_other", Action::RetryLater),
        ];
        for (kind, tag, action) in cases {
            let k = Keyring::with_backend(dir.path(), DEFAULT_TIMEOUT, Arc::new(Failing(kind)))
                .unwrap();
            let err = k.set("acct", "top-secret-value").unwrap_err();
            assert_eq!(err.kind(), tag);
            assert_eq!(err.action(), action);
            for text in [
                err.message_zh(),
                err.message_en(),
                err.to_string(),
                format!("{err:?}"),
            ] {
                assert!(!text.contains("top-secret-value"), "{text}");
                assert!(!text.is_empty());
            }
        }
    }

    /// Fails with `Gone` the first `gone` calls, then works like `MapBackend`.
    struct GoneThenMap {
        gone: AtomicUsize,
        calls: AtomicUsize,
        map: MapBackend,
    }

    impl GoneThenMap {
        fn new(gone: usize) -> Self {
            GoneThenMap {
                gone: AtomicUsize::new(gone),
                calls: AtomicUsize::new(0),
                map: MapBackend::default(),
            }
        }
        fn gone(&self) -> Result<(), BackendError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let left = self.gone.load(Ordering::SeqCst);
            if left > 0 {
                self.gone.store(left - 1, Ordering::SeqCst);
                return Err(BackendError::new(
                    BackendErrorKind::Gone,
                    "org.freedesktop.DBus.Error.NoReply: Message recipient disconnected",
                ));
            }
            Ok(())
        }
    }

    impl SecretBackend for GoneThenMap {
        fn get(&self, s: &str, a: &str) -> Result<Option<Zeroizing<String>>, BackendError> {
            self.gone()?;
            self.map.get(s, a)
        }
        fn set(&self, s: &str, a: &str, v: &str) -> Result<(), BackendError> {
            self.gone()?;
            self.map.set(s, a, v)
        }
        fn delete(&self, s: &str, a: &str) -> Result<(), BackendError> {
            self.gone()?;
            self.map.delete(s, a)
        }
        fn probe(&self, _: &str) -> Result<(), BackendError> {
            self.gone()
        }
    }

    #[test]
    fn a_call_whose_service_went_away_is_repeated() {
        use quickauth_protocol::Localized;
        let dir = tempfile::tempdir().unwrap();
        for gone in 0..=GONE_RETRY_PAUSES.len() {
            let backend = Arc::new(GoneThenMap::new(gone));
            let k = Keyring::with_backend(dir.path(), DEFAULT_TIMEOUT, backend.clone()).unwrap();
            k.set("acct", "v1").unwrap();
            assert_eq!(
                backend.calls.load(Ordering::SeqCst),
                gone + 1,
                "gone {gone} time(s)"
            );
            assert_eq!(
                k.get("acct").unwrap().as_deref().map(|s| s.as_str()),
                Some("v1")
            );
        }
        // One more than the repeats: the caller hears it, as a retryable error that names what happened.
        let backend = Arc::new(GoneThenMap::new(GONE_RETRY_PAUSES.len() + 1));
        let k = Keyring::with_backend(dir.path(), DEFAULT_TIMEOUT, backend.clone()).unwrap();
        let err = k.set("acct", "v2").unwrap_err();
        assert_eq!(err.kind(), "keyring_other");
        assert!(err.to_string().contains("exited while answering"), "{err}");
        assert_eq!(
            backend.calls.load(Ordering::SeqCst),
            GONE_RETRY_PAUSES.len() + 1
        );
    }

    #[test]
    fn a_caller_that_gave_up_gets_no_late_repeat() {
        use quickauth_protocol::Localized;
        // The caller's bound runs out during the pause before the first repeat: the write must not land later.
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(GoneThenMap::new(1));
        let k =
            Keyring::with_backend(dir.path(), Duration::from_millis(20), backend.clone()).unwrap();
        let err = k.set("acct", "late").unwrap_err();
        assert_eq!(err.kind(), "keyring_timeout");
        std::thread::sleep(GONE_RETRY_PAUSES[0] + Duration::from_millis(200));
        assert_eq!(backend.calls.load(Ordering::SeqCst), 1);
        assert!(
            backend.map.0.lock().unwrap().is_empty(),
            "the abandoned write landed"
        );
    }
}
