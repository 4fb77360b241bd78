//! Transport failures over real loopback sockets: each one classified, with the right "was it processed?" answer,
//! and no secret in any message.

mod common;

use common::*;
use quickauth_protocol::secret::{ClientSecret, LingjuAppKey, LingjuAuthCode, RefreshToken};
use quickauth_protocol::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

fn short_http() -> reqwest::Client {
    HttpClientBuilder::new()
        .connect_timeout(Duration::from_millis(300))
        .total_timeout(Duration::from_millis(1200))
        .build()
}

fn yly(base: Url, http: reqwest::Client) -> YilianyunClient {
    let cfg = YilianyunConfig {
        client_id: "1074356281".into(),
        client_secret: ClientSecret::new(CLIENT_SECRET),
        endpoint: Endpoint::new(Region::Cn, ApiVersion::V1, Some(base)).unwrap(),
    };
    YilianyunClient::new(cfg, http)
}

/// A refresh — the call whose lost reply matters most — against `base`, expected to fail in transport.
async fn refresh_transport_error(base: Url, http: reqwest::Client) -> TransportError {
    let err = yly(base, http)
        .refresh(&RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap_err();
    assert_no_secret(&err);
    match err {
        YilianyunError::Transport(t) => {
            assert_no_secret(&t);
            t
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}

fn http_base(addr: SocketAddr) -> Url {
    Url::parse(&format!("http://{addr}")).unwrap()
}

/// Reads one HTTP/1.1 request (headers and Content-Length body) so the client has fully sent it.
async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
    }
}

/// Serves every connection by reading the request, writing `reply` verbatim and closing.
async fn raw_server(reply: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let reply = reply.clone();
            tokio::spawn(async move {
                read_request(&mut stream).await;
                let _ = stream.write_all(&reply).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn connection_refused_was_not_processed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let t = refresh_transport_error(http_base(addr), short_http()).await;
    assert_eq!(t.kind, TransportErrorKind::ConnectionRefused, "{t:?}");
    assert!(!t.outcome_unknown());
    assert!(t.retryable());
    assert_eq!(t.action(), Action::CheckNetwork);
    assert!(
        t.message_zh().contains(&addr.to_string()),
        "{}",
        t.message_zh()
    );
}

#[tokio::test]
async fn connect_timeout_was_not_processed() {
    // A listener whose accept queue is full: Linux then drops further SYNs, so connecting hangs.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let fillers = tokio::task::spawn_blocking(move || {
        let mut fillers = Vec::new();
        for _ in 0..64 {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => fillers.push(s),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return fillers,
                Err(e) => panic!("unexpected connect error while filling the backlog: {e}"),
            }
        }
        panic!("the accept queue never filled up; cannot provoke a connect timeout");
    })
    .await
    .unwrap();

    let started = Instant::now();
    let t = refresh_transport_error(http_base(addr), short_http()).await;
    assert_eq!(t.kind, TransportErrorKind::ConnectTimeout, "{t:?}");
    assert!(!t.outcome_unknown());
    assert!(
        started.elapsed() < Duration::from_millis(1100),
        "the connect timeout, not the total one, must fire"
    );
    drop((fillers, listener));
}

#[tokio::test]
async fn silent_server_is_a_read_timeout_with_unknown_outcome() {
    // Accepted by the kernel, never answered: the request is sent, no reply comes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let started = Instant::now();
    let t = refresh_transport_error(http_base(addr), short_http()).await;
    assert_eq!(t.kind, TransportErrorKind::ReadTimeout, "{t:?}");
    assert!(
        t.outcome_unknown(),
        "a refresh that timed out after sending may have been applied"
    );
    assert!(t.retryable());
    assert!(started.elapsed() >= Duration::from_millis(1100));
    drop(listener);
}

#[tokio::test]
async fn connection_dropped_after_sending_has_unknown_outcome() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let request = read_request(&mut stream).await;
        drop(stream);
        request
    });
    let t = refresh_transport_error(http_base(addr), short_http()).await;
    let request = String::from_utf8(seen.await.unwrap()).unwrap();
    assert!(
        request.contains("grant_type=refresh_token"),
        "the server did receive the request"
    );
    assert_eq!(t.kind, TransportErrorKind::ConnectionClosed, "{t:?}");
    assert!(t.outcome_unknown());
}

#[tokio::test]
async fn html_500_is_classified_and_never_echoed() {
    let page = format!("<!DOCTYPE html><html><head><title>502</title></head><body>nginx {REFRESH_TOKEN}</body></html>");
    let addr = raw_server(response("500 Internal Server Error", "text/html", &page)).await;
    let t = refresh_transport_error(http_base(addr), short_http()).await;
    assert_eq!(
        t.kind,
        TransportErrorKind::HttpStatus {
            status: 500,
            html: true
        },
        "{t:?}"
    );
    assert!(t.outcome_unknown());
    assert!(t.retryable());
    assert_eq!(t.action(), Action::RetryLater);
    assert!(
        !t.message_en().contains("<html") && !t.message_en().contains("nginx"),
        "{}",
        t.message_en()
    );
}

