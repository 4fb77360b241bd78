//! The SQLite store: migrations from empty and on reopen, every method, refusal rules, concurrent writers (two
//! handles and two processes), and that no column could hold a secret.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use quickauth_protocol::Localized;
use quickauth_vault::{
    DeviceRecord, HistoryEntry, ProfileRecord, Store, VaultError, SCHEMA_VERSION, STORE_FILE_NAME,
};

fn t(secs: i64, nanos: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + secs, nanos).unwrap()
}

fn profile(name: &str, provider: &str) -> ProfileRecord {
    ProfileRecord {
        name: name.into(),
        provider: provider.into(),
        client_id: Some("1012345678".into()),
        region: Some("cn".into()),
        api_version: Some("v2".into()),
        base_url: None,
        lingju_endpoint: None,
        builtin: false,
        created_at: t(0, 123_456_789),
        updated_at: t(0, 123_456_789),
    }
}

fn device(provider: &str, id: &str, profile: &str) -> DeviceRecord {
    DeviceRecord {
        provider: provider.into(),
        id: id.into(),
        profile: profile.into(),
        authorized_at: t(10, 1),
        expires_at: t(10 + 30 * 86_400, 0),
        refresh_expires_at: Some(t(10 + 35 * 86_400, 999_999_999)),
        last_refreshed_at: None,
        token_generation: 1,
        model: Some("K4".into()),
        last_status: Some("online".into()),
        needs_reauth: false,
    }
}

fn history(action: &str, outcome: &str, at: DateTime<Utc>) -> HistoryEntry {
    HistoryEntry {
        id: 0,
        at,
        action: action.into(),
        provider: "yilianyun".into(),
        device_id: Some("4004000001".into()),
        profile: Some("shop".into()),
        outcome: outcome.into(),
        error_kind: (outcome == "error").then(|| "api".into()),
        error_code: (outcome == "error").then_some(14),
        message: (outcome == "error").then(|| "签名错误 / bad sign".into()),
    }
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

#[test]
fn migrates_from_empty_and_reopens_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested/data");
    let store = Store::open(&data_dir).unwrap();
    assert_eq!(store.path(), data_dir.join(STORE_FILE_NAME));
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let tables: i64 = rusqlite::Connection::open(store.path())
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(tables >= 6, "migrations created the tables ({tables})");
    store.upsert_profile(&profile("shop", "yilianyun")).unwrap();
    drop(store);

    for _ in 0..3 {
        let store = Store::open(&data_dir).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(
            store.list_profiles().unwrap().len(),
            1,
            "reopening must neither lose nor duplicate data"
        );
    }

    // The file is in WAL mode, so other processes can read while one writes.
    let raw = rusqlite::Connection::open(data_dir.join(STORE_FILE_NAME)).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data_dir.join(STORE_FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "store file must not be readable by others: {mode:o}"
        );
    }
}

#[test]
fn refuses_a_newer_schema_and_a_non_database() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap();
    let raw = rusqlite::Connection::open(dir.path().join(STORE_FILE_NAME)).unwrap();
    raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(raw);
    let err = Store::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, VaultError::StoreTooNew { found, .. } if found == SCHEMA_VERSION + 1),
        "{err:?}"
    );
    assert_eq!(err.kind(), "store_too_new");
    assert!(err.message_en().contains("Update QuickAuth") && err.message_zh().contains("升级"));

    let garbage = tempfile::tempdir().unwrap();
    std::fs::write(garbage.path().join(STORE_FILE_NAME), vec![0x5a_u8; 8192]).unwrap();
    let err = Store::open(garbage.path()).unwrap_err();
    assert!(matches!(err, VaultError::StoreCorrupt { .. }), "{err:?}");
    assert_eq!(err.kind(), "store_corrupt");
}

#[test]
fn unusable_data_dir_is_a_store_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = Store::open(&file.join("data")).unwrap_err();
    assert_eq!(err.kind(), "store_io", "{err:?}");
    assert!(err.message_en().contains("data directory"));
}

