//! quickauth-sandbox: a protocol-faithful loopback stand-in for Yilianyun (v1 and v2) and Lingju.
//!
//! Used as the built-in "Sandbox" profile (in-process, state under `<data_dir>/sandbox/`), by every
//! integration test, by `quickauth sandbox --port P` ([`run_foreground`]) and by demos. It is deliberately
//! independent of quickauth-protocol: sign, key checks and reply shapes are implemented here again, so a
//! client bug cannot hide behind a shared helper.
//!
//! All keys and app credentials in this crate are public, sandbox-only constants; the persisted state never
//! holds a token, code, qr_key, msign or secret in clear (tokens are derived from a seed, looked up by sha256).

mod apps;
mod codeflow;
mod conn;
mod control;
mod error;
mod faults;
pub mod keys;
mod labels;
mod lingju;
mod receiver;
mod record;
mod server;
mod store;
mod yilianyun;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

pub use apps::{
    BUILTIN_LINGJU_APPKEY, BUILTIN_LINGJU_AUTHCODE, BUILTIN_LINGJU_SOFTWARE_APPKEY,
    BUILTIN_OPEN_APP_ID, BUILTIN_OPEN_APP_SECRET, BUILTIN_OWN_APP_ID, BUILTIN_OWN_APP_SECRET,
};
pub use error::SandboxError;
pub use faults::{FaultMode, FaultRule};
pub use keys::{is_sandbox_printer, mint_qr_key, msign_for, SANDBOX_LABEL_KEY};
pub use labels::{render_payload, LabelFormat, LabelKind, MintedLabel};
pub use receiver::{ReceivedEvent, ReceiverFault, ReceiverHandle};
pub use record::RecordedRequest;
pub use server::{PrintedTicket, Sandbox, SandboxHandle, SandboxOptions};
pub use store::STATE_FILE;

/// Options of `quickauth sandbox`.
#[derive(Debug, Clone)]
pub struct ForegroundOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Shared state directory (e.g. `<data_dir>/sandbox`); `None` keeps state in memory.
    pub state_dir: Option<PathBuf>,
}

/// Serves the sandbox on `127.0.0.1:port`, prints where, and runs until Ctrl-C.
pub async fn run_foreground(opts: ForegroundOptions) -> Result<(), SandboxError> {
    let handle = Sandbox::start(SandboxOptions {
        bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), opts.port),
        state_dir: opts.state_dir.clone(),
    })
    .await?;
    let base = handle.base_url();
    println!("QuickAuth 沙盒已启动 / sandbox listening on {base}");
    println!("  易联云 Yilianyun v1: {base}   v2: {base}v2/");
    println!("  灵聚 Lingju: {base}httpapi/authorize.do  {base}bltapi/authorize.do");
    println!("  开放型应用 open-type app client_id: {BUILTIN_OPEN_APP_ID}   自有型 own-type: {BUILTIN_OWN_APP_ID}");
    println!("  (secrets: the public constants quickauth_sandbox::BUILTIN_*_SECRET)");
    println!("  控制接口 control API: {base}__sandbox/  (mint, fault, advance, requests, printed, bind, lingju/register)");
    match &opts.state_dir {
        Some(dir) => println!("  状态目录 state: {}", dir.display()),
        None => println!("  状态仅在内存中 / state in memory only"),
    }
    println!("按 Ctrl-C 停止 / press Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    Ok(())
}
