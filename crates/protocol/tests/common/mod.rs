//! A small recording HTTP server on 127.0.0.1 for wire tests: records every request and answers with canned JSON.

#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use url::Url;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub content_type: String,
    pub raw_body: String,
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.form.iter().any(|(k, _)| k == key)
    }
}

#[derive(Default)]
struct Inner {
    recorded: Vec<Recorded>,
    /// path -> (status, content type, body)
    replies: HashMap<String, (u16, String, String)>,
}

#[derive(Clone)]
pub struct TestServer {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl TestServer {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, inner }
    }

    pub fn base(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).unwrap()
    }

    pub fn reply_json(&self, path: &str, body: Value) {
        self.reply_raw(
            path,
            200,
            "application/json;charset=UTF-8",
            &body.to_string(),
        );
    }

    pub fn reply_raw(&self, path: &str, status: u16, content_type: &str, body: &str) {
        self.inner.lock().unwrap().replies.insert(
            path.to_owned(),
            (status, content_type.to_owned(), body.to_owned()),
        );
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().recorded.clone()
    }

    pub fn last(&self) -> Recorded {
        self.requests()
            .last()
            .cloned()
            .expect("the server saw no request")
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw_body = String::from_utf8_lossy(&body).into_owned();
    let form = url::form_urlencoded::parse(&body).into_owned().collect();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut inner = inner.lock().unwrap();
    inner.recorded.push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        content_type,
        raw_body,
        form,
    });
    match inner.replies.get(uri.path()) {
        Some((status, ct, body)) => (
            StatusCode::from_u16(*status).unwrap(),
            [("content-type", ct.clone())],
            body.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no canned reply").into_response(),
    }
}

/// Every secret value the tests use; none may appear in any error text or Debug output.
pub const CLIENT_SECRET: &str = "cs-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
pub const ACCESS_TOKEN: &str = "at-1a2b3c4d5e6f708192a3b4c5d6e7f809";
pub const REFRESH_TOKEN: &str = "rt-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
pub const QR_KEY: &str = "qk-77aa88bb99cc";
pub const MSIGN: &str = "ms-ab12cd34ef56";
pub const AUTH_CODE: &str = "code-5566778899aabbcc";
pub const LINGJU_APPKEY: &str = "lj-appkey-3141592653589793";
pub const LINGJU_AUTHCODE: &str = "lj-authcode-2718281828459045";
pub const ALL_SECRETS: &[&str] = &[
    CLIENT_SECRET,
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    QR_KEY,
    MSIGN,
    AUTH_CODE,
    LINGJU_APPKEY,
    LINGJU_AUTHCODE,
];

/// Fails the test if any secret appears in the Debug output or in any message of `err`.
pub fn assert_no_secret<E: std::fmt::Debug + std::fmt::Display + quickauth_protocol::Localized>(
    err: &E,
) {
    let texts = [
        format!("{err:?}"),
        format!("{err:#?}"),
        err.to_string(),
        err.message_zh(),
        err.message_en(),
    ];
    for text in &texts {
        for secret in ALL_SECRETS {
            assert!(
                !text.contains(secret),
                "secret {secret:?} leaked into {text:?}"
            );
        }
    }
    assert!(!err.message_zh().is_empty() && !err.message_en().is_empty());
}