#[test]
fn profiles_crud() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get_profile("shop").unwrap(), None);
    assert_eq!(store.list_profiles().unwrap(), vec![]);

    let mut shop = profile("shop", "yilianyun");
    store.upsert_profile(&shop).unwrap();
    assert_eq!(
        store.get_profile("shop").unwrap(),
        Some(shop.clone()),
        "exact round trip incl. nanoseconds"
    );

    let mut lingju = profile("灵聚门店", "lingju");
    lingju.client_id = None;
    lingju.region = None;
    lingju.api_version = None;
    lingju.base_url = Some("http://127.0.0.1:9/".into());
    lingju.lingju_endpoint = Some("bltapi".into());
    store.upsert_profile(&lingju).unwrap();
    let mut sandbox = profile("sandbox", "yilianyun");
    sandbox.builtin = true;
    store.upsert_profile(&sandbox).unwrap();
    let names: Vec<String> = store
        .list_profiles()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        names,
        ["sandbox", "shop", "灵聚门店"],
        "built-in first, then by name"
    );

    // Update keeps created_at, takes everything else.
    shop.client_id = Some("1099999999".into());
    shop.api_version = Some("v1".into());
    shop.created_at = t(500, 0);
    shop.updated_at = t(600, 5);
    store.upsert_profile(&shop).unwrap();
    let got = store.get_profile("shop").unwrap().unwrap();
    assert_eq!(got.client_id.as_deref(), Some("1099999999"));
    assert_eq!(got.api_version.as_deref(), Some("v1"));
    assert_eq!(got.created_at, t(0, 123_456_789));
    assert_eq!(got.updated_at, t(600, 5));

    let err = store.upsert_profile(&profile("bad", "feie")).unwrap_err();
    assert_eq!(err.kind(), "invalid_record", "{err:?}");

    assert!(store.delete_profile("灵聚门店").unwrap());
    assert!(!store.delete_profile("灵聚门店").unwrap());
    assert_eq!(store.list_profiles().unwrap().len(), 2);
}

#[test]
fn profile_with_devices_cannot_be_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.upsert_profile(&profile("shop", "yilianyun")).unwrap();
    store
        .upsert_device(&device("yilianyun", "4004000001", "shop"))
        .unwrap();
    store
        .upsert_device(&device("yilianyun", "4004000002", "shop"))
        .unwrap();
    let err = store.delete_profile("shop").unwrap_err();
    assert!(
        matches!(err, VaultError::ProfileInUse { devices: 2, .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), "profile_in_use");
    assert!(store.get_profile("shop").unwrap().is_some());
    store
        .delete_device("yilianyun", "shop", "4004000001")
        .unwrap();
    store
        .delete_device("yilianyun", "shop", "4004000002")
        .unwrap();
    assert!(store.delete_profile("shop").unwrap());
}

#[test]
fn devices_crud() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.upsert_profile(&profile("shop", "yilianyun")).unwrap();
    store.upsert_profile(&profile("ai", "lingju")).unwrap();

    let err = store
        .upsert_device(&device("yilianyun", "4004000001", "nope"))
        .unwrap_err();
    assert!(
        matches!(err, VaultError::UnknownProfile { ref name } if name == "nope"),
        "{err:?}"
    );
    assert_eq!(err.kind(), "unknown_profile");

    let mut a = device("yilianyun", "4004000001", "shop");
    store.upsert_device(&a).unwrap();
    assert_eq!(
        store.get_device("yilianyun", "shop", "4004000001").unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.get_device("lingju", "ai", "4004000001").unwrap(),
        None
    );

    // Same id under the other provider: a separate device.
    let mut b = device("lingju", "4004000001", "ai");
    b.authorized_at = t(20, 0);
    b.refresh_expires_at = None;
    b.model = None;
    b.last_status = None;
    store.upsert_device(&b).unwrap();
    let mut c = device("yilianyun", "4004000003", "shop");
    c.authorized_at = t(5, 0);
    store.upsert_device(&c).unwrap();

    let found = store.find_devices("4004000001").unwrap();
    assert_eq!(found, vec![b.clone(), a.clone()], "ordered by provider");
    let listed: Vec<(String, String)> = store
        .list_devices()
        .unwrap()
        .into_iter()
        .map(|d| (d.provider, d.id))
        .collect();
    assert_eq!(
        listed,
        [
            ("lingju", "4004000001"),
            ("yilianyun", "4004000001"),
            ("yilianyun", "4004000003")
        ]
        .map(|(p, i)| (p.to_string(), i.to_string())),
        "most recently authorized first"
    );

    // Update in place.
    a.expires_at = t(99, 0);
    a.last_refreshed_at = Some(t(98, 7));
    a.token_generation = 2;
    a.needs_reauth = true;
    a.last_status = Some("offline".into());
    store.upsert_device(&a).unwrap();
    assert_eq!(
        store.get_device("yilianyun", "shop", "4004000001").unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.list_devices().unwrap().len(), 3);

    let err = store
        .upsert_device(&device("feie", "1", "shop"))
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_record");

    assert!(store
        .delete_device("yilianyun", "shop", "4004000001")
        .unwrap());
    assert!(!store
        .delete_device("yilianyun", "shop", "4004000001")
        .unwrap());
    assert_eq!(store.find_devices("4004000001").unwrap(), vec![b]);
}

