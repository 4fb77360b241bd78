//! The delivery fault matrix (issue 9): webhook events of `delivered` devices under receiver faults, lost acks,
//! a SIGKILL between send and acknowledgement, and a destination changed while events are pending.
//!
//! Each case has its own data dir and three sandbox printers authorized under the built-in profile with a
//! `delivered` default. The case injects its fault and runs the outbox until it is empty or gives up. Then it
//! checks three things:
//! - **Nothing lost:** every event is delivered. Each device's newest pair at the receiver is the pair in
//!   QuickAuth's keyring.
//! - **Duplicates only under the same `webhook-id`:** no (device, type, generation) reached the receiver under two
//!   ids.
//! - **The fault happened:** the receiver or the outbox shows it.
//!
//! Tokens stay in memory (the receiver's and the keyring's); the report holds counts only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use quickauth_core::{Options, Ownership, QuickAuth, SigningSecret, WebhookSecret};
use quickauth_protocol::secret::Msign;
use quickauth_protocol::{DeviceKey, MachineCode};
use quickauth_sandbox::{ReceiverFault, ReceiverHandle};
use serde::Serialize;

use crate::child::{self, ChildArgs, ChildSpec};

/// The sender's per-request bound during the matrix (the product default is 10 s; the timeout case waits it out).
pub const MATRIX_WEBHOOK_TIMEOUT_MS: u64 = 1_500;
const DEVICES: usize = 3;
const PROFILE: &str = quickauth_core::BUILTIN_SANDBOX_PROFILE;
/// A test signing secret (whsec_ + base64 of 32 bytes); never a production value.
const SECRET: &str = "whsec_cmVsaWFiaWxpdHktbWF0cml4LWRlbGl2ZXJ5LXNlY3JldCE=";

/// One row of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryCase {
    pub name: &'static str,
    pub fault: &'static str,
    /// Events queued over the case (replaced ones included).
    pub events: usize,
    /// Sends attempted, over every event (the outbox's attempt counts).
    pub attempts: i64,
    /// Requests the receiver accepted (verified) / distinct webhook ids among them.
    pub received: usize,
    pub distinct: usize,
    /// Events never delivered, plus devices whose newest pair at the receiver is not QuickAuth's current one.
    pub lost: usize,
    /// (device, type, generation) that arrived under more than one webhook-id: must be 0.
    pub other_id_duplicates: usize,
    /// Undelivered events replaced by a newer pair's event.
    pub replaced: usize,
    /// The injected fault was observed (otherwise the case proves nothing).
    pub fault_seen: bool,
    pub note: String,
    pub ms: u64,
}

impl DeliveryCase {
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.other_id_duplicates == 0 && self.fault_seen
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryOutcome {
    pub cases: Vec<DeliveryCase>,
    pub problems: Vec<String>,
    pub wall_ms: u64,
}

impl DeliveryOutcome {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
            && !self.cases.is_empty()
            && self.cases.iter().all(DeliveryCase::passed)
    }
    pub fn events(&self) -> usize {
        self.cases.iter().map(|c| c.events).sum()
    }
    pub fn lost(&self) -> usize {
        self.cases.iter().map(|c| c.lost).sum()
    }
    pub fn duplicates_same_id(&self) -> usize {
        self.cases.iter().map(|c| c.received - c.distinct).sum()
    }
    pub fn other_id_duplicates(&self) -> usize {
        self.cases.iter().map(|c| c.other_id_duplicates).sum()
    }
}

/// Sets the sender's timeout for this process and its children. Call before any webhook is sent in the process.
pub fn configure_timeout() {
    // Read once by the core's webhook client; set at start, before any thread sends a webhook.
    std::env::set_var(
        "QUICKAUTH_WEBHOOK_TIMEOUT_MS",
        MATRIX_WEBHOOK_TIMEOUT_MS.to_string(),
    );
}

struct Case {
    qa: QuickAuth,
    dir: PathBuf,
    devices: Vec<String>,
    started: Instant,
}

type R<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

async fn receiver() -> R<ReceiverHandle> {
    ReceiverHandle::start(([127, 0, 0, 1], 0).into(), SECRET)
        .await
        .map_err(err)
}

fn secret() -> SigningSecret {
    SigningSecret::Given(WebhookSecret::parse(SECRET).expect("valid test secret"))
}

