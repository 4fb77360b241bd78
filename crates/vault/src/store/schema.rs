//! The store's schema as an ordered list of migrations; `PRAGMA user_version` records how many have run.
//!
//! Append new migrations at the end; never edit one that has shipped. No table may get a column that could hold
//! a secret (tests/store.rs checks the column list).

/// Migration `i` (0-based) brings the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // v1: the initial schema.
    r#"
    CREATE TABLE profiles (
        name            TEXT PRIMARY KEY NOT NULL,
        provider        TEXT NOT NULL CHECK (provider IN ('yilianyun', 'lingju')),
        client_id       TEXT,
        region          TEXT,
        api_version     TEXT,
        base_url        TEXT,
        lingju_endpoint TEXT,
        builtin         INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    ) STRICT;

    -- Deleting a profile that still has devices is refused (the devices' tokens would be orphaned);
    -- renaming one carries its devices along.
    CREATE TABLE devices (
        provider            TEXT NOT NULL CHECK (provider IN ('yilianyun', 'lingju')),
        id                  TEXT NOT NULL,
        profile             TEXT NOT NULL REFERENCES profiles(name) ON UPDATE CASCADE ON DELETE RESTRICT,
        authorized_at       TEXT NOT NULL,
        expires_at          TEXT NOT NULL,
        refresh_expires_at  TEXT,
        last_refreshed_at   TEXT,
        token_generation    INTEGER NOT NULL DEFAULT 0,
        model               TEXT,
        last_status         TEXT,
        needs_reauth        INTEGER NOT NULL DEFAULT 0 CHECK (needs_reauth IN (0, 1)),
        PRIMARY KEY (provider, id)
    ) STRICT;
    CREATE INDEX devices_by_id ON devices(id);
    CREATE INDEX devices_by_profile ON devices(profile);

    -- No foreign key on purpose: the provider's 20-per-day quota keeps counting after a device is forgotten
    -- locally and authorized again.
    CREATE TABLE grant_counts (
        provider  TEXT NOT NULL,
        device_id TEXT NOT NULL,
        day       TEXT NOT NULL,
        count     INTEGER NOT NULL CHECK (count >= 0),
        PRIMARY KEY (provider, device_id, day)
    ) STRICT;

    -- History outlives devices and profiles: no foreign keys.
    CREATE TABLE history (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        at          TEXT NOT NULL,
        action      TEXT NOT NULL,
        provider    TEXT NOT NULL,
        device_id   TEXT,
        profile     TEXT,
        outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'error')),
        error_kind  TEXT,
        error_code  INTEGER,
        message     TEXT
    ) STRICT;
    CREATE INDEX history_by_at ON history(at);

    -- A row exists while a refresh is in flight; a row left after a crash means "check this device's tokens".
    CREATE TABLE refresh_journal (
        provider        TEXT NOT NULL,
        device_id       TEXT NOT NULL,
        old_generation  INTEGER NOT NULL,
        started_at      TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (provider, device_id),
        FOREIGN KEY (provider, device_id) REFERENCES devices(provider, id) ON DELETE CASCADE
    ) STRICT;

    CREATE TABLE settings (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;
    "#,
    // v2: a device is (provider, profile, id): the same printer authorized under two profiles (two merchants'
    // apps, or the sandbox and a real app) holds two token pairs. The journal follows its device. Grant counts stay
    // per printer (the server's 20/day limit is per terminal). Old journal rows go first so that dropping the old
    // devices table cascades into nothing; renaming devices_new rewrites the journal's foreign key.
    r#"
    CREATE TABLE devices_new (
        provider            TEXT NOT NULL CHECK (provider IN ('yilianyun', 'lingju')),
        id                  TEXT NOT NULL,
        profile             TEXT NOT NULL REFERENCES profiles(name) ON UPDATE CASCADE ON DELETE RESTRICT,
        authorized_at       TEXT NOT NULL,
        expires_at          TEXT NOT NULL,
        refresh_expires_at  TEXT,
        last_refreshed_at   TEXT,
        token_generation    INTEGER NOT NULL DEFAULT 0,
        model               TEXT,
        last_status         TEXT,
        needs_reauth        INTEGER NOT NULL DEFAULT 0 CHECK (needs_reauth IN (0, 1)),
        PRIMARY KEY (provider, profile, id)
    ) STRICT;
    INSERT INTO devices_new (provider, id, profile, authorized_at, expires_at, refresh_expires_at,
                             last_refreshed_at, token_generation, model, last_status, needs_reauth)
        SELECT provider, id, profile, authorized_at, expires_at, refresh_expires_at,
               last_refreshed_at, token_generation, model, last_status, needs_reauth FROM devices;
    CREATE TABLE refresh_journal_new (
        provider        TEXT NOT NULL,
        profile         TEXT NOT NULL,
        device_id       TEXT NOT NULL,
        old_generation  INTEGER NOT NULL,
        started_at      TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (provider, profile, device_id),
        FOREIGN KEY (provider, profile, device_id) REFERENCES devices_new(provider, profile, id)
            ON UPDATE CASCADE ON DELETE CASCADE
    ) STRICT;
    INSERT INTO refresh_journal_new (provider, profile, device_id, old_generation, started_at, attempts)
        SELECT j.provider, d.profile, j.device_id, j.old_generation, j.started_at, j.attempts
        FROM refresh_journal j JOIN devices d ON d.provider = j.provider AND d.id = j.device_id;
    DROP TABLE refresh_journal;
    DROP TABLE devices;
    ALTER TABLE devices_new RENAME TO devices;
    ALTER TABLE refresh_journal_new RENAME TO refresh_journal;
    CREATE INDEX devices_by_id ON devices(id);
    CREATE INDEX devices_by_profile ON devices(profile);
    "#,
    // v3 (issue 9, hand-over): who owns each device's token pair, a delivery destination per profile and the
    // outbox of webhook events. The outbox holds no token: the payload is built from the keyring at send time.
    r#"
    ALTER TABLE devices ADD COLUMN ownership TEXT NOT NULL DEFAULT 'kept'
        CHECK (ownership IN ('kept', 'delivered', 'handed-over'));
    ALTER TABLE devices ADD COLUMN handed_over_at TEXT;
    ALTER TABLE devices ADD COLUMN handed_over_to TEXT;
    ALTER TABLE devices ADD COLUMN pair_released_at TEXT;

    -- The signing secret lives in the keyring (profile:<name>:webhook_secret).
    CREATE TABLE delivery_destinations (
        profile            TEXT PRIMARY KEY NOT NULL
                           REFERENCES profiles(name) ON UPDATE CASCADE ON DELETE CASCADE,
        url                TEXT NOT NULL,
        default_ownership  TEXT NOT NULL DEFAULT 'kept'
                           CHECK (default_ownership IN ('kept', 'delivered', 'handed-over')),
        disabled_at        TEXT,
        disabled_reason    TEXT,
        updated_at         TEXT NOT NULL
    ) STRICT;

    -- One row per webhook event; event_id is the webhook-id, the same on every retry. No foreign keys: an event
    -- (device.forgotten) outlives its device row.
    CREATE TABLE outbox (
        event_id         TEXT PRIMARY KEY NOT NULL,
        type             TEXT NOT NULL CHECK (type IN ('device.authorized', 'device.refreshed',
                                                       'device.handed_over', 'device.forgotten')),
        provider         TEXT NOT NULL,
        device_id        TEXT NOT NULL,
        profile          TEXT NOT NULL,
        generation       INTEGER NOT NULL,
        ownership        TEXT NOT NULL,
        created_at       TEXT NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at  TEXT NOT NULL,
        last_attempt_at  TEXT,
        last_error       TEXT,
        delivered_at     TEXT,
        delivered_to     TEXT
    ) STRICT;
    CREATE INDEX outbox_by_status ON outbox(status, next_attempt_at);
    CREATE INDEX outbox_by_device ON outbox(provider, profile, device_id);
    "#,
];
