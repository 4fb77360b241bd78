//! The non-secret state: `<data_dir>/quickauth.sqlite3`, shared by the app and the CLI.
//!
//! One connection behind a mutex per `Store` (the app does a handful of small writes; a pool would buy nothing).
//! Several processes may open the same file: WAL lets readers run beside a writer, and the 5 s busy timeout makes
//! writers queue instead of failing. Timestamps are RFC 3339 UTC with nanoseconds (`…Z`), so they sort as text and
//! round-trip exactly.

mod delivery;
mod records;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::types::Type;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};

pub use delivery::{DestinationRecord, OutboxEvent, OwnershipRecord};
pub use records::{DeviceRecord, HistoryEntry, JournalEntry, ProfileRecord};

use crate::error::{Result, VaultError};
use records::day_key;

/// File name of the store inside the data dir.
pub const STORE_FILE_NAME: &str = "quickauth.sqlite3";
/// Schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = schema::MIGRATIONS.len() as i64;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQL of migration `step` (0-based: step 0 creates schema v1). For tests that build an old store and check
/// that opening it migrates the data.
#[doc(hidden)]
pub fn migration_sql(step: usize) -> Option<&'static str> {
    schema::MIGRATIONS.get(step).copied()
}

/// Handle to the SQLite store. `Send + Sync`; share it behind an `Arc`.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Open (creating if needed) `<data_dir>/quickauth.sqlite3` and bring its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| VaultError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(STORE_FILE_NAME);
        let e = |err| map_sqlite(&path, err);
        let mut conn = Connection::open(&path).map_err(e)?;
        restrict_permissions(&path);
        conn.busy_timeout(BUSY_TIMEOUT).map_err(e)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(e)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "SQLite refused WAL mode; concurrent access will be slower");
        }
        conn.pragma_update(None, "foreign_keys", true).map_err(e)?;
        migrate(&mut conn, &path)?;
        Ok(Store {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// Path of the SQLite file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64> {
        self.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
    }

    // ---- profiles ------------------------------------------------------------------------------------------

    /// Insert or replace a profile by name. `created_at` of an existing row is kept.
    pub fn upsert_profile(&self, p: &ProfileRecord) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO profiles (name, provider, client_id, region, api_version, base_url, lingju_endpoint,
                                       builtin, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(name) DO UPDATE SET
                    provider = excluded.provider, client_id = excluded.client_id, region = excluded.region,
                    api_version = excluded.api_version, base_url = excluded.base_url,
                    lingju_endpoint = excluded.lingju_endpoint, builtin = excluded.builtin,
                    updated_at = excluded.updated_at",
                params![
                    p.name,
                    p.provider,
                    p.client_id,
                    p.region,
                    p.api_version,
                    p.base_url,
                    p.lingju_endpoint,
                    p.builtin,
                    ts(&p.created_at),
                    ts(&p.updated_at)
                ],
            )
        })
        .map(drop)
    }

    pub fn get_profile(&self, name: &str) -> Result<Option<ProfileRecord>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE name = ?1"),
                [name],
                profile_from_row,
            )
            .optional()
        })
    }

    /// Built-in profiles first, then by name.
    pub fn list_profiles(&self) -> Result<Vec<ProfileRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {PROFILE_COLUMNS} FROM profiles ORDER BY builtin DESC, name"
            ))?;
            let rows = stmt.query_map([], profile_from_row)?;
            rows.collect()
        })
    }

    /// Delete a profile. `Ok(false)` if it did not exist; `ProfileInUse` while devices still reference it.
    pub fn delete_profile(&self, name: &str) -> Result<bool> {
        let mut conn = self.lock();
        let e = |err| map_sqlite(&self.path, err);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let devices: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM devices WHERE profile = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(e)?;
        if devices > 0 {
            return Err(VaultError::ProfileInUse {
                name: name.to_owned(),
                devices: devices as usize,
            });
        }
        let n = tx
            .execute("DELETE FROM profiles WHERE name = ?1", [name])
            .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(n > 0)
    }

    // ---- devices -------------------------------------------------------------------------------------------

    /// Insert or replace a device keyed by (provider, profile, id). Its profile must exist.
    pub fn upsert_device(&self, d: &DeviceRecord) -> Result<()> {
        let result = self.with(|c| {
            c.execute(
                "INSERT INTO devices (provider, id, profile, authorized_at, expires_at, refresh_expires_at,
                                      last_refreshed_at, token_generation, model, last_status, needs_reauth)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(provider, profile, id) DO UPDATE SET
                    authorized_at = excluded.authorized_at,
                    expires_at = excluded.expires_at, refresh_expires_at = excluded.refresh_expires_at,
                    last_refreshed_at = excluded.last_refreshed_at, token_generation = excluded.token_generation,
                    model = excluded.model, last_status = excluded.last_status, needs_reauth = excluded.needs_reauth",
                params![
                    d.provider,
                    d.id,
                    d.profile,
                    ts(&d.authorized_at),
                    ts(&d.expires_at),
                    d.refresh_expires_at.as_ref().map(ts),
                    d.last_refreshed_at.as_ref().map(ts),
                    d.token_generation,
                    d.model,
                    d.last_status,
                    d.needs_reauth
                ],
            )
        });
        match result {
            Err(VaultError::InvalidRecord { detail }) if detail.contains("FOREIGN KEY") => {
                Err(VaultError::UnknownProfile {
                    name: d.profile.clone(),
                })
            }
            other => other.map(drop),
        }
    }

    pub fn get_device(
        &self,
        provider: &str,
        profile: &str,
        id: &str,
    ) -> Result<Option<DeviceRecord>> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices WHERE provider = ?1 AND profile = ?2 AND id = ?3"
                ),
                [provider, profile, id],
                device_from_row,
            )
            .optional()
        })
    }

    /// Devices with this id under any provider and profile (a machine code and a Lingju userid could coincide, and
    /// one printer can be authorized under several profiles).
    pub fn find_devices(&self, id: &str) -> Result<Vec<DeviceRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1 ORDER BY provider, profile"
            ))?;
            let rows = stmt.query_map([id], device_from_row)?;
            rows.collect()
        })
    }

    /// All devices, most recently authorized first.
    pub fn list_devices(&self) -> Result<Vec<DeviceRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY authorized_at DESC, provider, profile, id"
            ))?;
            let rows = stmt.query_map([], device_from_row)?;
            rows.collect()
        })
    }

    /// Delete a device (and its refresh-journal row). `Ok(false)` if it did not exist.
    pub fn delete_device(&self, provider: &str, profile: &str, id: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "DELETE FROM devices WHERE provider = ?1 AND profile = ?2 AND id = ?3",
                [provider, profile, id],
            )
        })
        .map(|n| n > 0)
    }

    // ---- daily grant quota ---------------------------------------------------------------------------------

    /// Count one more token grant for the device on `day` (the caller picks the calendar, e.g. Asia/Shanghai).
    /// Returns the new count. Atomic across processes.
    pub fn record_grant(&self, provider: &str, id: &str, day: NaiveDate) -> Result<u32> {
        self.with(|c| {
            c.query_row(
                "INSERT INTO grant_counts (provider, device_id, day, count) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT(provider, device_id, day) DO UPDATE SET count = count + 1
                 RETURNING count",
                params![provider, id, day_key(day)],
                |r| r.get(0),
            )
        })
    }

    /// Grants counted for the device on `day` (0 when none).
    pub fn grants_on(&self, provider: &str, id: &str, day: NaiveDate) -> Result<u32> {
        self.with(|c| {
            c.query_row(
                "SELECT count FROM grant_counts WHERE provider = ?1 AND device_id = ?2 AND day = ?3",
                params![provider, id, day_key(day)],
                |r| r.get(0),
            )
            .optional()
            .map(|n| n.unwrap_or(0))
        })
    }

    // ---- history -------------------------------------------------------------------------------------------

    /// Append a history line; returns the id the store assigned (`entry.id` is ignored).
    pub fn append_history(&self, entry: &HistoryEntry) -> Result<i64> {
        self.with(|c| {
            c.execute(
                "INSERT INTO history (at, action, provider, device_id, profile, outcome, error_kind, error_code,
                                      message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    ts(&entry.at),
                    entry.action,
                    entry.provider,
                    entry.device_id,
                    entry.profile,
                    entry.outcome,
                    entry.error_kind,
                    entry.error_code,
                    entry.message
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// The newest `limit` history lines, newest first.
    pub fn list_history(&self, limit: usize) -> Result<Vec<HistoryEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, at, action, provider, device_id, profile, outcome, error_kind, error_code, message
                 FROM history ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], |r| {
                Ok(HistoryEntry {
                    id: r.get(0)?,
                    at: get_ts(r, 1)?,
                    action: r.get(2)?,
                    provider: r.get(3)?,
                    device_id: r.get(4)?,
                    profile: r.get(5)?,
                    outcome: r.get(6)?,
                    error_kind: r.get(7)?,
                    error_code: r.get(8)?,
                    message: r.get(9)?,
                })
            })?;
            rows.collect()
        })
    }

    // ---- refresh journal -----------------------------------------------------------------------------------

    /// Record that a refresh of the device starts from `old_generation`. If a row is already there (a crash or
    /// an unfinished attempt), `attempts` goes up and the first `started_at` is kept. The device must exist.
    pub fn begin_refresh(
        &self,
        provider: &str,
        profile: &str,
        id: &str,
        old_generation: i64,
        started_at: DateTime<Utc>,
    ) -> Result<JournalEntry> {
        let result = self.with(|c| {
            c.query_row(
                "INSERT INTO refresh_journal (provider, profile, device_id, old_generation, started_at, attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1)
                 ON CONFLICT(provider, profile, device_id) DO UPDATE SET
                    attempts = attempts + 1, old_generation = excluded.old_generation
                 RETURNING provider, profile, device_id, old_generation, started_at, attempts",
                params![provider, profile, id, old_generation, ts(&started_at)],
                journal_from_row,
            )
        });
        match result {
            Err(VaultError::InvalidRecord { detail }) if detail.contains("FOREIGN KEY") => {
                Err(VaultError::InvalidRecord {
                    detail: format!("no device {provider}:{profile}:{id} to refresh"),
                })
            }
            other => other,
        }
    }

    /// Refreshes begun and never finished, oldest first (what crash recovery looks at).
    pub fn pending_refreshes(&self) -> Result<Vec<JournalEntry>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT provider, profile, device_id, old_generation, started_at, attempts
                 FROM refresh_journal ORDER BY started_at, provider, profile, device_id",
            )?;
            let rows = stmt.query_map([], journal_from_row)?;
            rows.collect()
        })
    }

    /// The refresh is over (succeeded or failed for good). `Ok(false)` if none was pending.
    pub fn finish_refresh(&self, provider: &str, profile: &str, id: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "DELETE FROM refresh_journal WHERE provider = ?1 AND profile = ?2 AND device_id = ?3",
                [provider, profile, id],
            )
        })
        .map(|n| n > 0)
    }

    // ---- settings ------------------------------------------------------------------------------------------

    pub fn get_setting(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
        })
        .map(drop)
    }

    /// Remove a setting. `Ok(false)` if it was not set.
    pub fn delete_setting(&self, key: &str) -> Result<bool> {
        self.with(|c| c.execute("DELETE FROM settings WHERE key = ?1", [key]))
            .map(|n| n > 0)
    }

    // ---- plumbing ------------------------------------------------------------------------------------------

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (statements are atomic), so carry on.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.lock();
        f(&conn).map_err(|e| map_sqlite(&self.path, e))
    }
}