impl Case {
    async fn new(root: &Path, name: &str, url: &str) -> R<Case> {
        let dir = root.join(format!("delivery-{name}"));
        let qa = QuickAuth::open(Options::new(&dir)).await.map_err(err)?;
        qa.set_delivery(PROFILE, url, Some(Ownership::Delivered), secret())
            .map_err(err)?;
        let mut devices = Vec::new();
        while devices.len() < DEVICES {
            let mc = quickauth_sandbox::keys::random_machine_code();
            if devices.contains(&mc) {
                continue;
            }
            let key = DeviceKey::Msign(Msign::new(quickauth_sandbox::msign_for(&mc)));
            qa.authorize_yilianyun(PROFILE, MachineCode::parse(&mc).map_err(err)?, key)
                .await
                .map_err(err)?;
            devices.push(mc);
        }
        Ok(Case {
            qa,
            dir,
            devices,
            started: Instant::now(),
        })
    }

    async fn deliver(&self) -> R<quickauth_core::DeliverRun> {
        self.qa.deliver(true).await.map_err(err)
    }

    /// Runs the outbox (ignoring backoff) until nothing is pending, at most `rounds` times.
    async fn drain(&self, rounds: usize) -> R<()> {
        for _ in 0..rounds {
            let run = self.deliver().await?;
            if run.pending == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The verdict: what was queued, sent, received; losses and foreign duplicates.
    fn check(
        &self,
        name: &'static str,
        fault: &'static str,
        rx: &[&ReceiverHandle],
        queued: &BTreeSet<String>,
        fault_seen: bool,
        note: String,
    ) -> R<DeliveryCase> {
        let outbox = self.qa.deliveries(10_000).map_err(err)?;
        let in_outbox: BTreeSet<String> = outbox.iter().map(|d| d.event_id.clone()).collect();
        let mut lost = outbox.iter().filter(|d| d.status != "delivered").count();
        let attempts = outbox.iter().map(|d| d.attempts).sum();
        let received: Vec<_> = rx.iter().flat_map(|r| r.received()).collect();
        let distinct: BTreeSet<&String> = received.iter().map(|e| &e.webhook_id).collect();
        let mut ids_per_content: BTreeMap<(String, String, i64), BTreeSet<String>> =
            BTreeMap::new();
        for e in &received {
            ids_per_content
                .entry((e.device.clone(), e.kind.clone(), e.generation))
                .or_default()
                .insert(e.webhook_id.clone());
        }
        let other_id_duplicates = ids_per_content.values().filter(|ids| ids.len() > 1).count();
        // Newest pair per device across receivers (a destination change splits them) vs the keyring's pair.
        let mut newest: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
        for e in &received {
            if e.access_token.is_none() {
                continue;
            }
            let better = newest
                .get(&e.device)
                .is_none_or(|(g, _)| e.generation >= *g);
            if better {
                newest.insert(e.device.clone(), (e.generation, e.access_token.clone()));
            }
        }
        for mc in &self.devices {
            let keyring = self
                .qa
                .reveal_tokens(&format!("yilianyun:{mc}"))
                .map_err(err)?;
            let at_receiver = newest.get(mc).and_then(|(_, at)| at.as_deref());
            if at_receiver != Some(keyring.access_token.expose()) {
                lost += 1;
            }
        }
        let all_queued: BTreeSet<&String> = queued.iter().chain(in_outbox.iter()).collect();
        Ok(DeliveryCase {
            name,
            fault,
            events: all_queued.len(),
            attempts,
            received: received.len(),
            distinct: distinct.len(),
            lost,
            other_id_duplicates,
            replaced: all_queued.len() - in_outbox.len(),
            fault_seen,
            note,
            ms: self.started.elapsed().as_millis() as u64,
        })
    }

    fn pending_ids(&self) -> R<BTreeSet<String>> {
        Ok(self
            .qa
            .deliveries(10_000)
            .map_err(err)?
            .into_iter()
            .map(|d| d.event_id)
            .collect())
    }

    fn pending_errors(&self) -> R<Vec<String>> {
        Ok(self
            .qa
            .deliveries(10_000)
            .map_err(err)?
            .into_iter()
            .filter(|d| d.status != "delivered")
            .filter_map(|d| d.last_error)
            .collect())
    }
}

fn closed_port_url() -> R<(std::net::SocketAddr, String)> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(err)?;
    let addr = l.local_addr().map_err(err)?;
    drop(l);
    Ok((addr, format!("http://{addr}/webhooks/quickauth")))
}

async fn case_refused(root: &Path) -> R<DeliveryCase> {
    let (addr, url) = closed_port_url()?;
    let c = Case::new(root, "refused", &url).await?;
    let queued = c.pending_ids()?;
    c.deliver().await?;
    let errors = c.pending_errors()?;
    let seen = errors.len() == DEVICES && errors.iter().all(|e| e.contains("connection"));
    // The receiver comes up on the same address: the retries reach it.
    let rx = ReceiverHandle::start(addr, SECRET).await.map_err(err)?;
    c.drain(3).await?;
    c.check(
        "refused",
        "nothing listening, then the receiver starts",
        &[&rx],
        &queued,
        seen,
        String::new(),
    )
}

async fn case_faulted(
    root: &Path,
    name: &'static str,
    fault: &'static str,
    faults: Vec<ReceiverFault>,
) -> R<DeliveryCase> {
    let rx = receiver().await?;
    let c = Case::new(root, name, &rx.url()).await?;
    let queued = c.pending_ids()?;
    rx.push_faults(faults.clone());
    c.deliver().await?;
    let errors = c.pending_errors()?;
    c.drain(4).await?;
    let seen = match faults[0] {
        ReceiverFault::Slow(_) => rx.requests() >= DEVICES && errors.is_empty(),
        ReceiverFault::Status(500) => {
            errors.len() == DEVICES && errors.iter().all(|e| e.contains("HTTP 500"))
        }
        ReceiverFault::Hang => {
            errors.len() == DEVICES && errors.iter().all(|e| e.contains("timeout"))
        }
        ReceiverFault::DropAfterProcessing => rx.received().len() > rx.distinct_ids().len(),
        _ => false,
    };
    let note = match faults[0] {
        ReceiverFault::Slow(d) => format!(
            "{} ms per reply, under the {MATRIX_WEBHOOK_TIMEOUT_MS} ms bound",
            d.as_millis()
        ),
        ReceiverFault::Hang => format!("cut off at {MATRIX_WEBHOOK_TIMEOUT_MS} ms, retried"),
        ReceiverFault::DropAfterProcessing => "re-sent under the same id".into(),
        _ => String::new(),
    };
    c.check(name, fault, &[&rx], &queued, seen, note)
}

async fn case_kill9(root: &Path, child_exe: &Path) -> R<DeliveryCase> {
    let rx = receiver().await?;
    let c = Case::new(root, "kill9", &rx.url()).await?;
    let queued = c.pending_ids()?;
    rx.push_faults([ReceiverFault::ProcessThenHang]);
    let spec = ChildSpec {
        exe: child_exe.to_path_buf(),
        args: ChildArgs {
            data_dir: c.dir.clone(),
            op: "deliver".into(),
            machine_code: c.devices[0].clone(),
            profile: PROFILE.into(),
            keyring_timeout: Duration::from_secs(5),
            backoff: quickauth_core::Backoff::once(),
        },
        env: vec![("QUICKAUTH_CRASH_AT".into(), None)],
    };
    let rx_ready = rx.received().len();
    let rx_probe = &rx;
    // The child blocks on the receiver (processed, never answering): SIGKILL it right then.
    let (end, triggered) = tokio::task::block_in_place(|| {
        child::run_and_kill_when(
            &spec,
            || rx_probe.received().len() > rx_ready,
            Duration::from_secs(30),
        )
    })
    .map_err(err)?;
    let killed = end.signal() == Some(libc::SIGKILL) && triggered;
    let pending_after_kill =
        c.qa.deliveries(100)
            .map_err(err)?
            .iter()
            .filter(|d| d.status == "pending")
            .count();
    c.drain(3).await?;
    let resent_same_id = rx.received().len() > rx.distinct_ids().len();
    c.check(
        "kill9",
        "SIGKILL of the sender after the receiver processed, before the ack",
        &[&rx],
        &queued,
        killed && pending_after_kill == DEVICES && resent_same_id,
        format!(
            "child killed by signal {}; re-sent under the same id",
            end.signal()
                .map_or_else(|| "none".to_owned(), |s| s.to_string())
        ),
    )
}

async fn case_destination_changed(root: &Path) -> R<DeliveryCase> {
    let a = receiver().await?;
    let c = Case::new(root, "moved", &a.url()).await?;
    let queued = c.pending_ids()?;
    a.push_faults(vec![ReceiverFault::Status(503); DEVICES]);
    c.deliver().await?;
    let b = receiver().await?;
    c.qa.set_delivery(PROFILE, &b.url(), None, SigningSecret::Keep)
        .map_err(err)?;
    // Without --now: setting the destination makes the pending events due at once.
    c.qa.deliver(false).await.map_err(err)?;
    c.drain(2).await?;
    let b_ids = b.distinct_ids();
    let seen = a.received().is_empty() && b_ids == queued;
    c.check(
        "moved",
        "destination changed while events were pending",
        &[&a, &b],
        &queued,
        seen,
        "the new receiver got the same ids".into(),
    )
}

async fn case_gone_then_reenabled(root: &Path) -> R<DeliveryCase> {
    let rx = receiver().await?;
    let c = Case::new(root, "gone", &rx.url()).await?;
    let queued = c.pending_ids()?;
    rx.push_faults([ReceiverFault::Status(410)]);
    let run = c.deliver().await?;
    let requests = rx.requests();
    c.deliver().await?;
    let quiet = rx.requests() == requests;
    let disabled =
        c.qa.delivery_settings(PROFILE)
            .map_err(err)?
            .is_some_and(|s| !s.enabled);
    c.qa.set_delivery(PROFILE, &rx.url(), None, SigningSecret::Keep)
        .map_err(err)?;
    c.drain(2).await?;
    c.check(
        "gone",
        "410 Gone, destination set again",
        &[&rx],
        &queued,
        run.disabled == vec![PROFILE.to_owned()] && disabled && quiet,
        "disabled after 410, nothing sent until set again".into(),
    )
}

async fn case_rejected_then_retried(root: &Path) -> R<DeliveryCase> {
    let rx = receiver().await?;
    let c = Case::new(root, "rejected", &rx.url()).await?;
    let queued = c.pending_ids()?;
    rx.push_faults(vec![ReceiverFault::Status(400); DEVICES]);
    let run = c.deliver().await?;
    c.drain(2).await?; // failed events are not retried automatically
    let still_failed =
        c.qa.deliveries(100)
            .map_err(err)?
            .iter()
            .filter(|d| d.status == "failed")
            .count();
    c.qa.retry_failed_deliveries(None).map_err(err)?;
    c.drain(2).await?;
    c.check(
        "rejected",
        "400 (failed), retried by hand",
        &[&rx],
        &queued,
        run.failed == DEVICES && still_failed == DEVICES,
        "failed until retried by hand".into(),
    )
}

async fn case_new_pair_while_pending(root: &Path) -> R<DeliveryCase> {
    let rx = receiver().await?;
    let c = Case::new(root, "superseded", &rx.url()).await?;
    let mut queued = c.pending_ids()?;
    rx.push_faults(vec![ReceiverFault::Status(500); 2 * DEVICES]);
    c.deliver().await?;
    for mc in &c.devices {
        c.qa.refresh(&format!("yilianyun:{mc}"))
            .await
            .map_err(err)?;
    }
    queued.extend(c.pending_ids()?);
    c.deliver().await?;
    for mc in &c.devices {
        c.qa.refresh(&format!("yilianyun:{mc}"))
            .await
            .map_err(err)?;
    }
    queued.extend(c.pending_ids()?);
    c.drain(3).await?;
    let generations: BTreeSet<i64> = rx.latest().values().map(|e| e.generation).collect();
    c.check(
        "superseded",
        "two refreshes while the receiver answered 500",
        &[&rx],
        &queued,
        generations == BTreeSet::from([3]),
        "older undelivered pairs replaced by the newest".into(),
    )
}

/// Runs the whole matrix under `root` (one data dir per case). `child_exe` runs `child --op deliver`.
pub async fn run_matrix(root: &Path, child_exe: &Path, progress: impl Fn(&str)) -> DeliveryOutcome {
    configure_timeout();
    let started = Instant::now();
    let mut out = DeliveryOutcome::default();
    let slow = Duration::from_millis(MATRIX_WEBHOOK_TIMEOUT_MS / 2);
    let results = vec![
        case_refused(root).await,
        case_faulted(
            root,
            "slow",
            "slow receiver (every reply late)",
            vec![ReceiverFault::Slow(slow); DEVICES],
        )
        .await,
        case_faulted(
            root,
            "http500",
            "500 on the first attempt",
            vec![ReceiverFault::Status(500); DEVICES],
        )
        .await,
        case_faulted(
            root,
            "timeout",
            "receiver never answers (timeout)",
            vec![ReceiverFault::Hang; DEVICES],
        )
        .await,
        case_faulted(
            root,
            "ack_lost",
            "connection dropped after the receiver processed (ack lost)",
            vec![ReceiverFault::DropAfterProcessing; DEVICES],
        )
        .await,
        case_kill9(root, child_exe).await,
        case_destination_changed(root).await,
        case_gone_then_reenabled(root).await,
        case_rejected_then_retried(root).await,
        case_new_pair_while_pending(root).await,
    ];
    for r in results {
        match r {
            Ok(case) => {
                progress(&format!(
                    "delivery {:<10} events {} received {} (distinct {}) lost {} {}",
                    case.name,
                    case.events,
                    case.received,
                    case.distinct,
                    case.lost,
                    if case.passed() { "ok" } else { "FAILED" }
                ));
                out.cases.push(case);
            }
            Err(e) => {
                progress(&format!("delivery case could not run: {e}"));
                out.problems.push(e);
            }
        }
    }
    out.wall_ms = started.elapsed().as_millis() as u64;
    out
}

/// The markdown section of docs/reliability.md.
pub fn markdown(d: &DeliveryOutcome) -> String {
    let mut s = String::new();
    s.push_str("## Delivery (webhook hand-over, issue 9)\n\n");
    s.push_str(
        "Part of every full run; regenerate this section alone with `scripts/reliability.sh --debug --delivery-only`. \
         A signature-verifying receiver (`quickauth_sandbox::ReceiverHandle`) on 127.0.0.1 injects the faults; the \
         SIGKILL case runs the outbox in a child process (`qa-reliability child --op deliver`).\n\n",
    );
    s.push_str(&format!(
        "{} cases, {} printers each, {} events: **{} lost**, {} duplicate deliveries, all under the same `webhook-id` \
         ({} under another id). Sender timeout {} ms in the matrix (10 s in the product). Wall time {:.1} s.\n\n",
        d.cases.len(),
        DEVICES,
        d.events(),
        d.lost(),
        d.duplicates_same_id(),
        d.other_id_duplicates(),
        MATRIX_WEBHOOK_TIMEOUT_MS,
        d.wall_ms as f64 / 1000.0
    ));
    s.push_str("| case | fault | events | replaced | attempts | received (distinct ids) | lost | other-id dups | fault seen | result |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for c in &d.cases {
        s.push_str(&format!(
            "| {} | {}{} | {} | {} | {} | {} ({}) | {} | {} | {} | {} |\n",
            c.name,
            c.fault,
            if c.note.is_empty() {
                String::new()
            } else {
                format!("; {}", c.note)
            },
            c.events,
            c.replaced,
            c.attempts,
            c.received,
            c.distinct,
            c.lost,
            c.other_id_duplicates,
            if c.fault_seen { "yes" } else { "no" },
            if c.passed() { "pass" } else { "FAIL" }
        ));
    }
    for p in &d.problems {
        s.push_str(&format!("\n- could not run: {p}\n"));
    }
    s.push_str(
        "\n- **Lost:** an event not delivered at the end, or a device whose newest pair at the receiver is not the \
         pair in QuickAuth's keyring.\n\
         - **Replaced:** an undelivered event whose pair a newer one superseded.\n\
         - **Fault seen:** the receiver or the outbox shows the fault happened.\n",
    );
    s
}

pub const SECTION_BEGIN: &str = "<!-- delivery-matrix:begin -->";
pub const SECTION_END: &str = "<!-- delivery-matrix:end -->";

/// Puts the section into an existing report between the markers (appended when they are missing).
pub fn splice(report: &str, section: &str) -> String {
    crate::report::splice_section(report, SECTION_BEGIN, SECTION_END, section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_or_appends() {
        let once = splice("# R\n\ntext\n", "A\n");
        assert!(
            once.ends_with(&format!("{SECTION_BEGIN}\nA\n{SECTION_END}\n")),
            "{once}"
        );
        let twice = splice(&(once.clone() + "tail\n"), "B\n");
        assert!(
            twice.contains("B\n") && !twice.contains("A\n") && twice.ends_with("tail\n"),
            "{twice}"
        );
    }
}
