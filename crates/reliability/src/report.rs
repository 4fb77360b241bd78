//! Turns a run into docs/reliability.md (a table per fault kind plus the fleet-wide checks) and a console summary.

use std::fmt::Write as _;

use crate::episode::EpisodeRecord;
use crate::faults::{Expect, FaultKind, Op};
use crate::run::RunOutcome;

fn median(mut v: Vec<u64>) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

fn ms(v: Option<u64>) -> String {
    v.map(|m| format!("{m}")).unwrap_or_else(|| "–".into())
}

fn expected(kind: FaultKind) -> String {
    match kind.expect() {
        Expect::Error { tag, action, .. } => format!(
            "`{tag}` → {}",
            serde_json::to_string(&action)
                .unwrap_or_default()
                .trim_matches('"')
        ),
        Expect::Success => "success (slow but inside the timeout)".into(),
        Expect::Crash => "process dies; next start completes the refresh".into(),
    }
}

fn ops(list: &[&EpisodeRecord]) -> String {
    let count = |op| list.iter().filter(|e| e.op == op).count();
    format!(
        "{}/{}/{}",
        count(Op::Authorize),
        count(Op::Refresh),
        count(Op::PrinterStatus)
    )
}

/// The markdown report.
pub fn markdown(run: &RunOutcome, generated_at: &str, command: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# QuickAuth reliability report\n");
    let _ = writeln!(
        md,
        "Generated {generated_at} by `{command}` (crates/reliability, `qa-reliability`). Regenerate with \
         `scripts/reliability.sh`. Every number below was measured in that run; nothing is copied from elsewhere.\n"
    );
    let _ = writeln!(md, "## Summary\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| faults injected | **{}** |", run.faults_injected());
    let _ = writeln!(
        md,
        "| devices (sandbox printers, one data dir) | {} |",
        run.devices
    );
    let _ = writeln!(md, "| **tokens lost** (device without a pair the server accepts, or unable to refresh at the end) | **{}** |", run.tokens_lost());
    let _ = writeln!(
        md,
        "| episodes after which a device briefly held no valid pair | {} |",
        run.lost_after_episode.len()
    );
    let _ = writeln!(
        md,
        "| answers that were not the specific expected error | {} |",
        run.unclear().len()
    );
    let _ = writeln!(
        md,
        "| episodes with any failed check | {} |",
        run.failed_episodes().len()
    );
    let crashes = run.episodes.iter().filter(|e| e.fault.is_crash()).count();
    let _ = writeln!(
        md,
        "| crashes (abort at a `QUICKAUTH_CRASH_AT` step, or SIGKILL mid-request) | {crashes} |"
    );
    let _ = writeln!(
        md,
        "| refreshes completed after crashes (journal replay of the old refresh token) | {} |",
        run.refreshes_completed_after_crash()
    );
    let lost_replies = run
        .episodes
        .iter()
        .filter(|e| !e.fault.is_crash() && e.op == Op::Refresh && e.refresh_completed)
        .count();
    let _ = writeln!(md, "| refreshes left pending by a failed/lost refresh reply and completed by the next refresh | {lost_replies} |");
    let _ = writeln!(
        md,
        "| quota: most grants+refreshes the server counted for one printer today (limit 20) | {} |",
        run.max_server_grants()
    );
    let _ = writeln!(
        md,
        "| quota: error-41 replies from the server | {} |",
        run.quota_refusals()
    );
    let conc_ok = run
        .concurrent
        .iter()
        .filter(|c| c.problems.is_empty())
        .count();
    let procs: usize = run.concurrent.iter().map(|c| c.processes).sum();
    let server: usize = run.concurrent.iter().map(|c| c.server_refreshes).sum();
    let _ = writeln!(
        md,
        "| concurrent refreshes: {} episodes, {procs} processes, {server} refresh requests reached the server | {conc_ok}/{} single-flight OK |",
        run.concurrent.len(),
        run.concurrent.len()
    );
    let _ = writeln!(md, "| wall time | {:.1} s |", run.wall.as_secs_f64());
    let _ = writeln!(
        md,
        "| result | **{}** |\n",
        if run.ok() { "PASS" } else { "FAIL" }
    );
    let _ = writeln!(md, "Settings: {}.\n", run.config_summary);

    let _ = writeln!(md, "## Per fault kind\n");
    let _ = writeln!(
        md,
        "*injected* = operations run against the fault; *ops* = authorize/refresh/printer call; *clear error* = the \
         specific expected kind + action with a Chinese and an English message (for crashes: the process really died); \
         *time* = from the call to its error (median / max, ms; crashes: to the process's death); *reached server* = \
         requests that arrived at the faulty server (– where nothing can arrive) and whether that stayed within the \
         retry bound (for refused and connect timeout nothing can arrive, so the bound is checked by time; for kill -9, \
         the refresh request that was at the server when the process was killed); *intact* = keyring tokens and DB row unchanged right after the fault (crashes: old or new pair, \
         never mixed, journal pending); *recovered* = after removing the fault, the advised step (retry / next start) \
         completed and the server accepts the stored pair.\n"
    );
    let _ = writeln!(
        md,
        "| fault | expected answer | injected | ops a/r/p | clear error yes/no | time median / max ms | reached server (bounded) | intact | tokens lost | recovered | refreshes completed |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
    for (kind, list) in run.by_kind() {
        let clear = list.iter().filter(|e| e.clear).count();
        let times: Vec<u64> = list.iter().map(|e| e.ms).collect();
        let reached: Option<usize> = list
            .iter()
            .map(|e| e.reached_server)
            .try_fold(0usize, |acc, r| r.map(|n| acc + n));
        let bounded = list.iter().filter(|e| e.bounded).count();
        let intact = list.iter().filter(|e| e.state_intact).count();
        let recovered = list.iter().filter(|e| e.recovered).count();
        let completed = list.iter().filter(|e| e.refresh_completed).count();
        let lost = run
            .lost_after_episode
            .iter()
            .filter(|(_, k)| *k == kind)
            .count();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {clear} / {} | {} / {} | {} ({bounded}/{} ok) | {intact}/{} | {lost} | {recovered}/{} | {completed} |",
            kind.name(),
            expected(kind),
            list.len(),
            ops(&list),
            list.len() - clear,
            ms(median(times.clone())),
            ms(times.iter().copied().max()),
            reached.map(|n| n.to_string()).unwrap_or_else(|| "–".into()),
            list.len(),
            list.len(),
            list.len(),
        );
    }

    let _ = writeln!(md, "\n## Final check of every device\n");
    let valid = run.checks.iter().filter(|c| c.valid_pair).count();
    let refreshed = run.checks.iter().filter(|c| c.final_refresh_ok).count();
    let _ = writeln!(
        md,
        "- {valid}/{} devices hold an access token the sandbox accepts for a printer call (`getprintstatus`).",
        run.checks.len()
    );
    let _ = writeln!(
        md,
        "- {refreshed}/{} devices refreshed once more at the end, and the stored pair is exactly what the server returns \
         for the previous refresh token (replayed within 2 h).",
        run.checks.len()
    );
    let max_local = run
        .checks
        .iter()
        .map(|c| c.local_grants_today)
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        md,
        "- Quota: the server counted at most {} grants+refreshes for one printer today; the client counted at most \
         {max_local} (it counts every request it sends, so it refuses before the server would).",
        run.max_server_grants()
    );

    let failed = run.failed_episodes();
    if !failed.is_empty()
        || !run.setup_problems.is_empty()
        || run.checks.iter().any(|c| !c.problems.is_empty())
    {
        let _ = writeln!(md, "\n## Problems found\n");
        for p in &run.setup_problems {
            let _ = writeln!(md, "- setup: {p}");
        }
        for e in failed.iter().take(40) {
            let _ = writeln!(
                md,
                "- device {} {} / {}: {}",
                e.device,
                e.fault.name(),
                e.op.name(),
                e.problems.join("; ")
            );
        }
        if failed.len() > 40 {
            let _ = writeln!(md, "- … and {} more", failed.len() - 40);
        }
        for c in run.checks.iter().filter(|c| !c.problems.is_empty()) {
            let _ = writeln!(
                md,
                "- final check device {}: {}",
                c.device,
                c.problems.join("; ")
            );
        }
        for c in run.concurrent.iter().filter(|c| !c.problems.is_empty()) {
            let _ = writeln!(
                md,
                "- concurrent refresh device {}: {}",
                c.device,
                c.problems.join("; ")
            );
        }
    }

    let _ = writeln!(md, "\n## Notes for readers\n");
    let med = |k: FaultKind| {
        median(
            run.episodes
                .iter()
                .filter(|e| e.fault == k)
                .map(|e| e.ms)
                .collect(),
        )
    };
    let _ = writeln!(
        md,
        "- Times are measured with many devices running at once (plus whatever else the machine was doing), so they \
         include waiting for the keyring and the CPU; the fault-matrix tests (`cargo test -p quickauth-reliability`) \
         show the same cases one at a time.\n\
         - A server that accepts and never answers costs the product's full budget before the clear error: 3 attempts \
         × 15 s total timeout + backoff (median here {} ms). A closed port fails fast but is retried too (median {} ms); \
         an untrusted certificate is not retried (median {} ms).\n\
         - Keyring faults never reach the server: without the keyring there is no secret to sign with and no token to \
         send. A missing Secret Service answers at once (median {} ms); one that never answers is cut off by the \
         keyring timeout (children here use 2 s; the product default is 5 s).\n\
         - A refresh whose reply was lost (dropped, truncated, timed out, or the process died after sending) stays in \
         the journal; the next refresh or start replays the old refresh token and stores exactly the pair the server \
         issued for it (checked by replaying the old token against the server and comparing).\n\
         - Authorize has no replay in the protocol: when its reply is lost the sandbox has already issued a new pair and \
         superseded the previous one (whether the real service supersedes is not documented). The stored old pair stays untouched and its \
         access token keeps working for the 2 h grace; the error says the request may have been processed and to try \
         again, and authorizing again (counted in *recovered*) restores a fresh, refreshable pair.\n\
         - When an episode would have pushed a printer past 18 of its 20 daily grants, the run moved that fault to a \
         printer call instead (see *ops*), so every printer could still refresh at the end.",
        ms(med(FaultKind::ReadTimeout)),
        ms(med(FaultKind::ConnectionRefused)),
        ms(med(FaultKind::Tls)),
        ms(med(FaultKind::KeyringUnavailable)),
    );

    let _ = writeln!(md, "\n## How the faults are made\n");
    let _ = writeln!(
        md,
        "All traffic stays on 127.0.0.1; no name is resolved. Each printer has its own in-memory sandbox server and its \
         own profile, so a fault hits exactly one device while the others run concurrently.\n\n\
         - **connection refused**: the profile's base URL points at a port that is bound but never listens (RST).\n\
         - **connect timeout**: a listener with `backlog = 0` whose single queue slot is already taken and which never \
         accepts; Linux drops further SYNs, so the client's 5 s connect timeout fires. A non-routable address \
         (e.g. 10.255.255.1) is not used: the rules allow only loopback, and without a default route it fails at once \
         with ENETUNREACH instead of timing out.\n\
         - **read timeout**: a server that accepts, reads the request and never answers (the client's 15 s total timeout).\n\
         - **TLS failure**: HTTPS on 127.0.0.1 with a fresh self-signed certificate (rcgen + tokio-rustls); the profile's \
         custom base URL is `https://127.0.0.1:<port>`. No request may get through it.\n\
         - **slow / HTML 500 / non-JSON / truncated / reply dropped / reset**: the sandbox's fault modes on the path of \
         the operation (`/v2/oauth/scancodemodel`, `/v2/oauth/oauth`, `/v2/printer/`), persistent for the episode \
         (slow: {} ms once). Dropped and truncated replies are processed and committed by the server first.\n\
         - **keyring unavailable / never answers**: a child process whose `DBUS_SESSION_BUS_ADDRESS` points at no socket, \
         or at a socket that accepts and never says a word.\n\
         - **crashes**: a child process running one refresh with `QUICKAUTH_CRASH_AT=<step>` aborts (SIGABRT) at that \
         step; a fresh child then refreshes the device, which first completes the pending refresh from the journal. **kill -9**: a child's \
         refresh goes to a server that holds the request without answering; the moment the request arrives the child \
         is SIGKILLed, then a fresh child completes the refresh. (Two earlier runs aborted gnome-keyring-daemon \
         itself — `trap int3` in libglib, the upstream race on concurrent Secret Service sessions: one killed children \
         at random moments, the other started all 69 devices at once without random kills. Kills now wait until no \
         keyring call is in flight, and at most 24 devices run at once.)\n\
         - **concurrent refresh**: several child processes refresh the same printer at once while the server is slow; \
         exactly one refresh request may reach the server.",
        crate::episode::SLOW_MS
    );
    if let Some(d) = &run.delivery {
        md = crate::delivery::splice(&md, &crate::delivery::markdown(d));
    }
    md
}

