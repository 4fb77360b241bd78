//! The sandbox's persistent state: one SQLite file (WAL, busy timeout) that several processes may share.
//!
//! Nothing secret is ever written here: tokens and codes are derived from the seed and a row id and are
//! looked up by sha256; qr_key and msign are stateless; app secrets are constants in the code.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::SandboxError;

/// File name of the state database inside `state_dir`.
pub const STATE_FILE: &str = "sandbox.sqlite3";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS used_ids(id TEXT PRIMARY KEY, used_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bindings(machine_code TEXT PRIMARY KEY, client_id TEXT NOT NULL, bound_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS grants(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL,
    machine_code TEXT NOT NULL,
    origin TEXT NOT NULL,
    access_hash TEXT UNIQUE,
    refresh_hash TEXT UNIQUE,
    issued_at INTEGER NOT NULL,
    access_expires_at INTEGER NOT NULL,
    refresh_expires_at INTEGER NOT NULL,
    superseded_at INTEGER,
    successor INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS grants_by_printer ON grants(client_id, machine_code);
CREATE TABLE IF NOT EXISTS grant_events(id INTEGER PRIMARY KEY AUTOINCREMENT, machine_code TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS grant_events_by_printer ON grant_events(machine_code, at);
CREATE TABLE IF NOT EXISTS codes(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash TEXT UNIQUE,
    client_id TEXT NOT NULL,
    machine_code TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS printers(machine_code TEXT PRIMARY KEY, state INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS prints(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL,
    machine_code TEXT NOT NULL,
    origin_id TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS prints_by_origin ON prints(client_id, origin_id);
CREATE TABLE IF NOT EXISTS lingju_users(userid TEXT PRIMARY KEY, registered_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lingju_grants(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL,
    userid TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
"#;

pub(crate) struct Store {
    conn: Mutex<Connection>,
    seed: Vec<u8>,
    path: Option<PathBuf>,
}

impl Store {
    /// Opens (or creates) the state under `state_dir`, or a private in-memory state when `None`.
    pub fn open(state_dir: Option<&Path>) -> Result<Store, SandboxError> {
        let (mut conn, path) = match state_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| SandboxError::StateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
                let path = dir.join(STATE_FILE);
                let conn = Connection::open(&path)?;
                // WAL + a generous busy timeout let the CLI and the app share one sandbox state.
                conn.busy_timeout(Duration::from_secs(10))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                (conn, Some(path))
            }
            None => (Connection::open_in_memory()?, None),
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA)?;
        let fresh_seed = hex::encode(rand::random::<[u8; 32]>());
        tx.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('seed', ?1)",
            [fresh_seed],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('clock_offset', '0')",
            [],
        )?;
        let seed_hex: String =
            tx.query_row("SELECT value FROM meta WHERE key = 'seed'", [], |r| {
                r.get(0)
            })?;
        tx.commit()?;
        let seed =
            hex::decode(seed_hex).map_err(|_| SandboxError::CorruptState("seed is not hex"))?;
        Ok(Store {
            conn: Mutex::new(conn),
            seed,
            path,
        })
    }

    pub fn seed(&self) -> &[u8] {
        &self.seed
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the transaction rolls back), so keep going.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs a read-only `f` without taking the write lock (readers never wait on writers under WAL).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, SandboxError> {
        let conn = self.lock();
        Ok(f(&conn)?)
    }

    /// Runs `f` in one IMMEDIATE transaction (so the quota and id checks are race-free across processes)
    /// and commits whatever it did, including on protocol errors (a used `id` stays used).
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, SandboxError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Real wall-clock seconds.
pub(crate) fn real_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The persisted virtual clock offset (seconds added to real time by `advance`).
pub(crate) fn clock_offset(conn: &Connection) -> rusqlite::Result<i64> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'clock_offset'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|s| s.parse().ok()).unwrap_or(0))
}

/// Virtual "now": real time plus the offset. Used for qr_key age, code/token lifetimes and the daily quota.
pub(crate) fn virtual_now(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(real_now() + clock_offset(conn)?)
}

pub(crate) fn advance_clock(conn: &Connection, seconds: i64) -> rusqlite::Result<i64> {
    let offset = clock_offset(conn)? + seconds;
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('clock_offset', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![offset.to_string()],
    )?;
    Ok(offset)
}

/// Start (unix seconds) of the China calendar day (UTC+8) containing `t`.
pub(crate) fn china_day_start(t: i64) -> i64 {
    const CST: i64 = 8 * 3600;
    (t + CST).div_euclid(86_400) * 86_400 - CST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_day_boundaries() {
        // 2026-11-22T16:00:00Z is 00:00 on 2026-11-23 in Shanghai.
        let midnight = chrono::DateTime::parse_from_rfc3339("2026-11-22T16:00:00Z")
            .unwrap()
            .timestamp();
        assert_eq!(china_day_start(midnight), midnight);
        assert_eq!(china_day_start(midnight - 1), midnight - 86_400);
        assert_eq!(china_day_start(midnight + 86_399), midnight);
    }
}