#[test]
fn one_printer_under_two_profiles_is_two_devices() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.upsert_profile(&profile("shop", "yilianyun")).unwrap();
    store
        .upsert_profile(&profile("chain", "yilianyun"))
        .unwrap();
    let mut a = device("yilianyun", "4004000001", "shop");
    let mut b = device("yilianyun", "4004000001", "chain");
    a.token_generation = 3;
    b.token_generation = 7;
    store.upsert_device(&a).unwrap();
    store.upsert_device(&b).unwrap();
    assert_eq!(
        store.get_device("yilianyun", "shop", "4004000001").unwrap(),
        Some(a.clone()),
        "authorizing under a second profile must not overwrite the first"
    );
    assert_eq!(
        store
            .get_device("yilianyun", "chain", "4004000001")
            .unwrap(),
        Some(b.clone())
    );
    assert_eq!(
        store.find_devices("4004000001").unwrap(),
        vec![b.clone(), a.clone()]
    );
    store
        .begin_refresh("yilianyun", "shop", "4004000001", 3, t(1, 0))
        .unwrap();
    assert!(store
        .delete_device("yilianyun", "chain", "4004000001")
        .unwrap());
    let pending = store.pending_refreshes().unwrap();
    assert_eq!(pending.len(), 1, "the other profile's journal row stays");
    assert_eq!(pending[0].profile, "shop");
    assert_eq!(store.find_devices("4004000001").unwrap(), vec![a]);
}

