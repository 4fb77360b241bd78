//! Injected faults over real sockets, state shared by two sandboxes on one directory, and the hygiene
//! scan proving no token, key, code or secret is ever written to the state directory.

mod common;

use std::time::{Duration, Instant};

use common::*;
use quickauth_sandbox::{FaultMode, FaultRule, LabelKind, Sandbox, SandboxOptions};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one raw HTTP/1.1 form POST and returns every byte the server sent before closing.
async fn raw_post(h: &quickauth_sandbox::SandboxHandle, path: &str, body: &str) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        h.addr(),
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("server closes");
    out
}

fn scan_body(mc: &str) -> String {
    form(&signed(
        OPEN,
        &[
            ("machine_code", mc),
            ("msign", &quickauth_sandbox::msign_for(mc)),
            ("scope", "all"),
        ],
    ))
}

#[tokio::test]
async fn drop_reply_commits_then_closes_without_a_response() {
    let h = start().await;
    h.set_fault(
        FaultRule::new(FaultMode::DropReply)
            .on_path("/oauth/")
            .times(1),
    );
    let mc = random_mc();
    let bytes = raw_post(&h, "/oauth/scancodemodel", &scan_body(&mc)).await;
    assert!(
        bytes.is_empty(),
        "no response bytes at all, got {:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(
        h.grants_today(&mc).unwrap(),
        1,
        "the grant was committed before the reply was lost"
    );
    assert_eq!(h.bound_app(&mc).unwrap().as_deref(), Some(OPEN.0));
    // The count was 1: the next request is answered.
    assert_eq!(code_v1(&grant_msign(&h, &mc).await), 0);
    let log = h.requests(10);
    assert_eq!(log[log.len() - 2].fault.as_deref(), Some("drop_reply"));
    assert_eq!(log[log.len() - 2].reply_code, Some(0));

    // A reqwest client sees a transport error, not a reply.
    h.set_fault(FaultRule::new(FaultMode::DropReply).times(1));
    let err = http()
        .post(format!("{}oauth/scancodemodel", h.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(scan_body(&mc))
        .send()
        .await;
    assert!(err.is_err());
    assert_eq!(h.grants_today(&mc).unwrap(), 3);
}

#[tokio::test]
async fn truncated_reply_announces_more_than_it_sends() {
    let h = start().await;
    h.set_fault(FaultRule::new(FaultMode::Truncated).times(1));
    let mc = random_mc();
    let bytes = raw_post(&h, "/v2/oauth/scancodemodel", &scan_body(&mc)).await;
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text.split_once("\r\n\r\n").expect("headers were sent");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let announced: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length header");
    assert!(
        body.len() < announced,
        "body {} bytes, announced {announced}",
        body.len()
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(body).is_err(),
        "cut JSON"
    );
    assert_eq!(h.grants_today(&mc).unwrap(), 1, "processed before the cut");
}

#[tokio::test]
async fn reset_html_500_non_json_and_slow() {
    let h = start().await;
    let mc = random_mc();

    h.set_fault(FaultRule::new(FaultMode::Reset).times(1));
    let r = http()
        .post(format!("{}oauth/scancodemodel", h.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(scan_body(&mc))
        .send()
        .await;
    assert!(r.is_err());
    assert_eq!(
        h.grants_today(&mc).unwrap(),
        0,
        "reset happens before processing"
    );

    control(
        &h,
        "fault",
        json!({"mode": "html_500", "path": "/oauth/", "count": 1}),
    )
    .await;
    let r = http()
        .post(format!("{}oauth/scancodemodel", h.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(scan_body(&mc))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("<html>"));

    control(&h, "fault", json!({"mode": "non_json", "count": 1})).await;
    let r = http()
        .post(format!("{}oauth/scancodemodel", h.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(scan_body(&mc))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(serde_json::from_str::<serde_json::Value>(&r.text().await.unwrap()).is_err());
    assert_eq!(
        h.grants_today(&mc).unwrap(),
        0,
        "faked replies do not process"
    );

    // A path-scoped fault leaves other paths alone; "none" clears.
    control(
        &h,
        "fault",
        json!({"mode": "non_json", "path": "/printer/"}),
    )
    .await;
    assert_eq!(code_v1(&grant_msign(&h, &mc).await), 0);
    control(&h, "fault", json!({"mode": "none"})).await;

    h.set_fault(FaultRule::new(FaultMode::Slow).delay_ms(300).times(1));
    let started = Instant::now();
    assert_eq!(code_v1(&grant_msign(&h, &mc).await), 0);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the reply was delayed"
    );
}

#[tokio::test]
async fn recorded_requests_mask_secrets() {
    let h = start().await;
    let label = h.mint_label(LabelKind::QrKey);
    let p = signed(
        OPEN,
        &[
            ("machine_code", &label.machine_code),
            ("qr_key", label.key()),
            ("scope", "all"),
        ],
    );
    let v = post(&h, "/oauth/scancodemodel", &p).await;
    let at = v["body"]["access_token"].as_str().unwrap().to_string();
    status(&h, &at, &label.machine_code).await;
    let url = format!("{}__sandbox/requests?limit=2", h.base_url());
    let text = http().get(url).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains(label.key()) && !text.contains(&at), "{text}");
    let log: serde_json::Value = serde_json::from_str(&text).unwrap();
    let reqs = log["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0]["path"], "/oauth/scancodemodel");
    assert_eq!(reqs[0]["method"], "POST");
    assert_eq!(reqs[0]["content_type"], "application/x-www-form-urlencoded");
    assert_eq!(reqs[0]["params"]["qr_key"], "***");
    assert_eq!(
        reqs[0]["params"]["machine_code"],
        label.machine_code.as_str()
    );
    assert_eq!(reqs[1]["params"]["access_token"], "***");
    assert_eq!(reqs[1]["reply_code"], 0);
}

#[tokio::test]
async fn two_sandboxes_share_one_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let a = Sandbox::start(SandboxOptions::persistent(dir.path()))
        .await
        .unwrap();
    let b = Sandbox::start(SandboxOptions::persistent(dir.path()))
        .await
        .unwrap();
    assert_ne!(a.addr(), b.addr());
    let mc = random_mc();
    let g = grant_msign(&a, &mc).await;
    let (at, rt) = (
        g["body"]["access_token"].as_str().unwrap(),
        g["body"]["refresh_token"].as_str().unwrap(),
    );
    assert_eq!(
        code_v1(&status(&b, at, &mc).await),
        0,
        "a token issued by A works on B"
    );
    a.advance(Duration::from_secs(1000));
    assert!(b.now_unix() >= now() + 999, "the virtual clock is shared");
    // An id used on A is used on B too.
    let p = signed(OPEN, &[("access_token", at), ("machine_code", &mc)]);
    assert_eq!(code_v1(&post(&a, "/printer/getprintstatus", &p).await), 0);
    assert_eq!(code_v1(&post(&b, "/printer/getprintstatus", &p).await), 33);
    a.shutdown().await;
    b.shutdown().await;

    let c = Sandbox::start(SandboxOptions::persistent(dir.path()))
        .await
        .unwrap();
    assert!(
        c.now_unix() >= now() + 999,
        "the clock offset survived the restart"
    );
    let v = refresh(&c, rt).await;
    assert_eq!(code_v1(&v), 0, "state survived a restart: {v}");
    assert_eq!(c.grants_today(&mc).unwrap(), 2);
    c.shutdown().await;
}

#[tokio::test]
async fn concurrent_refreshes_on_two_sandboxes_yield_one_result() {
    let dir = tempfile::tempdir().unwrap();
    let a = Sandbox::start(SandboxOptions::persistent(dir.path()))
        .await
        .unwrap();
    let b = Sandbox::start(SandboxOptions::persistent(dir.path()))
        .await
        .unwrap();
    let mc = random_mc();
    let g = grant_msign(&a, &mc).await;
    let rt = g["body"]["refresh_token"].as_str().unwrap().to_string();
    let mut racers = Vec::new();
    for i in 0..8 {
        let h = if i % 2 == 0 { &a } else { &b };
        racers.push(Box::pin(refresh(h, &rt)));
    }
    let replies = join_all(racers).await;
    for r in &replies {
        assert_eq!(code_v1(r), 0, "{r}");
        assert_eq!(
            r["body"], replies[0]["body"],
            "every racer gets the one new pair"
        );
    }
    assert_eq!(
        a.grants_today(&mc).unwrap(),
        2,
        "one grant + one refresh; the rest were replays"
    );
}

/// Polls all futures concurrently (a tiny join_all, to avoid another dev-dependency).
async fn join_all<F: std::future::Future + Unpin>(mut futs: Vec<F>) -> Vec<F::Output> {
    let mut done: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futs.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match std::pin::Pin::new(f).poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().map(Option::unwrap).collect()
}

fn all_bytes(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn state_dir_never_holds_a_secret_literal() {
    use quickauth_sandbox::*;
    let dir = tempfile::tempdir().unwrap();
    let h = Sandbox::start(SandboxOptions::persistent(dir.path()))
        .await
        .unwrap();
    let mut secrets: Vec<String> = [
        BUILTIN_OPEN_APP_SECRET,
        BUILTIN_OWN_APP_SECRET,
        BUILTIN_LINGJU_APPKEY,
        BUILTIN_LINGJU_AUTHCODE,
        BUILTIN_LINGJU_SOFTWARE_APPKEY,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    let label = h.mint_label(LabelKind::QrKey);
    secrets.push(label.key().to_string());
    let p = signed(
        OPEN,
        &[
            ("machine_code", &label.machine_code),
            ("qr_key", label.key()),
            ("scope", "all"),
        ],
    );
    let g = post(&h, "/v2/oauth/scancodemodel", &p).await;
    assert_eq!(code_v2(&g), 0);
    for k in ["access_token", "refresh_token"] {
        secrets.push(g["body"][k].as_str().unwrap().to_string());
    }
    let r = refresh(&h, g["body"]["refresh_token"].as_str().unwrap()).await;
    for k in ["access_token", "refresh_token"] {
        secrets.push(r["body"][k].as_str().unwrap().to_string());
    }
    let mc2 = random_mc();
    secrets.push(msign_for(&mc2));
    let g2 = grant_msign(&h, &mc2).await;
    secrets.push(g2["body"]["access_token"].as_str().unwrap().to_string());

    // A code-flow code.
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .post(format!("{}oauth/authorize/approve", h.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("client_id", OPEN.0.to_string()),
            ("redirect_uri", "http://127.0.0.1:9/cb".into()),
            ("state", "s".into()),
            ("machine_code", random_mc()),
        ]))
        .send()
        .await
        .unwrap();
    let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    secrets.push(
        loc.query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned(),
    );

    // A Lingju token.
    let v: serde_json::Value = http()
        .get(format!(
            "{}httpapi/authorize.do?appkey={BUILTIN_LINGJU_APPKEY}&userid=AABBCCDDEEFF&authcode={BUILTIN_LINGJU_AUTHCODE}",
            h.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    secrets.push(v["data"]["accessToken"].as_str().unwrap().to_string());

    // Scan while running (WAL content included), then again after shutdown (checkpointed).
    let files = all_bytes(dir.path());
    assert!(files.iter().any(|(p, _)| p.ends_with(STATE_FILE)));
    let everything: Vec<u8> = files.iter().flat_map(|(_, b)| b.clone()).collect();
    // The scan really reads the state: non-secret facts are there.
    assert!(
        contains(&everything, &label.machine_code),
        "machine code is stored"
    );
    assert!(
        contains(&everything, "AABBCCDDEEFF"),
        "lingju userid is stored"
    );
    for (path, bytes) in &files {
        for s in &secrets {
            assert!(
                !contains(bytes, s),
                "running: {} holds a secret literal ({} chars)",
                path.display(),
                s.len()
            );
        }
    }
    h.shutdown().await;
    let files = all_bytes(dir.path());
    for (path, bytes) in &files {
        for s in &secrets {
            assert!(
                !contains(bytes, s),
                "after shutdown: {} holds a secret literal",
                path.display()
            );
        }
    }
}
