//! Test helpers: real loopback HTTP with hand-built form bodies and an independently computed sign.
#![allow(dead_code)]

use md5::{Digest, Md5};
use quickauth_sandbox::{
    Sandbox, SandboxHandle, SandboxOptions, BUILTIN_OPEN_APP_ID, BUILTIN_OPEN_APP_SECRET,
};
use serde_json::Value;

pub const OPEN: (&str, &str) = (BUILTIN_OPEN_APP_ID, BUILTIN_OPEN_APP_SECRET);

pub async fn start() -> SandboxHandle {
    Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox starts")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn enc(s: &str) -> String {
    // Minimal application/x-www-form-urlencoded encoding, written here so the tests do not share the server's.
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn form(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Common signed params for `app` plus `extra`.
pub fn signed(app: (&str, &str), extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let ts = now().to_string();
    let mut p: Vec<(&'static str, String)> = vec![
        ("client_id", app.0.to_string()),
        ("timestamp", ts.clone()),
        ("sign", md5_hex(&format!("{}{}{}", app.0, ts, app.1))),
        ("id", uuid()),
    ];
    for (k, v) in extra {
        p.push((leak(k), v.to_string()));
    }
    p
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

pub fn set(p: &mut Vec<(&'static str, String)>, key: &str, value: Option<&str>) {
    p.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        p.push((leak(key), v.to_string()));
    }
}

pub async fn post(h: &SandboxHandle, path: &str, pairs: &[(&str, String)]) -> Value {
    let url = h.base_url().join(path.trim_start_matches('/')).unwrap();
    let resp = http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .expect("request succeeds");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "JSON content type"
    );
    resp.json().await.expect("JSON reply")
}

pub async fn control(h: &SandboxHandle, path: &str, body: Value) -> Value {
    let url = h.base_url().join(&format!("__sandbox/{path}")).unwrap();
    let resp = http().post(url).json(&body).send().await.unwrap();
    assert!(
        resp.status().is_success(),
        "control {path}: {}",
        resp.status()
    );
    resp.json().await.unwrap()
}

/// Error code of a v1 or v2 reply, asserting the version's type for `error`.
pub fn code_v1(v: &Value) -> i64 {
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("v1 error must be a string: {v}"))
        .parse()
        .unwrap()
}

pub fn code_v2(v: &Value) -> i64 {
    v["error"]
        .as_i64()
        .unwrap_or_else(|| panic!("v2 error must be a number: {v}"))
}

/// Fast-authorizes a fresh sandbox printer with msign on v1; returns (machine_code, body).
pub async fn grant_msign(h: &SandboxHandle, mc: &str) -> Value {
    let msign = quickauth_sandbox::msign_for(mc);
    let p = signed(
        OPEN,
        &[("machine_code", mc), ("msign", &msign), ("scope", "all")],
    );
    post(h, "/oauth/scancodemodel", &p).await
}

pub async fn refresh(h: &SandboxHandle, refresh_token: &str) -> Value {
    let p = signed(
        OPEN,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", "all"),
        ],
    );
    post(h, "/oauth/oauth", &p).await
}

pub async fn status(h: &SandboxHandle, access_token: &str, mc: &str) -> Value {
    let p = signed(
        OPEN,
        &[("access_token", access_token), ("machine_code", mc)],
    );
    post(h, "/printer/getprintstatus", &p).await
}

pub fn random_mc() -> String {
    format!("4004{:06}", rand_u32() % 1_000_000)
}

fn rand_u32() -> u32 {
    let u = uuid::Uuid::new_v4();
    u32::from_le_bytes(u.as_bytes()[..4].try_into().unwrap())
}
