//! Hand-over state (issue 9): device ownership, a delivery destination per profile, and the webhook outbox.
//!
//! Nothing here holds a token or a signing secret: an outbox row names the device and the pair's generation, and
//! the sender builds the body from the keyring when it sends.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use super::{get_opt_ts, get_ts, map_sqlite, ts, Store};
use crate::error::Result;

/// Who owns a device's token pair: "kept" | "delivered" | "handed-over".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnershipRecord {
    pub ownership: String,
    pub handed_over_at: Option<DateTime<Utc>>,
    /// The destination URL the hand-over went to.
    pub handed_over_to: Option<String>,
    /// When the receiver acknowledged the hand-over and the pair was deleted from the keyring.
    pub pair_released_at: Option<DateTime<Utc>>,
}

impl Default for OwnershipRecord {
    fn default() -> Self {
        Self {
            ownership: "kept".into(),
            handed_over_at: None,
            handed_over_to: None,
            pair_released_at: None,
        }
    }
}

/// A profile's webhook. The signing secret is in the keyring (`profile:<name>:webhook_secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationRecord {
    pub profile: String,
    pub url: String,
    /// Ownership given to devices newly authorized under this profile.
    pub default_ownership: String,
    /// Set when the receiver answered 410 Gone: nothing is sent until the destination is set again.
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// One webhook event. `event_id` is the `webhook-id`, the same on every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub event_id: String,
    /// "device.authorized" | "device.refreshed" | "device.handed_over" | "device.forgotten"
    pub kind: String,
    pub provider: String,
    pub device_id: String,
    pub profile: String,
    pub generation: i64,
    pub ownership: String,
    pub created_at: DateTime<Utc>,
    /// "pending" | "delivered" | "failed"
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Free of secrets: a status, a kind, or a scrubbed snippet of the receiver's reply.
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub delivered_to: Option<String>,
}

/// Event types that carry a token pair: a newer one makes an older undelivered one pointless.
const PAIR_EVENTS: &str = "('device.authorized', 'device.refreshed', 'device.handed_over')";

const OUTBOX_COLUMNS: &str =
    "event_id, type, provider, device_id, profile, generation, ownership, created_at, \
     status, attempts, next_attempt_at, last_attempt_at, last_error, delivered_at, delivered_to";

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<OutboxEvent> {
    Ok(OutboxEvent {
        event_id: r.get(0)?,
        kind: r.get(1)?,
        provider: r.get(2)?,
        device_id: r.get(3)?,
        profile: r.get(4)?,
        generation: r.get(5)?,
        ownership: r.get(6)?,
        created_at: get_ts(r, 7)?,
        status: r.get(8)?,
        attempts: r.get(9)?,
        next_attempt_at: get_ts(r, 10)?,
        last_attempt_at: get_opt_ts(r, 11)?,
        last_error: r.get(12)?,
        delivered_at: get_opt_ts(r, 13)?,
        delivered_to: r.get(14)?,
    })
}

fn destination_from_row(r: &Row<'_>) -> rusqlite::Result<DestinationRecord> {
    Ok(DestinationRecord {
        profile: r.get(0)?,
        url: r.get(1)?,
        default_ownership: r.get(2)?,
        disabled_at: get_opt_ts(r, 3)?,
        disabled_reason: r.get(4)?,
        updated_at: get_ts(r, 5)?,
    })
}

fn ownership_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<OwnershipRecord> {
    Ok(OwnershipRecord {
        ownership: r.get(at)?,
        handed_over_at: get_opt_ts(r, at + 1)?,
        handed_over_to: r.get(at + 2)?,
        pair_released_at: get_opt_ts(r, at + 3)?,
    })
}

impl Store {
    // ---- ownership -----------------------------------------------------------------------------------------

    /// The device's ownership; `None` when there is no such device.
    pub fn device_ownership(
        &self,
        provider: &str,
        profile: &str,
        id: &str,
    ) -> Result<Option<OwnershipRecord>> {
        self.with(|c| {
            c.query_row(
                "SELECT ownership, handed_over_at, handed_over_to, pair_released_at
                 FROM devices WHERE provider = ?1 AND profile = ?2 AND id = ?3",
                [provider, profile, id],
                |r| ownership_from_row(r, 0),
            )
            .optional()
        })
    }

