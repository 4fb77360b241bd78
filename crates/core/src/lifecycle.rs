//! The refresh protocol: quota, backoff, single flight across processes, journal-based crash recovery.
//!
//! Order of a refresh (each step survives a crash right after it):
//! 1. take the device's file lock (waiters re-read afterwards and reuse a result that landed meanwhile);
//! 2. complete a pending journal row if there is one (that *is* this refresh's result);
//! 3. refuse locally if the China-day quota is used up;
//! 4. journal row {old generation, started_at}; send with the OLD refresh token (retries replay the same token,
//!    which the server answers with the same result within 2 h — never a new request with unknown outcome);
//! 5. one atomic keyring write of the new pair with generation+1; 6. the DB row; 7. clear the journal.
//!
//! A failed refresh never touches the stored pair.

use std::future::Future;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use quickauth_protocol::Localized;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::backoff::Backoff;
use crate::crash::crash_point;
use crate::error::{Error, Result};
use crate::lock::DeviceLock;
use crate::quota::{china_day, quota_reset_at, GRANTS_PER_DAY};
use crate::tokens::StoredTokens;

/// How long the server answers a replayed refresh token with the earlier result.
pub const REPLAY_WINDOW: Duration = Duration::hours(2);

/// Which device: provider + profile + id (machine code / userid), the key of every row and keyring entry. One
/// printer authorized under two profiles (two merchants' apps) is two devices with two token pairs.
/// The per-device file lock is per provider + id: both pairs of one printer share the printer's daily quota.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceRef {
    pub provider: String,
    pub profile: String,
    pub id: String,
}

impl DeviceRef {
    pub fn new(provider: &str, profile: &str, id: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            profile: profile.to_owned(),
            id: id.to_owned(),
        }
    }
}

impl From<&quickauth_vault::DeviceRecord> for DeviceRef {
    fn from(r: &quickauth_vault::DeviceRecord) -> Self {
        Self::new(&r.provider, &r.profile, &r.id)
    }
}

impl std::fmt::Display for DeviceRef {
    /// `provider:profile:id`, the form `resolve` accepts back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.provider, self.profile, self.id)
    }
}

/// A pending refresh: written before sending, cleared after the new pair is stored everywhere.
#[derive(Debug, Clone)]
pub struct Journal {
    pub old_generation: i64,
    pub started_at: DateTime<Utc>,
}

/// Tokens as the server returned them, before they are stored.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct NewTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in_secs: i64,
    pub refresh_expires_in_secs: Option<i64>,
}

impl NewTokens {
    /// The pair as it is stored, with expiry times computed from `now`. A lifetime that does not fit a date is a
    /// typed error (the server's numbers never reach unchecked date arithmetic).
    pub(crate) fn into_stored(self, generation: i64, now: DateTime<Utc>) -> Result<StoredTokens> {
        let at = |secs: i64, what: &'static str| {
            Duration::try_seconds(secs)
                .filter(|d| *d >= Duration::zero())
                .and_then(|d| now.checked_add_signed(d))
                .ok_or(Error::ServerValueOutOfRange { what })
        };
        Ok(StoredTokens {
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            generation,
            issued_at: now,
            expires_at: at(self.expires_in_secs, "expires_in")?,
            refresh_expires_at: self
                .refresh_expires_in_secs
                .map(|s| at(s, "refresh_expires_in"))
                .transpose()?,
        })
    }
}

/// What the protocol needs from storage (blocking calls). The service implements it over the vault's keyring and
/// SQLite store; the tests below use an in-memory fake.
pub trait LifecycleState: Send + Sync {
    fn read_tokens(&self, dev: &DeviceRef) -> Result<Option<StoredTokens>>;
    /// One atomic overwrite of the device's keyring entry.
    fn write_tokens(&self, dev: &DeviceRef, tokens: &StoredTokens) -> Result<()>;
    /// Mirror generation + expiry into the DB row, clear needs_reauth.
    fn mirror(&self, dev: &DeviceRef, tokens: &StoredTokens, refreshed: bool) -> Result<()>;
    fn db_generation(&self, dev: &DeviceRef) -> Result<Option<i64>>;
    fn journal(&self, dev: &DeviceRef) -> Result<Option<Journal>>;
    fn begin_journal(&self, dev: &DeviceRef, journal: &Journal) -> Result<()>;
    fn finish_journal(&self, dev: &DeviceRef) -> Result<()>;
    fn grants_on(&self, dev: &DeviceRef, day: chrono::NaiveDate) -> Result<u32>;
    fn record_grant(&self, dev: &DeviceRef, day: chrono::NaiveDate) -> Result<u32>;
    fn mark_needs_reauth(&self, dev: &DeviceRef) -> Result<()>;
}

