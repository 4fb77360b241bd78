//! The one HTTP client (rustls, bounded timeouts, proxies that never catch loopback), the form POST both
//! providers use, and the classification of every way a request can fail before a provider reply is parsed.
//!
//! Proxies: the standard environment variables when any is set (every OS); otherwise, on macOS and Windows, the
//! system's own proxy settings (read by hyper-util: macOS SystemConfiguration's HTTP/HTTPS proxies, Windows'
//! per-user Internet Settings in the registry), re-read every [`SYSTEM_PROXY_TTL`] so a laptop that changes
//! networks follows. Linux has no system store: environment only. Loopback (the built-in sandbox) always goes
//! direct, whatever either source says.

use crate::input::is_loopback_host;
use crate::localized::{Action, Localized};
use hyper_util::client::proxy::matcher::Matcher as ProxyMatcher;
use reqwest::{Client, NoProxy, Proxy};
use std::error::Error as StdError;
use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use url::Url;

/// How long connecting (TCP + TLS) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take by default.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
/// At most this many characters of a server body are ever echoed into an error.
pub const MAX_ECHO_CHARS: usize = 200;

/// Hosts that must never go through a proxy taken from the environment: the built-in sandbox runs there.
const LOOPBACK_NO_PROXY: &str = "localhost,127.0.0.0/8,::1";
/// How long system proxy settings are used before they are read again.
pub const SYSTEM_PROXY_TTL: Duration = Duration::from_secs(30);

type Customize = Box<dyn FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send>;
/// Reads an environment variable (tests pass their own, so they never depend on or change the real one).
type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;
/// Reads the system proxy settings; called again after [`SYSTEM_PROXY_TTL`].
type SystemProxySource = Arc<dyn Fn() -> ProxyMatcher + Send + Sync>;

/// Builds the HTTP client. Production uses [`http_client`]; tests shorten the timeouts.
pub struct HttpClientBuilder {
    connect_timeout: Duration,
    total_timeout: Duration,
    customize: Vec<Customize>,
    env: EnvLookup,
    system_proxies: Option<SystemProxySource>,
}

impl Default for HttpClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClientBuilder {
    pub fn new() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            customize: Vec::new(),
            env: Arc::new(|name| std::env::var(name).ok()),
            // Only where an OS store exists; on Linux hyper-util's "system" would be the environment again.
            system_proxies: if cfg!(any(target_os = "macos", windows)) {
                Some(Arc::new(ProxyMatcher::from_system) as SystemProxySource)
            } else {
                None
            },
        }
    }

    /// Limit for TCP connect plus TLS handshake.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Limit for the whole request, reply body included.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// Replaces name resolution (tests use it to provoke a DNS failure without any outside lookup).
    pub fn dns_resolver<R: reqwest::dns::Resolve + 'static>(mut self, resolver: Arc<R>) -> Self {
        self.customize
            .push(Box::new(move |b| b.dns_resolver(resolver)));
        self
    }

    /// Replaces where environment variables are read from (tests).
    #[doc(hidden)]
    pub fn env_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Arc::new(lookup);
        self
    }

    /// Replaces the system proxy settings (tests: the settings a Mac or Windows machine would report, built
    /// with hyper-util's `Matcher::builder()`; `None`: no system settings, as on Linux).
    #[doc(hidden)]
    pub fn system_proxies(
        mut self,
        source: Option<impl Fn() -> ProxyMatcher + Send + Sync + 'static>,
    ) -> Self {
        self.system_proxies = source.map(|s| Arc::new(s) as SystemProxySource);
        self
    }

    pub fn build(self) -> Client {
        let mut builder = Client::builder()
            .use_rustls_tls()
            .connect_timeout(self.connect_timeout)
            .timeout(self.total_timeout)
            // A redirected POST turns into a GET without its form and may leave the host we trust: never follow.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("QuickAuth/", env!("CARGO_PKG_VERSION")))
            // Our own proxy list replaces reqwest's automatic one, which would also proxy 127.0.0.1.
            .no_proxy();
        let env = &*self.env;
        if env_proxy_configured(env) {
            for proxy in env_proxies(env) {
                builder = builder.proxy(proxy);
            }
        } else if let Some(source) = self.system_proxies {
            builder = builder.proxy(system_proxy(source));
        }
        for customize in self.customize {
            builder = customize(builder);
        }
        builder
            .build()
            .expect("a rustls client with bundled roots and no custom TLS settings always builds")
    }
}