    /// Every device's ownership as (provider, profile, id, ownership).
    #[allow(clippy::type_complexity)]
    pub fn list_ownerships(&self) -> Result<Vec<(String, String, String, OwnershipRecord)>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT provider, profile, id, ownership, handed_over_at, handed_over_to, pair_released_at
                 FROM devices",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, ownership_from_row(r, 3)?)))?;
            rows.collect()
        })
    }

    /// Sets a device's ownership. `Ok(false)` if there is no such device.
    pub fn set_ownership(
        &self,
        provider: &str,
        profile: &str,
        id: &str,
        o: &OwnershipRecord,
    ) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE devices SET ownership = ?4, handed_over_at = ?5, handed_over_to = ?6, pair_released_at = ?7
                 WHERE provider = ?1 AND profile = ?2 AND id = ?3",
                params![
                    provider,
                    profile,
                    id,
                    o.ownership,
                    o.handed_over_at.as_ref().map(ts),
                    o.handed_over_to,
                    o.pair_released_at.as_ref().map(ts)
                ],
            )
        })
        .map(|n| n > 0)
    }

    // ---- destinations --------------------------------------------------------------------------------------

    pub fn get_destination(&self, profile: &str) -> Result<Option<DestinationRecord>> {
        self.with(|c| {
            c.query_row(
                "SELECT profile, url, default_ownership, disabled_at, disabled_reason, updated_at
                 FROM delivery_destinations WHERE profile = ?1",
                [profile],
                destination_from_row,
            )
            .optional()
        })
    }

    /// Sets (or replaces) a profile's destination; setting it again re-enables one a 410 disabled.
    pub fn upsert_destination(&self, d: &DestinationRecord) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO delivery_destinations (profile, url, default_ownership, disabled_at, disabled_reason,
                                                    updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(profile) DO UPDATE SET url = excluded.url,
                    default_ownership = excluded.default_ownership, disabled_at = excluded.disabled_at,
                    disabled_reason = excluded.disabled_reason, updated_at = excluded.updated_at",
                params![
                    d.profile,
                    d.url,
                    d.default_ownership,
                    d.disabled_at.as_ref().map(ts),
                    d.disabled_reason,
                    ts(&d.updated_at)
                ],
            )
        })
        .map(drop)
    }

    /// `Ok(false)` if the profile had none.
    pub fn delete_destination(&self, profile: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "DELETE FROM delivery_destinations WHERE profile = ?1",
                [profile],
            )
        })
        .map(|n| n > 0)
    }

    /// The receiver said 410 Gone for `url`: stop sending there (only if the destination still points at it).
    pub fn disable_destination(
        &self,
        profile: &str,
        url: &str,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE delivery_destinations SET disabled_at = ?3, disabled_reason = ?4
                 WHERE profile = ?1 AND url = ?2 AND disabled_at IS NULL",
                params![profile, url, ts(&at), reason],
            )
        })
        .map(|n| n > 0)
    }

    // ---- outbox --------------------------------------------------------------------------------------------

    /// Queues an event; returns (inserted, replaced). Idempotent per (device, type, generation): if that event is
    /// already queued or delivered, nothing is added (so a hook run again after a crash adds no duplicate). A pair
    /// event (authorized / refreshed / handed_over) and `device.forgotten` replace every undelivered older pair
    /// event of the same device (their pair is superseded, or gone). Atomic across processes.
    pub fn enqueue_event(&self, e: &OutboxEvent) -> Result<(bool, usize)> {
        let mut conn = self.lock();
        let err = |x| map_sqlite(&self.path, x);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE provider = ?1 AND profile = ?2 AND device_id = ?3
                                 AND type = ?4 AND generation = ?5)",
                params![e.provider, e.profile, e.device_id, e.kind, e.generation],
                |r| r.get(0),
            )
            .map_err(err)?;
        if exists {
            return Ok((false, 0));
        }
        let replaced = tx
            .execute(
                &format!(
                    "DELETE FROM outbox WHERE provider = ?1 AND profile = ?2 AND device_id = ?3
                       AND status != 'delivered' AND type IN {PAIR_EVENTS} AND generation <= ?4"
                ),
                params![e.provider, e.profile, e.device_id, e.generation],
            )
            .map_err(err)?;
        tx.execute(
            &format!(
                "INSERT INTO outbox ({OUTBOX_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            ),
            params![
                e.event_id,
                e.kind,
                e.provider,
                e.device_id,
                e.profile,
                e.generation,
                e.ownership,
                ts(&e.created_at),
                e.status,
                e.attempts,
                ts(&e.next_attempt_at),
                e.last_attempt_at.as_ref().map(ts),
                e.last_error,
                e.delivered_at.as_ref().map(ts),
                e.delivered_to
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok((true, replaced))
    }

    /// Every event of one device, oldest first.
    pub fn device_events(
        &self,
        provider: &str,
        profile: &str,
        id: &str,
    ) -> Result<Vec<OutboxEvent>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE provider = ?1 AND profile = ?2 AND device_id = ?3
                 ORDER BY created_at, event_id"
            ))?;
            let rows = stmt.query_map([provider, profile, id], event_from_row)?;
            rows.collect()
        })
    }

    pub fn get_event(&self, event_id: &str) -> Result<Option<OutboxEvent>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE event_id = ?1"),
                [event_id],
                event_from_row,
            )
            .optional()
        })
    }

    /// Pending events whose time has come (all pending ones with `ignore_backoff`), oldest first.
    pub fn due_events(&self, now: DateTime<Utc>, ignore_backoff: bool) -> Result<Vec<OutboxEvent>> {
        let until = if ignore_backoff {
            "9999-12-31T23:59:59Z".to_owned()
        } else {
            ts(&now)
        };
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1
                 ORDER BY created_at, event_id"
            ))?;
            let rows = stmt.query_map([until], event_from_row)?;
            rows.collect()
        })
    }

    /// Every event, newest first.
    pub fn list_events(&self, limit: usize) -> Result<Vec<OutboxEvent>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY created_at DESC, event_id DESC LIMIT ?1"
            ))?;
            let rows = stmt.query_map([limit], event_from_row)?;
            rows.collect()
        })
    }

    /// Before sending: count the attempt and move `next_attempt_at` to the retry time, so a crash between send
    /// and acknowledgement leaves the event pending (sent again, same id). `Ok(false)` if another sender claimed
    /// it first (its attempt count moved) or it is no longer pending.
    pub fn claim_event(
        &self,
        event_id: &str,
        seen_attempts: i64,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
    ) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?3, next_attempt_at = ?4
                 WHERE event_id = ?1 AND status = 'pending' AND attempts = ?2",
                params![event_id, seen_attempts, ts(&now), ts(&retry_at)],
            )
        })
        .map(|n| n > 0)
    }

    /// The receiver acknowledged (2xx).
    pub fn mark_delivered(&self, event_id: &str, at: DateTime<Utc>, to: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET status = 'delivered', delivered_at = ?2, delivered_to = ?3, last_error = NULL
                 WHERE event_id = ?1 AND status != 'delivered'",
                params![event_id, ts(&at), to],
            )
        })
        .map(|n| n > 0)
    }

    /// Records why an attempt did not succeed; `failed` stops automatic retries (a 4xx, or days of trying).
    pub fn note_event_error(&self, event_id: &str, error: &str, failed: bool) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET last_error = ?2,
                    status = CASE WHEN ?3 THEN 'failed' ELSE status END
                 WHERE event_id = ?1 AND status != 'delivered'",
                params![event_id, error, failed],
            )
        })
        .map(|n| n > 0)
    }

    /// Makes every pending event of a profile due at `now` (its destination was just set, changed or re-enabled).
    pub fn reschedule_pending(&self, profile: &str, now: DateTime<Utc>) -> Result<usize> {
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET next_attempt_at = ?2 WHERE profile = ?1 AND status = 'pending'",
                params![profile, ts(&now)],
            )
        })
    }

    /// Puts failed events back in the queue, due at `now` (one by id, or all with `None`). Returns how many.
    pub fn retry_failed_events(&self, event_id: Option<&str>, now: DateTime<Utc>) -> Result<usize> {
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?2
                 WHERE status = 'failed' AND (?1 IS NULL OR event_id = ?1)",
                params![event_id, ts(&now)],
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, kind: &str, generation: i64) -> OutboxEvent {
        let now = Utc::now();
        OutboxEvent {
            event_id: id.into(),
            kind: kind.into(),
            provider: "yilianyun".into(),
            device_id: "4004000001".into(),
            profile: "sandbox".into(),
            generation,
            ownership: "delivered".into(),
            created_at: now,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            last_attempt_at: None,
            last_error: None,
            delivered_at: None,
            delivered_to: None,
        }
    }

    #[test]
    fn enqueue_is_idempotent_and_newer_pairs_replace_undelivered_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store
                .enqueue_event(&event("a", "device.authorized", 1))
                .unwrap(),
            (true, 0)
        );
        // The same (device, type, generation) again adds nothing (a hook re-run after a crash).
        assert_eq!(
            store
                .enqueue_event(&event("a2", "device.authorized", 1))
                .unwrap(),
            (false, 0)
        );
        assert!(store
            .mark_delivered("a", Utc::now(), "http://127.0.0.1:1")
            .unwrap());
        assert_eq!(
            store
                .enqueue_event(&event("b", "device.refreshed", 2))
                .unwrap(),
            (true, 0)
        );
        // A newer pair replaces the undelivered older one; the delivered one stays.
        assert_eq!(
            store
                .enqueue_event(&event("c", "device.refreshed", 3))
                .unwrap(),
            (true, 1)
        );
        let ids: Vec<String> = store
            .list_events(10)
            .unwrap()
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&"a".to_string()) && ids.contains(&"c".to_string()));
        // Claim-before-send: a second sender with a stale attempt count cannot claim it too.
        let now = Utc::now();
        assert!(store.claim_event("c", 0, now, now).unwrap());
        assert!(!store.claim_event("c", 0, now, now).unwrap());
        assert_eq!(store.get_event("c").unwrap().unwrap().attempts, 1);
        // A 4xx fails it; retried by hand it is pending and due again.
        assert!(store.note_event_error("c", "HTTP 422: no", true).unwrap());
        assert!(store.due_events(Utc::now(), true).unwrap().is_empty());
        assert_eq!(store.retry_failed_events(Some("c"), Utc::now()).unwrap(), 1);
        assert_eq!(store.due_events(Utc::now(), false).unwrap().len(), 1);
        // device.forgotten replaces the undelivered pair event (its tokens are gone).
        assert_eq!(
            store
                .enqueue_event(&event("d", "device.forgotten", 3))
                .unwrap(),
            (true, 1)
        );
        assert_eq!(store.due_events(Utc::now(), true).unwrap()[0].event_id, "d");
    }
}
