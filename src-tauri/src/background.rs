//! Keeps devices fresh in the background: opens the core (retrying with backoff while it fails, e.g. a locked
//! keyring or an unreadable data dir, and telling the page why through event `core-status`), finishes any refresh
//! a previous run left pending (the core does that on open), then refreshes due devices on an interval.

use std::future::Future;
use std::time::Duration;

use quickauth_core::Backoff;
use tauri::{AppHandle, Emitter, Manager};

use crate::commands::{run_refresh_due, DevicesChanged};
use crate::error::ErrorReport;
use crate::state::{AppState, CoreStatus};

/// How often due devices are refreshed (the core decides which are due).
fn refresh_interval() -> Duration {
    let secs = std::env::var("QUICKAUTH_REFRESH_INTERVAL_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30 * 60);
    Duration::from_secs(secs.max(10))
}

/// Waits between attempts to open the core: 2 s doubling up to 5 min (with jitter), for as long as the app runs.
pub const OPEN_RETRY: Backoff = Backoff {
    attempts: u32::MAX,
    initial: Duration::from_secs(2),
    cap: Duration::from_secs(300),
};

/// Calls `open` until it succeeds; after each failure `failed(error, wait)` is told before waiting `wait`.
pub async fn open_with_retry<T, F, Fut>(
    backoff: Backoff,
    mut open: F,
    mut failed: impl FnMut(&ErrorReport, Duration),
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ErrorReport>>,
{
    let mut retry = 0u32;
    loop {
        match open().await {
            Ok(v) => return v,
            Err(e) => {
                retry = retry.saturating_add(1);
                let wait = backoff.delay(retry);
                failed(&e, wait);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

fn publish(app: &AppHandle, status: CoreStatus) {
    app.state::<AppState>().set_core_status(status.clone());
    let _ = app.emit("core-status", status);
}

pub fn spawn(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let core = open_with_retry(
            OPEN_RETRY,
            || {
                let app = app.clone();
                async move { app.state::<AppState>().core().await }
            },
            |e, wait| {
                tracing::warn!(kind = %e.kind, retry_in_s = wait.as_secs(), "core could not be opened; retrying");
                publish(
                    &app,
                    CoreStatus { ok: Some(false), error: Some(e.clone()), retry_in_secs: Some(wait.as_secs()) },
                );
            },
        )
        .await;
        publish(
            &app,
            CoreStatus {
                ok: Some(true),
                error: None,
                retry_in_secs: None,
            },
        );
        // The outbox (issue 9): due webhook deliveries every minute, independent of the refresh interval.
        let outbox_core = core.clone();
        tauri::async_runtime::spawn(async move {
            loop {
                tokio::time::sleep(crate::commands::delivery::DELIVERY_INTERVAL).await;
                if let Err(e) = crate::commands::delivery::background_deliveries(&outbox_core).await
                {
                    tracing::warn!(kind = %e.kind, "background delivery pass failed");
                }
            }
        });
        let mut first = true;
        loop {
            tokio::time::sleep(if first {
                Duration::from_secs(20)
            } else {
                refresh_interval()
            })
            .await;
            first = false;
            match run_refresh_due(&core).await {
                Ok(rep) => {
                    if rep.checked() > 0 {
                        let _ = app.emit(
                            "devices-changed",
                            DevicesChanged {
                                refreshed: rep.refreshed(),
                                reason: "background",
                            },
                        );
                    }
                }
                Err(e) => tracing::warn!(kind = %e.kind, "background refresh failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_core_that_fails_to_open_is_retried_and_each_failure_is_reported() {
        let calls = AtomicU32::new(0);
        let mut reported = Vec::new();
        let fast = Backoff {
            attempts: u32::MAX,
            initial: Duration::from_millis(2),
            cap: Duration::from_millis(8),
        };
        let v = open_with_retry(
            fast,
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 3 {
                        Err(ErrorReport::from(&quickauth_core::Error::InvalidInput {
                            field: "x",
                            detail: "locked".into(),
                        }))
                    } else {
                        Ok(n)
                    }
                }
            },
            |e, wait| reported.push((e.kind.clone(), wait)),
        )
        .await;
        assert_eq!(v, 3, "the fourth attempt opened it");
        assert_eq!(reported.len(), 3, "each failure was reported to the page");
        assert!(
            reported.iter().all(|(_, w)| *w <= Duration::from_millis(8)),
            "waits stay under the cap"
        );
    }

    #[test]
    fn open_retries_back_off_to_five_minutes() {
        assert_eq!(OPEN_RETRY.ceiling(1), Duration::from_secs(2));
        assert_eq!(OPEN_RETRY.ceiling(4), Duration::from_secs(16));
        assert_eq!(OPEN_RETRY.ceiling(40), Duration::from_secs(300));
    }
}