/// The process-wide client: built once, cheap to clone (it shares its connection pool).
pub fn http_client() -> Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| HttpClientBuilder::new().build())
        .clone()
}

fn env_var(env: &dyn Fn(&str) -> Option<String>, upper: &str, lower: &str) -> Option<String> {
    [upper, lower]
        .iter()
        .find_map(|name| env(name))
        .filter(|v| !v.trim().is_empty())
}

/// True when any proxy variable is set: the environment then decides alone (as curl does), system settings are
/// not consulted, so an explicit `HTTPS_PROXY=` for one program is never mixed with the desktop's proxy.
fn env_proxy_configured(env: &dyn Fn(&str) -> Option<String>) -> bool {
    [
        ("HTTPS_PROXY", "https_proxy"),
        ("HTTP_PROXY", "http_proxy"),
        ("ALL_PROXY", "all_proxy"),
    ]
    .iter()
    .any(|(upper, lower)| env_var(env, upper, lower).is_some())
}

/// The standard proxy variables, with loopback always excluded (added to whatever NO_PROXY says).
/// An unparsable proxy variable is ignored rather than breaking every request.
fn env_proxies(env: &dyn Fn(&str) -> Option<String>) -> Vec<Proxy> {
    let no_proxy = match env_var(env, "NO_PROXY", "no_proxy") {
        Some(list) => format!("{list},{LOOPBACK_NO_PROXY}"),
        None => LOOPBACK_NO_PROXY.to_owned(),
    };
    let mut proxies = Vec::new();
    // Lowercase first for http_proxy: uppercase HTTP_PROXY can be injected through a CGI "Proxy:" header.
    type MakeProxy = fn(String) -> reqwest::Result<Proxy>;
    let candidates: [(Option<String>, MakeProxy); 3] = [
        (env_var(env, "HTTPS_PROXY", "https_proxy"), |v| {
            Proxy::https(v)
        }),
        (env_var(env, "http_proxy", "HTTP_PROXY"), |v| Proxy::http(v)),
        (env_var(env, "ALL_PROXY", "all_proxy"), |v| Proxy::all(v)),
    ];
    for (value, make) in candidates {
        if let Some(proxy) = value.and_then(|v| make(v).ok()) {
            proxies.push(proxy.no_proxy(NoProxy::from_string(&no_proxy)));
        }
    }
    proxies
}

/// The system's proxy settings as one reqwest proxy: loopback is answered before the settings are looked at, so
/// no system setting (macOS ignores its exception list here, Windows' `ProxyOverride` may lack `<local>`) can
/// send the built-in sandbox's traffic to a proxy.
fn system_proxy(source: SystemProxySource) -> Proxy {
    let cached: Mutex<Option<(Instant, Arc<ProxyMatcher>)>> = Mutex::new(None);
    Proxy::custom(move |url: &Url| -> Option<Url> {
        if is_loopback_host(url.host()) {
            return None;
        }
        let matcher = {
            let mut cached = cached
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match &*cached {
                Some((read_at, m)) if read_at.elapsed() < SYSTEM_PROXY_TTL => m.clone(),
                _ => {
                    let m = Arc::new(source());
                    *cached = Some((Instant::now(), m.clone()));
                    m
                }
            }
        };
        let uri: http::Uri = url.as_str().parse().ok()?;
        let intercept = matcher.intercept(&uri)?;
        // The proxy's address only: a system setting has no credentials on macOS, and none we could pass on
        // from Windows' registry string either.
        Url::parse(&intercept.uri().to_string()).ok()
    })
}

/// What went wrong below the provider's own error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The host name could not be resolved.
    Dns,
    /// Nothing listens on that port (TCP RST).
    ConnectionRefused,
    /// TCP connect or TLS handshake took longer than the connect timeout.
    ConnectTimeout,
    /// TLS handshake failed: certificate not trusted, wrong host, or an intercepting proxy.
    Tls,
    /// Any other failure before the request was sent (network unreachable, proxy refused the tunnel, ...).
    ConnectFailed,
    /// Connected and sent, but no complete reply within the total timeout.
    ReadTimeout,
    /// The connection was closed or reset after the request was sent and before a reply arrived.
    ConnectionClosed,
    /// A non-2xx HTTP status (a 5xx or an HTML error page from a gateway).
    HttpStatus { status: u16, html: bool },
    /// 2xx, but the body is not JSON (an HTML page from a captive portal or proxy, or garbage).
    NonJson { html: bool },
    /// The body ended before its announced length, or the JSON stops in the middle.
    Truncated,
    /// JSON, but not the shape the provider documents (e.g. success without a token).
    UnexpectedReply,
    /// Anything reqwest reports that fits none of the above.
    Other,
}

