//! The HTTP server: accept loop (with per-connection fault control), request dispatch to the Yilianyun,
//! Lingju, code-flow and control handlers, and the `SandboxHandle` tests and the app drive it with.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use hyper_util::rt::TokioIo;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::conn::{ConnCtl, ControlledIo};
use crate::error::SandboxError;
use crate::faults::{FaultMode, FaultRule, FaultTable};
use crate::labels::{LabelFormat, LabelKind, MintedLabel};
use crate::lingju::{self, LingjuEndpoint};
use crate::record::{mask, RecordedRequest, RequestLog};
use crate::store::{self, Store};
use crate::yilianyun::{self, ApiVersion, YlyRequest};
use crate::{codeflow, control, keys};

/// Where to listen and where to keep state.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Usually `127.0.0.1:0` (any free port).
    pub bind: SocketAddr,
    /// `Some(dir)`: state in `dir/sandbox.sqlite3`, shared by every process using the same dir.
    /// `None`: private in-memory state, gone at shutdown.
    pub state_dir: Option<PathBuf>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            state_dir: None,
        }
    }
}

impl SandboxOptions {
    /// Loopback, any free port, state persisted under `state_dir`.
    pub fn persistent(state_dir: impl Into<PathBuf>) -> Self {
        SandboxOptions {
            state_dir: Some(state_dir.into()),
            ..Default::default()
        }
    }
}

/// A print job as the sandbox printer received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintedTicket {
    /// The job id the API returned (as a string, like v1).
    pub id: String,
    pub origin_id: String,
    pub content: String,
    /// `printed`, `queued` (printer offline / out of paper) or `cancelled`.
    pub status: String,
    /// Virtual-clock unix seconds.
    pub created_at: i64,
}

/// State shared by the accept loop, the handlers and the handle.
pub(crate) struct Shared {
    pub store: Store,
    pub faults: FaultTable,
    pub log: RequestLog,
    pub base_url: url::Url,
}

impl Shared {
    pub fn now(&self) -> Result<i64, SandboxError> {
        self.store.read(store::virtual_now)
    }

    pub fn mint(
        &self,
        kind: LabelKind,
        machine_code: Option<String>,
        format: LabelFormat,
    ) -> Result<MintedLabel, SandboxError> {
        let now = self.now()?;
        let machine_code = machine_code.unwrap_or_else(keys::random_machine_code);
        Ok(MintedLabel::new(machine_code, kind, now, format))
    }

    pub fn advance(&self, seconds: i64) -> Result<i64, SandboxError> {
        let offset = self.store.write(|tx| store::advance_clock(tx, seconds))?;
        tracing::info!(seconds, offset, "sandbox virtual clock advanced");
        Ok(offset)
    }

    pub fn clock_offset(&self) -> Result<i64, SandboxError> {
        self.store.read(store::clock_offset)
    }

