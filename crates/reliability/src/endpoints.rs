//! Real-socket fault endpoints on loopback: a refused port, a listener that never completes a connect, a server that
//! accepts and never answers, and a self-signed HTTPS server. Each counts what reached it.
//!
//! Why these and not a non-routable address (e.g. 10.255.255.1): the rules allow only 127.0.0.1/::1, and on a
//! machine without a default route such an address fails at once with ENETUNREACH (a `ConnectFailed`, not a
//! timeout), so it does not even produce the fault reliably. A loopback listener whose accept queue is full does:
//! Linux drops the SYN (`tcp_abort_on_overflow` = 0, the default) and the client retransmits until its own
//! connect timeout fires. `backlog = 0` admits exactly one queued connection, which `BacklogFull` fills itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use url::Url;

fn base(scheme: &str, addr: SocketAddr) -> Url {
    Url::parse(&format!("{scheme}://{addr}")).expect("socket address makes a URL")
}

/// A port that is bound (so nobody else can take it) but never listens: every connect gets RST / ECONNREFUSED.
pub struct ClosedPort {
    _socket: TcpSocket,
    addr: SocketAddr,
}

impl ClosedPort {
    pub fn new() -> std::io::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(([127, 0, 0, 1], 0).into())?;
        let addr = socket.local_addr()?;
        Ok(Self {
            _socket: socket,
            addr,
        })
    }

    pub fn base_url(&self) -> Url {
        base("http", self.addr)
    }
}

/// A listener with `backlog = 0` whose one queue slot is taken and that never accepts: new SYNs are dropped by the
/// kernel, so a client's connect hangs until its connect timeout.
pub struct BacklogFull {
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
    addr: SocketAddr,
}

impl BacklogFull {
    pub async fn new() -> std::io::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(([127, 0, 0, 1], 0).into())?;
        let listener = socket.listen(0)?;
        let addr = listener.local_addr()?;
        let mut fillers = Vec::new();
        // Fill the queue until a connect no longer completes quickly: that proves SYNs are being dropped.
        loop {
            match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
                Ok(Ok(s)) => fillers.push(s),
                Ok(Err(e)) => return Err(e),
                Err(_) => break,
            }
            if fillers.len() > 16 {
                return Err(std::io::Error::other(
                    "accept queue never filled up; cannot produce a connect timeout",
                ));
            }
        }
        Ok(Self {
            _listener: listener,
            _fillers: fillers,
            addr,
        })
    }

    pub fn base_url(&self) -> Url {
        base("http", self.addr)
    }
}

/// Accepts connections, reads what the client sends and never answers: a read timeout. Counts connections.
pub struct BlackHole {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl BlackHole {
    pub async fn new() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    // Drain the request and keep the connection open until the client gives up.
                    let mut buf = [0u8; 4096];
                    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                });
            }
        });
        Ok(Self {
            addr,
            accepted,
            task,
        })
    }

    pub fn base_url(&self) -> Url {
        base("http", self.addr)
    }

    /// Connections that reached this server so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// HTTPS on 127.0.0.1 with a freshly generated self-signed certificate no client trusts. Counts handshakes begun
/// (TCP connections) and requests that got through (must stay 0).
pub struct SelfSignedTls {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SelfSignedTls {
    pub async fn new() -> std::io::Result<Self> {
        let certified = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
        ])
        .map_err(std::io::Error::other)?;
        let cert = rustls::pki_types::CertificateDer::from(certified.cert.der().to_vec());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()),
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .map_err(std::io::Error::other)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (conns, reqs) = (connections.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                conns.fetch_add(1, Ordering::SeqCst);
                let (acceptor, reqs) = (acceptor.clone(), reqs.clone());
                tokio::spawn(async move {
                    // A client that rejects the certificate aborts the handshake: nothing is ever read.
                    if let Ok(mut tls) = acceptor.accept(stream).await {
                        let mut buf = [0u8; 1024];
                        if matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {
                            reqs.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        Ok(Self {
            addr,
            connections,
            requests,
            task,
        })
    }

    pub fn base_url(&self) -> Url {
        base("https", self.addr)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Requests that made it through the TLS layer (a client that trusted the certificate).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for SelfSignedTls {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every network-level fault endpoint, created once and shared by all devices of a run.
pub struct Endpoints {
    pub refused: ClosedPort,
    pub connect_timeout: BacklogFull,
    pub read_timeout: BlackHole,
    pub tls: SelfSignedTls,
}

impl Endpoints {
    pub async fn start() -> std::io::Result<Self> {
        Ok(Self {
            refused: ClosedPort::new()?,
            connect_timeout: BacklogFull::new().await?,
            read_timeout: BlackHole::new().await?,
            tls: SelfSignedTls::new().await?,
        })
    }
}