/// A failure to get a usable reply. Carries the host (not secret) and a short, redacted detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?} talking to {host}: {detail}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    /// `host[:port]` we talked to; URLs never hold secrets, but only the host is kept anyway.
    pub host: String,
    /// Technical detail for support: the error chain or at most [`MAX_ECHO_CHARS`] of a redacted server body.
    pub detail: String,
}

impl TransportError {
    /// For fakes in other crates' tests; `detail` must not contain a secret.
    pub fn new(kind: TransportErrorKind, host: &str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            host: host.to_owned(),
            detail: detail.into(),
        }
    }

    /// True when the request may have reached the server and been processed, so its effect (e.g. a token
    /// refresh) is unknown. False when it definitely was not processed (DNS, refused, connect timeout, TLS,
    /// HTTP 4xx). A refresh whose outcome is unknown must be retried with the *old* refresh token (Yilianyun
    /// replays the previous result for 2 hours).
    pub fn outcome_unknown(&self) -> bool {
        use TransportErrorKind::*;
        match self.kind {
            Dns | ConnectionRefused | ConnectTimeout | Tls | ConnectFailed => false,
            HttpStatus { status, .. } => status >= 500,
            ReadTimeout
            | ConnectionClosed
            | NonJson { .. }
            | Truncated
            | UnexpectedReply
            | Other => true,
        }
    }

    fn detail_suffix_zh(&self) -> String {
        if self.detail.is_empty() {
            String::new()
        } else {
            format!("(技术细节:{})", self.detail)
        }
    }

    fn detail_suffix_en(&self) -> String {
        if self.detail.is_empty() {
            String::new()
        } else {
            format!(" (detail: {})", self.detail)
        }
    }
}