    pub fn printed(&self, machine_code: &str) -> Result<Vec<PrintedTicket>, SandboxError> {
        self.store.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT id, origin_id, content, status, created_at FROM prints WHERE machine_code = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([machine_code], |r| {
                Ok(PrintedTicket {
                    id: yilianyun::print_job_id(r.get(0)?).to_string(),
                    origin_id: r.get(1)?,
                    content: r.get(2)?,
                    status: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    pub fn register_lingju_user(&self, userid: &str) -> Result<(), SandboxError> {
        self.store.write(|tx| {
            let now = store::virtual_now(tx)?;
            tx.execute(
                "INSERT OR IGNORE INTO lingju_users(userid, registered_at) VALUES (?1, ?2)",
                params![userid, now],
            )
            .map(|_| ())
        })
    }

    pub fn bind_printer(&self, machine_code: &str, client_id: &str) -> Result<(), SandboxError> {
        self.store.write(|tx| {
            let now = store::virtual_now(tx)?;
            tx.execute(
                "INSERT INTO bindings(machine_code, client_id, bound_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(machine_code) DO UPDATE SET client_id = excluded.client_id, bound_at = excluded.bound_at",
                params![machine_code, client_id, now],
            )
            .map(|_| ())
        })
    }

    pub fn set_printer_state(&self, machine_code: &str, state: u8) -> Result<(), SandboxError> {
        self.store.write(|tx| {
            tx.execute(
                "INSERT INTO printers(machine_code, state) VALUES (?1, ?2)
                 ON CONFLICT(machine_code) DO UPDATE SET state = excluded.state",
                params![machine_code, state],
            )?;
            if state == 1 {
                // Back online: the queue prints.
                tx.execute("UPDATE prints SET status = 'printed' WHERE machine_code = ?1 AND status = 'queued'", [machine_code])?;
            }
            Ok(())
        })
    }

    pub fn grants_today(&self, machine_code: &str) -> Result<i64, SandboxError> {
        self.store.read(|tx| {
            let now = store::virtual_now(tx)?;
            yilianyun::grants_today(tx, machine_code, now)
        })
    }

    pub fn bound_app(&self, machine_code: &str) -> Result<Option<String>, SandboxError> {
        self.store.read(|tx| {
            tx.query_row(
                "SELECT client_id FROM bindings WHERE machine_code = ?1",
                [machine_code],
                |r| r.get(0),
            )
            .optional()
        })
    }
}

/// Runs blocking state work off the async threads (SQLite may wait on another process's lock).
pub(crate) async fn blocking<T: Send + 'static>(
    shared: &Arc<Shared>,
    f: impl FnOnce(&Shared) -> Result<T, SandboxError> + Send + 'static,
) -> Result<T, SandboxError> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || f(&shared))
        .await
        .map_err(|e| SandboxError::Worker(e.to_string()))?
}

/// The sandbox server.
pub struct Sandbox;

impl Sandbox {
    /// Opens the state, binds the listener and serves in the background until the handle is shut down
    /// or dropped.
    pub async fn start(opts: SandboxOptions) -> Result<SandboxHandle, SandboxError> {
        let state_dir = opts.state_dir.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(state_dir.as_deref()))
            .await
            .map_err(|e| SandboxError::Worker(e.to_string()))??;
        let listener = TcpListener::bind(opts.bind)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: opts.bind,
                source,
            })?;
        let mut addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: opts.bind,
            source,
        })?;
        let listen_addr = addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let base_url = url::Url::parse(&format!("http://{addr}/"))
            .expect("a socket address makes a valid URL");
        let shared = Arc::new(Shared {
            store,
            faults: FaultTable::default(),
            log: RequestLog::default(),
            base_url,
        });
        let router = Router::new().fallback(dispatch).with_state(shared.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, router, stop_rx));
        tracing::info!(%listen_addr, persistent = opts.state_dir.is_some(), "sandbox listening");
        Ok(SandboxHandle {
            addr,
            shared,
            stop: stop_tx,
            task: Some(task),
            state_dir: opts.state_dir,
        })
    }
}

async fn accept_loop(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "sandbox accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let ctl = Arc::new(ConnCtl::new(peer));
                let io = TokioIo::new(ControlledIo { inner: stream, ctl: ctl.clone() });
                let router = router.clone();
                let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ctl.clone());
                    let mut router = router.clone();
                    async move {
                        let response: Result<Response, Infallible> =
                            tower_service::Service::call(&mut router, req.map(Body::new)).await;
                        response
                    }
                });
                connections.spawn(async move {
                    // Errors here are mostly our own injected faults or clients hanging up.
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        }
    }
    connections.abort_all();
}

