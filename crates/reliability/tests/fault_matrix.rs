//! The fault matrix: every network and sandbox fault against authorize, refresh and a printer call, over real loopback
//! sockets and the real gnome-keyring; keyring faults, crashes at every `QUICKAUTH_CRASH_AT` step, kill -9 mid-request
//! and concurrent refreshes in real child processes. Each case checks the specific error (kind, zh/en message,
//! action), the number of requests that reached the server, the stored state, and the recovery.

mod common;

use quickauth_reliability::episode::{self, EpisodeRecord};
use quickauth_reliability::faults::{Expect, CRASH_KINDS};
use quickauth_reliability::{FaultKind, Op};

const OPS: [Op; 3] = [Op::Authorize, Op::Refresh, Op::PrinterStatus];

fn assert_passed(records: &[EpisodeRecord]) {
    let mut failures = Vec::new();
    for r in records {
        eprintln!(
            "{:<36} {:<15} clear={} {:>6} ms reached={:?} bounded={} intact={} recovered={} tag={:?}",
            r.fault.name(),
            r.op.name(),
            r.clear,
            r.ms,
            r.reached_server,
            r.bounded,
            r.state_intact,
            r.recovered,
            r.error.as_ref().map(|e| e.tag.as_str())
        );
        if let Some(e) = &r.error {
            // Both languages say what happened and what to do.
            assert!(!e.message_zh.is_empty() && !e.message_en.is_empty());
        }
        if !r.passed() {
            failures.push(format!(
                "{} / {}: {}",
                r.fault.name(),
                r.op.name(),
                r.problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
}

/// One device per operation, all three concurrently (each has its own sandbox and profile).
async fn matrix_row(fault: FaultKind) -> Vec<EpisodeRecord> {
    let t = common::fleet().await;
    let mut devices = Vec::new();
    for (i, _) in OPS.iter().enumerate() {
        devices.push(t.fleet.authorized_device(i).await.expect("authorize"));
    }
    let fleet = &t.fleet;
    let (a, r, p) = tokio::join!(
        episode::in_process(fleet, &devices[0], fault, OPS[0]),
        episode::in_process(fleet, &devices[1], fault, OPS[1]),
        episode::in_process(fleet, &devices[2], fault, OPS[2]),
    );
    let records = vec![a, r, p];
    if let Expect::Error { tag, .. } = fault.expect() {
        for r in &records {
            assert_eq!(
                r.error.as_ref().map(|e| e.tag.as_str()),
                Some(tag),
                "{} / {}",
                fault.name(),
                r.op.name()
            );
        }
    }
    records
}

macro_rules! matrix_test {
    ($name:ident, $fault:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            if !common::in_keyring_session(stringify!($name)) {
                return;
            }
            assert_passed(&matrix_row($fault).await);
        }
    };
}

matrix_test!(connection_refused, FaultKind::ConnectionRefused);
matrix_test!(connect_timeout, FaultKind::ConnectTimeout);
matrix_test!(read_timeout, FaultKind::ReadTimeout);
matrix_test!(tls_self_signed, FaultKind::Tls);
matrix_test!(slow_server, FaultKind::SlowServer);
matrix_test!(html_500, FaultKind::Html500);
matrix_test!(non_json, FaultKind::NonJson);
matrix_test!(truncated_body, FaultKind::Truncated);
matrix_test!(reply_dropped_after_processing, FaultKind::DropReply);
matrix_test!(connection_reset, FaultKind::Reset);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_refresh_reply_is_completed_with_the_tokens_the_server_issued() {
    if !common::in_keyring_session(
        "lost_refresh_reply_is_completed_with_the_tokens_the_server_issued",
    ) {
        return;
    }
    let t = common::fleet().await;
    let dev = t.fleet.authorized_device(0).await.unwrap();
    let before = t.fleet.snapshot(&dev).unwrap();
    let grants_before = dev.sandbox.grants_today(&dev.machine_code).unwrap();
    // Every reply of this refresh is lost, although the server processes each request.
    dev.sandbox.set_fault(
        quickauth_sandbox::FaultRule::new(quickauth_sandbox::FaultMode::DropReply)
            .on_path("/v2/oauth/oauth"),
    );
    let err = t
        .fleet
        .qa
        .refresh(&dev.id())
        .await
        .expect_err("every reply is dropped");
    dev.sandbox.clear_faults();
    let o = quickauth_reliability::Observed::from_error(&err);
    assert_eq!(o.tag, "transport/ConnectionClosed");
    assert!(o.message_zh.contains("可能已被处理"), "{}", o.message_zh);
    assert!(
        o.message_en.contains("may have been processed"),
        "{}",
        o.message_en
    );
    // The server issued exactly one new pair (the retries replayed the same old refresh token).
    assert_eq!(
        dev.sandbox.grants_today(&dev.machine_code).unwrap(),
        grants_before + 1
    );
    let mid = t.fleet.snapshot(&dev).unwrap();
    assert!(
        mid.same_tokens_as(&before),
        "the old pair stays until the new one is stored"
    );
    assert_eq!(
        mid.journal.as_ref().map(|j| j.old_generation),
        before.generation,
        "the refresh stays pending"
    );

    let report = t
        .fleet
        .qa
        .refresh(&dev.id())
        .await
        .expect("next refresh completes the lost one");
    assert_eq!(
        report.outcome,
        quickauth_core::RefreshOutcome::Recovered {
            generation: before.generation.unwrap() + 1
        }
    );
    let after = t.fleet.holds_valid_pair(&dev).await.unwrap();
    // Exactly the pair the server issued for the lost reply: replaying the old refresh token returns it.
    episode::check_replay(&dev, &before, &after).await.unwrap();
    assert_eq!(
        dev.sandbox.grants_today(&dev.machine_code).unwrap(),
        grants_before + 1,
        "recovery must not refresh again"
    );
    assert!(after.journal.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_first_authorize_leaves_no_half_written_device() {
    if !common::in_keyring_session("failed_first_authorize_leaves_no_half_written_device") {
        return;
    }
    let t = common::fleet().await;
    for (i, mode) in [
        quickauth_sandbox::FaultMode::DropReply,
        quickauth_sandbox::FaultMode::Truncated,
        quickauth_sandbox::FaultMode::Html500,
        quickauth_sandbox::FaultMode::NonJson,
        quickauth_sandbox::FaultMode::Reset,
    ]
    .into_iter()
    .enumerate()
    {
        let dev = t.fleet.new_device(i).await.unwrap();
        dev.sandbox
            .set_fault(quickauth_sandbox::FaultRule::new(mode).on_path("/v2/oauth/scancodemodel"));
        let err = t
            .fleet
            .qa
            .authorize_yilianyun(&dev.profile, dev.machine_code(), dev.msign())
            .await;
        dev.sandbox.clear_faults();
        assert!(err.is_err(), "{mode:?}");
        let snap = t.fleet.snapshot(&dev).unwrap();
        assert!(
            snap.access_token.is_none() && snap.row.is_none() && snap.journal.is_none(),
            "{mode:?}: {snap:?}"
        );
        assert!(
            t.fleet.qa.device(&dev.id()).is_err(),
            "{mode:?}: a device is listed"
        );
        // Trying again (what the message says) authorizes it properly.
        t.fleet
            .qa
            .authorize_yilianyun(&dev.profile, dev.machine_code(), dev.msign())
            .await
            .unwrap();
        let snap = t.fleet.holds_valid_pair(&dev).await.unwrap();
        assert_eq!(snap.generation, Some(1), "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyring_unavailable_and_never_answering() {
    if !common::in_keyring_session("keyring_unavailable_and_never_answering") {
        return;
    }
    let t = common::fleet().await;
    let mut records = Vec::new();
    for (i, (fault, op)) in [
        FaultKind::KeyringUnavailable,
        FaultKind::KeyringNeverAnswers,
    ]
    .into_iter()
    .flat_map(|f| OPS.into_iter().map(move |op| (f, op)))
    .enumerate()
    {
        let dev = t.fleet.authorized_device(i).await.unwrap();
        records.push(episode::keyring_fault(&t.fleet, &t.env, &dev, fault, op).await);
    }
    for r in &records {
        // "A clear error within 5 s": the keyring bound here is 2 s.
        assert!(r.ms < 5_000, "{}: {} ms", r.fault.name(), r.ms);
    }
    assert_passed(&records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_at_every_step_is_completed_by_the_next_start() {
    if !common::in_keyring_session("crash_at_every_step_is_completed_by_the_next_start") {
        return;
    }
    let t = common::fleet().await;
    let dev = t.fleet.authorized_device(0).await.unwrap();
    let mut records = Vec::new();
    // One device through all four steps in a row: each recovery must leave it ready for the next crash.
    for kind in CRASH_KINDS {
        records.push(episode::crash(&t.fleet, &t.env, &dev, kind).await);
    }
    assert_passed(&records);
    assert!(
        records.iter().all(|r| r.refresh_completed),
        "every crashed refresh must be completed: {records:?}"
    );
    assert_eq!(
        t.fleet.snapshot(&dev).unwrap().generation,
        Some(1 + CRASH_KINDS.len() as i64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_the_refresh_request_is_in_flight() {
    if !common::in_keyring_session("kill_9_while_the_refresh_request_is_in_flight") {
        return;
    }
    let t = common::fleet().await;
    let dev = t.fleet.authorized_device(0).await.unwrap();
    let mut records = Vec::new();
    for _ in 0..3 {
        records.push(episode::kill_in_flight(&t.fleet, &t.env, &dev).await);
    }
    assert_passed(&records);
    assert_eq!(
        t.fleet.snapshot(&dev).unwrap().generation,
        Some(4),
        "each killed refresh completed exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_from_several_processes_send_one_request() {
    if !common::in_keyring_session("concurrent_refreshes_from_several_processes_send_one_request") {
        return;
    }
    let t = common::fleet().await;
    let dev = t.fleet.authorized_device(0).await.unwrap();
    let rec = episode::concurrent_refresh(&t.fleet, &t.env, &dev, 4).await;
    assert!(rec.problems.is_empty(), "{rec:?}");
    assert_eq!(
        (rec.server_refreshes, rec.refreshed, rec.already_refreshed),
        (1, 1, 3)
    );
}