impl Localized for TransportError {
    fn kind(&self) -> &'static str {
        "transport"
    }

    fn message_zh(&self) -> String {
        use TransportErrorKind::*;
        let h = &self.host;
        let text = match self.kind {
            Dns => format!("找不到服务器 {h}(域名解析失败)。请检查电脑是否已联网、DNS 设置是否正确;若使用自定义地址,请核对主机名。"),
            ConnectionRefused => format!("服务器 {h} 拒绝连接(该端口没有服务)。请检查服务器地址和端口;使用代理时请确认代理正在运行。请求未被处理,可以放心重试。"),
            ConnectTimeout => format!("连接服务器 {h} 超时。请检查网络、防火墙或代理设置后重试。请求未被处理,可以放心重试。"),
            Tls => format!("与 {h} 建立安全连接(TLS)失败:证书不受信任或不匹配。请检查电脑的日期时间是否正确,以及网络中是否有拦截 HTTPS 的代理或安全软件。"),
            ConnectFailed => format!("无法连接到服务器 {h}。请检查网络连接和代理设置后重试。请求未被处理。"),
            ReadTimeout => format!("已向 {h} 发出请求,但在规定时间内没有收到完整回复。请求可能已被服务器处理:请稍后重试。"),
            ConnectionClosed => format!("已向 {h} 发出请求,但连接在收到回复前中断。请求可能已被处理:请稍后重试。"),
            HttpStatus { status, html } if status >= 500 => format!(
                "服务器 {h} 暂时出错(HTTP {status}{})。请求可能已被处理:请稍后重试。",
                if html { ",返回了网页而不是数据" } else { "" }
            ),
            HttpStatus { status, .. } if (300..400).contains(&status) => format!("服务器 {h} 要求跳转到别的地址(HTTP {status}),为安全起见不会跟随。请检查服务器地址是否正确(例如应为 https:// 开头)。"),
            HttpStatus { status, .. } => format!("服务器 {h} 拒绝了请求(HTTP {status})。请检查服务器地址是否正确(自定义地址只填 https://主机名:端口),以及是否有代理拦截。"),
            NonJson { html: true } => format!("服务器 {h} 返回了一个网页,而不是接口数据。可能是网络需要登录(如酒店/商场 Wi-Fi)或被代理拦截。请检查网络后重试。"),
            NonJson { html: false } => format!("服务器 {h} 的回复无法识别(不是 JSON)。请检查服务器地址和网络代理后重试。"),
            Truncated => format!("服务器 {h} 的回复不完整(连接中途断开)。请求可能已被处理:请稍后重试。"),
            UnexpectedReply => format!("服务器 {h} 的回复格式与接口文档不符。请求可能已被处理;请稍后重试,如果反复出现请反馈问题。"),
            Other => format!("与服务器 {h} 通信时出错。请检查网络后重试;如果反复出现请反馈问题。"),
        };
        text + &self.detail_suffix_zh()
    }

    fn message_en(&self) -> String {
        use TransportErrorKind::*;
        let h = &self.host;
        let text = match self.kind {
            Dns => format!("Cannot find the server {h} (DNS lookup failed). Check that this computer is online and its DNS settings; for a custom address, check the host name."),
            ConnectionRefused => format!("The server {h} refused the connection (nothing listens on that port). Check the server address and port, and that your proxy is running if you use one. The request was not processed; retrying is safe."),
            ConnectTimeout => format!("Connecting to {h} timed out. Check the network, firewall or proxy and try again. The request was not processed; retrying is safe."),
            Tls => format!("The secure (TLS) connection to {h} failed: its certificate is not trusted or does not match. Check this computer's date and time, and whether a proxy or security software intercepts HTTPS."),
            ConnectFailed => format!("Cannot connect to {h}. Check the network connection and proxy settings and try again. The request was not processed."),
            ReadTimeout => format!("The request was sent to {h} but no complete reply came in time. It may have been processed: try again later."),
            ConnectionClosed => format!("The request was sent to {h} but the connection dropped before the reply. It may have been processed: try again later."),
            HttpStatus { status, html } if status >= 500 => format!(
                "The server {h} had a temporary error (HTTP {status}{}). The request may have been processed: try again later.",
                if html { ", an HTML page instead of data" } else { "" }
            ),
            HttpStatus { status, .. } if (300..400).contains(&status) => format!("The server {h} answered with a redirect (HTTP {status}), which is not followed for safety. Check the server address (it may need https://)."),
            HttpStatus { status, .. } => format!("The server {h} rejected the request (HTTP {status}). Check the server address (a custom address is only https://host:port) and whether a proxy interferes."),
            NonJson { html: true } => format!("The server {h} answered with a web page instead of API data: the network may need a login (hotel/mall Wi-Fi) or a proxy intercepts it. Check the network and try again."),
            NonJson { html: false } => format!("The reply from {h} is not JSON and cannot be read. Check the server address and proxy and try again."),
            Truncated => format!("The reply from {h} was cut off (the connection dropped mid-reply). The request may have been processed: try again later."),
            UnexpectedReply => format!("The reply from {h} does not have the documented shape. The request may have been processed; try again later and report a bug if it keeps happening."),
            Other => format!("Talking to {h} failed. Check the network and try again; report a bug if it keeps happening."),
        };
        text + &self.detail_suffix_en()
    }

    fn action(&self) -> Action {
        use TransportErrorKind::*;
        match self.kind {
            Dns | ConnectionRefused | ConnectTimeout | Tls | ConnectFailed | NonJson { .. } => {
                Action::CheckNetwork
            }
            HttpStatus { status, .. } if status < 500 && status != 429 => Action::CheckNetwork,
            ReadTimeout | ConnectionClosed | HttpStatus { .. } | Truncated => Action::RetryLater,
            UnexpectedReply | Other => Action::ReportBug,
        }
    }

    fn retryable(&self) -> bool {
        use TransportErrorKind::*;
        match self.kind {
            Dns
            | ConnectionRefused
            | ConnectTimeout
            | ConnectFailed
            | ReadTimeout
            | ConnectionClosed
            | Truncated
            | NonJson { .. } => true,
            HttpStatus { status, .. } => status >= 500 || status == 429,
            Tls | UnexpectedReply | Other => false,
        }
    }
}