/// A few lines for the console.
pub fn summary(run: &RunOutcome) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "faults injected: {}  devices: {}  tokens lost: {}  unclear errors: {}  failed episodes: {}  wall: {:.1} s",
        run.faults_injected(),
        run.devices,
        run.tokens_lost(),
        run.unclear().len(),
        run.failed_episodes().len(),
        run.wall.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "refreshes completed after crashes: {}  max server grants/printer today: {}  41 replies: {}  concurrent single-flight ok: {}/{}",
        run.refreshes_completed_after_crash(),
        run.max_server_grants(),
        run.quota_refusals(),
        run.concurrent.iter().filter(|c| c.problems.is_empty()).count(),
        run.concurrent.len()
    );
    for (kind, list) in run.by_kind() {
        let times: Vec<u64> = list.iter().map(|e| e.ms).collect();
        let _ = writeln!(
            s,
            "  {:<38} injected {:>4}  clear {:>4}  median {:>6} ms  max {:>6} ms  recovered {:>4}",
            kind.name(),
            list.len(),
            list.iter().filter(|e| e.clear).count(),
            ms(median(times.clone())),
            ms(times.iter().copied().max()),
            list.iter().filter(|e| e.recovered).count()
        );
    }
    for e in run.failed_episodes().iter().take(10) {
        let _ = writeln!(
            s,
            "  FAILED device {} {} / {}: {}",
            e.device,
            e.fault.name(),
            e.op.name(),
            e.problems.join("; ")
        );
    }
    if let Some(d) = &run.delivery {
        let _ = writeln!(
            s,
            "delivery matrix: {} cases, {} events, lost {}, same-id duplicates {}, other-id duplicates {}: {}",
            d.cases.len(),
            d.events(),
            d.lost(),
            d.duplicates_same_id(),
            d.other_id_duplicates(),
            if d.ok() { "ok" } else { "FAILED" }
        );
    }
    let _ = writeln!(s, "result: {}", if run.ok() { "PASS" } else { "FAIL" });
    s
}

/// Puts `section` into `report` between the `begin`/`end` markers (appended when they are missing). The report's
/// sections that come from their own runs (the delivery matrix, the wait at the counter) use it.
pub fn splice_section(report: &str, begin: &str, end: &str, section: &str) -> String {
    let block = format!("{begin}\n{section}{end}\n");
    match (report.find(begin), report.find(end)) {
        (Some(a), Some(b)) if b > a => {
            let stop = b + end.len();
            let rest = report[stop..].strip_prefix('\n').unwrap_or(&report[stop..]);
            format!("{}{block}{rest}", &report[..a])
        }
        _ => format!(
            "{}\n{block}",
            report.trim_end_matches('\n').to_owned() + "\n"
        ),
    }
}

/// The text between the markers in `report`, if it has that section.
pub fn section_of<'a>(report: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let a = report.find(begin)? + begin.len();
    let b = report[a..].find(end)? + a;
    Some(report[a..b].trim_start_matches('\n'))
}