/// How a refresh call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// This call refreshed: the server issued a new pair, now stored with this generation.
    Refreshed { generation: i64 },
    /// Another process/task refreshed while we waited for the lock; its result is the answer.
    AlreadyRefreshed { generation: i64 },
    /// A pending (lost or interrupted) refresh was completed: the stored pair is the one the server issued for it.
    Recovered { generation: i64 },
}

impl RefreshOutcome {
    pub fn generation(&self) -> i64 {
        match *self {
            Self::Refreshed { generation }
            | Self::AlreadyRefreshed { generation }
            | Self::Recovered { generation } => generation,
        }
    }
}

/// Server codes after which the stored refresh token is useless: only a new authorization helps.
pub(crate) fn is_reauth_code(code: Option<i64>) -> bool {
    matches!(code, Some(14) | Some(20))
}

/// Fills a day's local count up to the limit (the server said 41: trust it over our count).
pub(crate) fn mark_day_full<S: LifecycleState + ?Sized>(
    state: &S,
    dev: &DeviceRef,
    day: chrono::NaiveDate,
) -> Result<()> {
    let mut count = state.grants_on(dev, day)?;
    while count < GRANTS_PER_DAY {
        count = state.record_grant(dev, day)?;
    }
    Ok(())
}

/// Refuses before sending when today's grants for this device are used up.
pub(crate) fn check_quota<S: LifecycleState + ?Sized>(
    state: &S,
    dev: &DeviceRef,
    now: DateTime<Utc>,
) -> Result<()> {
    if state.grants_on(dev, china_day(now))? >= GRANTS_PER_DAY {
        return Err(Error::QuotaExhausted {
            id: dev.id.clone(),
            reset_at: quota_reset_at(now),
        });
    }
    Ok(())
}

/// The refresh engine for one data dir.
pub struct Lifecycle<'a, S: ?Sized> {
    pub state: &'a S,
    pub data_dir: &'a Path,
    pub backoff: Backoff,
    /// How long a new pair the keyring refused is held in memory and written again before giving up (then only
    /// the server's 2 h replay of the old refresh token can still fetch it).
    pub write_patience: std::time::Duration,
}

/// Between attempts to store a new pair the keyring refused: 1 s doubling, at most 30 s.
fn write_retry_delay(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1u64 << attempt.min(5)).min(std::time::Duration::from_secs(30))
}

impl<'a, S: LifecycleState + ?Sized> Lifecycle<'a, S> {
    /// Refreshes `dev` once, whatever its expiry (policy lives in the caller). `send` performs one refresh request
    /// with the given refresh token; it is called again only with the same token.
    pub async fn refresh<F, Fut>(&self, dev: &DeviceRef, mut send: F) -> Result<RefreshOutcome>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<NewTokens>>,
    {
        let observed = self.state.read_tokens(dev)?.map(|t| t.generation);
        let _lock = DeviceLock::acquire(self.data_dir, &dev.provider, &dev.id).await?;

        if let Some(journal) = self.state.journal(dev)? {
            return self.complete_journal(dev, journal, &mut send).await;
        }
        let tokens = self
            .state
            .read_tokens(dev)?
            .ok_or_else(|| Error::TokensMissing { id: dev.id.clone() })?;
        // A new pair the keyring then refuses would hang on the server's 2 h replay: prove the entry writable
        // (rewrite it unchanged) before anything is sent.
        self.state.write_tokens(dev, &tokens)?;
        if self.state.db_generation(dev)? != Some(tokens.generation) {
            self.state.mirror(dev, &tokens, false)?;
        }
        if observed.is_some_and(|g| g != tokens.generation) {
            tracing::info!(device = %dev, generation = tokens.generation, "refreshed by another process while waiting");
            return Ok(RefreshOutcome::AlreadyRefreshed {
                generation: tokens.generation,
            });
        }
        let now = Utc::now();
        check_quota(self.state, dev, now)?;
        let journal = Journal {
            old_generation: tokens.generation,
            started_at: now,
        };
        let generation = self
            .send_and_store(dev, &tokens, &journal, false, &mut send)
            .await?;
        Ok(RefreshOutcome::Refreshed { generation })
    }

