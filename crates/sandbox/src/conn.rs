//! Per-connection I/O wrapper that lets a handler kill its own connection after processing: this is how
//! the lost-reply, truncated and reset faults happen below HTTP, where hyper cannot "fix" them.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

#[derive(Debug)]
enum Mode {
    Normal,
    /// Write nothing; the next write fails and hyper drops (closes) the connection.
    Drop,
    /// Like `Drop`, but abort with RST.
    Reset,
    /// Replace whatever hyper writes with these raw bytes, then fail.
    Raw {
        bytes: Vec<u8>,
        written: usize,
    },
    Dead,
}

/// Shared between the connection's I/O and the requests served on it (as a request extension).
#[derive(Debug)]
pub(crate) struct ConnCtl {
    pub peer: SocketAddr,
    mode: Mutex<Mode>,
}

impl ConnCtl {
    pub fn new(peer: SocketAddr) -> ConnCtl {
        ConnCtl {
            peer,
            mode: Mutex::new(Mode::Normal),
        }
    }
    pub fn drop_reply(&self) {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner()) = Mode::Drop;
    }
    pub fn reset(&self) {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner()) = Mode::Reset;
    }
    pub fn raw_reply(&self, bytes: Vec<u8>) {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner()) = Mode::Raw { bytes, written: 0 };
    }
}

pub(crate) struct ControlledIo {
    pub inner: TcpStream,
    pub ctl: std::sync::Arc<ConnCtl>,
}

fn killed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "sandbox fault: connection closed on purpose",
    )
}

impl AsyncRead for ControlledIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if matches!(
            *self.ctl.mode.lock().unwrap_or_else(|p| p.into_inner()),
            Mode::Dead
        ) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ControlledIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let mut mode = this.ctl.mode.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *mode {
            Mode::Normal => Pin::new(&mut this.inner).poll_write(cx, buf),
            Mode::Drop => {
                *mode = Mode::Dead;
                Poll::Ready(Err(killed()))
            }
            Mode::Reset => {
                // Zero linger turns the close that follows into an RST.
                let _ = this.inner.set_zero_linger();
                *mode = Mode::Dead;
                Poll::Ready(Err(killed()))
            }
            Mode::Raw { bytes, written } => {
                while *written < bytes.len() {
                    match Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]) {
                        Poll::Ready(Ok(n)) => *written += n,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                match Pin::new(&mut this.inner).poll_flush(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(_) => {}
                }
                *mode = Mode::Dead;
                Poll::Ready(Err(killed()))
            }
            Mode::Dead => Poll::Ready(Err(killed())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
