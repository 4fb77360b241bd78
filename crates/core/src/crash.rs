//! Crash-test hook: `QUICKAUTH_CRASH_AT=<step>` aborts the process at a named step of the refresh protocol.
//!
//! Steps, in order: `before_send`, `after_send_before_keyring`, `after_keyring_before_db`,
//! `after_db_before_journal_clear`. Tests kill the process at each one and prove the next run completes the refresh.
//! Unset (the normal case) it costs one env lookup per step and does nothing.

/// The env var that names the step to abort at.
pub const CRASH_ENV: &str = "QUICKAUTH_CRASH_AT";

/// Every step the hook knows, in protocol order.
pub const CRASH_STEPS: [&str; 4] = [
    "before_send",
    "after_send_before_keyring",
    "after_keyring_before_db",
    "after_db_before_journal_clear",
];

/// Aborts (no unwinding, no destructors: like a power cut) when `QUICKAUTH_CRASH_AT` equals `step`.
pub(crate) fn crash_point(step: &'static str) {
    debug_assert!(CRASH_STEPS.contains(&step));
    crash_point_named(step);
}

/// The same hook for steps outside the refresh protocol (the webhook outbox: `webhook_after_send_before_ack`).
pub(crate) fn crash_point_named(step: &'static str) {
    if std::env::var(CRASH_ENV).is_ok_and(|v| v == step) {
        tracing::warn!(
            step,
            "QUICKAUTH_CRASH_AT reached: aborting on purpose (crash test)"
        );
        // A core dump would hold tokens in plain memory: make sure none is written.
        #[cfg(unix)]
        unsafe {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
        }
        std::process::abort();
    }
}
