//! A small reliability run (about 50 faults, without the 5 s / 15 s timeout kinds the matrix already covers) so CI
//! exercises the whole run: it fails if any token is lost or any error is not the specific expected one.

mod common;

use std::path::PathBuf;

use quickauth_reliability::{report, run, RunConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn small_reliability_run_loses_no_token() {
    if !common::in_keyring_session("small_reliability_run_loses_no_token") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RunConfig::new(
        PathBuf::from(env!("CARGO_BIN_EXE_qa-reliability")),
        dir.path().join("data"),
        50,
    );
    cfg.include_timeouts = false;
    cfg.child_parallelism = 3;
    cfg.concurrent_every = 2;
    cfg.include_delivery = false; // tests/delivery_matrix.rs runs it
    let outcome = run::run(cfg, |line| eprintln!("{line}"))
        .await
        .expect("run starts");
    eprintln!("{}", report::summary(&outcome));
    assert!(
        outcome.faults_injected() >= 50,
        "only {} faults injected",
        outcome.faults_injected()
    );
    assert_eq!(
        outcome.tokens_lost(),
        0,
        "tokens lost: {:?}",
        outcome.checks
    );
    let unclear: Vec<_> = outcome
        .unclear()
        .iter()
        .map(|e| (e.fault.name(), e.op.name(), e.problems.clone()))
        .collect();
    assert!(
        unclear.is_empty(),
        "errors that were not specific: {unclear:?}"
    );
    assert!(outcome.refreshes_completed_after_crash() > 0);
    assert!(!outcome.concurrent.is_empty());
    assert!(outcome.ok(), "{}", report::summary(&outcome));
    // The report renders every fault kind that was injected.
    let md = report::markdown(&outcome, "test", "cargo test");
    for kind in outcome.by_kind().keys() {
        assert!(
            md.contains(kind.name()),
            "{} missing from the report",
            kind.name()
        );
    }
}