#[tokio::test]
async fn non_json_200_is_classified_and_limited() {
    let body = format!(
        "Service temporarily unavailable {} {}",
        CLIENT_SECRET,
        "x".repeat(1000)
    );
    let addr = raw_server(response("200 OK", "text/plain", &body)).await;
    let t = refresh_transport_error(http_base(addr), short_http()).await;
    assert_eq!(t.kind, TransportErrorKind::NonJson { html: false }, "{t:?}");
    assert!(t.outcome_unknown());
    assert!(
        t.detail.starts_with("Service temporarily unavailable ***"),
        "{}",
        t.detail
    );
    assert!(t.detail.chars().count() <= MAX_ECHO_CHARS + 1);
    assert_eq!(t.action(), Action::CheckNetwork);
}

#[tokio::test]
async fn html_200_captive_portal() {
    let addr = raw_server(response(
        "200 OK",
        "text/html",
        "<html><title>Wi-Fi login</title></html>",
    ))
    .await;
    let t = refresh_transport_error(http_base(addr), short_http()).await;
    assert_eq!(t.kind, TransportErrorKind::NonJson { html: true }, "{t:?}");
    assert!(!t.message_zh().contains("Wi-Fi login"));
}

#[tokio::test]
async fn truncated_body_has_unknown_outcome() {
    // The cut-off reply already holds a fresh token: it must not end up in the error.
    let partial = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{{\"error\":\"0\",\"body\":{{\"access_token\":\"{ACCESS_TOKEN}\",\"ref").into_bytes();
    let addr = raw_server(partial).await;
    let t = refresh_transport_error(http_base(addr), short_http()).await;
    assert_eq!(t.kind, TransportErrorKind::Truncated, "{t:?}");
    assert!(t.outcome_unknown());
    assert!(t.retryable());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = TestServer::start().await;
    let location = format!("{}oauth/oauth", target.base());
    let reply = format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let addr = raw_server(reply.into_bytes()).await;
    let t = refresh_transport_error(http_base(addr), short_http()).await;
    assert_eq!(
        t.kind,
        TransportErrorKind::HttpStatus {
            status: 302,
            html: false
        },
        "{t:?}"
    );
    assert!(!t.outcome_unknown());
    assert!(
        target.requests().is_empty(),
        "the redirect target must not be contacted"
    );
}

#[tokio::test]
async fn self_signed_tls_is_a_tls_error_not_processed() {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_der = cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der.clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ok_reply = response(
        "200 OK",
        "application/json",
        r#"{"error":"0","error_description":"success","body":{"access_token":"a","refresh_token":"r","expires_in":1}}"#,
    );
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, ok_reply) = (acceptor.clone(), ok_reply.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let _ = tls.read(&mut buf).await;
                let _ = tls.write_all(&ok_reply).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let base = Url::parse(&format!("https://127.0.0.1:{}", addr.port())).unwrap();

    let t = refresh_transport_error(base.clone(), short_http()).await;
    assert_eq!(t.kind, TransportErrorKind::Tls, "{t:?}");
    assert!(!t.outcome_unknown());
    assert!(!t.retryable());
    assert_eq!(t.action(), Action::CheckNetwork);

    // Control: the same server works for a client that trusts its certificate, so the failure above is
    // the certificate check and nothing else.
    let trusting = reqwest::Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_der(&cert_der).unwrap())
        .build()
        .unwrap();
    let grant = yly(base, trusting)
        .refresh(&RefreshToken::new(REFRESH_TOKEN))
        .await
        .unwrap();
    assert_eq!(grant.access_token.expose(), "a");
}

struct FailingResolver;

impl reqwest::dns::Resolve for FailingResolver {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            Err(Box::new(std::io::Error::other(
                "failed to lookup address information",
            )) as Box<dyn std::error::Error + Send + Sync>)
        })
    }
}

#[tokio::test]
async fn dns_failure_was_not_processed() {
    // The resolver is replaced, so no lookup leaves this machine.
    let http = HttpClientBuilder::new()
        .connect_timeout(Duration::from_millis(300))
        .total_timeout(Duration::from_millis(1200))
        .dns_resolver(Arc::new(FailingResolver))
        .build();
    let t = refresh_transport_error(
        Url::parse("https://printer-api.quickauth.test").unwrap(),
        http,
    )
    .await;
    assert_eq!(t.kind, TransportErrorKind::Dns, "{t:?}");
    assert!(!t.outcome_unknown());
    assert!(t.message_en().contains("printer-api.quickauth.test"));
}

#[tokio::test]
async fn lingju_faults_use_the_same_classification() {
    // Complete as HTTP, but the JSON itself stops early (and already carries a token).
    let body = format!("{{\"status\":0,\"data\":{{\"accessToken\":\"{ACCESS_TOKEN}\",\"exp");
    let addr = raw_server(response("200 OK", "application/json", &body)).await;
    let client = LingjuClient::new(
        LingjuConfig {
            base_url: http_base(addr),
            endpoint: LingjuEndpoint::HttpApi,
            appkey: LingjuAppKey::new(LINGJU_APPKEY),
            authcode: Some(LingjuAuthCode::new(LINGJU_AUTHCODE)),
        },
        short_http(),
    );
    let err = client
        .authorize(&UserId::parse("aabbccddeeff").unwrap())
        .await
        .unwrap_err();
    assert_no_secret(&err);
    assert!(err.outcome_unknown());
    assert!(
        matches!(
            err,
            LingjuError::Transport(TransportError {
                kind: TransportErrorKind::Truncated,
                ..
            })
        ),
        "{err:?}"
    );
}
