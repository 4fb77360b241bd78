//! Proxy variables from the environment are honoured for remote hosts but never catch loopback (the built-in
//! sandbox). One test in its own binary, because it changes the process environment.

mod common;

use common::*;
use quickauth_protocol::secret::{ClientSecret, RefreshToken};
use quickauth_protocol::*;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

fn yly(base: Url) -> YilianyunClient {
    YilianyunClient::new(
        YilianyunConfig {
            client_id: "1074356281".into(),
            client_secret: ClientSecret::new(CLIENT_SECRET),
            endpoint: Endpoint::new(Region::Cn, ApiVersion::V1, Some(base)).unwrap(),
        },
        http_client(),
    )
}

#[tokio::test]
async fn env_proxy_skips_loopback_but_carries_remote_hosts() {
    // A "proxy" that records the first line of what it is asked and refuses with 502.
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen_by_proxy = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = proxy.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 4096];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            let first = String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            seen_by_proxy.lock().unwrap().push(first);
            let _ = stream
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let proxy_url = format!("http://{proxy_addr}");
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::set_var(var, &proxy_url);
    }
    std::env::set_var("NO_PROXY", "intranet.example");

    let server = TestServer::start().await;
    let reply =
        json!({"error":"0","body":{"access_token":"a","refresh_token":"r","expires_in":"60"}});
    server.reply_json("/oauth/oauth", reply);

    // 127.0.0.1 and localhost go direct.
    yly(server.base())
        .refresh(&RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap();
    let localhost = Url::parse(&format!("http://localhost:{}", server.addr.port())).unwrap();
    yly(localhost)
        .refresh(&RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2);
    assert!(
        seen.lock().unwrap().is_empty(),
        "loopback must not go through the proxy: {:?}",
        seen.lock().unwrap()
    );

    // A remote https host is tunnelled through the proxy (so no DNS lookup happens here either).
    let err = yly(Url::parse("https://printer-api.quickauth.test").unwrap())
        .refresh(&RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap_err();
    assert_no_secret(&err);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, ["CONNECT printer-api.quickauth.test:443 HTTP/1.1"]);
    assert!(
        !err.outcome_unknown(),
        "a refused tunnel never reached Yilianyun: {err:?}"
    );
    assert_eq!(err.action(), Action::CheckNetwork);
}