const PROFILE_COLUMNS: &str =
    "name, provider, client_id, region, api_version, base_url, lingju_endpoint, builtin, created_at, updated_at";

fn profile_from_row(r: &Row<'_>) -> rusqlite::Result<ProfileRecord> {
    Ok(ProfileRecord {
        name: r.get(0)?,
        provider: r.get(1)?,
        client_id: r.get(2)?,
        region: r.get(3)?,
        api_version: r.get(4)?,
        base_url: r.get(5)?,
        lingju_endpoint: r.get(6)?,
        builtin: r.get(7)?,
        created_at: get_ts(r, 8)?,
        updated_at: get_ts(r, 9)?,
    })
}

const DEVICE_COLUMNS: &str =
    "provider, id, profile, authorized_at, expires_at, refresh_expires_at, \
     last_refreshed_at, token_generation, model, last_status, needs_reauth";

fn device_from_row(r: &Row<'_>) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        provider: r.get(0)?,
        id: r.get(1)?,
        profile: r.get(2)?,
        authorized_at: get_ts(r, 3)?,
        expires_at: get_ts(r, 4)?,
        refresh_expires_at: get_opt_ts(r, 5)?,
        last_refreshed_at: get_opt_ts(r, 6)?,
        token_generation: r.get(7)?,
        model: r.get(8)?,
        last_status: r.get(9)?,
        needs_reauth: r.get(10)?,
    })
}