/// `host[:port]` of a URL, for messages.
pub(crate) fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => "?".to_owned(),
    }
}

/// Removes known secret values from text that came from outside (a server body) before it is kept anywhere.
pub(crate) struct Redactor<'a> {
    secrets: Vec<&'a str>,
}

impl<'a> Redactor<'a> {
    pub(crate) fn new(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        // Very short values would blank out ordinary text; real secrets are long.
        Self {
            secrets: secrets.into_iter().filter(|s| s.len() >= 4).collect(),
        }
    }

    /// Printable, single-line, at most [`MAX_ECHO_CHARS`] characters, secrets replaced by `***`.
    pub(crate) fn echo(&self, text: &str) -> String {
        let mut out: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        for secret in &self.secrets {
            out = out.replace(secret, "***");
        }
        let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
        if out.chars().count() > MAX_ECHO_CHARS {
            out.chars()
                .take(MAX_ECHO_CHARS)
                .chain("…".chars())
                .collect()
        } else {
            out
        }
    }
}

/// A server body as a short, redacted echo; an HTML page is never echoed.
fn body_echo(body: &[u8], redactor: &Redactor<'_>) -> String {
    if looks_like_html(body) {
        return "HTML page".to_owned();
    }
    redactor.echo(&String::from_utf8_lossy(
        &body[..body.len().min(MAX_ECHO_CHARS * 4)],
    ))
}

fn looks_like_html(body: &[u8]) -> bool {
    let start = String::from_utf8_lossy(&body[..body.len().min(256)])
        .trim_start()
        .to_ascii_lowercase();
    start.starts_with("<!doctype")
        || start.starts_with("<html")
        || start.starts_with("<head")
        || start.starts_with("<body")
        || (start.starts_with('<') && start.contains("<title"))
}

/// POSTs `form` as `application/x-www-form-urlencoded` and returns the JSON reply, or how it failed.
/// The URL must not hold anything secret (reqwest puts URLs into its errors); all secrets go in the form.
/// A non-2xx reply whose body is the provider's own error envelope (a non-zero `code_field`) is returned as a
/// reply, so the typed provider error wins over a bare HTTP status.
pub(crate) async fn post_form(
    http: &Client,
    url: Url,
    form: &[(&str, &str)],
    code_field: &str,
    redactor: &Redactor<'_>,
) -> Result<serde_json::Value, TransportError> {
    let host = host_of(&url);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = http
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| classify(&e, &host, Phase::Send))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| classify(&e, &host, Phase::Body))?;
    if !status.is_success() {
        if let Ok(reply) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            if crate::lenient::field(&reply, code_field, crate::lenient::int)
                .is_some_and(|code| code != 0)
            {
                return Ok(reply);
            }
        }
        let kind = TransportErrorKind::HttpStatus {
            status: status.as_u16(),
            html: looks_like_html(&bytes),
        };
        return Err(TransportError::new(
            kind,
            &host,
            body_echo(&bytes, redactor),
        ));
    }
    parse_json(&bytes, &host, redactor)
}

fn parse_json(
    bytes: &[u8],
    host: &str,
    redactor: &Redactor<'_>,
) -> Result<serde_json::Value, TransportError> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => Ok(value),
        Err(e) => {
            let kind = if looks_like_html(bytes) {
                TransportErrorKind::NonJson { html: true }
            } else if e.is_eof() && bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
                TransportErrorKind::Truncated
            } else {
                TransportErrorKind::NonJson { html: false }
            };
            // A body that starts like JSON may be a cut-off success reply holding fresh tokens: never echo it.
            let json_like = matches!(
                bytes.iter().find(|b| !b.is_ascii_whitespace()),
                Some(b'{' | b'[')
            );
            let detail = if bytes.is_empty() {
                "empty body".to_owned()
            } else if json_like {
                format!("invalid JSON after {} bytes: {e}", bytes.len())
            } else {
                body_echo(bytes, redactor)
            };
            Err(TransportError::new(kind, host, detail))
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Connecting, sending, waiting for the status line and headers.
    Send,
    /// Reading the reply body.
    Body,
}

