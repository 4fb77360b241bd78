//! A server whose numbers no date can hold: the reply is a typed error, nothing panics, and the device keeps its
//! pair. Real HTTP on loopback, real keyring (run under `scripts/with-keyring.sh`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use quickauth_core::{Localized, NewYilianyunProfile, Options, QuickAuth};
use quickauth_protocol::secret::{ClientSecret, Msign};
use quickauth_protocol::{ApiVersion, DeviceKey, MachineCode, Region};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

async fn read_request(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Answers every request with the JSON body `reply` currently holds (v1 shapes).
async fn server(reply: Arc<Mutex<String>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                read_request(&mut stream).await;
                let body = reply.lock().unwrap().clone();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(resp.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

fn grant(at: &str, rt: &str, expires_in: &str, refresh_expires_in: &str) -> String {
    format!(
        r#"{{"error":"0","error_description":"success","body":{{"access_token":"{at}","refresh_token":"{rt}","expires_in":{expires_in},"refresh_expires_in":{refresh_expires_in},"scope":"all"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_lifetimes_never_panic_and_never_cost_the_pair() {
    let dir = tempfile::tempdir().unwrap();
    let reply = Arc::new(Mutex::new(grant(
        "at-first-9f1c",
        "rt-first-9f1c",
        "2592000",
        "3024000",
    )));
    let addr = server(reply.clone()).await;
    let qa = QuickAuth::open(Options::new(dir.path())).await.unwrap();
    qa.add_yilianyun_profile(NewYilianyunProfile {
        name: "shop".into(),
        client_id: "1000000001".into(),
        client_secret: ClientSecret::new("secret-for-server-values"),
        region: Region::Cn,
        api_version: ApiVersion::V1,
        base_url: Some(Url::parse(&format!("http://{addr}")).unwrap()),
    })
    .unwrap();
    let mc = MachineCode::parse("4004555001").unwrap();
    let d = qa
        .authorize_yilianyun("shop", mc, DeviceKey::Msign(Msign::new("abcdef123456")))
        .await
        .unwrap();

    for (expires, refresh) in [
        ("18446744073709551615", "3024000"),
        ("9223372036854775807", "3024000"),
        ("\"9223372036854775807\"", "null"),
        ("2592000", "9223372036854775807"),
        ("1e300", "3024000"),
        ("-5", "3024000"),
    ] {
        *reply.lock().unwrap() = grant("at-huge", "rt-huge", expires, refresh);
        let err = qa.refresh(&d.key).await.unwrap_err();
        assert!(
            ["transport", "server_value_out_of_range"].contains(&err.kind()),
            "{expires}/{refresh}: {} {}",
            err.kind(),
            err.message_en()
        );
        let t = qa.reveal_tokens(&d.key).unwrap();
        assert_eq!(
            t.access_token.expose(),
            "at-first-9f1c",
            "old pair kept after {expires}/{refresh}"
        );
        let dev = qa.device(&d.key).unwrap();
        assert_eq!(dev.token_generation, 1);
        assert_eq!(dev.expires_at, d.expires_at);
    }
    // A new run (open completes the pending refresh with a sane reply) is not stuck on the bad one.
    *reply.lock().unwrap() = grant("at-second-9f1c", "rt-second-9f1c", "2592000", "3024000");
    drop(qa);
    let qa = QuickAuth::open(Options::new(dir.path())).await.unwrap();
    let r = qa.refresh(&d.key).await.unwrap();
    assert_eq!(r.device.token_generation, 2);
    assert_eq!(
        qa.reveal_tokens(&d.key).unwrap().access_token.expose(),
        "at-second-9f1c"
    );

    // The same for a first authorization: nothing half-stored.
    *reply.lock().unwrap() = grant("at-x", "rt-x", "18446744073709551615", "null");
    let mc2 = MachineCode::parse("4004555002").unwrap();
    let err = qa
        .authorize_yilianyun("shop", mc2, DeviceKey::Msign(Msign::new("abcdef123457")))
        .await
        .unwrap_err();
    assert!(!err.message_en().is_empty());
    assert!(
        qa.device("4004555002").is_err(),
        "no device row for a grant that could not be stored"
    );
}

/// A server that accepts connections and never answers.
async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_costs_the_installer_one_bounded_wait() {
    let dir = tempfile::tempdir().unwrap();
    let addr = silent_server().await;
    let qa = QuickAuth::open(Options::new(dir.path())).await.unwrap();
    qa.add_yilianyun_profile(NewYilianyunProfile {
        name: "shop".into(),
        client_id: "1000000001".into(),
        client_secret: ClientSecret::new("secret-for-silent-server"),
        region: Region::Cn,
        api_version: ApiVersion::V2,
        base_url: Some(Url::parse(&format!("http://{addr}")).unwrap()),
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = qa
        .authorize_yilianyun(
            "shop",
            MachineCode::parse("4004555009").unwrap(),
            DeviceKey::Msign(Msign::new("abcdef123459")),
        )
        .await
        .unwrap_err();
    let waited = started.elapsed();
    eprintln!(
        "authorize against a silent server gave up after {waited:?} (budget {:?})",
        quickauth_core::INTERACTIVE_BUDGET
    );
    assert_eq!(err.kind(), "no_answer_in_time", "{}", err.message_en());
    assert!(err.message_zh().contains("10 秒"), "{}", err.message_zh());
    // Not a speed target: before the budget this took 3 x 15 s plus backoff (about 46 s).
    assert!(waited < std::time::Duration::from_secs(20), "{waited:?}");
}