fn journal_from_row(r: &Row<'_>) -> rusqlite::Result<JournalEntry> {
    Ok(JournalEntry {
        provider: r.get(0)?,
        profile: r.get(1)?,
        id: r.get(2)?,
        old_generation: r.get(3)?,
        started_at: get_ts(r, 4)?,
        attempts: r.get(5)?,
    })
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn get_ts(r: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = r.get(idx)?;
    parse_ts(idx, &text)
}

fn get_opt_ts(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = r.get(idx)?;
    text.map(|t| parse_ts(idx, &t)).transpose()
}

fn parse_ts(idx: usize, text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// Run the migrations the file has not seen yet, in one write transaction, so two processes opening a fresh data
/// dir at once cannot both migrate.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let e = |err| map_sqlite(path, err);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(e)?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(e)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(e)?;
    if version > SCHEMA_VERSION {
        return Err(VaultError::StoreTooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < 0 {
        return Err(VaultError::StoreCorrupt {
            path: path.to_path_buf(),
            detail: format!("user_version {version}"),
        });
    }
    for (step, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql).map_err(e)?;
        tracing::info!(path = %path.display(), to = step + 1, "store schema migrated");
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(e)?;
    tx.commit().map_err(e)
}

fn map_sqlite(path: &Path, err: rusqlite::Error) -> VaultError {
    let path = path.to_path_buf();
    match err {
        rusqlite::Error::SqliteFailure(f, msg) => {
            let detail = msg.unwrap_or_else(|| f.to_string());
            match f.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                    VaultError::StoreBusy { path }
                }
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                    VaultError::StoreCorrupt { path, detail }
                }
                ErrorCode::CannotOpen
                | ErrorCode::PermissionDenied
                | ErrorCode::ReadOnly
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::FileLockingProtocolFailed
                | ErrorCode::OutOfMemory => VaultError::StoreIo { path, detail },
                ErrorCode::ConstraintViolation => VaultError::InvalidRecord { detail },
                _ => VaultError::StoreOther { detail },
            }
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => VaultError::StoreCorrupt {
            path,
            detail: err.to_string(),
        },
        other => VaultError::StoreOther {
            detail: other.to_string(),
        },
    }
}

/// The store holds no secrets, but device ids and history are still the shop's business.
#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        tracing::warn!(path = %path.display(), error = %e, "cannot restrict store file permissions");
    }
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}