/// Maps a reqwest error to a kind by walking its cause chain (io errors, rustls errors, hyper-util messages).
fn classify(err: &reqwest::Error, host: &str, phase: Phase) -> TransportError {
    let mut io_kinds = Vec::new();
    let mut tls = false;
    let mut texts = Vec::new();
    let mut source: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = source {
        texts.push(e.to_string());
        if e.is::<rustls::Error>() {
            tls = true;
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            io_kinds.push(io.kind());
            // io::Error::source() skips the error it wraps, so look inside explicitly.
            if let Some(inner) = io.get_ref() {
                if inner.is::<rustls::Error>() {
                    tls = true;
                }
            }
        }
        source = e.source();
    }
    let chain = texts.join(": ");
    let lower = chain.to_ascii_lowercase();
    let has_io = |k: io::ErrorKind| io_kinds.contains(&k);
    use TransportErrorKind::*;
    let kind = if err.is_connect() {
        if tls
            || lower.contains("certificate")
            || lower.contains("handshake")
            || lower.contains("tls")
        {
            Tls
        } else if lower.contains("dns error") {
            Dns
        } else if err.is_timeout() {
            ConnectTimeout
        } else if has_io(io::ErrorKind::ConnectionRefused) {
            ConnectionRefused
        } else {
            ConnectFailed
        }
    } else if err.is_timeout() {
        ReadTimeout
    } else if phase == Phase::Body || err.is_body() || err.is_decode() {
        if has_io(io::ErrorKind::UnexpectedEof)
            || lower.contains("end of file")
            || lower.contains("incomplete")
        {
            Truncated
        } else {
            ConnectionClosed
        }
    } else if err.is_request() {
        ConnectionClosed
    } else {
        Other
    };
    // The chain is ours (reqwest/hyper/rustls text), never a URL (those live on `err` itself, not its sources).
    let detail: String = chain.chars().take(MAX_ECHO_CHARS).collect();
    TransportError::new(kind, host, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A local listener that records the first line of every request and answers with `reply`.
    async fn listener(reply: &'static [u8]) -> (String, Arc<Mutex<Vec<String>>>) {
        let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = socket.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                let first = String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                log.lock().unwrap().push(first);
                let _ = stream.write_all(reply).await;
            }
        });
        (format!("127.0.0.1:{}", addr.port()), seen)
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    const BAD_GATEWAY: &[u8] = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
    const REMOTE: &str = "https://printer-api.quickauth.test/oauth/oauth";

    #[tokio::test]
    async fn system_proxy_carries_remote_hosts_but_never_loopback() {
        let (proxy, via_proxy) = listener(BAD_GATEWAY).await;
        let (server, direct) = listener(OK).await;
        let reads = Arc::new(AtomicUsize::new(0));
        let counter = reads.clone();
        // What a Mac or Windows machine with a proxy and no exception list reports.
        let system = move || {
            counter.fetch_add(1, Ordering::SeqCst);
            ProxyMatcher::builder()
                .all(format!("http://{proxy}"))
                .build()
        };
        let client = HttpClientBuilder::new()
            .env_lookup(|_| None)
            .system_proxies(Some(system))
            .build();
        let port = server.rsplit(':').next().unwrap();
        for url in [
            format!("http://{server}/x"),
            format!("http://localhost:{port}/x"),
        ] {
            let status = client.post(&url).send().await.unwrap().status();
            assert_eq!(status, 200, "{url}");
        }
        assert_eq!(direct.lock().unwrap().len(), 2);
        assert!(
            via_proxy.lock().unwrap().is_empty(),
            "loopback must never go through a system proxy: {:?}",
            via_proxy.lock().unwrap()
        );
        // A remote host is tunnelled through the system proxy (which refuses: no DNS lookup happens here).
        for _ in 0..2 {
            let err = client.post(REMOTE).send().await.unwrap_err();
            assert!(err.is_connect() || err.is_request(), "{err:?}");
        }
        assert_eq!(
            *via_proxy.lock().unwrap(),
            ["CONNECT printer-api.quickauth.test:443 HTTP/1.1"; 2]
        );
        // Read once, then served from the cache until SYSTEM_PROXY_TTL passes.
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn environment_proxies_win_over_system_settings() {
        let (env_proxy, via_env) = listener(BAD_GATEWAY).await;
        let (system_proxy, via_system) = listener(BAD_GATEWAY).await;
        let env_url = format!("http://{env_proxy}");
        let client = HttpClientBuilder::new()
            .env_lookup(move |name| (name == "HTTPS_PROXY").then(|| env_url.clone()))
            .system_proxies(Some(move || {
                ProxyMatcher::builder()
                    .all(format!("http://{system_proxy}"))
                    .build()
            }))
            .build();
        client.post(REMOTE).send().await.unwrap_err();
        assert_eq!(
            *via_env.lock().unwrap(),
            ["CONNECT printer-api.quickauth.test:443 HTTP/1.1"]
        );
        assert!(via_system.lock().unwrap().is_empty());
    }

    #[test]
    fn system_settings_are_read_only_where_an_os_store_exists() {
        assert_eq!(
            HttpClientBuilder::new().system_proxies.is_some(),
            cfg!(any(target_os = "macos", windows))
        );
    }

    #[test]
    fn redactor_strips_secrets_controls_and_length() {
        let r = Redactor::new(["topsecret", "ab"]);
        assert_eq!(r.echo("x topsecret\ny\u{7}"), "x *** y");
        // Two-character values are not redacted (they would mangle ordinary text).
        assert_eq!(r.echo("ab"), "ab");
        let long = "z".repeat(500);
        assert_eq!(r.echo(&long).chars().count(), MAX_ECHO_CHARS + 1);
    }

    #[test]
    fn html_is_never_echoed() {
        let r = Redactor::new([]);
        assert_eq!(
            body_echo(b"  <!DOCTYPE html><html>secret</html>", &r),
            "HTML page"
        );
        assert_eq!(body_echo(b"<html><body>x</body></html>", &r), "HTML page");
        assert_eq!(body_echo(b"plain oops", &r), "plain oops");
    }

    #[test]
    fn json_failures_are_classified() {
        let r = Redactor::new([]);
        let kind = |b: &[u8]| parse_json(b, "h", &r).unwrap_err().kind;
        assert_eq!(
            kind(b"{\"error\":\"0\",\"bo"),
            TransportErrorKind::Truncated
        );
        assert_eq!(
            kind(b"<html><title>Login</title></html>"),
            TransportErrorKind::NonJson { html: true }
        );
        assert_eq!(
            kind(b"Service Unavailable"),
            TransportErrorKind::NonJson { html: false }
        );
        assert_eq!(kind(b""), TransportErrorKind::NonJson { html: false });
        assert!(parse_json(b" {\"a\":1} ", "h", &r).is_ok());
        let cut =
            parse_json(b"{\"body\":{\"access_token\":\"fresh-token-value", "h", &r).unwrap_err();
        assert!(
            !cut.detail.contains("fresh-token-value")
                && !cut.message_en().contains("fresh-token-value")
        );
    }

    #[test]
    fn outcome_unknown_split() {
        use TransportErrorKind::*;
        let e = |kind| TransportError::new(kind, "h", "");
        for k in [
            Dns,
            ConnectionRefused,
            ConnectTimeout,
            Tls,
            ConnectFailed,
            HttpStatus {
                status: 404,
                html: true,
            },
        ] {
            assert!(!e(k).outcome_unknown(), "{k:?}");
        }
        for k in [
            ReadTimeout,
            ConnectionClosed,
            Truncated,
            NonJson { html: true },
            UnexpectedReply,
            Other,
            HttpStatus {
                status: 502,
                html: true,
            },
        ] {
            assert!(e(k).outcome_unknown(), "{k:?}");
        }
    }

    #[test]
    fn every_kind_has_distinct_messages() {
        use TransportErrorKind::*;
        let kinds = [
            Dns,
            ConnectionRefused,
            ConnectTimeout,
            Tls,
            ConnectFailed,
            ReadTimeout,
            ConnectionClosed,
            HttpStatus {
                status: 503,
                html: true,
            },
            HttpStatus {
                status: 404,
                html: false,
            },
            HttpStatus {
                status: 302,
                html: false,
            },
            NonJson { html: true },
            NonJson { html: false },
            Truncated,
            UnexpectedReply,
            Other,
        ];
        let mut zh = std::collections::HashSet::new();
        let mut en = std::collections::HashSet::new();
        for k in kinds {
            let e = TransportError::new(k, "open-api.10ss.net", "");
            assert!(e.message_zh().contains("open-api.10ss.net"));
            assert!(zh.insert(e.message_zh()), "{k:?}");
            assert!(en.insert(e.message_en()), "{k:?}");
        }
    }
}