#[test]
fn v1_store_migrates_devices_and_pending_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(STORE_FILE_NAME);
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.pragma_update(None, "foreign_keys", true).unwrap();
        raw.execute_batch(quickauth_vault::migration_sql(0).unwrap())
            .unwrap();
        raw.pragma_update(None, "user_version", 1).unwrap();
        raw.execute_batch(
            "INSERT INTO profiles (name, provider, client_id, builtin, created_at, updated_at)
                 VALUES ('shop', 'yilianyun', '1012345678', 0, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z');
             INSERT INTO devices (provider, id, profile, authorized_at, expires_at, token_generation)
                 VALUES ('yilianyun', '4004000001', 'shop', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', 4);
             INSERT INTO devices (provider, id, profile, authorized_at, expires_at, token_generation)
                 VALUES ('yilianyun', '4004000002', 'shop', '2026-11-02T00:00:00Z', '2026-12-02T00:00:00Z', 1);
             INSERT INTO refresh_journal (provider, device_id, old_generation, started_at, attempts)
                 VALUES ('yilianyun', '4004000001', 4, '2026-11-20T00:00:00Z', 2);
             INSERT INTO grant_counts (provider, device_id, day, count) VALUES ('yilianyun', '4004000001', '2026-11-20', 5);",
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let d = store
        .get_device("yilianyun", "shop", "4004000001")
        .unwrap()
        .expect("device kept");
    assert_eq!(d.token_generation, 4);
    assert_eq!(store.list_devices().unwrap().len(), 2);
    let pending = store.pending_refreshes().unwrap();
    assert_eq!(
        pending.len(),
        1,
        "a refresh pending before the upgrade stays pending"
    );
    assert_eq!(
        (
            pending[0].profile.as_str(),
            pending[0].id.as_str(),
            pending[0].old_generation,
            pending[0].attempts
        ),
        ("shop", "4004000001", 4, 2)
    );
    assert_eq!(
        store
            .grants_on(
                "yilianyun",
                "4004000001",
                NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
            )
            .unwrap(),
        5
    );
    // The journal still follows its device.
    store
        .delete_device("yilianyun", "shop", "4004000001")
        .unwrap();
    assert_eq!(store.pending_refreshes().unwrap(), vec![]);
}

#[test]
fn grant_counts_per_device_and_day() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.grants_on("yilianyun", "4004000001", day(23)).unwrap(),
        0
    );
    for n in 1..=20 {
        assert_eq!(
            store
                .record_grant("yilianyun", "4004000001", day(23))
                .unwrap(),
            n
        );
    }
    assert_eq!(
        store.grants_on("yilianyun", "4004000001", day(23)).unwrap(),
        20
    );
    assert_eq!(
        store.grants_on("yilianyun", "4004000001", day(24)).unwrap(),
        0,
        "a new day starts at 0"
    );
    assert_eq!(
        store.grants_on("yilianyun", "4004000002", day(23)).unwrap(),
        0
    );
    assert_eq!(store.grants_on("lingju", "4004000001", day(23)).unwrap(), 0);
    assert_eq!(
        store
            .record_grant("yilianyun", "4004000001", day(24))
            .unwrap(),
        1
    );
    // The provider keeps counting after a device is forgotten locally, so must we (no device row needed).
    store.upsert_profile(&profile("shop", "yilianyun")).unwrap();
    store
        .upsert_device(&device("yilianyun", "4004000001", "shop"))
        .unwrap();
    store
        .delete_device("yilianyun", "shop", "4004000001")
        .unwrap();
    assert_eq!(
        store.grants_on("yilianyun", "4004000001", day(23)).unwrap(),
        20
    );
}

#[test]
fn history_appends_and_lists_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.list_history(10).unwrap(), vec![]);
    let mut ids = Vec::new();
    for i in 0..5 {
        let outcome = if i % 2 == 0 { "ok" } else { "error" };
        ids.push(
            store
                .append_history(&history(&format!("action-{i}"), outcome, t(i, 0)))
                .unwrap(),
        );
    }
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "ids increase: {ids:?}");
    let listed = store.list_history(3).unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(
        listed.iter().map(|h| h.action.as_str()).collect::<Vec<_>>(),
        ["action-4", "action-3", "action-2"]
    );
    let mut expected = history("action-3", "error", t(3, 0));
    expected.id = ids[3];
    assert_eq!(listed[1], expected, "every field round-trips");
    assert_eq!(store.list_history(100).unwrap().len(), 5);
    assert_eq!(store.list_history(0).unwrap().len(), 0);

    let err = store
        .append_history(&history("x", "maybe", t(9, 0)))
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_record");
}

#[test]
fn refresh_journal_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.upsert_profile(&profile("shop", "yilianyun")).unwrap();
    store
        .upsert_device(&device("yilianyun", "4004000001", "shop"))
        .unwrap();
    store
        .upsert_device(&device("yilianyun", "4004000002", "shop"))
        .unwrap();
    assert_eq!(store.pending_refreshes().unwrap(), vec![]);

    let first = store
        .begin_refresh("yilianyun", "shop", "4004000001", 1, t(100, 0))
        .unwrap();
    assert_eq!(
        (first.old_generation, first.attempts, first.started_at),
        (1, 1, t(100, 0))
    );
    let again = store
        .begin_refresh("yilianyun", "shop", "4004000001", 1, t(200, 0))
        .unwrap();
    assert_eq!(
        (again.attempts, again.started_at),
        (2, t(100, 0)),
        "attempts count, first start is kept"
    );
    store
        .begin_refresh("yilianyun", "shop", "4004000002", 4, t(50, 0))
        .unwrap();

    let pending = store.pending_refreshes().unwrap();
    assert_eq!(
        pending.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["4004000002", "4004000001"]
    );
    assert_eq!(pending[1], again);

    assert!(store
        .finish_refresh("yilianyun", "shop", "4004000001")
        .unwrap());
    assert!(!store
        .finish_refresh("yilianyun", "shop", "4004000001")
        .unwrap());
    // Forgetting a device drops its journal row with it.
    store
        .delete_device("yilianyun", "shop", "4004000002")
        .unwrap();
    assert_eq!(store.pending_refreshes().unwrap(), vec![]);

    let err = store
        .begin_refresh("yilianyun", "shop", "no-such-device", 0, t(0, 0))
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_record", "{err:?}");
}