    /// Completes the pending refresh of `dev` if there is one (used on open). Returns None when nothing was pending
    /// or when another process holds the device's lock right now (that process completes its own refresh; waiting
    /// here would make a later `refresh` in this process miss that it was already done).
    pub async fn recover<F, Fut>(
        &self,
        dev: &DeviceRef,
        mut send: F,
    ) -> Result<Option<RefreshOutcome>>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<NewTokens>>,
    {
        let Some(_lock) = DeviceLock::try_acquire(self.data_dir, &dev.provider, &dev.id)? else {
            tracing::info!(device = %dev, "device is being refreshed by another process; leaving its journal to it");
            return Ok(None);
        };
        match self.state.journal(dev)? {
            Some(journal) => self
                .complete_journal(dev, journal, &mut send)
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    async fn complete_journal<F, Fut>(
        &self,
        dev: &DeviceRef,
        journal: Journal,
        send: &mut F,
    ) -> Result<RefreshOutcome>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<NewTokens>>,
    {
        let Some(tokens) = self.state.read_tokens(dev)? else {
            // Nothing left to replay with: only a new authorization helps; don't retry this on every open.
            self.state.finish_journal(dev)?;
            self.state.mark_needs_reauth(dev)?;
            return Err(Error::TokensMissing { id: dev.id.clone() });
        };
        if tokens.generation > journal.old_generation {
            // The new pair reached the keyring before the crash: only the DB and the journal are behind.
            tracing::info!(device = %dev, generation = tokens.generation, "completing interrupted refresh from the keyring");
            self.state.mirror(dev, &tokens, true)?;
            self.state.finish_journal(dev)?;
            return Ok(RefreshOutcome::Recovered {
                generation: tokens.generation,
            });
        }
        self.state.write_tokens(dev, &tokens)?;
        if Utc::now() - journal.started_at > REPLAY_WINDOW {
            tracing::warn!(device = %dev, "pending refresh is older than the 2 h replay window; trying the old refresh token anyway");
        } else {
            tracing::info!(device = %dev, "replaying the old refresh token to recover a lost refresh result");
        }
        // No local quota refusal here: the replay recovers an already-counted refresh, and waiting would let the
        // 2 h window lapse. The server still answers 41 if it disagrees.
        // An earlier attempt of this refresh may have been served (its reply lost): a 41 now does not rule out a
        // result waiting for the replay, as long as the 2 h window is open.
        let maybe_served = Utc::now() - journal.started_at <= REPLAY_WINDOW;
        let generation = self
            .send_and_store(dev, &tokens, &journal, maybe_served, send)
            .await?;
        Ok(RefreshOutcome::Recovered { generation })
    }

    async fn send_and_store<F, Fut>(
        &self,
        dev: &DeviceRef,
        old: &StoredTokens,
        journal: &Journal,
        mut maybe_served: bool,
        send: &mut F,
    ) -> Result<i64>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<NewTokens>>,
    {
        let refresh_token = old
            .refresh_token
            .clone()
            .ok_or_else(|| Error::NeedsReauthorization { id: dev.id.clone() })?;
        let refresh_token = zeroize::Zeroizing::new(refresh_token);
        self.state.begin_journal(dev, journal)?;
        crash_point("before_send");

        let mut retry = 0;
        let fresh = loop {
            let day = china_day(Utc::now());
            match send(refresh_token.to_string()).await {
                Ok(fresh) => {
                    // Counted when the server granted (retries and replays of one refresh are one grant).
                    self.state.record_grant(dev, china_day(Utc::now()))?;
                    break fresh;
                }
                Err(e) => {
                    if e.outcome_unknown() {
                        maybe_served = true;
                    }
                    if e.code() == Some(41) {
                        mark_day_full(self.state, dev, day)?;
                    }
                    if e.retryable() && retry + 1 < self.backoff.attempts {
                        retry += 1;
                        let wait = self.backoff.delay(retry);
                        tracing::warn!(device = %dev, kind = e.kind(), retry, ?wait, "transient refresh failure; replaying the same refresh token");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    // 41 = "not done, not today". It settles the refresh unless an earlier attempt of it may have
                    // been served with its reply lost: then the replay (within 2 h) can still fetch that result.
                    // 45 (system error) may have been applied: like a lost reply, it stays pending for the replay.
                    let settled = e.is_server_answer()
                        && !e.outcome_unknown()
                        && (e.code() != Some(41) || !maybe_served);
                    if settled {
                        // The server answered: nothing of this refresh is in flight any more.
                        self.state.finish_journal(dev)?;
                        if is_reauth_code(e.code()) {
                            self.state.mark_needs_reauth(dev)?;
                        }
                        tracing::warn!(device = %dev, kind = e.kind(), code = ?e.code(), "refresh rejected");
                    } else {
                        // No answer (or a quota refusal after a lost reply): a result may be waiting at the server, so the journal stays
                        // and the next run replays the old refresh token within the 2 h window.
                        tracing::warn!(device = %dev, kind = e.kind(), "refresh not completed; kept pending for replay");
                    }
                    return Err(e);
                }
            }
        };
        crash_point("after_send_before_keyring");
        // A reply we cannot store stays pending (its pair was issued; the replay fetches it again).
        let new = fresh.into_stored(old.generation + 1, Utc::now())?;
        self.store_new_pair(dev, &new, journal).await?;
        crash_point("after_keyring_before_db");
        self.state.mirror(dev, &new, true)?;
        crash_point("after_db_before_journal_clear");
        self.state.finish_journal(dev)?;
        tracing::info!(device = %dev, generation = new.generation, expires_at = %new.expires_at, "refresh stored");
        Ok(new.generation)
    }
}

impl<'a, S: LifecycleState + ?Sized> Lifecycle<'a, S> {
    /// Writes a pair the server has issued, retrying while `write_patience` lasts: a keyring that fails now (a
    /// locked session, a restarting Secret Service) must not cost it. Past that the journal stays pending and the
    /// error says until when the replay can still recover the pair.
    async fn store_new_pair(
        &self,
        dev: &DeviceRef,
        new: &StoredTokens,
        journal: &Journal,
    ) -> Result<()> {
        let give_up = tokio::time::Instant::now() + self.write_patience;
        let mut attempt = 0;
        loop {
            match self.state.write_tokens(dev, new) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let wait = write_retry_delay(attempt);
                    if tokio::time::Instant::now() + wait > give_up {
                        let replay_until = journal.started_at + REPLAY_WINDOW;
                        tracing::error!(device = %dev, kind = e.kind(), %replay_until, "new pair could not be stored; it depends on a replay of the old refresh token");
                        return Err(Error::NewPairNotStored {
                            id: dev.id.clone(),
                            replay_until,
                            cause: e.kind(),
                        });
                    }
                    attempt += 1;
                    tracing::warn!(device = %dev, kind = e.kind(), attempt, ?wait, "keyring refused the new pair; holding it and trying again");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickauth_protocol::{ApiCode, TransportError, TransportErrorKind, YilianyunError};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// In-memory keyring + DB with the same semantics the vault gives us.
    #[derive(Default)]
    struct Fake {
        tokens: Mutex<HashMap<DeviceRef, StoredTokens>>,
        db_gen: Mutex<HashMap<DeviceRef, i64>>,
        journal: Mutex<HashMap<DeviceRef, Journal>>,
        grants: Mutex<HashMap<(DeviceRef, chrono::NaiveDate), u32>>,
        reauth: Mutex<Vec<DeviceRef>>,
        /// The next this-many keyring writes fail (usize::MAX: all of them).
        failing_writes: AtomicUsize,
    }

    impl LifecycleState for Fake {
        fn read_tokens(&self, dev: &DeviceRef) -> Result<Option<StoredTokens>> {
            Ok(self.tokens.lock().unwrap().get(dev).cloned())
        }
        fn write_tokens(&self, dev: &DeviceRef, t: &StoredTokens) -> Result<()> {
            let failing = self.failing_writes.load(Ordering::SeqCst);
            if failing > 0 {
                if failing != usize::MAX {
                    self.failing_writes.store(failing - 1, Ordering::SeqCst);
                }
                return Err(Error::Vault(quickauth_vault::VaultError::KeyringTimeout {
                    timeout: std::time::Duration::from_secs(5),
                    stuck: 1,
                }));
            }
            self.tokens.lock().unwrap().insert(dev.clone(), t.clone());
            Ok(())
        }
        fn mirror(&self, dev: &DeviceRef, t: &StoredTokens, _refreshed: bool) -> Result<()> {
            self.db_gen
                .lock()
                .unwrap()
                .insert(dev.clone(), t.generation);
            Ok(())
        }
        fn db_generation(&self, dev: &DeviceRef) -> Result<Option<i64>> {
            Ok(self.db_gen.lock().unwrap().get(dev).copied())
        }
        fn journal(&self, dev: &DeviceRef) -> Result<Option<Journal>> {
            Ok(self.journal.lock().unwrap().get(dev).cloned())
        }
        fn begin_journal(&self, dev: &DeviceRef, j: &Journal) -> Result<()> {
            // Like the vault: the first started_at is kept.
            self.journal
                .lock()
                .unwrap()
                .entry(dev.clone())
                .or_insert_with(|| j.clone());
            Ok(())
        }
        fn finish_journal(&self, dev: &DeviceRef) -> Result<()> {
            self.journal.lock().unwrap().remove(dev);
            Ok(())
        }
        fn grants_on(&self, dev: &DeviceRef, day: chrono::NaiveDate) -> Result<u32> {
            Ok(*self
                .grants
                .lock()
                .unwrap()
                .get(&(dev.clone(), day))
                .unwrap_or(&0))
        }
        fn record_grant(&self, dev: &DeviceRef, day: chrono::NaiveDate) -> Result<u32> {
            let mut g = self.grants.lock().unwrap();
            let n = g.entry((dev.clone(), day)).or_insert(0);
            *n += 1;
            Ok(*n)
        }
        fn mark_needs_reauth(&self, dev: &DeviceRef) -> Result<()> {
            self.reauth.lock().unwrap().push(dev.clone());
            Ok(())
        }
    }

    fn dev() -> DeviceRef {
        DeviceRef::new("yilianyun", "shop", "4004000001")
    }

    fn seeded(generation: i64) -> Fake {
        let f = Fake::default();
        let t = StoredTokens {
            access_token: format!("at-{generation}"),
            refresh_token: Some(format!("rt-{generation}")),
            generation,
            issued_at: Utc::now(),
            expires_at: Utc::now() + Duration::days(2),
            refresh_expires_at: Some(Utc::now() + Duration::days(7)),
        };
        f.write_tokens(&dev(), &t).unwrap();
        f.mirror(&dev(), &t, false).unwrap();
        f
    }

    fn fresh(n: &str) -> NewTokens {
        NewTokens {
            access_token: format!("at-{n}"),
            refresh_token: Some(format!("rt-{n}")),
            expires_in_secs: 2_592_000,
            refresh_expires_in_secs: Some(3_024_000),
        }
    }

    fn transient() -> Error {
        Error::Yilianyun(YilianyunError::Transport(TransportError {
            kind: TransportErrorKind::ConnectionClosed,
            host: "127.0.0.1:1".into(),
            detail: String::new(),
        }))
    }

    fn api(code: i64) -> Error {
        Error::Yilianyun(YilianyunError::Api {
            code: ApiCode::from_code(code),
            server_message: String::new(),
        })
    }

    /// The engine under test: `state`, locks under `dir`, fast backoff.
    fn engine<'a>(state: &'a Fake, dir: &'a Path) -> Lifecycle<'a, Fake> {
        Lifecycle {
            state,
            data_dir: dir,
            backoff: fast(),
            write_patience: std::time::Duration::from_secs(4),
        }
    }

    fn fast() -> Backoff {
        Backoff {
            attempts: 3,
            initial: std::time::Duration::from_millis(1),
            cap: std::time::Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn success_stores_new_pair_and_clears_journal() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(1);
        let lc = engine(&state, dir.path());
        let sent = Mutex::new(Vec::new());
        let out = lc
            .refresh(&dev(), |rt| {
                sent.lock().unwrap().push(rt);
                async { Ok(fresh("2")) }
            })
            .await
            .unwrap();
        assert_eq!(out, RefreshOutcome::Refreshed { generation: 2 });
        assert_eq!(*sent.lock().unwrap(), vec!["rt-1".to_string()]);
        let t = state.read_tokens(&dev()).unwrap().unwrap();
        assert_eq!((t.access_token.as_str(), t.generation), ("at-2", 2));
        assert_eq!(state.db_generation(&dev()).unwrap(), Some(2));
        assert!(state.journal(&dev()).unwrap().is_none());
        assert_eq!(state.grants_on(&dev(), china_day(Utc::now())).unwrap(), 1);
    }

    #[tokio::test]
    async fn transient_failures_replay_the_same_old_token_and_stay_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(1);
        let lc = engine(&state, dir.path());
        let sent = Mutex::new(Vec::new());
        let err = lc
            .refresh(&dev(), |rt| {
                sent.lock().unwrap().push(rt);
                async { Err::<NewTokens, _>(transient()) }
            })
            .await
            .unwrap_err();
        assert!(err.retryable());
        assert_eq!(
            *sent.lock().unwrap(),
            vec!["rt-1".to_string(); 3],
            "3 attempts, all with the old token"
        );
        // Old pair untouched, journal kept for a later replay.
        let t = state.read_tokens(&dev()).unwrap().unwrap();
        assert_eq!((t.access_token.as_str(), t.generation), ("at-1", 1));
        assert_eq!(state.journal(&dev()).unwrap().unwrap().old_generation, 1);

        // The next refresh completes the pending one by replaying the old token: its result is what is stored.
        sent.lock().unwrap().clear();
        let out = lc
            .refresh(&dev(), |rt| {
                sent.lock().unwrap().push(rt);
                async { Ok(fresh("lost")) }
            })
            .await
            .unwrap();
        assert_eq!(out, RefreshOutcome::Recovered { generation: 2 });
        assert_eq!(*sent.lock().unwrap(), vec!["rt-1".to_string()]);
        assert_eq!(
            state.read_tokens(&dev()).unwrap().unwrap().access_token,
            "at-lost"
        );
        assert!(state.journal(&dev()).unwrap().is_none());
    }

    #[tokio::test]
    async fn retries_and_the_replay_of_one_refresh_count_one_grant() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(1);
        let lc = engine(&state, dir.path());
        let calls = AtomicUsize::new(0);
        // Two transient failures (replies lost), then the replayed token gets the result: one grant at the server.
        let out = lc
            .refresh(&dev(), |_| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        Err(transient())
                    } else {
                        Ok(fresh("2"))
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(out.generation(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(state.grants_on(&dev(), china_day(Utc::now())).unwrap(), 1);
        // A failed refresh (no grant) counts nothing.
        let _ = lc
            .refresh(&dev(), |_| async { Err::<NewTokens, _>(api(18)) })
            .await;
        assert_eq!(state.grants_on(&dev(), china_day(Utc::now())).unwrap(), 1);
    }

    #[tokio::test]
    async fn an_unwritable_keyring_is_found_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(1);
        state.failing_writes.store(usize::MAX, Ordering::SeqCst);
        let lc = engine(&state, dir.path());
        let sent = AtomicUsize::new(0);
        let err = lc
            .refresh(&dev(), |_| {
                sent.fetch_add(1, Ordering::SeqCst);
                async { Ok(fresh("2")) }
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "keyring_timeout");
        assert_eq!(
            sent.load(Ordering::SeqCst),
            0,
            "no refresh may be spent that cannot be stored"
        );
        assert!(state.journal(&dev()).unwrap().is_none());
    }

    #[tokio::test]
    async fn a_keyring_failing_after_the_send_is_retried_while_the_pair_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(1);
        let lc = engine(&state, dir.path());
        // The writability check passes, then the keyring refuses the new pair twice, then takes it.
        let out = lc
            .refresh(&dev(), |_| {
                state.failing_writes.store(2, Ordering::SeqCst);
                async { Ok(fresh("2")) }
            })
            .await
            .unwrap();
        assert_eq!(out, RefreshOutcome::Refreshed { generation: 2 });
        assert_eq!(
            state.read_tokens(&dev()).unwrap().unwrap().access_token,
            "at-2"
        );
        assert!(state.journal(&dev()).unwrap().is_none());
    }

    #[tokio::test]
    async fn past_the_write_patience_the_error_says_until_when_a_replay_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(1);
        let lc = Lifecycle {
            write_patience: std::time::Duration::from_millis(1500),
            ..engine(&state, dir.path())
        };
        let err = lc
            .refresh(&dev(), |_| {
                state.failing_writes.store(usize::MAX, Ordering::SeqCst);
                async { Ok(fresh("lost-in-keyring")) }
            })
            .await
            .unwrap_err();
        let Error::NewPairNotStored { replay_until, .. } = &err else {
            panic!("{err:?}");
        };
        let j = state
            .journal(&dev())
            .unwrap()
            .expect("pending for the replay");
        assert_eq!(*replay_until, j.started_at + REPLAY_WINDOW);
        assert!(
            err.message_en().contains("replay") && err.message_zh().contains("重放"),
            "{}",
            err.message_en()
        );
        assert_eq!(
            state.read_tokens(&dev()).unwrap().unwrap().access_token,
            "at-1",
            "old pair kept"
        );
        // The keyring is back: the next run replays the old token and stores the pair the server issued.
        state.failing_writes.store(0, Ordering::SeqCst);
        let out = lc
            .refresh(&dev(), |rt| async move {
                assert_eq!(rt, "rt-1");
                Ok(fresh("lost-in-keyring"))
            })
            .await
            .unwrap();
        assert_eq!(out, RefreshOutcome::Recovered { generation: 2 });
    }

    #[tokio::test]
    async fn error_45_may_have_been_applied_so_it_stays_pending() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(1);
        let lc = engine(&state, dir.path());
        let err = lc
            .refresh(&dev(), |_| async { Err::<NewTokens, _>(api(45)) })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(45));
        assert_eq!(
            state.journal(&dev()).unwrap().map(|j| j.old_generation),
            Some(1),
            "a 45 is not a settled answer: the next run replays the old refresh token"
        );
        let out = lc
            .refresh(&dev(), |rt| async move {
                assert_eq!(rt, "rt-1");
                Ok(fresh("applied"))
            })
            .await
            .unwrap();
        assert_eq!(out, RefreshOutcome::Recovered { generation: 2 });
    }

    #[tokio::test]
    async fn a_reply_with_an_absurd_lifetime_is_an_error_and_the_device_survives() {
        let dir = tempfile::tempdir().unwrap();
        for (expires, refresh) in [
            (i64::MAX, Some(3_024_000)),
            (2_592_000, Some(i64::MAX)),
            (-1, None),
            (i64::MIN, None),
        ] {
            let state = seeded(1);
            let lc = engine(&state, dir.path());
            let err = lc
                .refresh(&dev(), |_| async move {
                    let mut t = fresh("huge");
                    t.expires_in_secs = expires;
                    t.refresh_expires_in_secs = refresh;
                    Ok(t)
                })
                .await
                .unwrap_err();
            assert_eq!(
                err.kind(),
                "server_value_out_of_range",
                "{expires}/{refresh:?}"
            );
            let t = state.read_tokens(&dev()).unwrap().unwrap();
            assert_eq!(
                (t.access_token.as_str(), t.generation),
                ("at-1", 1),
                "old pair kept"
            );
            assert!(
                state.journal(&dev()).unwrap().is_some(),
                "the issued pair can still be fetched by replay"
            );
            // The next run is not stuck in the same failure forever: a sane reply completes it.
            let out = lc
                .refresh(&dev(), |_| async { Ok(fresh("2")) })
                .await
                .unwrap();
            assert_eq!(out.generation(), 2);
        }
    }

    #[tokio::test]
    async fn quota_refuses_before_sending_with_reset_time() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(1);
        for _ in 0..GRANTS_PER_DAY {
            state.record_grant(&dev(), china_day(Utc::now())).unwrap();
        }
        let lc = engine(&state, dir.path());
        let calls = AtomicUsize::new(0);
        let err = lc
            .refresh(&dev(), |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(fresh("x")) }
            })
            .await
            .unwrap_err();
        match err {
            Error::QuotaExhausted { reset_at, .. } => {
                assert_eq!(reset_at, quota_reset_at(Utc::now()));
                assert!(reset_at > Utc::now());
            }
            other => panic!("expected quota error, got {other:?}"),
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert!(state.journal(&dev()).unwrap().is_none());
    }

    #[tokio::test]
    async fn server_41_marks_the_day_full() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(1);
        let lc = engine(&state, dir.path());
        let err = lc
            .refresh(&dev(), |_| async { Err::<NewTokens, _>(api(41)) })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(41));
        assert_eq!(
            state.grants_on(&dev(), china_day(Utc::now())).unwrap(),
            GRANTS_PER_DAY
        );
        assert_eq!(state.read_tokens(&dev()).unwrap().unwrap().generation, 1);
        // A 41 to a first attempt settles it: nothing is pending, no later run re-sends it, the next refresh is
        // refused locally until the China day turns.
        assert!(state.journal(&dev()).unwrap().is_none());
        let calls = AtomicUsize::new(0);
        assert!(lc
            .recover(&dev(), |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(fresh("x")) }
            })
            .await
            .unwrap()
            .is_none());
        let again = lc
            .refresh(&dev(), |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(fresh("x")) }
            })
            .await
            .unwrap_err();
        assert!(matches!(again, Error::QuotaExhausted { .. }), "{again:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn server_41_after_a_lost_reply_keeps_the_refresh_pending() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(1);
        let lc = engine(&state, dir.path());
        let calls = AtomicUsize::new(0);
        let err = lc
            .refresh(&dev(), |_| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Err::<NewTokens, _>(transient())
                    } else {
                        Err(api(41))
                    }
                }
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(41));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // The first attempt may have been served: its result can still be fetched by a replay within 2 h.
        assert_eq!(state.journal(&dev()).unwrap().unwrap().old_generation, 1);
    }

    #[tokio::test]
    async fn expired_refresh_token_marks_reauth_and_keeps_old_pair() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(4);
        let lc = engine(&state, dir.path());
        let calls = AtomicUsize::new(0);
        let err = lc
            .refresh(&dev(), |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<NewTokens, _>(api(20)) }
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(20));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "a definite answer is not retried"
        );
        assert_eq!(*state.reauth.lock().unwrap(), vec![dev()]);
        assert!(state.journal(&dev()).unwrap().is_none());
        assert_eq!(
            state.read_tokens(&dev()).unwrap().unwrap().access_token,
            "at-4"
        );
    }

    #[tokio::test]
    async fn journal_behind_keyring_only_fixes_the_db() {
        let dir = tempfile::tempdir().unwrap();
        let state = seeded(3);
        // Crash after the keyring write: keyring at 3, DB still at 2, journal from 2.
        state.db_gen.lock().unwrap().insert(dev(), 2);
        state
            .begin_journal(
                &dev(),
                &Journal {
                    old_generation: 2,
                    started_at: Utc::now(),
                },
            )
            .unwrap();
        let lc = engine(&state, dir.path());
        let calls = AtomicUsize::new(0);
        let out = lc
            .recover(&dev(), |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(fresh("never")) }
            })
            .await
            .unwrap();
        assert_eq!(out, Some(RefreshOutcome::Recovered { generation: 3 }));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(state.db_generation(&dev()).unwrap(), Some(3));
        assert!(state.journal(&dev()).unwrap().is_none());
        // Nothing pending: recover is a no-op.
        assert_eq!(
            lc.recover(&dev(), |_| async { Ok(fresh("x")) })
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn journal_without_tokens_is_closed_and_asks_for_reauth() {
        let dir = tempfile::tempdir().unwrap();
        let state = Fake::default();
        state
            .begin_journal(
                &dev(),
                &Journal {
                    old_generation: 1,
                    started_at: Utc::now(),
                },
            )
            .unwrap();
        let lc = engine(&state, dir.path());
        let err = lc
            .recover(&dev(), |_| async { Ok(fresh("never")) })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::TokensMissing { .. }));
        assert!(state.journal(&dev()).unwrap().is_none());
        assert_eq!(*state.reauth.lock().unwrap(), vec![dev()]);
    }

    #[tokio::test]
    async fn concurrent_refreshes_send_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = Arc::new(seeded(1));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (state, calls, path) = (state.clone(), calls.clone(), dir.path().to_path_buf());
            tasks.push(tokio::spawn(async move {
                let lc = engine(&state, &path);
                lc.refresh(&dev(), |_| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async {
                        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
                        Ok(fresh("one"))
                    }
                })
                .await
                .unwrap()
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{outcomes:?}");
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| matches!(o, RefreshOutcome::Refreshed { .. }))
                .count(),
            1
        );
        assert!(outcomes.iter().all(|o| o.generation() == 2));
    }
}
