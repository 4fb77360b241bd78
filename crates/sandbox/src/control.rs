//! The JSON control API under `/__sandbox/` (loopback only): mint labels, faults, virtual clock,
//! recorded requests, Lingju registration, printer binding/state and printed tickets.

use std::sync::Arc;

use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::FaultRule;
use crate::labels::{LabelFormat, LabelKind};
use crate::server::{blocking, Shared, Wire};
use crate::SandboxError;

const JSON: &str = "application/json; charset=utf-8";

fn reply(status: u16, v: Value) -> Response {
    Wire::json(status, JSON, &v).into_response()
}

fn bad_request(zh: &str, en: &str) -> Response {
    reply(
        400,
        json!({ "error": "bad_request", "message_zh": zh, "message_en": en }),
    )
}

fn from_error(e: SandboxError) -> Response {
    reply(
        500,
        json!({ "error": e.kind(), "message_zh": e.message_zh(), "message_en": e.message_en() }),
    )
}

/// Body JSON merged with query parameters (so simple GETs work from a browser or curl).
#[allow(clippy::result_large_err)] // built once per request; boxing adds only noise
fn input(query: Option<&str>, body: &[u8]) -> Result<Value, Response> {
    let mut v = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| {
            bad_request(
                "请求体不是有效的 JSON。",
                &format!("request body is not valid JSON: {e}"),
            )
        })?
    };
    if let (Some(q), Some(obj)) = (query, v.as_object_mut()) {
        for (k, val) in form_urlencoded::parse(q.as_bytes()).into_owned() {
            let val = val
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(val));
            obj.entry(k).or_insert(val);
        }
    }
    Ok(v)
}

#[allow(clippy::result_large_err)]
fn parse<T: for<'de> Deserialize<'de>>(v: Value) -> Result<T, Response> {
    serde_json::from_value(v)
        .map_err(|e| bad_request("参数不正确。", &format!("invalid parameters: {e}")))
}

#[derive(Deserialize)]
struct MintInput {
    kind: LabelKind,
    #[serde(default)]
    format: LabelFormat,
    machine_code: Option<String>,
}

#[derive(Deserialize)]
struct AdvanceInput {
    seconds: i64,
}

#[derive(Deserialize)]
struct UserInput {
    userid: String,
}

#[derive(Deserialize)]
struct BindInput {
    machine_code: String,
    client_id: String,
}

#[derive(Deserialize)]
struct MachineInput {
    machine_code: String,
}

#[derive(Deserialize)]
struct PrinterStateInput {
    machine_code: String,
    state: u8,
}

pub(crate) async fn handle(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Response {
    match run(shared, method, path, query, body).await {
        Ok(r) | Err(r) => r,
    }
}

async fn run(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<Response, Response> {
    let input = input(query, body)?;
    let is_get = *method == Method::GET;
    let result = match path.trim_start_matches("/__sandbox") {
        "/mint" => {
            let m: MintInput = parse(input)?;
            if let Some(mc) = &m.machine_code {
                if !crate::keys::is_sandbox_printer(mc) {
                    return Err(bad_request(
                        "machine_code 必须是 4004 开头的 10 位数字。",
                        "machine_code must be 10 digits starting with 4004.",
                    ));
                }
            }
            let label = blocking(shared, move |s| s.mint(m.kind, m.machine_code, m.format)).await;
            label.map(|l| {
                let mut v =
                    json!({ "machine_code": l.machine_code, "kind": l.kind, "payload": l.payload });
                v[l.kind.param_name()] = json!(l.key());
                v
            })
        }
        "/fault" if is_get => Ok(json!({ "faults": shared.faults.list() })),
        "/fault" => {
            if matches!(
                input.get("mode").and_then(Value::as_str),
                Some("none" | "clear")
            ) {
                shared.faults.clear();
            } else {
                let rule: FaultRule = parse(input)?;
                tracing::info!(mode = rule.mode.as_str(), path = ?rule.path, count = ?rule.count, "sandbox fault set");
                shared.faults.set(rule);
            }
            Ok(json!({ "faults": shared.faults.list() }))
        }
        "/advance" => {
            let a: AdvanceInput = parse(input)?;
            blocking(shared, move |s| {
                let offset = s.advance(a.seconds)?;
                Ok(json!({ "offset_seconds": offset, "now": s.now()? }))
            })
            .await
        }
        "/requests" if *method == Method::DELETE => {
            shared.log.clear();
            Ok(json!({ "requests": [] }))
        }
        "/requests" => {
            let limit = input.get("limit").and_then(Value::as_u64).unwrap_or(100) as usize;
            Ok(json!({ "requests": shared.log.last(limit) }))
        }
        "/lingju/register" => {
            let u: UserInput = parse(input)?;
            if !crate::lingju::valid_userid(&u.userid) {
                return Err(bad_request(
                    "userid 只能包含 [A-Za-z0-9]。",
                    "userid may only contain [A-Za-z0-9].",
                ));
            }
            blocking(shared, move |s| {
                s.register_lingju_user(&u.userid)
                    .map(|_| json!({ "registered": u.userid }))
            })
            .await
        }
        "/bind" => {
            let b: BindInput = parse(input)?;
            blocking(shared, move |s| {
                s.bind_printer(&b.machine_code, &b.client_id)
                    .map(|_| json!({ "machine_code": b.machine_code, "client_id": b.client_id }))
            })
            .await
        }
        "/printer" => {
            let p: PrinterStateInput = parse(input)?;
            if p.state > 2 {
                return Err(bad_request(
                    "state 只能是 0、1、2。",
                    "state must be 0, 1 or 2.",
                ));
            }
            blocking(shared, move |s| {
                s.set_printer_state(&p.machine_code, p.state)
                    .map(|_| json!({ "machine_code": p.machine_code, "state": p.state }))
            })
            .await
        }
        "/printed" => {
            let m: MachineInput = parse(input)?;
            blocking(shared, move |s| {
                let prints = s.printed(&m.machine_code)?;
                Ok(json!({ "machine_code": m.machine_code, "prints": prints }))
            })
            .await
        }
        "/grants" => {
            let m: MachineInput = parse(input)?;
            blocking(shared, move |s| {
                Ok(json!({
                    "machine_code": m.machine_code,
                    "grants_today": s.grants_today(&m.machine_code)?,
                    "bound_to": s.bound_app(&m.machine_code)?,
                }))
            })
            .await
        }
        "/info" | "" | "/" => {
            let base = shared.base_url.clone();
            blocking(shared, move |s| {
                Ok(json!({
                    "base_url": base.as_str(),
                    "open_app_id": crate::BUILTIN_OPEN_APP_ID,
                    "own_app_id": crate::BUILTIN_OWN_APP_ID,
                    "now": s.now()?,
                    "clock_offset_seconds": s.clock_offset()?,
                    "persistent": s.store.path().is_some(),
                }))
            })
            .await
        }
        other => {
            return Err(reply(
                404,
                json!({ "error": "not_found", "message_en": format!("unknown control endpoint {other}"),
                        "message_zh": format!("没有这个控制接口：{other}") }),
            ))
        }
    };
    result.map(|v| reply(200, v)).map_err(from_error)
}
