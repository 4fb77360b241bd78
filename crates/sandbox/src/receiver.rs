//! A Standard Webhooks receiver for QuickAuth's delivery webhooks: verifies every request's signature with the
//! `standardwebhooks` crate, de-duplicates by `webhook-id`, keeps the newest pair per device by `generation`.
//!
//! Used by the tests and the reliability harness (with injectable faults), and by `quickauth sandbox receiver`
//! for demos. `docs/delivery.md` shows the same logic for a business to copy. Nothing received is written to disk:
//! the pairs live in memory only.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::conn::{ConnCtl, ControlledIo};
use crate::error::SandboxError;

/// What the receiver does with the next request(s), instead of answering 204.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverFault {
    /// Wait this long, then process and answer normally.
    Slow(Duration),
    /// Answer this status without processing (500, 410, 400, …).
    Status(u16),
    /// Never answer (the sender's timeout cuts it off).
    Hang,
    /// Process the event (it counts as received), then close the connection without a reply: the ack is lost.
    DropAfterProcessing,
    /// Process the event, then never answer (for killing the sender between send and acknowledgement).
    ProcessThenHang,
}

/// One accepted delivery (duplicates included: the same `webhook_id` may appear more than once).
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedEvent {
    pub webhook_id: String,
    pub kind: String,
    pub provider: String,
    pub profile: String,
    /// Machine code or userid.
    pub device: String,
    pub generation: i64,
    pub ownership: String,
    /// In memory only (the receiver is where the pair is meant to end up).
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for ReceivedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedEvent")
            .field("webhook_id", &self.webhook_id)
            .field("kind", &self.kind)
            .field("device", &self.device)
            .field("generation", &self.generation)
            .field("ownership", &self.ownership)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<ReceivedEvent>,
    faults: VecDeque<ReceiverFault>,
    bad_signatures: usize,
    requests: usize,
}

struct Shared {
    webhook: standardwebhooks::Webhook,
    inner: Mutex<Inner>,
}

/// A running receiver. Dropping it stops it.
pub struct ReceiverHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ReceiverHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

impl ReceiverHandle {
    /// Starts a receiver on `bind` (e.g. 127.0.0.1:0) that accepts requests signed with `secret` (`whsec_…`).
    pub async fn start(bind: SocketAddr, secret: &str) -> Result<ReceiverHandle, SandboxError> {
        let webhook = standardwebhooks::Webhook::new(secret).map_err(|_| {
            SandboxError::Worker("receiver: the signing secret is not whsec_<base64>".into())
        })?;
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|source| SandboxError::Bind { addr: bind, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { addr: bind, source })?;
        let shared = Arc::new(Shared {
            webhook,
            inner: Mutex::new(Inner::default()),
        });
        let router = Router::new().fallback(receive).with_state(shared.clone());
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, router, stop_rx));
        Ok(ReceiverHandle {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/webhooks/quickauth`
    pub fn url(&self) -> String {
        format!("http://{}/webhooks/quickauth", self.addr)
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue faults for the next requests, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = ReceiverFault>) {
        self.inner().faults.extend(faults);
    }

    pub fn clear_faults(&self) {
        self.inner().faults.clear();
    }

    /// Every accepted delivery, in arrival order (duplicates included).
    pub fn received(&self) -> Vec<ReceivedEvent> {
        self.inner().received.clone()
    }

    /// Distinct webhook ids accepted.
    pub fn distinct_ids(&self) -> std::collections::BTreeSet<String> {
        self.inner()
            .received
            .iter()
            .map(|e| e.webhook_id.clone())
            .collect()
    }

    /// The newest pair per device (by generation; a later event of the same generation, e.g. the hand-over of the
    /// pair already delivered, wins), as a receiver would keep it: device -> event.
    pub fn latest(&self) -> HashMap<String, ReceivedEvent> {
        let mut out: HashMap<String, ReceivedEvent> = HashMap::new();
        for e in self.inner().received.iter() {
            if e.access_token.is_none() {
                continue;
            }
            match out.get(&e.device) {
                Some(have) if have.generation > e.generation => {}
                _ => {
                    out.insert(e.device.clone(), e.clone());
                }
            }
        }
        out
    }

    /// Requests whose signature did not verify (they were answered 401).
    pub fn bad_signatures(&self) -> usize {
        self.inner().bad_signatures
    }

    /// Every request that reached the handler (faulted ones included).
    pub fn requests(&self) -> usize {
        self.inner().requests
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for ReceiverHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
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
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        }
    }
    connections.abort_all();
}

async fn receive(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let ctl = req.extensions().get::<Arc<ConnCtl>>().cloned();
    let headers: HeaderMap = req.headers().clone();
    let Ok(body) = axum::body::to_bytes(req.into_body(), 1 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let fault = {
        let mut inner = shared.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.requests += 1;
        inner.faults.pop_front()
    };
    match fault {
        Some(ReceiverFault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::OK.into_response();
        }
        Some(ReceiverFault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (
                status,
                format!("test receiver: answering {code} on purpose"),
            )
                .into_response();
        }
        Some(ReceiverFault::Slow(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    match process(&shared, &headers, &body) {
        Ok(()) => {}
        Err(status) => return (status, "signature or payload rejected").into_response(),
    }
    if fault == Some(ReceiverFault::ProcessThenHang) {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if fault == Some(ReceiverFault::DropAfterProcessing) {
        if let Some(ctl) = ctl {
            ctl.drop_reply();
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Verify, then record. 401 for a bad signature or stale timestamp, 400 for a body that is not an event.
fn process(shared: &Shared, headers: &HeaderMap, body: &Bytes) -> Result<(), StatusCode> {
    if shared.webhook.verify(body, headers).is_err() {
        shared
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .bad_signatures += 1;
        return Err(StatusCode::UNAUTHORIZED);
    }
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| StatusCode::BAD_REQUEST)?;
    let data = &v["data"];
    let s = |k: &str| data[k].as_str().map(str::to_owned);
    let event = ReceivedEvent {
        webhook_id: id,
        kind: v["type"].as_str().unwrap_or_default().to_owned(),
        provider: s("provider").unwrap_or_default(),
        profile: s("profile").unwrap_or_default(),
        device: s("machine_code")
            .or_else(|| s("userid"))
            .unwrap_or_default(),
        generation: data["generation"].as_i64().ok_or(StatusCode::BAD_REQUEST)?,
        ownership: s("ownership").unwrap_or_default(),
        access_token: s("access_token"),
        refresh_token: s("refresh_token"),
    };
    shared
        .inner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .received
        .push(event);
    Ok(())
}
