//! The webhook delivery fault matrix (issue 9) as a test: every case must lose nothing, deliver duplicates only
//! under the same webhook-id, and show that its fault really happened. The same matrix is the "Delivery" section
//! of docs/reliability.md.

mod common;

use std::path::PathBuf;

use quickauth_reliability::delivery;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delivery_matrix_loses_nothing_and_repeats_only_under_the_same_id() {
    if !common::in_keyring_session(
        "delivery_matrix_loses_nothing_and_repeats_only_under_the_same_id",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_qa-reliability"));
    let outcome = delivery::run_matrix(dir.path(), &exe, |line| eprintln!("{line}")).await;
    let md = delivery::markdown(&outcome);
    eprintln!("{md}");
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    let names: Vec<&str> = outcome.cases.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "refused",
            "slow",
            "http500",
            "timeout",
            "ack_lost",
            "kill9",
            "moved",
            "gone",
            "rejected",
            "superseded"
        ]
    );
    for c in &outcome.cases {
        assert!(c.passed(), "case {} failed: {c:?}", c.name);
    }
    assert_eq!(outcome.lost(), 0);
    assert_eq!(outcome.other_id_duplicates(), 0);
    assert!(
        outcome.duplicates_same_id() > 0,
        "the ack-lost and kill cases must re-send"
    );
    assert!(outcome.ok());
}
