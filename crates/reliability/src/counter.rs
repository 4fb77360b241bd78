//! How long an installer waits at the counter when the server does not answer (issue 10, "bounded waiting"):
//! authorize against a loopback server that accepts the connection and never answers, and against one that
//! answers only after 12 s, measured with the default interactive budget and, side by side, without it (a
//! budget long enough that the transport timeouts and retries decide, as before the budget existed).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use quickauth_core::{Localized, NewYilianyunProfile, Options, QuickAuth, INTERACTIVE_BUDGET};
use quickauth_protocol::secret::{ClientSecret, Msign};
use quickauth_protocol::{ApiVersion, DeviceKey, MachineCode, Region};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const SECTION_BEGIN: &str = "<!-- counter-wait:begin -->";
pub const SECTION_END: &str = "<!-- counter-wait:end -->";

/// One measured authorize.
#[derive(Debug, Clone)]
pub struct Wait {
    pub server: &'static str,
    pub budget: Option<Duration>,
    pub waited: Duration,
    pub kind: String,
}

/// A server that accepts and then either says nothing (`answer_after: None`) or answers a valid-looking error
/// after a delay.
async fn server(answer_after: Option<Duration>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            match answer_after {
                None => held.push(stream),
                Some(delay) => {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        let _ = stream.read(&mut buf).await;
                        tokio::time::sleep(delay).await;
                        let body = r#"{"error":"45","error_description":"system error","body":{}}"#;
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(resp.as_bytes()).await;
                    });
                }
            }
        }
    });
    addr
}

async fn measure(
    dir: &Path,
    server_name: &'static str,
    answer_after: Option<Duration>,
    budget: Option<Duration>,
) -> Wait {
    let addr = server(answer_after).await;
    let mut opts = Options::new(dir);
    if let Some(b) = budget {
        opts.interactive_budget = b;
    } else {
        // Long enough that the transport timeouts and the retries decide (the behaviour before the budget).
        opts.interactive_budget = Duration::from_secs(600);
    }
    let qa = QuickAuth::open(opts).await.expect("open service");
    let _ = qa.add_yilianyun_profile(NewYilianyunProfile {
        name: "counter".into(),
        client_id: "1000000001".into(),
        client_secret: ClientSecret::new("counter-wait-secret"),
        region: Region::Cn,
        api_version: ApiVersion::V2,
        base_url: Some(url::Url::parse(&format!("http://{addr}")).expect("url")),
    });
    let _ = qa.update_profile(
        "counter",
        quickauth_core::ProfileUpdate {
            base_url: Some(Some(
                url::Url::parse(&format!("http://{addr}")).expect("url"),
            )),
            ..Default::default()
        },
    );
    let started = Instant::now();
    let res = qa
        .authorize_yilianyun(
            "counter",
            MachineCode::parse("4004999001").expect("machine code"),
            DeviceKey::Msign(Msign::new("counterwait01")),
        )
        .await;
    Wait {
        server: server_name,
        budget,
        waited: started.elapsed(),
        kind: match res {
            Ok(_) => "ok".into(),
            Err(e) => e.kind().to_owned(),
        },
    }
}

/// Runs the four measurements (two servers, with and without the budget) in data dirs under `root`.
pub async fn run(root: &Path) -> Vec<Wait> {
    let mut out = Vec::new();
    for (i, (name, after)) in [
        ("accepts, never answers", None),
        ("answers after 12 s", Some(Duration::from_secs(12))),
    ]
    .into_iter()
    .enumerate()
    {
        for (j, budget) in [Some(INTERACTIVE_BUDGET), None].into_iter().enumerate() {
            let dir = root.join(format!("counter-{i}-{j}"));
            out.push(measure(&dir, name, after, budget).await);
        }
    }
    out
}

/// The report section.
pub fn markdown(waits: &[Wait], command: &str) -> String {
    let mut md = String::from("## Waiting at the counter (interactive budget)\n\n");
    md.push_str(&format!(
        "Authorize (`QuickAuth::authorize_yilianyun`) against a loopback server that misbehaves, measured by `{command}`. \
         With the budget (the default, {} s) the installer gets one clear `no_answer_in_time` error; without it (budget \
         600 s, so the 5 s connect / 15 s total transport timeouts and 3 attempts with backoff decide) the same call \
         waits as long as it did before the budget existed. Status and the test print run under the same budget.\n\n",
        INTERACTIVE_BUDGET.as_secs()
    ));
    md.push_str("| server | budget | waited | error |\n|---|---|---|---|\n");
    for w in waits {
        md.push_str(&format!(
            "| {} | {} | {:.1} s | `{}` |\n",
            w.server,
            w.budget
                .map(|b| format!("{} s", b.as_secs()))
                .unwrap_or_else(|| "none (600 s)".into()),
            w.waited.as_secs_f64(),
            w.kind
        ));
    }
    md
}

/// Replaces (or appends) this section in an existing report.
pub fn splice(report: &str, section: &str) -> String {
    crate::report::splice_section(report, SECTION_BEGIN, SECTION_END, section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_survives_a_full_report_rewrite() {
        let report = splice("# R\n\ntext\n", "## Waiting\n\n| a |\n");
        let kept = crate::report::section_of(&report, SECTION_BEGIN, SECTION_END).unwrap();
        assert_eq!(kept, "## Waiting\n\n| a |\n");
        let rewritten = splice("# R2\n", kept);
        assert!(
            rewritten.starts_with("# R2\n") && rewritten.contains("| a |"),
            "{rewritten}"
        );
        assert_eq!(splice(&rewritten, "B\n").matches(SECTION_BEGIN).count(), 1);
    }
}
