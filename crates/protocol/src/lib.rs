//! quickauth-protocol: the wire side of QuickAuth — Yilianyun v1/v2 and Lingju clients, `sign`, secret
//! newtypes, validated inputs, and typed errors with Chinese and English messages (see docs/architecture.md).

mod choice;
mod http;
mod input;
mod lenient;
mod lingju;
mod localized;
pub mod secret;
mod yilianyun;

pub use choice::{Setting, UnknownChoice};
pub use http::{
    http_client, HttpClientBuilder, TransportError, TransportErrorKind, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT, MAX_ECHO_CHARS,
};
pub use input::{BaseUrlProblem, Field, InputError, MachineCode, UserId};
pub use lingju::{
    LingjuClient, LingjuCode, LingjuConfig, LingjuEndpoint, LingjuError, LingjuGrant,
    LINGJU_DEFAULT_BASE,
};
pub use localized::{Action, Localized};
pub use yilianyun::{
    sign, ApiCode, ApiVersion, CsrfState, DeviceKey, Endpoint, PrintInfo, PrintJob, PrinterState,
    PrinterVersion, Region, TokenGrant, YilianyunClient, YilianyunConfig, YilianyunError, HOST_CN,
    HOST_CN_ALT, HOST_OVERSEAS,
};