#[test]
fn settings_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get_setting("language").unwrap(), None);
    store.set_setting("language", "zh").unwrap();
    store.set_setting("language", "en").unwrap();
    store.set_setting("refresh_days_before", "5").unwrap();
    assert_eq!(
        store.get_setting("language").unwrap().as_deref(),
        Some("en")
    );
    assert!(store.delete_setting("language").unwrap());
    assert!(!store.delete_setting("language").unwrap());
    assert_eq!(store.get_setting("language").unwrap(), None);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.get_setting("refresh_days_before").unwrap().as_deref(),
        Some("5")
    );
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    assert_send_sync::<quickauth_vault::Keyring>();
}

const WRITES_PER_WRITER: u32 = 150;

fn hammer(store: &Store, tag: &str) {
    for i in 0..WRITES_PER_WRITER {
        store
            .record_grant("yilianyun", "4004000001", day(23))
            .unwrap();
        store
            .append_history(&history(&format!("{tag}-{i}"), "ok", Utc::now()))
            .unwrap();
        store
            .set_setting(&format!("{tag}-last"), &i.to_string())
            .unwrap();
    }
}

#[test]
fn two_handles_write_concurrently_without_losing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Store::open(dir.path()).unwrap());
    let b = Arc::new(Store::open(dir.path()).unwrap());
    let threads: Vec<_> = [
        (a.clone(), "a1"),
        (a.clone(), "a2"),
        (b.clone(), "b1"),
        (b.clone(), "b2"),
    ]
    .into_iter()
    .map(|(s, tag)| std::thread::spawn(move || hammer(&s, tag)))
    .collect();
    for th in threads {
        th.join().unwrap();
    }
    assert_eq!(
        a.grants_on("yilianyun", "4004000001", day(23)).unwrap(),
        4 * WRITES_PER_WRITER
    );
    assert_eq!(
        b.list_history(10_000).unwrap().len() as u32,
        4 * WRITES_PER_WRITER
    );
    assert_eq!(
        b.get_setting("a1-last").unwrap(),
        Some((WRITES_PER_WRITER - 1).to_string())
    );
}

#[test]
#[ignore = "child entry point of two_processes_write_concurrently; does nothing on its own"]
fn store_writer_child() {
    let Ok(dir) = std::env::var("QA_STORE_DIR") else {
        return;
    };
    let store = Store::open(Path::new(&dir)).unwrap();
    hammer(&store, "child");
    println!("STORE_CHILD_DONE");
}

#[test]
fn two_processes_write_concurrently_without_losing_anything() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap();
    let dir_str = dir.path().to_str().unwrap().to_owned();
    let child = std::thread::spawn(move || {
        common::run_child(
            "store_writer_child",
            &[("QA_STORE_DIR", Some(dir_str.as_str()))],
            &[],
        )
    });
    let store = Store::open(dir.path()).unwrap();
    hammer(&store, "parent");
    let out = child.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("STORE_CHILD_DONE"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        store.grants_on("yilianyun", "4004000001", day(23)).unwrap(),
        2 * WRITES_PER_WRITER
    );
    assert_eq!(
        store.list_history(10_000).unwrap().len() as u32,
        2 * WRITES_PER_WRITER
    );
}

#[test]
fn a_writer_holding_the_lock_past_the_busy_timeout_is_store_busy() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut raw = rusqlite::Connection::open(dir.path().join(STORE_FILE_NAME)).unwrap();
    let tx = raw
        .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
        .unwrap();
    let started = std::time::Instant::now();
    let err = store.set_setting("k", "v").unwrap_err();
    assert!(matches!(err, VaultError::StoreBusy { .. }), "{err:?}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(4),
        "waited for the busy timeout first"
    );
    assert_eq!(err.kind(), "store_busy");
    assert!(err.retryable());
    drop(tx);
    store.set_setting("k", "v").unwrap();
}