/// Controls a running sandbox. Dropping it stops the server too.
pub struct SandboxHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    state_dir: Option<PathBuf>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("addr", &self.addr)
            .field("state_dir", &self.state_dir)
            .finish()
    }
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT/` — the Yilianyun v1 base; v2 is under `v2/`, Lingju under `httpapi/`, `bltapi/`.
    pub fn base_url(&self) -> url::Url {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// Path of the state database, when persistent.
    pub fn state_file(&self) -> Option<&Path> {
        self.shared.store.path()
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// A label for a fresh random sandbox printer, keyed at the current virtual time.
    pub fn mint_label(&self, kind: LabelKind) -> MintedLabel {
        self.mint_label_for(kind, &keys::random_machine_code())
    }

    /// A label for a given machine code.
    pub fn mint_label_for(&self, kind: LabelKind, machine_code: &str) -> MintedLabel {
        let now = self.now_unix();
        MintedLabel::new(machine_code.to_string(), kind, now, LabelFormat::Json)
    }

    /// Adds a fault rule (newest matching rule wins).
    pub fn set_fault(&self, rule: FaultRule) {
        tracing::info!(mode = rule.mode.as_str(), path = ?rule.path, count = ?rule.count, "sandbox fault set");
        self.shared.faults.set(rule);
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Moves the virtual clock forward (persisted, so it is shared with other processes on the same state).
    pub fn advance(&self, by: Duration) {
        if let Err(e) = self.shared.advance(by.as_secs() as i64) {
            tracing::error!(error = %e, "sandbox could not advance its clock");
        }
    }

    /// Virtual now (real time + advanced offset), unix seconds.
    pub fn now_unix(&self) -> i64 {
        self.shared.now().unwrap_or_else(|e| {
            tracing::error!(error = %e, "sandbox could not read its clock offset; using real time");
            store::real_now()
        })
    }

    /// The last `limit` recorded requests (secret-bearing params masked), oldest first.
    pub fn requests(&self, limit: usize) -> Vec<RecordedRequest> {
        self.shared.log.last(limit)
    }

    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// What a sandbox printer has been sent, oldest first.
    pub fn printed(&self, machine_code: &str) -> Result<Vec<PrintedTicket>, SandboxError> {
        self.shared.printed(machine_code)
    }

    /// Registers a Lingju userid for `/bltapi/authorize.do`.
    pub fn register_lingju_user(&self, userid: &str) -> Result<(), SandboxError> {
        self.shared.register_lingju_user(userid)
    }

    /// Binds a printer to `client_id` (any id, e.g. a foreign app) so other apps get error 17.
    pub fn bind_printer(&self, machine_code: &str, client_id: &str) -> Result<(), SandboxError> {
        self.shared.bind_printer(machine_code, client_id)
    }

    /// 0 offline, 1 online (default), 2 out of paper.
    pub fn set_printer_state(&self, machine_code: &str, state: u8) -> Result<(), SandboxError> {
        self.shared.set_printer_state(machine_code, state)
    }

    /// Grants + refreshes counted against the 20/day quota today (China day, virtual clock).
    pub fn grants_today(&self, machine_code: &str) -> Result<i64, SandboxError> {
        self.shared.grants_today(machine_code)
    }

    /// The app a printer is bound to, if any.
    pub fn bound_app(&self, machine_code: &str) -> Result<Option<String>, SandboxError> {
        self.shared.bound_app(machine_code)
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A reply before it hits the wire (kept as bytes so the truncated fault can cut it).
pub(crate) struct Wire {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub location: Option<String>,
    pub reply_code: Option<i64>,
}

const YLY_JSON: &str = "application/json; charset=utf-8";
const LINGJU_JSON: &str = "application/json;charset=UTF-8";

impl Wire {
    pub fn json(status: u16, content_type: &'static str, value: &serde_json::Value) -> Wire {
        let reply_code = value
            .get("error")
            .or_else(|| value.get("status"))
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            });
        Wire {
            status,
            content_type,
            body: value.to_string().into_bytes(),
            location: None,
            reply_code,
        }
    }
    fn html(status: u16, html: String) -> Wire {
        Wire {
            status,
            content_type: "text/html; charset=utf-8",
            body: html.into_bytes(),
            location: None,
            reply_code: None,
        }
    }
    fn redirect(location: String) -> Wire {
        Wire {
            status: 302,
            content_type: "text/plain; charset=utf-8",
            body: Vec::new(),
            location: Some(location),
            reply_code: None,
        }
    }

    pub fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        if let Some(loc) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            resp.headers_mut().insert(header::LOCATION, loc);
        }
        resp
    }

    /// Raw HTTP bytes announcing the full length but carrying only half the body.
    fn truncated_bytes(&self) -> Vec<u8> {
        let reason = StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("OK");
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n\r\n",
            self.status,
            reason,
            self.content_type,
            self.body.len() + 64
        )
        .into_bytes();
        out.extend_from_slice(&self.body[..self.body.len() / 2]);
        out
    }
}

fn sandbox_error_wire(e: &SandboxError) -> Wire {
    tracing::error!(error = %e, "sandbox internal error");
    Wire::json(
        500,
        YLY_JSON,
        &serde_json::json!({ "error": 45, "error_description": format!("{} / {}", e.message_zh(), e.message_en()) }),
    )
}

fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn parse_pairs(raw: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(raw).into_owned().collect()
}

const YLY_API: &[&str] = &[
    "/oauth/scancodemodel",
    "/oauth/oauth",
    "/printer/getprintstatus",
    "/print/index",
    "/printer/getversion",
    "/printer/printinfo",
    "/printer/deleteprinter",
    "/printer/cancelall",
];

async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let ctl = req.extensions().get::<Arc<ConnCtl>>().cloned();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    if path == "/__sandbox" || path.starts_with("/__sandbox/") {
        // The control API moves clocks and mints keys: never reachable from another host.
        if !ctl.as_ref().is_some_and(|c| c.peer.ip().is_loopback()) {
            return Wire::json(
                403,
                YLY_JSON,
                &serde_json::json!({ "error": "control API is loopback-only" }),
            )
            .into_response();
        }
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        return control::handle(&shared, &parts.method, &path, parts.uri.query(), &body).await;
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => return Wire::html(413, "request body too large".into()).into_response(),
    };
    let fault = shared.faults.take(&path);
    let mut entry = RecordedRequest {
        at: chrono::Utc::now().to_rfc3339(),
        method: parts.method.to_string(),
        path: path.clone(),
        content_type: content_type.clone(),
        params: mask(&request_params(&parts.method, parts.uri.query(), &body)),
        reply_code: None,
        fault: fault.as_ref().map(|f| f.mode.as_str().to_string()),
    };
    if let Some(rule) = &fault {
        tracing::info!(mode = rule.mode.as_str(), %path, "sandbox injecting fault");
        match rule.mode {
            FaultMode::Reset => {
                if let Some(ctl) = &ctl {
                    ctl.reset();
                }
                shared.log.push(entry);
                return Response::new(Body::empty());
            }
            FaultMode::Html500 => {
                shared.log.push(entry);
                return Wire::html(
                    500,
                    "<html><head><title>500 Internal Server Error</title></head><body><center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center></body></html>".into(),
                )
                .into_response();
            }
            FaultMode::NonJson => {
                shared.log.push(entry);
                let mut w = Wire::html(200, "ok\u{0}<<sandbox: not json>>".into());
                w.content_type = "text/plain; charset=utf-8";
                return w.into_response();
            }
            FaultMode::Slow => {
                tokio::time::sleep(Duration::from_millis(rule.delay_ms.unwrap_or(3_000))).await
            }
            FaultMode::DropReply | FaultMode::Truncated => {}
        }
    }
    let wire = route(
        &shared,
        &parts.method,
        &path,
        parts.uri.query(),
        content_type.as_deref(),
        &body,
    )
    .await;
    entry.reply_code = wire.reply_code;
    shared.log.push(entry);
    match (fault.map(|f| f.mode), &ctl) {
        (Some(FaultMode::DropReply), Some(ctl)) => {
            // Everything is committed; now lose the reply.
            ctl.drop_reply();
            Response::new(Body::empty())
        }
        (Some(FaultMode::Truncated), Some(ctl)) => {
            ctl.raw_reply(wire.truncated_bytes());
            Response::new(Body::empty())
        }
        _ => wire.into_response(),
    }
}

/// Parameters as the endpoint would read them (for the request log).
fn request_params(method: &Method, query: Option<&str>, body: &[u8]) -> HashMap<String, String> {
    if *method == Method::GET {
        parse_pairs(query.unwrap_or("").as_bytes())
    } else {
        parse_pairs(body)
    }
}

async fn route(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Wire {
    // Lingju.
    let lingju = match path {
        "/httpapi/authorize.do" => Some(LingjuEndpoint::HttpApi),
        "/bltapi/authorize.do" => Some(LingjuEndpoint::BltApi),
        _ => None,
    };
    if let Some(endpoint) = lingju {
        let params = if *method == Method::GET {
            parse_pairs(query.unwrap_or("").as_bytes())
        } else if *method == Method::POST && is_form(content_type) {
            parse_pairs(body)
        } else {
            return Wire::json(
                200,
                LINGJU_JSON,
                &lingju::error(8, "参数错误：请使用 GET 查询参数或 POST 表单 / parameter error: use GET query parameters or a POST form"),
            );
        };
        return match blocking(shared, move |s| lingju::handle(&s.store, endpoint, &params)).await {
            Ok(v) => Wire::json(200, LINGJU_JSON, &v),
            Err(e) => sandbox_error_wire(&e),
        };
    }

    let (version, api_path) = match path.strip_prefix("/v2") {
        Some(rest) if rest.starts_with('/') => (ApiVersion::V2, rest.to_string()),
        _ => (ApiVersion::V1, path.to_string()),
    };

    // Browser side of the code flow.
    if api_path == "/oauth/authorize" && *method == Method::GET {
        let params = parse_pairs(query.unwrap_or("").as_bytes());
        let action = if version == ApiVersion::V2 {
            "/v2/oauth/authorize/approve"
        } else {
            "/oauth/authorize/approve"
        };
        return match codeflow::authorize_page(action, &params) {
            Ok(html) => Wire::html(200, html),
            Err(html) => Wire::html(400, html),
        };
    }
    if api_path == "/oauth/authorize/approve" && *method == Method::POST {
        let params = parse_pairs(body);
        return match blocking(shared, move |s| Ok(codeflow::approve(&s.store, &params))).await {
            Ok(Ok(location)) => Wire::redirect(location),
            Ok(Err((status, html))) => Wire::html(status, html),
            Err(e) => sandbox_error_wire(&e),
        };
    }

    let reply_error = |code: i64, desc: String| {
        Wire::json(
            200,
            YLY_JSON,
            &yilianyun::YlyReply::err(code, desc).render(version),
        )
    };
    if !YLY_API.contains(&api_path.as_str()) {
        let mut w = reply_error(47, format!("接口不存在：{path} / unknown API path: {path}"));
        w.status = 404;
        return w;
    }
    let params = if *method == Method::POST {
        if !is_form(content_type) {
            let got = content_type.unwrap_or("(none)");
            return reply_error(
                47,
                format!(
                    "Content-Type 必须为 application/x-www-form-urlencoded（收到 {got}）/ \
                     Content-Type must be application/x-www-form-urlencoded (got {got})"
                ),
            );
        }
        parse_pairs(body)
    } else if *method == Method::GET && version == ApiVersion::V2 {
        parse_pairs(query.unwrap_or("").as_bytes())
    } else {
        return reply_error(
            47,
            format!(
                "不支持 {method} 请求：请用 POST 表单（v2 也接受 GET）/ {method} is not accepted: use a POST form (v2 also accepts GET)"
            ),
        );
    };
    let request = YlyRequest {
        version,
        path: api_path,
        params,
    };
    match blocking(shared, move |s| yilianyun::handle(&s.store, &request)).await {
        Ok(reply) => {
            tracing::debug!(%path, code = reply.code, "sandbox yilianyun reply");
            Wire::json(200, YLY_JSON, &reply.render(version))
        }
        Err(e) => sandbox_error_wire(&e),
    }
}