/// Every column of every table, by name. A new column must be added here on purpose, after checking it can never
/// hold a secret.
#[test]
fn schema_has_no_column_that_could_hold_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let raw = rusqlite::Connection::open(dir.path().join(STORE_FILE_NAME)).unwrap();
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let names: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in names {
        let cols: BTreeSet<String> = raw
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tables.insert(table, cols);
    }
    let expected: BTreeMap<String, BTreeSet<String>> = [
        ("profiles", "name provider client_id region api_version base_url lingju_endpoint builtin created_at updated_at"),
        (
            "devices",
            "provider id profile authorized_at expires_at refresh_expires_at last_refreshed_at token_generation model \
             last_status needs_reauth ownership handed_over_at handed_over_to pair_released_at",
        ),
        ("delivery_destinations", "profile url default_ownership disabled_at disabled_reason updated_at"),
        (
            "outbox",
            "event_id type provider device_id profile generation ownership created_at status attempts \
             next_attempt_at last_attempt_at last_error delivered_at delivered_to",
        ),
        ("grant_counts", "provider device_id day count"),
        ("history", "id at action provider device_id profile outcome error_kind error_code message"),
        ("refresh_journal", "provider profile device_id old_generation started_at attempts"),
        ("settings", "key value"),
    ]
    .into_iter()
    .map(|(t, cols)| (t.to_string(), cols.split_whitespace().map(String::from).collect()))
    .collect();
    assert_eq!(tables, expected);
    let forbidden = [
        "secret",
        "token",
        "qr",
        "msign",
        "appkey",
        "authcode",
        "password",
        "access",
        "refresh_tok",
    ];
    for (table, cols) in &tables {
        for col in cols {
            let allowed = col == "token_generation"; // a counter, not a token
            assert!(
                allowed || !forbidden.iter().any(|f| col.contains(f)),
                "{table}.{col} looks like a secret column"
            );
        }
    }
}

/// Positive control for the byte scan used elsewhere: the scan finds a value the store does hold, and does not find
/// one that only went to the keyring.
#[test]
fn store_files_hold_only_what_the_store_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .upsert_profile(&profile("marker-profile-5d1e", "yilianyun"))
        .unwrap();
    let keyring = quickauth_vault::Keyring::with_backend(
        dir.path(),
        std::time::Duration::from_secs(5),
        Arc::new(MemoryBackend::default()),
    )
    .unwrap();
    keyring
        .set(
            &quickauth_vault::accounts::client_secret("marker-profile-5d1e"),
            "kr-only-secret-9b3f",
        )
        .unwrap();
    drop(store);
    let files = sqlite_files(dir.path());
    assert!(!files.is_empty());
    let all: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    assert!(
        contains(&all, b"marker-profile-5d1e"),
        "scan must see what the store holds"
    );
    assert!(!contains(&all, b"kr-only-secret-9b3f"));
}

fn sqlite_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(STORE_FILE_NAME)
        })
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[derive(Default)]
struct MemoryBackend(std::sync::Mutex<BTreeMap<(String, String), String>>);

impl quickauth_vault::SecretBackend for MemoryBackend {
    fn get(
        &self,
        s: &str,
        a: &str,
    ) -> Result<Option<zeroize::Zeroizing<String>>, quickauth_vault::BackendError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(&(s.into(), a.into()))
            .cloned()
            .map(zeroize::Zeroizing::new))
    }
    fn set(&self, s: &str, a: &str, v: &str) -> Result<(), quickauth_vault::BackendError> {
        self.0
            .lock()
            .unwrap()
            .insert((s.into(), a.into()), v.into());
        Ok(())
    }
    fn delete(&self, s: &str, a: &str) -> Result<(), quickauth_vault::BackendError> {
        self.0.lock().unwrap().remove(&(s.into(), a.into()));
        Ok(())
    }
    fn probe(&self, _: &str) -> Result<(), quickauth_vault::BackendError> {
        Ok(())
    }
}
